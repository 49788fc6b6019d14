"""Leases: a claim named by a message, renewals, cancel requests, recovery of jobs whose
worker was lost, and their release at a graceful shutdown."""

from __future__ import annotations

import builtins
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from ...snapshot import Event, JobRecord, make_event
from ...status import JobStatus
from ..base import LeaseStore
from ..common import recovery_delay, worker_lost_message
from ..moves import CLAIM, RECOVER, RELEASE, REPORT, RESUME
from ..tables import events, jobs
from .deliveries import add_deliveries
from .engine import CLAIM_LOCK
from .rows import event_row, record_from_row
from .statements import CLAIM_ONE, INSERT_EVENT, held, status_in
from .writes import SQLWrites

logger = logging.getLogger(__name__)


class SQLLeaseStore(SQLWrites, LeaseStore):
    """The LeaseStore part of SQLStore (its batched writes are in :mod:`.writes`)."""

    def claim_one(
        self, worker_id: str, job_id: str, *, limit: int | None, lease_seconds: float
    ) -> tuple[JobRecord | None, Event | None]:
        now = self.clock()
        with self._write() as conn:
            if limit is not None:
                self._advisory_lock(conn, CLAIM_LOCK)  # the running count must hold
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
                CLAIM_ONE,
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
            conn.execute(INSERT_EVENT, event_row(event, now))
        return job, event

    def renew(self, worker_id: str, job_ids: Sequence[str], lease_seconds: float) -> set[str]:
        if not job_ids:
            return set()
        now = self.clock()
        mine = held(worker_id, builtins.list(job_ids))
        with self._write() as conn:
            conn.execute(sa.update(jobs).where(*mine).values(lease_expires_at=now + lease_seconds))
            rows = conn.execute(
                sa.select(jobs.c.id).where(*mine, jobs.c.cancel_requested.is_(True))
            ).all()
        return {r.id for r in rows}

    def cancel_requests(self, worker_id: str) -> set[str]:
        with self._read() as conn:
            rows = conn.execute(
                sa.select(jobs.c.id).where(
                    status_in(REPORT),
                    jobs.c.lease_owner == worker_id,
                    jobs.c.cancel_requested.is_(True),
                )
            ).all()
        return {r.id for r in rows}

    def stale_queued(self, due_before: float, limit: int = 500) -> builtins.list[tuple[str, str]]:
        with self._read() as conn:
            rows = conn.execute(
                sa.select(jobs.c.id, jobs.c.task)
                .where(status_in(CLAIM), jobs.c.run_after < due_before)
                .order_by(jobs.c.created_at, jobs.c.id)
                .limit(limit)
            ).all()
        return [(r.id, r.task) for r in rows]

    def due_waits(self, now: float, limit: int = 500) -> builtins.list[tuple[str, str]]:
        with self._read() as conn:
            rows = conn.execute(
                sa.select(jobs.c.id, jobs.c.task)
                .where(status_in(RESUME), jobs.c.run_after <= now)
                .order_by(jobs.c.run_after, jobs.c.id)
                .limit(limit)
            ).all()
        return [(r.id, r.task) for r in rows]

    def recover(self, backoff: Mapping[str, float]) -> builtins.list[Event]:
        now = self.clock()
        out: builtins.list[Event] = []
        with self._write() as conn:
            self._advisory_lock(conn, CLAIM_LOCK)
            rows = conn.execute(
                sa.select(jobs)
                .where(status_in(RECOVER), jobs.c.lease_expires_at < now)
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
                    "error_message": worker_lost_message(job.attempt),
                }
                if job.cancel_requested:
                    values.update(status=JobStatus.CANCELLED.value, finished_at=now, live_key=None)
                    values.update(error_code=None, error_message=None)
                elif retry:
                    values.update(
                        status=JobStatus.QUEUED.value, run_after=now + recovery_delay(backoff, job)
                    )
                else:
                    values.update(status=JobStatus.FAILED.value, finished_at=now, live_key=None)
                up = conn.execute(
                    sa.update(jobs).where(jobs.c.id == job.id).values(values).returning(*jobs.c)
                ).one()
                ended = record_from_row(up)
                out.append(make_event(ended, "status"))
                add_deliveries(conn, [ended], now)  # only when it ended (failed, cancelled)
            if out:
                conn.execute(events.insert(), [event_row(ev, now) for ev in out])
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
        now = self.clock()
        mine = held(worker_id, builtins.list(job_ids), RELEASE)
        with self._write() as conn:
            # A job whose cancel was requested ends cancelled: requeued, it would run again.
            cancelled = conn.execute(
                sa.update(jobs)
                .where(*mine, jobs.c.cancel_requested.is_(True))
                .values(
                    status=JobStatus.CANCELLED.value,
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
                .where(*mine)
                .values(
                    status=JobStatus.QUEUED.value,
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
            add_deliveries(conn, [record_from_row(r) for r in cancelled], now)
            if out:
                conn.execute(events.insert(), [event_row(ev, now) for ev in out])
        return out
