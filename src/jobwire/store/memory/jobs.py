"""Jobs in memory as the App and the server see them: submit, read, cancel, forget."""

from __future__ import annotations

import builtins
from collections.abc import Sequence

from ...snapshot import Event, JobRecord, dumps, loads
from ...status import LIVE, TERMINAL, JobStatus
from ..base import JobStore, Page, SubmitOutcome
from ..common import (
    HISTORY_KEPT,
    cannot_cancel,
    cannot_delete,
    decode_cursor,
    encode_cursor,
    not_found,
    owner_limit_reached,
)
from ..moves import CANCEL
from .state import MemoryBase, Run

S = JobStatus


class MemoryJobStore(MemoryBase, JobStore):
    """The JobStore part of MemoryStore."""

    def submit(
        self,
        job: JobRecord,
        *,
        owner_limit: int | None = None,
        cache_ttl: float | None = None,
        fresh: bool = False,
    ) -> tuple[JobRecord, SubmitOutcome]:
        now = self.clock()
        with self._lock:
            key = job.dedupe_key
            if key is not None:
                if key in self._live:
                    return self._out(self._jobs[self._live[key]]), "deduplicated"
                if cache_ttl and not fresh:
                    found = [
                        j
                        for j in self._jobs.values()
                        if j.dedupe_key == key
                        and j.status == S.SUCCEEDED
                        and (j.finished_at or 0.0) >= now - cache_ttl
                    ]
                    if found:
                        self._count_cache(job.task, hit=True)
                        return self._out(max(found, key=lambda j: j.finished_at or 0.0)), "cached"
            if owner_limit is not None:
                live = sum(
                    1
                    for j in self._jobs.values()
                    if j.owner == job.owner and j.task == job.task and j.status in LIVE
                )
                if live >= owner_limit:
                    raise owner_limit_reached(job, live, owner_limit)
            if job.id in self._jobs:  # as the SQL stores, after their retries
                raise RuntimeError(f"Could not submit job for dedupe key {key!r}")
            created = JobRecord(
                id=job.id,
                task=job.task,
                owner=job.owner,
                args=loads(dumps(job.args)),
                status=job.status,
                step=job.step,
                current=job.current,
                total=job.total,
                message=job.message,
                estimated_seconds=job.estimated_seconds,
                created_at=job.created_at,
                max_attempts=job.max_attempts,
                seq=1,
                dedupe_key=key,
                run_after=job.run_after or job.created_at,
                timeout=job.timeout,
                notify_url=job.notify_url,
            )
            self._jobs[job.id] = created
            if key is not None:
                self._live[key] = job.id
            if cache_ttl:
                self._count_cache(job.task, hit=False)
            return self._out(created), "created"

    def get(self, job_id: str) -> JobRecord | None:
        with self._lock:
            job = self._jobs.get(job_id)
            return None if job is None else self._out(job)

    def list(
        self,
        *,
        status: Sequence[str] | None = None,
        task: str | None = None,
        owner: str | None = None,
        cursor: str | None = None,
        limit: int = 50,
    ) -> Page:
        limit = max(limit, 1)
        after = decode_cursor(cursor) if cursor else None
        with self._lock:
            found = [
                j
                for j in self._jobs.values()
                if (not status or j.status.value in status)
                and (not task or j.task == task)
                and (not owner or j.owner == owner)
                and (after is None or (j.created_at, j.id) < after)
            ]
            found.sort(key=lambda j: (j.created_at, j.id), reverse=True)
            page = [self._out(j) for j in found[:limit]]
        more = len(found) > limit
        return Page(page, encode_cursor(page[-1].created_at, page[-1].id) if more else None)

    def cancel(self, job_id: str) -> tuple[JobRecord, Event | None]:
        now = self.clock()
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                raise not_found(job_id)
            if job.terminal:
                raise cannot_cancel(job_id, job.status.value)
            if job.cancel_requested:
                return self._out(job), None
            job.seq += 1
            job.cancel_requested = True
            if job.status in CANCEL.sources:  # queued: cancelled at once
                self._end(job, S.CANCELLED, now)
            return self._out(job), self._event(job)

    def delete(self, job_id: str) -> None:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                raise not_found(job_id)
            if not job.terminal:
                raise cannot_delete(job_id, job.status.value)
            self._drop([job_id])

    def events(self, job_id: str, after: int = 0, limit: int = 1000) -> builtins.list[Event]:
        with self._lock:
            stored = [text for seq, text in self._events.get(job_id, []) if seq > after]
        return [loads(text) for text in stored[: max(limit, 0)]]

    def result(self, job_id: str) -> str | None:
        with self._lock:
            return self._results.get(job_id)

    def purge(self, older_than: float) -> int:
        with self._lock:
            old = [
                j.id
                for j in self._jobs.values()
                if j.status in TERMINAL and j.finished_at is not None and j.finished_at < older_than
            ]
            self._drop(old)
            for key, share in builtins.list(self._shares.items()):
                ended = share.revoked_at if share.revoked_at is not None else share.expires_at
                if ended is not None and ended < older_than:
                    del self._shares[key]
            self._drop_deliveries()
            kept: builtins.list[Run] = []
            per_task: dict[str, int] = {}
            for run in sorted(self._history, key=lambda r: r.finished_at, reverse=True):
                if run.finished_at < older_than:
                    continue
                per_task[run.task] = per_task.get(run.task, 0) + 1
                if per_task[run.task] <= HISTORY_KEPT:
                    kept.append(run)
            self._history = sorted(kept, key=lambda r: r.finished_at)
        return len(old)
