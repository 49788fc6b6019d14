"""Engines and transactions: what every part of the SQL store stands on.

SQLite runs in WAL mode with a busy timeout; write transactions start with ``BEGIN
IMMEDIATE`` so that concurrent writers (threads or processes) queue on the lock instead of
failing on an upgrade from a read lock. Reads use a second engine with plain ``BEGIN``, so
readers never wait for writers. On PostgreSQL, claims and owner-limit checks take
transaction-scoped advisory locks. Errors that say the database cannot be used now become
:class:`~jobwire.errors.StoreUnavailable`.
"""

from __future__ import annotations

import sqlite3
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ...errors import ConfigurationError, MissingDependency, StoreUnavailable
from ...snapshot import JobRecord
from ..tables import jobs, meta
from .rows import record_from_row

#: Errors that say the database cannot be used now, not that a statement is wrong: the
#: caller gets StoreUnavailable and tries again later.
UNAVAILABLE = (
    sa.exc.OperationalError,
    sa.exc.InterfaceError,
    sa.exc.DisconnectionError,
    sa.exc.TimeoutError,
)
#: The advisory lock that claims and recovery take on PostgreSQL.
CLAIM_LOCK = 0x6A6F6277  # "jobw"
#: A pooled connection unused for longer than this is tested before it is handed out.
PING_AFTER_IDLE = 5.0


