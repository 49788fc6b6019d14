"""The hub: one bus subscription per server process, fanned out to every stream.

The bus delivers events on a thread; the hub hands them to the event loop in batches,
encodes each message once, and pushes the same text to every listener of that job. Each
listener has a bounded buffer that coalesces as a bus subscription does
(:mod:`jobwire.coalesce`): a slow one skips to the newest snapshot of each job (every message
carries a whole snapshot) and never slows the others; a final message is never dropped.
It also remembers the newest ``seq`` of each job it has seen, so a poll whose ETag is
current is answered 304 without touching the database.

When the bus loses its connection (or gets it back), the hub bumps :attr:`Hub.epoch` and
wakes every listener: streams then read the store at once (to pick up what the bus missed)
and, while it is down, every poll interval.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..coalesce import STREAM_BUFFER, CoalescingQueue
from ..snapshot import Event
from ..wire import encode, is_terminal, message

if TYPE_CHECKING:
    from ..bus import Bus, Subscription

logger = logging.getLogger(__name__)

#: Events the hub's one bus subscription holds before it coalesces: the hub reads it at
#: once, so only a stalled event loop fills it; each listener coalesces on its own.
HUB_BUFFER = 100_000
SEQ_CACHE = 50_000
SEQ_TRUST = 1.0
#: Seconds between the pump's looks at the bus's connection when no event comes.
CONNECTION_CHECK = 0.25

Item = tuple[int, bool, str, Event]
"""What a listener gets: ``(seq, final, encoded message, event)``."""


def _facts(item: Item) -> tuple[str, int, bool]:
    return item[3]["job"]["id"], item[0], item[1]


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class Listener:
    """One stream's queue of :data:`Item` s, read on the event loop."""

    __slots__ = ("_queue", "_waiter", "accepts", "hub", "job_id")

    def __init__(
        self,
        hub: Hub,
        job_id: str | None,
        accepts: Callable[[str, str], bool] | None = None,
        size: int = STREAM_BUFFER,
    ) -> None:
        self.hub = hub
        self.job_id = job_id
        """None for a listener of every job (see ``accepts``)."""
        self.accepts = accepts
        """For an every-job listener: ``accepts(job_id, owner)`` filters what it gets."""
        self._queue: CoalescingQueue[Item] = CoalescingQueue(_facts, size)
        self._waiter: asyncio.Future[None] | None = None

    @property
    def coalesced(self) -> int:
        """Items skipped so far because the stream fell behind."""
        return self._queue.coalesced

    def push(self, item: Item) -> None:
        self._queue.put(item)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def get(self, timeout: float | None = None) -> Item | None:
        """The next item, or None after ``timeout`` seconds."""
        queue = self._queue
        if not queue.items:  # the deque itself: this runs once per message per stream
            # One future and one timer: cheaper than wait_for(shield(...)) per message.
            loop = asyncio.get_running_loop()
            waiter = self._waiter = loop.create_future()
            timer = None if timeout is None else loop.call_later(timeout, _wake, waiter)
            try:
                await waiter
            finally:
                self._waiter = None
                if timer is not None:
                    timer.cancel()
        return queue.get()

    def wake(self) -> None:
        """Make a waiting ``get`` return (None when nothing is queued)."""
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def close(self) -> None:
        self.hub.unlisten(self)

    def __enter__(self) -> Listener:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Hub:
    def __init__(self, bus: Bus) -> None:
        self.bus = bus
        self._listeners: dict[str, set[Listener]] = {}
        self._everything: set[Listener] = set()
        # job id -> (newest seq seen, owner, when an event or a store read confirmed it)
        self._seqs: OrderedDict[str, tuple[int, str, float]] = OrderedDict()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sub: Subscription | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.delivered = 0
        self.bus_connected = bus.connected
        """The bus's connection as the event loop last learned it."""
        self.epoch = 0
        """Grows each time the bus loses or regains its connection."""
        self._changed_at = time.monotonic()

    @property
    def started(self) -> bool:
        return self._thread is not None

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        with self._lock:
            if self._thread is not None:
                return
            self._loop = loop
            # One wildcard subscription for the whole process.
            self._sub = self.bus.subscribe(None, maxlen=HUB_BUFFER)
            self.bus_connected = self.bus.connected
            self._thread = threading.Thread(target=self._pump, name="jobwire-hub", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        with self._lock:
            if self._sub is not None:
                self._sub.close()
            if self._thread is not None:
                self._thread.join(timeout=5)
            self._sub = self._thread = None

    def _pump(self) -> None:
        sub, loop = self._sub, self._loop
        assert sub is not None and loop is not None
        connected = self.bus_connected
        while not sub.closed:
            first = sub.get(CONNECTION_CHECK)
            try:
                if self.bus.connected != connected:
                    connected = not connected
                    loop.call_soon_threadsafe(self._connection_changed, connected)
                if first is not None:
                    batch = [first, *sub.get_nowait_batch(999)]
                    loop.call_soon_threadsafe(self._dispatch, batch)
            except RuntimeError:  # the loop closed: the server is shutting down
                return

    def _connection_changed(self, connected: bool) -> None:
        self.bus_connected = connected
        self.epoch += 1
        self._changed_at = time.monotonic()
        logger.info(
            "hub: the bus is %s; streams %s",
            "connected" if connected else "disconnected",
            "are pushed again" if connected else "read the store until it is back",
            extra={"action": "hub_bus_connected" if connected else "hub_bus_disconnected"},
        )
        for listeners in self._listeners.values():
            for listener in listeners:
                listener.wake()
        for listener in self._everything:
            listener.wake()

    def _dispatch(self, batch: list[Event]) -> None:
        now = time.monotonic()
        for event in batch:
            job_id = event["job"]["id"]
            seq = event["seq"]
            self._remember(job_id, seq, event["job"]["owner"], now)
            listeners = self._listeners.get(job_id)
            if not listeners and not self._everything:
                continue
            item: Item = (seq, is_terminal(event), encode(message(event)), event)
            for listener in listeners or ():
                listener.push(item)
            self.delivered += len(listeners or ())
            if self._everything:
                owner = event["job"]["owner"]
                for listener in self._everything:
                    if listener.accepts is None or listener.accepts(job_id, owner):
                        listener.push(item)
                        self.delivered += 1

    def listen(self, job_id: str) -> Listener:
        listener = Listener(self, job_id)
        self._listeners.setdefault(job_id, set()).add(listener)
        return listener

    def listen_all(self, accepts: Callable[[str, str], bool]) -> Listener:
        """A listener of every job that ``accepts(job_id, owner)`` lets through."""
        listener = Listener(self, None, accepts)
        self._everything.add(listener)
        return listener

    def unlisten(self, listener: Listener) -> None:
        if listener.job_id is None:
            self._everything.discard(listener)
            return
        listeners = self._listeners.get(listener.job_id)
        if listeners is not None:
            listeners.discard(listener)
            if not listeners:
                del self._listeners[listener.job_id]

    def known(self, job_id: str, within: float = SEQ_TRUST) -> tuple[int, str] | None:
        """``(seq, owner)``: the newest seq seen for this job, if it was confirmed (by an
        event or a store read) less than ``within`` seconds ago. Older entries are not
        trusted: a change made where this process's bus cannot see it (a lost pub/sub
        message, a cancel from another process on a memory bus) must show within that time."""
        if within <= 0:
            return None
        entry = self._fresh(job_id, within)
        return None if entry is None else (entry[0], entry[1])

    def confirmed(self, job_id: str, within: float) -> int | None:
        """The job's seq if an event or a store read confirmed it in the last ``within``
        seconds: idle streams of one job then share one store read per heartbeat."""
        entry = self._fresh(job_id, within)
        return None if entry is None else entry[0]

    def since_change(self) -> float:
        """Seconds since the bus last lost or regained its connection."""
        return time.monotonic() - self._changed_at

    def note(self, job_id: str, seq: int, owner: str) -> None:
        """Remember a seq read from the store (never moving backwards)."""
        self._remember(job_id, seq, owner, time.monotonic())

    def forget(self, job_id: str) -> None:
        self._seqs.pop(job_id, None)

    def _fresh(self, job_id: str, within: float) -> tuple[int, str, float] | None:
        entry = self._seqs.get(job_id)
        if entry is None or time.monotonic() - entry[2] > within:
            return None
        return entry

    def _remember(self, job_id: str, seq: int, owner: str, now: float) -> None:
        seqs = self._seqs
        entry = seqs.get(job_id)
        if entry is None or seq >= entry[0]:
            seqs[job_id] = (seq, owner, now)
            seqs.move_to_end(job_id)
            if len(seqs) > SEQ_CACHE:
                seqs.popitem(last=False)

    @property
    def listeners(self) -> int:
        return sum(len(s) for s in self._listeners.values()) + len(self._everything)
