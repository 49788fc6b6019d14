"""Webhook deliveries (recorded once per idempotency key, for live jobs only, in order per
attempt) and the values tasks keep across their waits (``progress.once``)."""

from __future__ import annotations

import builtins

import sqlalchemy as sa

from ...status import TERMINAL, JobStatus
from ..base import HookStore
from ..common import hook_too_late, impossible_id, not_found
from ..tables import hooks, jobs, memos
from .engine import SQLBase


class SQLHookStore(SQLBase, HookStore):
    """The HookStore part of SQLStore."""

    def add_hook(self, job_id: str, key: str, payload: str) -> bool:
        if impossible_id(job_id):
            raise not_found(job_id)
        now = self.clock()
        with self._write() as conn:
            # The job row is locked: deliveries are numbered one at a time, and an attempt
            # stopping at a wait counts them after this one is in, or before it began.
            row = conn.execute(
                sa.select(jobs.c.status, jobs.c.attempt)
                .where(jobs.c.id == job_id)
                .with_for_update()
            ).first()
            if row is None:
                raise not_found(job_id)
            seen = conn.execute(
                sa.select(hooks.c.key).where(hooks.c.job_id == job_id, hooks.c.key == key)
            ).first()
            if seen is not None:
                return False
            if JobStatus(row.status) in TERMINAL:
                raise hook_too_late(job_id, row.status)
            n = conn.execute(
                sa.select(sa.func.coalesce(sa.func.max(hooks.c.n), 0)).where(
                    hooks.c.job_id == job_id
                )
            ).scalar_one()
            conn.execute(
                hooks.insert().values(
                    job_id=job_id,
                    key=key,
                    payload=payload,
                    received_at=now,
                    attempt=row.attempt,
                    n=n + 1,
                )
            )
            if row.status == JobStatus.WAITING.value:
                conn.execute(  # due at once: the next claim takes it on
                    sa.update(jobs)
                    .where(jobs.c.id == job_id, jobs.c.status == JobStatus.WAITING.value)
                    .values(run_after=now)
                )
        return True

    def hook(self, job_id: str) -> str | None:
        with self._read() as conn:
            value = conn.execute(
                sa.select(hooks.c.payload)
                .where(hooks.c.job_id == job_id)
                .order_by(hooks.c.n, hooks.c.received_at)
                .limit(1)
            ).scalar()
        return None if value is None else str(value)

    def callbacks(self, job_id: str, attempt: int) -> builtins.list[str]:
        if impossible_id(job_id):
            return []
        with self._read() as conn:
            rows = conn.execute(
                sa.select(hooks.c.payload)
                .where(hooks.c.job_id == job_id, hooks.c.attempt == attempt)
                .order_by(hooks.c.n)
            ).all()
        return [str(r.payload) for r in rows]

    def memos(self, job_id: str, attempt: int) -> dict[str, str]:
        if impossible_id(job_id):
            return {}
        with self._read() as conn:
            rows = conn.execute(
                sa.select(memos.c.name, memos.c.value).where(
                    memos.c.job_id == job_id, memos.c.attempt == attempt
                )
            ).all()
        return {r.name: str(r.value) for r in rows}

    def put_memo(self, worker_id: str, job_id: str, attempt: int, name: str, value: str) -> bool:
        now = self.clock()
        with self._write() as conn:
            held = conn.execute(
                sa.select(jobs.c.id)
                .where(
                    jobs.c.id == job_id,
                    jobs.c.attempt == attempt,
                    jobs.c.lease_owner == worker_id,
                    jobs.c.status == JobStatus.RUNNING.value,
                )
                .with_for_update()
            ).first()
            if held is None:
                return False
            key = (memos.c.job_id == job_id, memos.c.attempt == attempt, memos.c.name == name)
            if conn.execute(sa.select(memos.c.name).where(*key)).first() is None:
                conn.execute(
                    memos.insert().values(
                        job_id=job_id, attempt=attempt, name=name, value=value, created_at=now
                    )
                )
        return True