def normalize_url(url: str) -> str:
    """Map the short URLs users write to SQLAlchemy URLs with the drivers jobwire uses."""
    if url.startswith(("postgres://", "postgresql://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def lock_key(*parts: str) -> int:
    """An advisory lock key for these parts (a dedupe key, an owner and task…)."""
    return zlib.crc32("\x1f".join(parts).encode()) - (1 << 31)


def _enable_wal(cur: Any, attempts: int = 50) -> None:
    """Switch a database file to WAL. The switch needs the file to itself and SQLite answers
    "database is locked" at once, without waiting, when several processes open a new file
    together; WAL then sticks to the file, so retrying until one of them has done it works."""
    for attempt in range(attempts):
        try:
            cur.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == attempts - 1:
                raise
            time.sleep(0.02 * (attempt + 1))


def _ping_when_idle(engine: Engine) -> None:
    """SQLAlchemy's ``pool_pre_ping``, for idle connections only.

    Pinging at every checkout costs a round trip per transaction (a fifth of a short one).
    A connection used in the last few seconds is alive unless the server restarted within
    those seconds, and then the failed statement invalidates the whole pool anyway."""

    @sa.event.listens_for(engine, "checkin")
    def _checkin(_dbapi_conn: Any, record: Any) -> None:
        record.info["used_at"] = time.monotonic()

    @sa.event.listens_for(engine, "checkout")
    def _checkout(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        used_at = record.info.get("used_at")
        if used_at is None or time.monotonic() - used_at < PING_AFTER_IDLE:
            return  # new, or used a moment ago
        try:
            dbapi_conn.execute("SELECT 1")
            dbapi_conn.rollback()
        except Exception as exc:
            raise sa.exc.DisconnectionError(f"stale connection: {exc}") from exc


def _sqlite_engine(url: sa.URL, *, immediate: bool, echo: bool) -> Engine:
    database = url.database or ""
    if database in ("", ":memory:") or "mode=memory" in str(url):
        raise ConfigurationError(
            "jobwire needs an SQLite *file* (workers and watchers share it across threads "
            "and processes): use sqlite:///path/to/jobwire.db"
        )
    engine = sa.create_engine(
        url,
        echo=echo,
        pool_size=8,
        max_overflow=16,
        connect_args={"check_same_thread": False, "timeout": 30},
    )

    @sa.event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA busy_timeout=30000")
        _enable_wal(cur)
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    begin = "BEGIN IMMEDIATE" if immediate else "BEGIN"

    @sa.event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql(begin)

    return engine


class SQLBase:
    """The engines, the transactions and the clock, shared by every part of SQLStore."""

    url: str

    def __init__(
        self, url: str, *, echo: bool = False, clock: Callable[[], float] = time.time
    ) -> None:
        self.url = url
        self.clock = clock
        self.unavailable_at: float | None = None
        """``time.monotonic()`` when the database last failed a call (see StoreUnavailable)."""
        sa_url = sa.make_url(normalize_url(url))
        self.dialect = sa_url.get_backend_name()
        self._migrated = False
        self._write_lock: threading.RLock | None = None
        if self.dialect == "sqlite":
            self._write_lock = threading.RLock()
            self._writer = _sqlite_engine(sa_url, immediate=True, echo=echo)
            self._reader = _sqlite_engine(sa_url, immediate=False, echo=echo)
        elif self.dialect == "postgresql":
            try:
                import psycopg  # noqa: F401
            except ImportError as exc:  # pragma: no cover - depends on the environment
                raise MissingDependency(
                    "PostgreSQL needs the psycopg driver: pip install 'jobwire[postgres]'"
                ) from exc
            self._writer = sa.create_engine(sa_url, echo=echo, pool_size=10, max_overflow=20)
            _ping_when_idle(self._writer)
            self._reader = self._writer
        else:
            raise ConfigurationError(
                f"Expected a sqlite:// or postgresql:// database URL, but got {url!r}"
            )

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        try:
            self._ensure_schema()
            if self._write_lock is None:
                with self._writer.begin() as conn:
                    yield conn
                return
            # SQLite has one writer at a time anyway: threads of this process queue on a lock
            # instead of sleeping in SQLite's busy-wait backoff (other processes still use it).
            with self._write_lock, self._writer.begin() as conn:
                yield conn
        except UNAVAILABLE as exc:
            raise self._unavailable(exc) from exc

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        try:
            self._ensure_schema()
            with self._reader.begin() as conn:
                yield conn
        except UNAVAILABLE as exc:
            raise self._unavailable(exc) from exc

    def _unavailable(self, exc: Exception) -> StoreUnavailable:
        """The database cannot be used right now (unreachable, locked, read-only, full): a
        StoreUnavailable for the caller to retry. SQLite's pooled connections are dropped, so
        that a file whose permissions come back is opened read-write again: all of them, as
        SQLite shares one read-only mapping of the WAL index among a process's connections."""
        self.unavailable_at = time.monotonic()
        if self.dialect == "sqlite":
            self._writer.dispose()
            self._reader.dispose()
        reason = (str(getattr(exc, "orig", None) or exc).splitlines() or [""])[0][:300]
        return StoreUnavailable(
            f"The job database cannot be used right now ({reason}). Nothing was changed; "
            "try again once it is back.",
            reason=reason,
        )

    def _advisory_lock(self, conn: Connection, key: int) -> None:
        if self.dialect == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})

    @staticmethod
    def _get(conn: Connection, job_id: str) -> JobRecord | None:
        row = conn.execute(sa.select(jobs).where(jobs.c.id == job_id)).first()
        return record_from_row(row) if row is not None else None

    def _ensure_schema(self) -> None:
        if not self._migrated:
            self.upgrade()

    def upgrade(self, on_apply: Callable[[str, str], None] | None = None) -> list[str]:
        """Apply pending migrations; return the revisions applied."""
        from ..migrate import upgrade

        applied = upgrade(self._writer, self.dialect, on_apply=on_apply)
        self._migrated = True
        return applied

    def pending(self) -> list[str]:
        """The migrations not yet applied, oldest first (nothing is changed)."""
        from ..migrate import pending

        return pending(self._writer)

    def check_writable(self) -> None:
        """Write one row (the meta table's ``health-probe``); raise StoreUnavailable when the
        database cannot be written."""
        with self._write() as conn:
            conn.execute(sa.delete(meta).where(meta.c.key == "health-probe"))
            conn.execute(meta.insert().values(key="health-probe", value=str(self.clock())))

    def close(self) -> None:
        self._writer.dispose()
        if self._reader is not self._writer:
            self._reader.dispose()
