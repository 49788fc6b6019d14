"""Webhook deliveries in memory: recorded once per idempotency key, for live jobs only."""

from __future__ import annotations

import builtins

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
            if key in self._hooks.get(job_id, {}):
                return False
            if job.terminal:
                raise hook_too_late(job_id, job.status.value)
            self._hooks.setdefault(job_id, {})[key] = (payload, now)
        return True

    def hook(self, job_id: str) -> str | None:
        with self._lock:
            received = builtins.list(self._hooks.get(job_id, {}).values())
        if not received:
            return None
        return min(received, key=lambda r: r[1])[0]  # the first delivery (stable on ties)
