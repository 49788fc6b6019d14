"""Webhook deliveries in memory (recorded once per idempotency key, for live jobs only, in
order per attempt), and the values tasks keep across their waits."""

from __future__ import annotations

import builtins

from ...status import JobStatus
from ..base import HookStore
from ..common import hook_too_late, not_found
from .state import MemoryBase


class MemoryHookStore(MemoryBase, HookStore):
    """The HookStore part of MemoryStore."""

    def add_hook(self, job_id: str, key: str, payload: str) -> bool:
        now = self.clock()
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                raise not_found(job_id)
            received = self._hooks.setdefault(job_id, {})
            if key in received:
                return False
            if job.terminal:
                raise hook_too_late(job_id, job.status.value)
            n = max((h[3] for h in received.values()), default=0) + 1
            received[key] = (payload, now, job.attempt, n)
            if job.status == JobStatus.WAITING:
                job.run_after = now  # due at once: the next claim takes it on
        return True

    def hook(self, job_id: str) -> str | None:
        with self._lock:
            received = builtins.list(self._hooks.get(job_id, {}).values())
        if not received:
            return None
        return min(received, key=lambda r: r[3])[0]  # the first delivery

    def callbacks(self, job_id: str, attempt: int) -> builtins.list[str]:
        with self._lock:
            return self._delivered(job_id, attempt)

    def memos(self, job_id: str, attempt: int) -> dict[str, str]:
        with self._lock:
            return dict(self._memos.get((job_id, attempt), {}))

    def put_memo(self, worker_id: str, job_id: str, attempt: int, name: str, value: str) -> bool:
        with self._lock:
            job = self._held(worker_id, job_id, attempt)
            if job is None or job.status != JobStatus.RUNNING:
                return False
            self._memos.setdefault((job_id, attempt), {}).setdefault(name, value)
        return True
