"""Figures about tasks in memory: run history, counts by status, the result cache."""

from __future__ import annotations

import builtins

from ...status import JobStatus
from ..base import CacheStats, StatsStore
from .state import MemoryBase


class MemoryStatsStore(MemoryBase, StatsStore):
    """The StatsStore part of MemoryStore."""

    def history(self, task: str, limit: int = 20) -> builtins.list[tuple[float, int | None]]:
        with self._lock:
            runs = [r for r in reversed(self._history) if r.task == task]
        runs.sort(key=lambda r: r.finished_at, reverse=True)  # stable: newest first on ties
        return [(r.duration, r.total) for r in runs[: max(limit, 0)]]

    def step_history(self, task: str, limit: int = 20) -> builtins.list[dict[str, float]]:
        with self._lock:
            runs = [r for r in reversed(self._history) if r.task == task and r.steps]
        runs.sort(key=lambda r: r.finished_at, reverse=True)
        return [dict(r.steps or {}) for r in runs[: max(limit, 0)]]

    def counts(self, owner: str | None = None) -> dict[str, int]:
        out = {s.value: 0 for s in JobStatus}
        with self._lock:
            for job in self._jobs.values():
                if owner is None or job.owner == owner:
                    out[job.status.value] += 1
        return out

    def cache_stats(self) -> dict[str, CacheStats]:
        with self._lock:
            return {task: CacheStats(hits, misses) for task, (hits, misses) in self._cache.items()}
