"""Jobs as the App and the server see them: submit (dedupe, cache, owner limits), read,
list by cursor, cancel, delete, purge. A job deleted or purged leaves its files' keys in the
trash, in the same transaction."""

from __future__ import annotations

import builtins
import logging
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ...snapshot import Event, JobRecord, loads, make_event
from ...status import LIVE, TERMINAL, JobStatus
from ..base import JobStore, Page, SubmitOutcome
from ..common import (
    HISTORY_KEPT,
    cannot_cancel,
    cannot_delete,
    decode_cursor,
    encode_cursor,
    impossible_id,
    not_found,
    owner_limit_reached,
)
from ..moves import CANCEL
from ..tables import events, history, hooks, jobs, memos, results
from .deliveries import add_deliveries, delete_job_deliveries, purge_deliveries
from .engine import SQLBase, lock_key
from .files import trash_job_files
from .rows import event_row, record_from_row, row_values
from .shares import delete_job_shares, purge_shares
from .statements import INSERT_EVENT, INSERT_JOB, LIVE_BY_KEY
from .stats import count_cache

logger = logging.getLogger(__name__)

_LIVE = sorted(s.value for s in LIVE)
_TERMINAL = sorted(s.value for s in TERMINAL)
#: Jobs deleted per transaction by purge.
PURGE_BATCH = 500


class SQLJobStore(SQLBase, JobStore):
    """The JobStore part of SQLStore."""

    def submit(
        self,
        job: JobRecord,
        *,
        owner_limit: int | None = None,
        cache_ttl: float | None = None,
        fresh: bool = False,
    ) -> tuple[JobRecord, SubmitOutcome]:
        for _ in range(5):
            try:
                return self._submit_once(job, owner_limit, cache_ttl, fresh)
            except sa.exc.IntegrityError:
                # Another submit with the same dedupe key won the race: look again.
                logger.debug("dedupe race on %s", job.dedupe_key, extra={"job_id": job.id})
        raise RuntimeError(f"Could not submit job for dedupe key {job.dedupe_key!r}")

    def _submit_once(
        self, job: JobRecord, owner_limit: int | None, cache_ttl: float | None, fresh: bool
    ) -> tuple[JobRecord, SubmitOutcome]:
        now = self.clock()
        with self._write() as conn:
            if job.dedupe_key is not None:
                self._advisory_lock(conn, lock_key("dedupe", job.dedupe_key))
                row = conn.execute(LIVE_BY_KEY, {"b_key": job.dedupe_key}).first()
                if row is not None:
                    return record_from_row(row), "deduplicated"
                if cache_ttl and not fresh:
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
                        count_cache(conn, self.dialect, job.task, hit=True)
                        return record_from_row(row), "cached"
            if owner_limit is not None:
                self._advisory_lock(conn, lock_key("owner", job.task, job.owner))
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
                    raise owner_limit_reached(job, live, owner_limit)
            values = row_values(job, now)
            conn.execute(INSERT_JOB, values)
            if cache_ttl:
                count_cache(conn, self.dialect, job.task, hit=False)
            created = record_from_row(values)
            # No event row for "queued": the job row is that snapshot, and a stream that
            # resumes from before the first stored event is sent the snapshot anyway.
            return created, "created"

    def get(self, job_id: str) -> JobRecord | None:
        if impossible_id(job_id):
            return None
        with self._read() as conn:
            return self._get(conn, job_id)

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
            query = query.where(jobs.c.status.in_(builtins.list(status)))
        if task:
            query = query.where(jobs.c.task == task)
        if owner:
            query = query.where(jobs.c.owner == owner)
        if cursor:
            created, job_id = decode_cursor(cursor)
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
        next_cursor = encode_cursor(found[-1].created_at, found[-1].id) if more else None
        return Page(found, next_cursor)

    def cancel(self, job_id: str) -> tuple[JobRecord, Event | None]:
        if impossible_id(job_id):
            raise not_found(job_id)
        now = self.clock()
        with self._write() as conn:
            row = conn.execute(sa.select(jobs).where(jobs.c.id == job_id).with_for_update()).first()
            if row is None:
                raise not_found(job_id)
            job = record_from_row(row)
            if job.terminal:
                raise cannot_cancel(job_id, job.status.value)
            if job.cancel_requested:
                return job, None
            values: dict[str, Any] = {
                "seq": job.seq + 1,
                "updated_at": now,
                "cancel_requested": True,
            }
            if job.status in CANCEL.sources:  # queued or waiting: cancelled at once
                values.update(status="cancelled", finished_at=now, live_key=None)
            up = conn.execute(
                sa.update(jobs).where(jobs.c.id == job_id).values(values).returning(*jobs.c)
            ).one()
            job = record_from_row(up)
            event = make_event(job, "status")
            conn.execute(INSERT_EVENT, event_row(event, now))
            add_deliveries(conn, [job], now)  # only when it ended (queued: cancelled now)
        return job, event

    def delete(self, job_id: str) -> None:
        if impossible_id(job_id):
            raise not_found(job_id)
        with self._write() as conn:
            row = conn.execute(sa.select(jobs.c.status).where(jobs.c.id == job_id)).first()
            if row is None:
                raise not_found(job_id)
            if row.status not in _TERMINAL:
                raise cannot_delete(job_id, row.status)
            self._delete_ids(conn, [job_id])

    def _delete_ids(self, conn: Connection, ids: Sequence[str]) -> None:
        """Forget these jobs, their events, results, webhook deliveries, shares and finished
        notifications; their files' keys go to the trash (the file storage deletes the bytes
        later)."""
        trash_job_files(conn, ids, self.clock())
        conn.execute(events.delete().where(events.c.job_id.in_(ids)))
        conn.execute(results.delete().where(results.c.job_id.in_(ids)))
        conn.execute(hooks.delete().where(hooks.c.job_id.in_(ids)))
        conn.execute(memos.delete().where(memos.c.job_id.in_(ids)))
        delete_job_shares(conn, ids)
        delete_job_deliveries(conn, ids)
        conn.execute(jobs.delete().where(jobs.c.id.in_(ids)))

    def events(self, job_id: str, after: int = 0, limit: int = 1000) -> builtins.list[Event]:
        if impossible_id(job_id):
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
        if impossible_id(job_id):
            return None
        with self._read() as conn:
            return conn.execute(
                sa.select(results.c.value).where(results.c.job_id == job_id)
            ).scalar_one_or_none()

    def purge(self, older_than: float) -> int:
        deleted = 0
        while True:
            with self._write() as conn:
                ids = (
                    conn.execute(
                        sa.select(jobs.c.id)
                        .where(jobs.c.status.in_(_TERMINAL), jobs.c.finished_at < older_than)
                        .limit(PURGE_BATCH)
                    )
                    .scalars()
                    .all()
                )
                if ids:
                    self._delete_ids(conn, ids)
            deleted += len(ids)
            if len(ids) < PURGE_BATCH:
                break
        with self._write() as conn:
            purge_shares(conn, older_than)
            purge_deliveries(conn)
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
