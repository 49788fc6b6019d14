"""The state of a MemoryStore, and the helpers its parts share (called with the lock held)."""

from __future__ import annotations

import builtins
import copy
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ...files import FileInfo
from ...snapshot import Event, EventKind, JobRecord, dumps, loads, make_event
from ...status import JobStatus
from ..notifying import Delivery, DeliveryAttempt, new_delivery
from ..sharing import Share


@dataclass(frozen=True, slots=True)
class Run:
    """One successful run of a task, for ETA history."""

    task: str
    duration: float
    total: int | None
    finished_at: float
    steps: dict[str, float] | None = None
    """Seconds per step (:func:`jobwire.steps.durations`), when it recorded steps."""


def as_stored(value: Any) -> Any:
    """What the value is once stored as JSON and read back, as the SQL stores give it."""
    return None if value is None else loads(dumps(value))


class MemoryBase:
    """Jobs, events, results, run history, webhook deliveries, files, the result cache's
    counters, shares and notifications in dicts, under one lock."""

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._lock = threading.RLock()
        self._jobs: dict[str, JobRecord] = {}
        self._live: dict[str, str] = {}  # dedupe key -> its live job, as SQL's live_key
        self._events: dict[str, builtins.list[tuple[int, str]]] = {}
        self._results: dict[str, str] = {}
        self._history: builtins.list[Run] = []
        # job id -> key -> (payload, received_at, attempt, n): as the SQL stores keep them
        self._hooks: dict[str, dict[str, tuple[str, float, int, int]]] = {}
        self._memos: dict[tuple[str, int], dict[str, str]] = {}  # (job, attempt) -> name -> value
        self._files: dict[str, dict[str, FileInfo]] = {}  # job id -> name -> its file
        self._trash: dict[str, float] = {}  # key -> when it was trashed
        self._cache: dict[str, list[int]] = {}  # task -> [hits, misses]
        self._shares: dict[tuple[str, str], Share] = {}  # (job id, team) -> its share
        self._deliveries: dict[str, Delivery] = {}  # id -> a notification of a job's end
        self._delivery_leases: dict[str, tuple[str, float]] = {}  # id -> (owner, until)
        self._attempts: dict[str, builtins.list[DeliveryAttempt]] = {}  # id -> its attempts

    @staticmethod
    def _out(job: JobRecord) -> JobRecord:
        return job.copy(
            args=copy.deepcopy(job.args),
            error_details=copy.deepcopy(job.error_details),
            steps=builtins.list(job.steps),
        )

    def _event(self, job: JobRecord, kind: EventKind = "status", log: str | None = None) -> Event:
        event = make_event(job, kind, log)
        self._events.setdefault(job.id, []).append((event["seq"], dumps(event)))
        if job.terminal:
            # Every write that ends a job makes its status event here, once (nothing moves
            # a job out of a terminal status): its notification is owed from now on.
            made = new_delivery(job, self.clock())
            if made is not None:
                self._deliveries[made.id] = made
        return event

    def _end(self, job: JobRecord, status: JobStatus, now: float) -> None:
        job.status, job.finished_at = status, now
        if job.dedupe_key is not None and self._live.get(job.dedupe_key) == job.id:
            del self._live[job.dedupe_key]

    def _drop(self, ids: builtins.list[str]) -> None:
        """Forget these jobs and their shares; their files' keys go to the trash."""
        now = self.clock()
        for job_id in ids:
            self._jobs.pop(job_id, None)
            self._events.pop(job_id, None)
            self._results.pop(job_id, None)
            self._hooks.pop(job_id, None)
            for kept in [k for k in self._memos if k[0] == job_id]:
                del self._memos[kept]
            for info in self._files.pop(job_id, {}).values():
                self._trash[info.key] = now
        gone = set(ids)
        for key in [k for k in self._shares if k[0] in gone]:
            del self._shares[key]
        self._drop_deliveries(gone)

    def _drop_deliveries(self, job_ids: set[str] | None = None) -> None:
        """Forget the finished deliveries of these jobs (None: of the jobs that are gone); a
        pending one is still owed, and is kept until it is finished."""
        for d in builtins.list(self._deliveries.values()):
            mine = d.job_id not in self._jobs if job_ids is None else d.job_id in job_ids
            if mine and d.status != "pending":
                del self._deliveries[d.id]
                self._attempts.pop(d.id, None)

    def _count_cache(self, task: str, *, hit: bool) -> None:
        counters = self._cache.setdefault(task, [0, 0])
        counters[0 if hit else 1] += 1

    def _delivered(self, job_id: str, attempt: int) -> builtins.list[str]:
        """The payloads delivered to this attempt, in order."""
        found = [h for h in self._hooks.get(job_id, {}).values() if h[2] == attempt]
        return [h[0] for h in sorted(found, key=lambda h: h[3])]

    def _held(self, worker_id: str, job_id: str, attempt: int | None = None) -> JobRecord | None:
        """The job if this worker holds its lease (for ``attempt``, when given)."""
        job = self._jobs.get(job_id)
        if job is None or job.lease_owner != worker_id:
            return None
        if attempt is not None and job.attempt != attempt:
            return None
        return job
