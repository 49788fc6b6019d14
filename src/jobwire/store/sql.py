"""The store on SQLAlchemy 2 Core: SQLite (embedded default) and PostgreSQL.

SQLite runs in WAL mode with a busy timeout; write transactions start with ``BEGIN
IMMEDIATE`` so that concurrent writers (threads or processes) queue on the lock instead of
failing on an upgrade from a read lock. Reads use a second engine with plain ``BEGIN``, so
readers never wait for writers. On PostgreSQL, claims and owner-limit checks take
transaction-scoped advisory locks.
"""

from __future__ import annotations

import builtins
import logging
import re
import sqlite3
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine, Row

from .. import status as sm
from ..errors import (
    JobAlreadyFinished,
    JobNotFinished,
    JobNotFound,
    OwnerLimitReached,
    StoreUnavailable,
)
from ..snapshot import Event, EventKind, JobRecord, dumps, loads, make_event
from ..status import ACTIVE, LIVE, TERMINAL, JobStatus
from .base import (
    ApiKey,
    Claim,
    Finish,
    KeyStore,
    Page,
    Report,
    Store,
    SubmitOutcome,
    WriteResult,
)
from .keys import hash_secret, new_key
from .tables import api_keys, events, history, hooks, jobs, meta, results

logger = logging.getLogger(__name__)

#: Events kept per job for streams to resume from; older ones are pruned as a job runs.
EVENTS_KEPT = 1000
#: Successful runs kept per task for ETA history.
HISTORY_KEPT = 100

_CLAIM_LOCK = 0x6A6F6277  # "jobw"
#: Errors that say the database cannot be used now, not that a statement is wrong: the
#: caller gets StoreUnavailable and tries again later.
_UNAVAILABLE = (
    sa.exc.OperationalError,
    sa.exc.InterfaceError,
    sa.exc.DisconnectionError,
    sa.exc.TimeoutError,
)
_LIVE = [s.value for s in LIVE]
_ACTIVE = [s.value for s in ACTIVE]
_TERMINAL = [s.value for s in TERMINAL]

# The hot statements, built once: building a statement with .values(...) on every call costs
# more than executing it. Parameters are named b_* (SQLAlchemy reserves column names).
_B = sa.bindparam
_INSERT_JOB = jobs.insert()
_INSERT_EVENT = events.insert()
_LIVE_BY_KEY = sa.select(jobs).where(jobs.c.live_key == _B("b_key"))
_CANDIDATES = (
    sa.select(jobs.c.id, jobs.c.task)
    .where(
        jobs.c.status == "queued",
        jobs.c.run_after <= _B("b_now"),
        jobs.c.task.in_(_B("b_tasks", expanding=True)),
    )
    .order_by(jobs.c.created_at, jobs.c.id)
    .limit(_B("b_limit"))
)
_CLAIM_VALUES: dict[str, Any] = {
    "status": "running",
    "attempt": jobs.c.attempt + 1,
    "seq": jobs.c.seq + 1,
    "started_at": _B("b_now"),
    "updated_at": _B("b_now"),
    "current": 0,
    "eta_seconds": None,
    "rate": None,
    "message": None,
    "lease_owner": _B("b_worker"),
    "lease_expires_at": _B("b_until"),
}
_CLAIM = (
    sa.update(jobs)
    .where(jobs.c.id.in_(_B("b_ids", expanding=True)), jobs.c.status == "queued")
    .values(_CLAIM_VALUES)
    .returning(*jobs.c)
)
_CLAIM_ONE = (
    sa.update(jobs)
    .where(jobs.c.id == _B("b_id"), jobs.c.status == "queued", jobs.c.run_after <= _B("b_now"))
    .values(_CLAIM_VALUES)
    .returning(*jobs.c)
)
_REPORT = (
    sa.update(jobs)
    .where(
        jobs.c.id == _B("b_id"),
        jobs.c.attempt == _B("b_attempt"),
        jobs.c.lease_owner == _B("b_worker"),
        sa.or_(*(jobs.c.status == s for s in _ACTIVE)),  # static SQL: no IN re-expansion
    )
    .values(
        status=_B("b_status"),
        current=_B("b_current"),
        total=_B("b_total"),
        step=_B("b_step"),
        message=_B("b_message"),
        eta_seconds=_B("b_eta"),
        rate=_B("b_rate"),
        seq=jobs.c.seq + 1,
        updated_at=_B("b_now"),
    )
    .returning(*jobs.c)
)
_FINISH_STATE = (
    sa.select(jobs.c.id, jobs.c.status, jobs.c.attempt, jobs.c.seq, jobs.c.lease_owner)
    .where(jobs.c.id.in_(_B("b_ids", expanding=True)))
    .with_for_update()
)
_FINISH_VALUES: dict[str, Any] = {
    "status": _B("b_status"),
    "current": _B("b_current"),
    "total": _B("b_total"),
    "step": _B("b_step"),
    "message": _B("b_message"),
    "seq": _B("b_seq"),
    "updated_at": _B("b_now"),
    "lease_owner": None,
    "lease_expires_at": None,
    "error_code": _B("b_error_code"),
    "error_message": _B("b_error_message"),
    "error_details": _B("b_error_details"),
    "eta_seconds": None,
}
_FINISH_TERMINAL = (
    sa.update(jobs)
    .where(jobs.c.id == _B("b_id"))
    .values(**_FINISH_VALUES, finished_at=_B("b_now"), live_key=None)
    .returning(*jobs.c)
)
_FINISH_RETRY = (
    sa.update(jobs)
    .where(jobs.c.id == _B("b_id"))
    .values(**_FINISH_VALUES, run_after=_B("b_run_after"))
    .returning(*jobs.c)
)


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


