"""Shared fixtures: fake clocks, database URLs for real SQLite files and PostgreSQL.

A test that needs a service it cannot reach is skipped with the reason, unless
``JOBWIRE_REQUIRE_SERVICES=1`` (CI), where the skip becomes a failure. ``require_service``
is the one place that decides; every service fixture (PostgreSQL here, Redis later) uses it.
"""

from __future__ import annotations

import importlib
import os
import threading
import uuid
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any, TypeVar

import pytest

T = TypeVar("T")

POSTGRES_URL = os.environ.get(
    "JOBWIRE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)

#: jobwire's tables all start with this (its Alembic version table too); each PostgreSQL
#: test starts with none of them.
JOBWIRE_PREFIX = "jobwire_"


def services_required() -> bool:
    return os.environ.get("JOBWIRE_REQUIRE_SERVICES", "").strip() in ("1", "true", "yes")


def require_service(name: str, check: Callable[[], T]) -> T:
    """Run ``check`` (which raises when ``name`` is unreachable) and return its value.

    When it raises, skip the test with the reason, or fail it when
    ``JOBWIRE_REQUIRE_SERVICES=1`` says the services must be there.
    """
    try:
        return check()
    except Exception as exc:  # any failure to reach the service is the reason to skip
        reason = f"{name} is not available: {type(exc).__name__}: {exc}".strip()
        if services_required():
            pytest.fail(f"{reason} (JOBWIRE_REQUIRE_SERVICES=1)", pytrace=False)
        pytest.skip(reason)


def finishes_within(seconds: float, call: Callable[[], T], what: str) -> T:
    """``call()``, run in a thread: its value or its exception, or a failure saying ``what``
    hung when it has not returned after ``seconds``. A generous deadline against hanging,
    not a speed claim (benchmarks are in bench/)."""
    outcome: list[tuple[bool, Any]] = []

    def run() -> None:
        try:
            outcome.append((True, call()))
        except BaseException as exc:  # handed to the test's thread below
            outcome.append((False, exc))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        pytest.fail(f"{what} did not return within {seconds} s")
    ok, value = outcome[0]
    if not ok:
        raise value
    return value  # type: ignore[no-any-return]


def require_module(name: str, install: str) -> ModuleType:
    """Import the optional module ``name``, as :func:`require_service` checks a service: a
    skip saying to run ``install`` when it is missing (a failure in CI)."""
    return require_service(f"{name} ({install})", lambda: importlib.import_module(name))


# -- clocks ---------------------------------------------------------------------------


class FakeClock:
    """A monotonic clock that only moves when told to."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        self.now += seconds
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


#: A realistic UNIX time (2026-01-01 00:00 UTC), where fake wall clocks start.
WALL_START = 1_767_225_600.0


@pytest.fixture
def wall_clock() -> FakeClock:
    """A fake ``time.time``: UNIX seconds that only move when told to (leases, delays)."""
    return FakeClock(start=WALL_START)


# -- SQLite ---------------------------------------------------------------------------


@pytest.fixture
def sqlite_url(tmp_path: Any) -> str:
    """A fresh SQLite file for this test."""
    return f"sqlite:///{tmp_path / 'jobwire.db'}"


# -- PostgreSQL -----------------------------------------------------------------------


def _psycopg_url(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def _with_database(url: str, database: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{database}"


def _connect_maintenance() -> Any:
    import psycopg

    return psycopg.connect(_psycopg_url(POSTGRES_URL), connect_timeout=3, autocommit=True)


@pytest.fixture(scope="session")
def _postgres_database() -> Iterator[str]:
    """A database created for this test session (and dropped after it), so concurrent
    sessions and other users of the ``test`` database never see each other's tables."""

    def check() -> Any:
        return _connect_maintenance()

    maintenance = require_service(f"PostgreSQL at {POSTGRES_URL}", check)
    name = f"jobwire_test_{uuid.uuid4().hex[:12]}"
    with maintenance:
        maintenance.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _with_database(POSTGRES_URL, name)
    finally:
        with _connect_maintenance() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def reset_postgres(url: str) -> None:
    """Drop every jobwire table (and its migration version) so the next store starts empty."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(_psycopg_url(url), connect_timeout=3, autocommit=True) as conn:
        conn.execute("SET lock_timeout = '10s'")
        names = [
            row[0]
            for row in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
                "AND starts_with(tablename, %s)",
                (JOBWIRE_PREFIX,),
            )
        ]
        if names:
            tables = sql.SQL(", ").join(sql.Identifier(n) for n in names)
            conn.execute(sql.SQL("DROP TABLE IF EXISTS {} CASCADE").format(tables))


@pytest.fixture
def postgres_url(_postgres_database: str) -> str:
    """A PostgreSQL URL whose database holds no jobwire tables at the start of the test."""
    reset_postgres(_postgres_database)
    return _postgres_database


def pytest_collection_modifyitems(config: Any, items: list[Any]) -> None:
    # Every test that uses PostgreSQL carries the marker, so `-m "not postgres"` skips them.
    for item in items:
        if "postgres_url" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.postgres)
