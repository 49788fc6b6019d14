"""Watching one job from Python: its current snapshot, then each change, ending after the
terminal one. Events come from the bus; when the bus brings nothing for a poll interval (the
job may run in another process, on a memory bus), the store is read instead."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING

from .errors import JobNotFound, WaitTimeout
from .snapshot import Event, JobRecord, make_event
from .status import TERMINAL

if TYPE_CHECKING:
    from .bus import Bus
    from .store import Store

_TERMINAL_VALUES = frozenset(s.value for s in TERMINAL)


class Watch:
    """An iterator and async iterator over a job's events (see :meth:`App.watch
    <jobwire.App.watch>`). Raises JobNotFound at once for an unknown job."""

    def __init__(
        self, store: Store, bus: Bus, job_id: str, *, after: int = 0, poll_interval: float = 0.5
    ) -> None:
        self.store = store
        self.job_id = job_id
        self.after = after
        self.poll_interval = poll_interval
        # Fail now, not at the first next(), for an unknown job.
        self._sub = bus.subscribe(job_id)
        record = store.get(job_id)
        if record is None:
            self._sub.close()
            raise JobNotFound(f"No job has the id {job_id!r}", job_id=job_id)
        self._record = record

    def __iter__(self) -> Iterator[Event]:
        sub, last, poll = self._sub, self.after, self.poll_interval
        try:
            record = self._record
            if record.seq > last:
                yield make_event(record, "status")
                last = record.seq
            if record.status in TERMINAL:
                return
            while True:
                event = sub.get(poll)
                batch = [event] if event is not None else self._from_store(last)
                for ev in batch:
                    if ev["seq"] <= last:
                        continue
                    last = ev["seq"]
                    yield ev
                    if ev["kind"] == "status" and ev["job"]["status"] in _TERMINAL_VALUES:
                        return
        finally:
            sub.close()

    def _from_store(self, after: int) -> list[Event]:
        # Nothing on the local bus: the job may run in another process. Read the store.
        events = self.store.events(self.job_id, after=after)
        if events:
            return events
        record = self.store.get(self.job_id)
        if record is None:
            raise JobNotFound(f"Job {self.job_id} was deleted", job_id=self.job_id)
        if record.seq > after:  # its events were pruned: the snapshot is enough
            return [make_event(record, "status")]
        return []

    async def __aiter__(self) -> AsyncIterator[Event]:
        it = iter(self)
        sentinel = object()
        try:
            while True:
                event = await asyncio.to_thread(next, it, sentinel)
                if event is sentinel:
                    return
                yield event  # type: ignore[misc]
        finally:
            self._sub.close()

    def close(self) -> None:
        self._sub.close()


def wait_ended(
    store: Store, bus: Bus, job_id: str, timeout: float | None, *, poll_interval: float = 0.5
) -> JobRecord:
    """Block until the job ended; its record. Wakes on the job's events, and reads the store
    at least every ``poll_interval``. Raises WaitTimeout after ``timeout`` seconds (the job
    goes on), JobNotFound for an unknown job."""
    deadline = None if timeout is None else time.monotonic() + timeout
    with bus.subscribe(job_id) as sub:
        while True:
            record = store.get(job_id)
            if record is None:
                raise JobNotFound(f"No job has the id {job_id!r}", job_id=job_id)
            if record.status in TERMINAL:
                return record
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise WaitTimeout(
                    f"Job {job_id} is still {record.status.value} after {timeout} s",
                    job_id=job_id,
                )
            event = sub.get(poll_interval if left is None else min(left, poll_interval))
            while event is not None and event["job"]["status"] not in _TERMINAL_VALUES:
                event = sub.get(0)