def normalize_url(url: str) -> str:
    """Map the short URLs users write to SQLAlchemy URLs with the drivers jobwire uses."""
    if url.startswith(("postgres://", "postgresql://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


#: A pooled connection unused for longer than this is tested before it is handed out.
PING_AFTER_IDLE = 5.0


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


def _lock_key(*parts: str) -> int:
    return zlib.crc32("\x1f".join(parts).encode()) - (1 << 31)


def record_from_row(row: Row[Any] | Mapping[str, Any]) -> JobRecord:
    m = row._mapping if isinstance(row, Row) else row
    details = m["error_details"]
    return JobRecord(
        id=m["id"],
        task=m["task"],
        owner=m["owner"],
        args=loads(m["args"]),
        status=JobStatus(m["status"]),
        step=m["step"],
        current=m["current"],
        total=m["total"],
        message=m["message"],
        eta_seconds=m["eta_seconds"],
        rate=m["rate"],
        estimated_seconds=m["estimated_seconds"],
        created_at=m["created_at"],
        started_at=m["started_at"],
        finished_at=m["finished_at"],
        attempt=m["attempt"],
        max_attempts=m["max_attempts"],
        cancel_requested=bool(m["cancel_requested"]),
        seq=m["seq"],
        error_code=m["error_code"],
        error_message=m["error_message"],
        error_details=loads(details) if details is not None else None,
        dedupe_key=m["dedupe_key"],
        run_after=m["run_after"],
        timeout=m["timeout"],
        lease_owner=m["lease_owner"],
        lease_expires_at=m["lease_expires_at"],
    )


def _row_values(job: JobRecord, now: float) -> dict[str, Any]:
    return {
        "id": job.id,
        "task": job.task,
        "owner": job.owner,
        "args": dumps(job.args),
        "status": job.status.value,
        "step": job.step,
        "current": job.current,
        "total": job.total,
        "message": job.message,
        "eta_seconds": None,
        "rate": None,
        "estimated_seconds": job.estimated_seconds,
        "created_at": job.created_at,
        "started_at": None,
        "finished_at": None,
        "updated_at": now,
        "attempt": 0,
        "max_attempts": job.max_attempts,
        "cancel_requested": False,
        "seq": 1,
        "error_code": None,
        "error_message": None,
        "error_details": None,
        "dedupe_key": job.dedupe_key,
        "live_key": job.dedupe_key,
        "run_after": job.run_after or job.created_at,
        "timeout": job.timeout,
        "lease_owner": None,
        "lease_expires_at": None,
    }


def _event_row(event: Event, now: float) -> dict[str, Any]:
    return {
        "job_id": event["job"]["id"],
        "seq": event["seq"],
        "kind": event["kind"],
        "payload": dumps(event),
        "created_at": now,
    }


class SQLStore(Store):
    """Jobs in an SQL database. ``SQLStore("sqlite:///jobwire.db")`` or
    ``SQLStore("postgresql://user@host/db")`` (needs ``pip install jobwire[postgres]``)."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        sa_url = sa.make_url(normalize_url(url))
        self.dialect = sa_url.get_backend_name()
        self._migrated = False
        self._keys = SQLKeyStore(self)
        self._write_lock: threading.RLock | None = None
        if self.dialect == "sqlite":
            self._write_lock = threading.RLock()
            self._writer = self._sqlite_engine(sa_url, immediate=True, echo=echo)
            self._reader = self._sqlite_engine(sa_url, immediate=False, echo=echo)
        elif self.dialect == "postgresql":
            try:
                import psycopg  # noqa: F401
            except ImportError as exc:  # pragma: no cover - depends on the environment
                from ..errors import MissingDependency

                raise MissingDependency(
                    "PostgreSQL needs the psycopg driver: pip install 'jobwire[postgres]'"
                ) from exc
            self._writer = sa.create_engine(sa_url, echo=echo, pool_size=10, max_overflow=20)
            _ping_when_idle(self._writer)
            self._reader = self._writer
        else:
            from ..errors import ConfigurationError

            raise ConfigurationError(
                f"Expected a sqlite:// or postgresql:// database URL, but got {url!r}"
            )

    @property
    def keys(self) -> SQLKeyStore:
        """API keys and the shared secret."""
        return self._keys

    # -- engines ------------------------------------------------------------------------

    @staticmethod
    def _sqlite_engine(url: sa.URL, *, immediate: bool, echo: bool) -> Engine:
        database = url.database or ""
        if database in ("", ":memory:") or "mode=memory" in str(url):
            from ..errors import ConfigurationError

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
        except _UNAVAILABLE as exc:
            raise self._unavailable(exc) from exc

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        try:
            self._ensure_schema()
            with self._reader.begin() as conn:
                yield conn
        except _UNAVAILABLE as exc:
            raise self._unavailable(exc) from exc

    def _unavailable(self, exc: Exception) -> StoreUnavailable:
        """The database cannot be used right now (unreachable, locked, read-only, full): a
        StoreUnavailable for the caller to retry. SQLite's pooled connections are dropped, so
        that a file whose permissions come back is opened read-write again: all of them, as
        SQLite shares one read-only mapping of the WAL index among a process's connections."""
        if self.dialect == "sqlite":
            self._writer.dispose()
            self._reader.dispose()
        reason = (str(getattr(exc, "orig", None) or exc).splitlines() or [""])[0][:300]
        return StoreUnavailable(
            f"The job database cannot be used right now ({reason}). Nothing was changed; "
            "try again once it is back.",
            reason=reason,
        )

    def check_writable(self) -> None:
        """Write one row (the meta table's ``health-probe``); raise StoreUnavailable when the
        database cannot be written."""
        with self._write() as conn:
            conn.execute(sa.delete(meta).where(meta.c.key == "health-probe"))
            conn.execute(meta.insert().values(key="health-probe", value=str(time.time())))

    def _ensure_schema(self) -> None:
        if not self._migrated:
            self.upgrade()

    def _advisory_lock(self, conn: Connection, key: int) -> None:
        if self.dialect == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})

    # -- migrations ---------------------------------------------------------------------

    def upgrade(self, on_apply: Any = None) -> list[str]:
        from .migrate import upgrade

        applied = upgrade(self._writer, self.dialect, on_apply=on_apply)
        self._migrated = True
        return applied

    # -- submit and read ----------------------------------------------------------------

    def submit(
        self,
        job: JobRecord,
        *,
        owner_limit: int | None = None,
        cache_ttl: float | None = None,
    ) -> tuple[JobRecord, SubmitOutcome]:
        for _ in range(5):
            try:
                return self._submit_once(job, owner_limit, cache_ttl)
            except sa.exc.IntegrityError:
                # Another submit with the same dedupe key won the race: look again.
                logger.debug("dedupe race on %s", job.dedupe_key, extra={"job_id": job.id})
        raise RuntimeError(f"Could not submit job for dedupe key {job.dedupe_key!r}")

    def _submit_once(
        self, job: JobRecord, owner_limit: int | None, cache_ttl: float | None
    ) -> tuple[JobRecord, SubmitOutcome]:
        now = time.time()
        with self._write() as conn:
            if job.dedupe_key is not None:
                self._advisory_lock(conn, _lock_key("dedupe", job.dedupe_key))
                row = conn.execute(_LIVE_BY_KEY, {"b_key": job.dedupe_key}).first()
                if row is not None:
                    return record_from_row(row), "deduplicated"
                if cache_ttl:
                    row = conn.execute(
                        sa.select(jobs)
                        .where(
                            jobs.c.dedupe_key == job.dedupe_key,
                            jobs.c.status == JobStatus.SUCCEEDED.value,
                            jobs.c.finished_at >= now - cache_ttl,
                        )
                        .order_by(jobs.c.finished_at.desc())
                        .limit(1)
                    ).first()
                    if row is not None:
                        return record_from_row(row), "cached"
            if owner_limit is not None:
                self._advisory_lock(conn, _lock_key("owner", job.task, job.owner))
                live = conn.execute(
                    sa.select(sa.func.count())
                    .select_from(jobs)
                    .where(
                        jobs.c.owner == job.owner,
                        jobs.c.task == job.task,
                        jobs.c.status.in_(_LIVE),
                    )
                ).scalar_one()
                if live >= owner_limit:
                    raise OwnerLimitReached(
                        f"{job.owner!r} already has {live} live {job.task!r} job(s), the "
                        f"limit is {owner_limit}. Wait for one to finish or cancel it.",
                        owner=job.owner,
                        task=job.task,
                        limit=owner_limit,
                    )
            values = _row_values(job, now)
            conn.execute(_INSERT_JOB, values)
            created = record_from_row(values)
            # No event row for "queued": the job row is that snapshot, and a stream that
            # resumes from before the first stored event is sent the snapshot anyway.
            return created, "created"

    def get(self, job_id: str) -> JobRecord | None:
        if _impossible_id(job_id):
            return None
        with self._read() as conn:
            row = conn.execute(sa.select(jobs).where(jobs.c.id == job_id)).first()
        return record_from_row(row) if row is not None else None

    def list(
        self,
        *,
        status: Sequence[str] | None = None,
        task: str | None = None,
        owner: str | None = None,
        cursor: str | None = None,
        limit: int = 50,
    ) -> Page:
        limit = max(limit, 1)  # a page holds at least one job, as App.list() also ensures
        query = sa.select(jobs)
        if status:
            query = query.where(jobs.c.status.in_(list(status)))
        if task:
            query = query.where(jobs.c.task == task)
        if owner:
            query = query.where(jobs.c.owner == owner)
        if cursor:
            created, job_id = _decode_cursor(cursor)
            query = query.where(
                sa.or_(
                    jobs.c.created_at < created,
                    sa.and_(jobs.c.created_at == created, jobs.c.id < job_id),
                )
            )
        query = query.order_by(jobs.c.created_at.desc(), jobs.c.id.desc()).limit(limit + 1)
        with self._read() as conn:
            rows = conn.execute(query).fetchall()
        found = [record_from_row(r) for r in rows[:limit]]
        more = len(rows) > limit
        next_cursor = _encode_cursor(found[-1].created_at, found[-1].id) if more else None
        return Page(found, next_cursor)

    # -- workers ------------------------------------------------------------------------

    def claim(
        self,
        worker_id: str,
        slots: int,
        *,
        tasks: Sequence[str],
        limits: Mapping[str, int],
        lease_seconds: float,
    ) -> builtins.list[tuple[JobRecord, Event]]:
        if slots <= 0 or not tasks:
            return []
        with self._write() as conn:
            return self._claim(
                conn, worker_id, Claim(slots, tasks, limits, lease_seconds), time.time()
            )

    def _claim(
        self, conn: Connection, worker_id: str, claim: Claim, now: float
    ) -> builtins.list[tuple[JobRecord, Event]]:
        slots, tasks, limits = claim.slots, claim.tasks, claim.limits
        if slots <= 0 or not tasks:
            return []
        self._advisory_lock(conn, _CLAIM_LOCK)
        room: dict[str, int] = {}
        if limits:
            running: dict[str, int] = dict(
                conn.execute(
                    sa.select(jobs.c.task, sa.func.count())
                    .where(jobs.c.status == "running", jobs.c.task.in_(list(limits)))
                    .group_by(jobs.c.task)
                ).all()
            )
            room = {t: lim - running.get(t, 0) for t, lim in limits.items()}
        allowed = [t for t in tasks if room.get(t, 1) > 0]
        if not allowed:
            return []
        candidates = conn.execute(
            _CANDIDATES,
            {"b_now": now, "b_tasks": allowed, "b_limit": slots * 4 if limits else slots},
        ).all()
        chosen: builtins.list[str] = []
        for job_id, task in candidates:
            if task in room:
                if room[task] <= 0:
                    continue
                room[task] -= 1
            chosen.append(job_id)
            if len(chosen) == slots:
                break
        if not chosen:
            return []
        rows = conn.execute(
            _CLAIM,
            {
                "b_ids": chosen,
                "b_now": now,
                "b_worker": worker_id,
                "b_until": now + claim.lease_seconds,
            },
        ).all()
        claimed = [record_from_row(r) for r in rows]
        claimed.sort(key=lambda j: (j.created_at, j.id))
        out = [(job, make_event(job, "status")) for job in claimed]
        conn.execute(_INSERT_EVENT, [_event_row(ev, now) for _, ev in out])
        return out

    def claim_one(
        self, worker_id: str, job_id: str, *, limit: int | None, lease_seconds: float
    ) -> tuple[JobRecord | None, Event | None]:
        now = time.time()
        with self._write() as conn:
            if limit is not None:
                self._advisory_lock(conn, _CLAIM_LOCK)  # the running count must hold
                task = conn.execute(
                    sa.select(jobs.c.task).where(jobs.c.id == job_id)
                ).scalar_one_or_none()
                running = conn.execute(
                    sa.select(sa.func.count()).where(
                        jobs.c.status == "running", jobs.c.task == task
                    )
                ).scalar_one()
                if running >= limit:
                    return self._get(conn, job_id), None
            row = conn.execute(
                _CLAIM_ONE,
                {
                    "b_id": job_id,
                    "b_now": now,
                    "b_worker": worker_id,
                    "b_until": now + lease_seconds,
                },
            ).first()
            if row is None:  # not queued, not due, or gone: say how it is
                return self._get(conn, job_id), None
            job = record_from_row(row)
            event = make_event(job, "status")
            conn.execute(_INSERT_EVENT, _event_row(event, now))
        return job, event

    @staticmethod
    def _get(conn: Connection, job_id: str) -> JobRecord | None:
        row = conn.execute(sa.select(jobs).where(jobs.c.id == job_id)).first()
        return record_from_row(row) if row is not None else None

    def write(
        self,
        worker_id: str,
        reports: Sequence[Report],
        finishes: Sequence[Finish],
        claim: Claim | None = None,
    ) -> WriteResult:
        result = WriteResult()
        if not reports and not finishes and (claim is None or claim.slots <= 0):
            return result
        now = time.time()
        event_rows: builtins.list[dict[str, Any]] = []
        if finishes and reports:
            # A progress report is superseded by its job's finish in the same batch, unless
            # it shows a step the finish does not (every step change is kept) or is a log.
            final_step = {f.job_id: f.step for f in finishes}
            reports = [
                r
                for r in reports
                if r.kind != "progress"
                or r.job_id not in final_step
                or r.step != final_step[r.job_id]
            ]
        with self._write() as conn:
            for rep in reports:
                row = conn.execute(
                    _REPORT,
                    {
                        "b_id": rep.job_id,
                        "b_attempt": rep.attempt,
                        "b_worker": worker_id,
                        "b_status": rep.status.value,
                        "b_current": rep.current,
                        "b_total": rep.total,
                        "b_step": rep.step,
                        "b_message": rep.message,
                        "b_eta": rep.eta_seconds,
                        "b_rate": rep.rate,
                        "b_now": now,
                    },
                ).first()
                if row is None:
                    result.rejected.append(rep.job_id)
                    continue
                job = record_from_row(row)
                if job.cancel_requested:
                    result.cancel_requested.add(job.id)
                event = make_event(job, rep.kind, rep.log)
                result.events.append(event)
                event_rows.append(_event_row(event, now))
                if job.seq % 200 == 0:
                    conn.execute(
                        events.delete().where(
                            events.c.job_id == job.id, events.c.seq <= job.seq - EVENTS_KEPT
                        )
                    )
            if finishes:
                self._finish(conn, worker_id, finishes, now, result, event_rows)
            if event_rows:
                conn.execute(_INSERT_EVENT, event_rows)
            if claim is not None and claim.slots > 0:
                for job, event in self._claim(conn, worker_id, claim, now):
                    result.claimed.append(job)
                    result.events.append(event)
        return result

    def _finish(
        self,
        conn: Connection,
        worker_id: str,
        finishes: Sequence[Finish],
        now: float,
        result: WriteResult,
        event_rows: builtins.list[dict[str, Any]],
    ) -> None:
        ids = [f.job_id for f in finishes]
        current = {r.id: r for r in conn.execute(_FINISH_STATE, {"b_ids": ids}).all()}
        result_rows: builtins.list[dict[str, Any]] = []
        history_rows: builtins.list[dict[str, Any]] = []
        for fin in finishes:
            row = current.get(fin.job_id)
            if row is None or row.lease_owner != worker_id or row.attempt != fin.attempt:
                result.rejected.append(fin.job_id)
                continue
            state = sm.JobState(JobStatus(row.status), row.attempt, row.seq)
            outcome = sm.apply(state, sm.Transition(fin.status, attempt=fin.attempt))
            if not outcome.applied:
                reason = outcome.ignored or "ignored"
                result.ignored[reason] = result.ignored.get(reason, 0) + 1
                continue
            terminal = fin.status in TERMINAL
            up = conn.execute(
                _FINISH_TERMINAL if terminal else _FINISH_RETRY,
                {
                    "b_id": fin.job_id,
                    "b_status": fin.status.value,
                    "b_current": fin.current,
                    "b_total": fin.total,
                    "b_step": fin.step,
                    "b_message": fin.message,
                    "b_seq": outcome.state.seq,
                    "b_now": now,
                    "b_error_code": fin.error_code,
                    "b_error_message": fin.error_message,
                    "b_error_details": None
                    if fin.error_details is None
                    else dumps(fin.error_details),
                    "b_run_after": fin.run_after if fin.run_after is not None else now,
                },
            ).one()
            current[fin.job_id] = up  # a second finish of this job in the batch sees this one
            job = record_from_row(up)
            event = make_event(job, "status")
            result.events.append(event)
            event_rows.append(_event_row(event, now))
            if fin.status == JobStatus.SUCCEEDED:
                result_rows.append(
                    {"job_id": job.id, "value": fin.result or "null", "created_at": now}
                )
                if fin.duration is not None:
                    history_rows.append(
                        {
                            "task": job.task,
                            "duration": fin.duration,
                            "total": job.total,
                            "finished_at": now,
                        }
                    )
        if result_rows:
            conn.execute(results.insert(), result_rows)
        if history_rows:
            conn.execute(history.insert(), history_rows)

    def renew(self, worker_id: str, job_ids: Sequence[str], lease_seconds: float) -> set[str]:
        if not job_ids:
            return set()
        now = time.time()
        held = (
            jobs.c.id.in_(list(job_ids)),
            jobs.c.lease_owner == worker_id,
            jobs.c.status.in_(_ACTIVE),
        )
        with self._write() as conn:
            conn.execute(sa.update(jobs).where(*held).values(lease_expires_at=now + lease_seconds))
            rows = conn.execute(
                sa.select(jobs.c.id).where(*held, jobs.c.cancel_requested.is_(True))
            ).all()
        return {r.id for r in rows}

    def stale_queued(self, due_before: float, limit: int = 500) -> builtins.list[tuple[str, str]]:
        with self._read() as conn:
            rows = conn.execute(
                sa.select(jobs.c.id, jobs.c.task)
                .where(jobs.c.status == "queued", jobs.c.run_after < due_before)
                .order_by(jobs.c.created_at, jobs.c.id)
                .limit(limit)
            ).all()
        return [(r.id, r.task) for r in rows]

    def cancel_requests(self, worker_id: str) -> set[str]:
        with self._read() as conn:
            rows = conn.execute(
                sa.select(jobs.c.id).where(
                    jobs.c.status.in_(_ACTIVE),
                    jobs.c.lease_owner == worker_id,
                    jobs.c.cancel_requested.is_(True),
                )
            ).all()
        return {r.id for r in rows}

    def recover(self, backoff: Mapping[str, float]) -> builtins.list[Event]:
        now = time.time()
        out: builtins.list[Event] = []
        with self._write() as conn:
            self._advisory_lock(conn, _CLAIM_LOCK)
            rows = conn.execute(
                sa.select(jobs)
                .where(jobs.c.status.in_(_ACTIVE), jobs.c.lease_expires_at < now)
                .with_for_update()
            ).all()
            for row in rows:
                job = record_from_row(row)
                retry = job.attempt < job.max_attempts and not job.cancel_requested
                values: dict[str, Any] = {
                    "seq": job.seq + 1,
                    "updated_at": now,
                    "lease_owner": None,
                    "lease_expires_at": None,
                    "eta_seconds": None,
                    "error_code": "worker_lost",
                    "error_message": (
                        f"The worker running attempt {job.attempt} stopped renewing its lease "
                        "(killed or hung)."
                    ),
                }
                if job.cancel_requested:
                    values.update(status="cancelled", finished_at=now, live_key=None)
                    values.update(error_code=None, error_message=None)
                elif retry:
                    delay = backoff.get(job.task, 1.0) * 2 ** (job.attempt - 1)
                    values.update(status="queued", run_after=now + min(delay, 300.0))
                else:
                    values.update(status="failed", finished_at=now, live_key=None)
                up = conn.execute(
                    sa.update(jobs).where(jobs.c.id == job.id).values(values).returning(*jobs.c)
                ).one()
                event = make_event(record_from_row(up), "status")
                out.append(event)
            if out:
                conn.execute(events.insert(), [_event_row(ev, now) for ev in out])
        for ev in out:
            logger.warning(
                "job %s lost its worker: now %s",
                ev["job"]["id"],
                ev["job"]["status"],
                extra={"job_id": ev["job"]["id"], "action": "recover"},
            )
        return out

    def release(self, worker_id: str, job_ids: Sequence[str]) -> builtins.list[Event]:
        if not job_ids:
            return []
        now = time.time()
        held = (
            jobs.c.id.in_(list(job_ids)),
            jobs.c.lease_owner == worker_id,
            jobs.c.status.in_(_ACTIVE),
        )
        with self._write() as conn:
            # A job whose cancel was requested ends cancelled: requeued, it would run again.
            cancelled = conn.execute(
                sa.update(jobs)
                .where(*held, jobs.c.cancel_requested.is_(True))
                .values(
                    status="cancelled",
                    seq=jobs.c.seq + 1,
                    lease_owner=None,
                    lease_expires_at=None,
                    eta_seconds=None,
                    finished_at=now,
                    live_key=None,
                    updated_at=now,
                )
                .returning(*jobs.c)
            ).all()
            requeued = conn.execute(
                sa.update(jobs)
                .where(*held)
                .values(
                    status="queued",
                    seq=jobs.c.seq + 1,
                    max_attempts=jobs.c.max_attempts + 1,  # a shutdown does not use a retry
                    lease_owner=None,
                    lease_expires_at=None,
                    eta_seconds=None,
                    run_after=now,
                    updated_at=now,
                    message="requeued: its worker shut down",
                )
                .returning(*jobs.c)
            ).all()
            out = [make_event(record_from_row(r), "status") for r in [*cancelled, *requeued]]
            if out:
                conn.execute(events.insert(), [_event_row(ev, now) for ev in out])
        return out

    # -- users --------------------------------------------------------------------------

    def cancel(self, job_id: str) -> tuple[JobRecord, Event | None]:
        if _impossible_id(job_id):
            raise JobNotFound(f"No job has the id {job_id!r}", job_id=job_id)
        now = time.time()
        with self._write() as conn:
            row = conn.execute(sa.select(jobs).where(jobs.c.id == job_id).with_for_update()).first()
            if row is None:
                raise JobNotFound(f"No job has the id {job_id!r}", job_id=job_id)
            job = record_from_row(row)
            if job.terminal:
                raise JobAlreadyFinished(
                    f"Job {job_id} already {job.status.value}; it cannot be cancelled.",
                    job_id=job_id,
                    status=job.status.value,
                )
            if job.cancel_requested:
                return job, None
            values: dict[str, Any] = {
                "seq": job.seq + 1,
                "updated_at": now,
                "cancel_requested": True,
            }
            if job.status == JobStatus.QUEUED:
                values.update(status="cancelled", finished_at=now, live_key=None)
            up = conn.execute(
                sa.update(jobs).where(jobs.c.id == job_id).values(values).returning(*jobs.c)
            ).one()
            job = record_from_row(up)
            event = make_event(job, "status")
            conn.execute(_INSERT_EVENT, _event_row(event, now))
        return job, event

    def add_hook(self, job_id: str, key: str, payload: str) -> bool:
        if _impossible_id(job_id):
            raise JobNotFound(f"No job has the id {job_id!r}", job_id=job_id)
        now = time.time()
        with self._write() as conn:
            row = conn.execute(
                sa.select(jobs.c.status).where(jobs.c.id == job_id).with_for_update()
            ).first()
            if row is None:
                raise JobNotFound(f"No job has the id {job_id!r}", job_id=job_id)
            seen = conn.execute(
                sa.select(hooks.c.key).where(hooks.c.job_id == job_id, hooks.c.key == key)
            ).first()
            if seen is not None:
                return False
            if JobStatus(row.status) in TERMINAL:
                raise JobAlreadyFinished(
                    f"Job {job_id} already {row.status}; the callback came too late.",
                    job_id=job_id,
                    status=row.status,
                )
            conn.execute(
                hooks.insert().values(job_id=job_id, key=key, payload=payload, received_at=now)
            )
        return True

    def hook(self, job_id: str) -> str | None:
        with self._read() as conn:
            value = conn.execute(
                sa.select(hooks.c.payload)
                .where(hooks.c.job_id == job_id)
                .order_by(hooks.c.received_at)
                .limit(1)
            ).scalar()
        return None if value is None else str(value)

    def events(self, job_id: str, after: int = 0, limit: int = 1000) -> builtins.list[Event]:
        if _impossible_id(job_id):
            return []
        with self._read() as conn:
            rows = conn.execute(
                sa.select(events.c.payload)
                .where(events.c.job_id == job_id, events.c.seq > after)
                .order_by(events.c.seq)
                .limit(limit)
            ).all()
        return [loads(r.payload) for r in rows]

    def result(self, job_id: str) -> str | None:
        if _impossible_id(job_id):
            return None
        with self._read() as conn:
            return conn.execute(
                sa.select(results.c.value).where(results.c.job_id == job_id)
            ).scalar_one_or_none()

    def delete(self, job_id: str) -> None:
        if _impossible_id(job_id):
            raise JobNotFound(f"No job has the id {job_id!r}", job_id=job_id)
        with self._write() as conn:
            row = conn.execute(sa.select(jobs.c.status).where(jobs.c.id == job_id)).first()
            if row is None:
                raise JobNotFound(f"No job has the id {job_id!r}", job_id=job_id)
            if row.status not in _TERMINAL:
                raise JobNotFinished(
                    f"Job {job_id} is {row.status}; cancel it before deleting it.",
                    job_id=job_id,
                )
            self._delete_ids(conn, [job_id])

    @staticmethod
    def _delete_ids(conn: Connection, ids: Sequence[str]) -> None:
        conn.execute(events.delete().where(events.c.job_id.in_(ids)))
        conn.execute(results.delete().where(results.c.job_id.in_(ids)))
        conn.execute(hooks.delete().where(hooks.c.job_id.in_(ids)))
        conn.execute(jobs.delete().where(jobs.c.id.in_(ids)))

    def history(self, task: str, limit: int = 20) -> builtins.list[tuple[float, int | None]]:
        with self._read() as conn:
            rows = conn.execute(
                sa.select(history.c.duration, history.c.total)
                .where(history.c.task == task)
                .order_by(history.c.finished_at.desc())
                .limit(limit)
            ).all()
        return [(r.duration, r.total) for r in rows]

    def purge(self, older_than: float) -> int:
        deleted = 0
        while True:
            with self._write() as conn:
                ids = (
                    conn.execute(
                        sa.select(jobs.c.id)
                        .where(jobs.c.status.in_(_TERMINAL), jobs.c.finished_at < older_than)
                        .limit(500)
                    )
                    .scalars()
                    .all()
                )
                if ids:
                    self._delete_ids(conn, ids)
            deleted += len(ids)
            if len(ids) < 500:
                break
        with self._write() as conn:
            conn.execute(history.delete().where(history.c.finished_at < older_than))
            # Keep at most HISTORY_KEPT runs per task.
            ranked = (
                sa.select(
                    history.c.id,
                    sa.func.row_number()
                    .over(partition_by=history.c.task, order_by=history.c.finished_at.desc())
                    .label("n"),
                )
            ).subquery()
            conn.execute(
                history.delete().where(
                    history.c.id.in_(sa.select(ranked.c.id).where(ranked.c.n > HISTORY_KEPT))
                )
            )
        return deleted

    # -- deprecated: use store.keys -------------------------------------------------------

    def create_key(
        self, user: str, *, roles: Sequence[str] = (), teams: Sequence[str] = ()
    ) -> tuple[str, str]:
        """Deprecated: ``store.keys.create_key``."""
        return self.keys.create_key(user, roles=roles, teams=teams)

    def find_key(self, secret: str) -> ApiKey | None:
        """Deprecated: ``store.keys.find_key``."""
        return self.keys.find_key(secret)

    def list_keys(self) -> builtins.list[tuple[ApiKey, float, float | None]]:
        """Deprecated: ``store.keys.list_keys``."""
        return self.keys.list_keys()

    def revoked_keys(self, since: float = 0.0) -> builtins.list[tuple[str, float]]:
        """Deprecated: ``store.keys.revoked_keys``."""
        return self.keys.revoked_keys(since)

    def revoke_key(self, key_id: str) -> bool:
        """Deprecated: ``store.keys.revoke_key``."""
        return self.keys.revoke_key(key_id)

    def meta_value(self, key: str, default: Callable[[], str]) -> str:
        """Deprecated: ``store.keys.meta_value``."""
        return self.keys.meta_value(key, default)

    def counts(self, owner: str | None = None) -> dict[str, int]:
        query = sa.select(jobs.c.status, sa.func.count()).group_by(jobs.c.status)
        if owner is not None:
            query = query.where(jobs.c.owner == owner)
        with self._read() as conn:
            rows = conn.execute(query).all()
        out = {s.value: 0 for s in JobStatus}
        out.update({status: n for status, n in rows})
        return out

    def close(self) -> None:
        self._writer.dispose()
        if self._reader is not self._writer:
            self._reader.dispose()


