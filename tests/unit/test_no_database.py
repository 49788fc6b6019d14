"""The unit tier's guard: opening SQLite fails the test that does it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from jobwire.testing import MemoryStore


def test_opening_sqlite_fails(tmp_path: Path) -> None:
    with pytest.raises(AssertionError, match="MemoryStore"):
        sqlite3.connect(tmp_path / "jobwire.db")
    assert list(tmp_path.iterdir()) == []


def test_the_memory_store_needs_no_database() -> None:
    store = MemoryStore()
    assert store.upgrade() == []
    store.check_writable()
    assert sum(store.counts().values()) == 0
