"""The unit tier is pure and in memory: it opens no database.

A test that needs a store uses :class:`jobwire.testing.MemoryStore`; one that needs SQLite or
PostgreSQL belongs in ``tests/integration``. Opening SQLite here fails the test.
"""

from __future__ import annotations

import sqlite3
from typing import Any, NoReturn

import pytest

NO_DATABASE = (
    "The unit tier opens no database: use jobwire.testing.MemoryStore "
    "(App(store=MemoryStore())), or move the test to tests/integration."
)


@pytest.fixture(autouse=True)
def _no_sqlite(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_args: Any, **_kwargs: Any) -> NoReturn:
        raise AssertionError(NO_DATABASE)

    monkeypatch.setattr(sqlite3, "connect", refuse)


@pytest.fixture
def sqlite_url() -> str:
    pytest.fail(NO_DATABASE, pytrace=False)


@pytest.fixture
def postgres_url() -> str:
    pytest.fail(NO_DATABASE, pytrace=False)