class SQLKeyStore(KeyStore):
    """API keys and metadata in the store's database."""

    def __init__(self, store: SQLStore) -> None:
        self._store = store

    def create_key(
        self, user: str, *, roles: Sequence[str] = (), teams: Sequence[str] = ()
    ) -> tuple[str, str]:
        """Make an API key for ``user``; return ``(key_id, secret)``. Only a SHA-256 hash
        of the secret is stored: show the secret once."""
        key_id, secret = new_key()
        with self._store._write() as conn:
            conn.execute(
                api_keys.insert().values(
                    id=key_id,
                    hash=hash_secret(secret),
                    user=user,
                    roles=dumps(sorted(set(roles))),
                    teams=dumps(sorted(set(teams))),
                    created_at=time.time(),
                    revoked_at=None,
                )
            )
        return key_id, secret

    def find_key(self, secret: str) -> ApiKey | None:
        """The live key whose secret this is, or None."""
        with self._store._read() as conn:
            row = conn.execute(
                sa.select(api_keys).where(
                    api_keys.c.hash == hash_secret(secret), api_keys.c.revoked_at.is_(None)
                )
            ).first()
        if row is None:
            return None
        return ApiKey(row.id, row.user, tuple(loads(row.roles)), tuple(loads(row.teams)))

    def list_keys(self) -> builtins.list[tuple[ApiKey, float, float | None]]:
        with self._store._read() as conn:
            rows = conn.execute(sa.select(api_keys).order_by(api_keys.c.created_at)).all()
        return [
            (
                ApiKey(r.id, r.user, tuple(loads(r.roles)), tuple(loads(r.teams))),
                r.created_at,
                r.revoked_at,
            )
            for r in rows
        ]

    def revoked_keys(self, since: float = 0.0) -> builtins.list[tuple[str, float]]:
        """``(id, revoked_at)`` of the keys revoked at or after ``since`` (UNIX time)."""
        with self._store._read() as conn:
            rows = conn.execute(
                sa.select(api_keys.c.id, api_keys.c.revoked_at).where(
                    api_keys.c.revoked_at.is_not(None), api_keys.c.revoked_at >= since
                )
            ).all()
        return [(r.id, r.revoked_at) for r in rows]

    def revoke_key(self, key_id: str) -> bool:
        with self._store._write() as conn:
            done = conn.execute(
                sa.update(api_keys)
                .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
                .values(revoked_at=time.time())
            )
        return bool(done.rowcount)

    def meta_value(self, key: str, default: Callable[[], str]) -> str:
        """The stored value for ``key``, storing ``default()`` first if there is none (so
        every process sharing the database agrees on it)."""
        with self._store._read() as conn:
            value = conn.execute(sa.select(meta.c.value).where(meta.c.key == key)).scalar()
        if value is not None:
            return str(value)
        with self._store._write() as conn:
            self._store._advisory_lock(conn, _lock_key("meta", key))
            value = conn.execute(sa.select(meta.c.value).where(meta.c.key == key)).scalar()
            if value is None:
                value = default()
                conn.execute(meta.insert().values(key=key, value=value))
        return str(value)


def _impossible_id(job_id: str) -> bool:
    """An id no job can have: PostgreSQL cannot hold or even compare text with NUL, so such
    an id is not looked up, and it is unknown on every database alike."""
    return "\x00" in job_id


#: A page's ``next_cursor``: ``{created_at!r}~{id}`` of its last job, where the next page
#: starts. Readable, so that ``/openapi.json`` documents exactly what is accepted (any
#: creation time up to 10^16 s, so never Infinity, and an id without NUL).
CURSOR_PATTERN = r"^([0-9]{1,16}(?:\.[0-9]{1,20})?(?:e-[0-9]{1,3})?)~([^\x00]+)$"
_CURSOR = re.compile(CURSOR_PATTERN)


def _encode_cursor(created_at: float, job_id: str) -> str:
    return f"{created_at!r}~{job_id}"


def _decode_cursor(cursor: str) -> tuple[float, str]:
    from ..errors import InvalidCursor

    match = _CURSOR.fullmatch(cursor)
    if match is None:
        raise InvalidCursor(
            f"Expected a cursor from a previous page, but got {cursor!r}", cursor=cursor
        )
    return float(match[1]), match[2]


__all__ = ["EventKind", "SQLStore", "normalize_url", "record_from_row"]
