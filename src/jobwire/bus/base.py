"""The Bus interface: carries events from where jobs run to where people watch.

A bus receives each event once per process and fans it out to that process's listeners,
one :class:`Subscription` (a bounded queue) each. A slow listener never slows the publisher
or the other listeners: when its queue fills up, it is *coalesced* to the newest event of
each job (:mod:`jobwire.coalesce`), which is safe because every event carries the job's whole
snapshot.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Iterable

from ..coalesce import LISTENER_BUFFER, CoalescingQueue
from ..snapshot import Event
from ..wire import is_terminal


def _facts(event: Event) -> tuple[str, int, bool]:
    return event["job"]["id"], event["seq"], is_terminal(event)


class Subscription:
    """One listener's bounded queue of events, filled by the bus, read by one consumer.

    ``put`` never blocks. When more than ``maxlen`` events wait, the queue keeps only the
    newest event of each job (and every terminal event), in their original order: a slow
    listener skips to newer snapshots, never misses a final one, and never sees a job's
    events out of order (:class:`~jobwire.coalesce.CoalescingQueue`, behind a lock here).
    ``coalesced`` counts the events skipped that way.
    """

    __slots__ = ("_cond", "_lock", "_queue", "_waiting", "bus", "closed", "job_id")

    def __init__(self, bus: Bus, job_id: str | None, maxlen: int = LISTENER_BUFFER) -> None:
        self._queue: CoalescingQueue[Event] = CoalescingQueue(_facts, maxlen)
        self.bus = bus
        self.job_id = job_id
        self.closed = False
        self._waiting = 0
        self._lock = threading.Lock()  # put() takes it directly: cheaper than the Condition
        self._cond = threading.Condition(self._lock)

    @property
    def coalesced(self) -> int:
        """Events skipped so far because the listener fell behind."""
        return self._queue.coalesced

    def put(self, event: Event) -> None:
        """Queue ``event`` (called by the bus). Never blocks on the consumer."""
        with self._lock:
            if self.closed:
                return
            self._queue.put(event)
            if self._waiting:
                self._cond.notify()

    def get(self, timeout: float | None = None) -> Event | None:
        """The next event, or None after ``timeout`` seconds (or when closed)."""
        with self._cond:
            if not self._queue and not self.closed:
                self._waiting += 1
                try:
                    self._cond.wait_for(self._ready, timeout)
                finally:
                    self._waiting -= 1
            return self._queue.get()

    def get_nowait_batch(self, max_items: int | None = None) -> list[Event]:
        """Every queued event (at most ``max_items``), oldest first, without waiting."""
        with self._lock:
            return self._queue.take(max_items)

    def qsize(self) -> int:
        """How many events wait to be read."""
        return len(self._queue)

    def close(self) -> None:
        """Stop receiving and wake the consumer. Events already queued can still be read."""
        with self._cond:
            if self.closed:
                return
            self.closed = True
            self._cond.notify_all()
        self.bus.unsubscribe(self)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else f"{len(self._queue)} queued"
        return f"<Subscription job_id={self.job_id!r} {state}>"

    def _ready(self) -> bool:
        return bool(self._queue) or self.closed


class Bus(ABC):
    """Publish events; subscribe to one job's events or to all of them.

    The base class keeps this process's listeners and fans each event out to them
    (:meth:`_deliver`); an implementation carries events between publishers and
    :meth:`_deliver`, and may start receiving lazily in :meth:`_listen`.

    ```python
    with bus.subscribe(job_id) as sub:
        event = sub.get(timeout=1.0)
    ```
    """

    def __init__(self) -> None:
        # Copy-on-write sets: subscribing rebuilds them under the lock, delivering reads
        # them without it, so publishing to many listeners allocates nothing per listener.
        self._by_job: dict[str, frozenset[Subscription]] = {}
        self._all: frozenset[Subscription] = frozenset()
        self._subs_lock = threading.Lock()

    shared = False
    """Whether events published in other processes reach this bus (Redis) or only this
    process's own (the memory bus)."""

    @property
    def connected(self) -> bool:
        """Whether events published anywhere reach this process's listeners right now. The
        in-process bus always is; a networked one is not while it reconnects, and watchers
        then read the store instead."""
        return True

    @abstractmethod
    def publish(self, events: Iterable[Event]) -> None:
        """Send ``events`` to every subscriber of their jobs, in every process."""

    def subscribe(
        self, job_id: str | None = None, *, maxlen: int = LISTENER_BUFFER
    ) -> Subscription:
        """A new listener for ``job_id``'s events, or for every job's when it is None, that
        holds up to ``maxlen`` events before coalescing. Close it (or use it as a context
        manager) to stop receiving."""
        sub = Subscription(self, job_id, maxlen)
        with self._subs_lock:
            if job_id is None:
                self._all = self._all | {sub}
            else:
                self._by_job[job_id] = self._by_job.get(job_id, frozenset()) | {sub}
        self._listen()
        return sub

    def unsubscribe(self, subscription: Subscription) -> None:
        """Forget ``subscription`` (``Subscription.close`` calls this)."""
        with self._subs_lock:
            job_id = subscription.job_id
            if job_id is None:
                self._all = self._all - {subscription}
                return
            subs = self._by_job.get(job_id)
            if subs is None:
                return
            rest = subs - {subscription}
            if rest:
                self._by_job[job_id] = rest
            else:
                del self._by_job[job_id]

    def stats(self) -> dict[str, int]:
        """Counters about this process's listeners."""
        with self._subs_lock:
            per_job = [s for subs in self._by_job.values() for s in subs]
            wildcard = self._all
            jobs = len(self._by_job)
        every = [*per_job, *wildcard]
        return {
            "subscriptions": len(every),
            "wildcard_subscriptions": len(wildcard),
            "watched_jobs": jobs,
            "queued_events": sum(s.qsize() for s in every),
            "coalesced_events": sum(s.coalesced for s in every),
        }

    def close(self) -> None:  # noqa: B027 - optional: only buses with connections need it
        """Release connections; the default has none."""

    def _listen(self) -> None:  # noqa: B027 - optional hook
        """Called after each subscribe: start receiving events if not yet. Default: nothing."""

    def _deliver(self, event: Event) -> None:
        """Hand ``event`` to this process's listeners of its job and to the wildcard ones."""
        subs = self._by_job.get(event["job"]["id"])
        if subs:
            for sub in subs:
                sub.put(event)
        for sub in self._all:
            sub.put(event)
