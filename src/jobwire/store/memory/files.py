"""The files jobs saved, in memory: recorded while the attempt holds its job's lease."""

from __future__ import annotations

import builtins
from collections.abc import Sequence

from ...files import FileInfo
from ..base import FileStore
from ..moves import REPORT
from .state import MemoryBase


class MemoryFileStore(MemoryBase, FileStore):
    """The FileStore part of MemoryStore."""

    def add_file(self, worker_id: str | None, info: FileInfo) -> bool:
        now = self.clock()
        with self._lock:
            job = self._jobs.get(info.job_id)
            if (
                job is None
                or job.attempt != info.attempt
                or job.status not in REPORT.sources
                or (worker_id is not None and job.lease_owner != worker_id)
            ):
                return False
            self._trash.pop(info.key, None)  # the row owns the bytes now
            saved = self._files.setdefault(info.job_id, {})
            old = saved.get(info.name)
            if old is not None:
                self._trash[old.key] = now
            saved[info.name] = info
        return True

    def files(self, job_id: str) -> builtins.list[FileInfo]:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                return []
            found = [f for f in self._files.get(job_id, {}).values() if f.attempt == job.attempt]
        return sorted(found, key=lambda f: f.name)

    def file(self, job_id: str, name: str) -> FileInfo | None:
        with self._lock:
            job = self._jobs.get(job_id)
            info = self._files.get(job_id, {}).get(name)
            if job is None or info is None or info.attempt != job.attempt:
                return None
            return info

    def reserve(self, key: str, hold: float) -> None:
        until = self.clock() + hold
        with self._lock:
            self._trash[key] = until

    def trash(self, limit: int = 500) -> builtins.list[str]:
        now = self.clock()
        with self._lock:
            due = [k for k, at in self._trash.items() if at <= now]
        return sorted(due, key=lambda k: (self._trash.get(k, 0.0), k))[: max(limit, 0)]

    def forget_trash(self, keys: Sequence[str]) -> None:
        with self._lock:
            for key in keys:
                self._trash.pop(key, None)
