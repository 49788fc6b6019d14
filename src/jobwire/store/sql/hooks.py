"""Webhook deliveries: recorded once per idempotency key, for live jobs only."""

from __future__ import annotations

import sqlalchemy as sa

from ...status import TERMINAL, JobStatus
from ..base import HookStore
from ..common import hook_too_late, impossible_id, not_found
from ..tables import hooks, jobs
from .engine import SQLBase


class SQLHookStore(SQLBase, HookStore):
    """The HookStore part of SQLStore."""

    def add_hook(self, job_id: str, key: str, payload: str) -> bool:
        if impossible_id(job_id):
            raise not_found(job_id)
        now = self.clock()
        with self._write() as conn:
            row = conn.execute(
                sa.select(jobs.c.status).where(jobs.c.id == job_id).with_for_update()
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
