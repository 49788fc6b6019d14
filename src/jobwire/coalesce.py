"""The bounded queue between a source of job events and one reader. Pure: no I/O, no
threads, no event loop.

A fast reader gets every item, in order. A slow one must not hold up the source nor the other
readers, and every event carries its job's whole snapshot, so a reader that falls behind loses
nothing it needs by skipping to a job's newest one. The one rule, when more than ``maxlen``
items wait: keep the newest item of each job (the highest ``seq``) and every final one, in
their order of arrival, and drop the rest. So a slow reader

- skips to the newest snapshot of each job (one item per live job, whatever their number),
- never loses a final event (the one that says how a job ended, and ends its streams),
- never sees a job's events out of order (survivors keep their order; an event that arrives
  after a newer one of its job, as when two processes publish for one job, is the one dropped).

Dropping the oldest items instead would be simpler, but a reader of many jobs would then lose
the only, newest, snapshot of a quiet job among the events of busy ones.

When coalescing cannot bring the queue under ``maxlen`` (a reader of every job, behind on more
live jobs than that), the bound doubles, so that the pass costs O(1) per item amortised; it is
back to ``maxlen`` once the reader has emptied the queue.

:class:`jobwire.bus.Subscription` wraps this queue with a lock for threads; the server's
stream listeners (:class:`jobwire.server.hub.Listener`) wrap it with a future for the event
loop.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")

#: Items a bus subscription may hold before its queue is coalesced to the newest item of
#: each job.
LISTENER_BUFFER = 256
#: Items one stream's listener may hold: fewer, so that a client that lags behind (a slow
#: socket) skips to the newest snapshot sooner instead of draining stale ones. A listener of
#: every job (``subscribe all``) starts here too and grows with the jobs it follows.
STREAM_BUFFER = 64

Facts = Callable[[T], tuple[str, int, bool]]
"""``facts(item) -> (job_id, seq, final)``: what the queue needs to know of an item."""


class CoalescingQueue(Generic[T]):
    """A FIFO of items about jobs that coalesces, as the module says, past ``maxlen`` items.

    ```python
    queue = CoalescingQueue(lambda e: (e["job"]["id"], e["seq"], is_terminal(e)))
    queue.put(event)
    queue.get()  # the oldest item, or None
    ```
    """

    __slots__ = ("_facts", "_limit", "coalesced", "items", "maxlen")

    def __init__(self, facts: Facts[T], maxlen: int = LISTENER_BUFFER) -> None:
        if maxlen < 1:
            raise ValueError(f"Expected maxlen >= 1, but got {maxlen!r}")
        self._facts = facts
        self.items: deque[T] = deque()
        """The waiting items, oldest first (read it; add and take through the methods)."""
        self.maxlen = maxlen
        self._limit = maxlen
        self.coalesced = 0
        """Items dropped by coalescing so far."""

    def put(self, item: T) -> None:
        """Add ``item`` at the end; coalesce when the queue grows past its bound."""
        items = self.items
        items.append(item)
        if len(items) > self._limit:
            self._coalesce()

    def get(self) -> T | None:
        """The oldest item, or None when the queue is empty."""
        items = self.items
        if not items:
            return None
        item = items.popleft()
        if not items:
            self._limit = self.maxlen
        return item

    def take(self, max_items: int | None = None) -> list[T]:
        """The oldest ``max_items`` items (all of them when None), oldest first."""
        items = self.items
        if max_items is None or max_items >= len(items):
            taken = list(items)
            items.clear()
        else:
            taken = [items.popleft() for _ in range(max(max_items, 0))]
        if not items:
            self._limit = self.maxlen
        return taken

    def __len__(self) -> int:
        return len(self.items)

    def __bool__(self) -> bool:
        return bool(self.items)

    def _coalesce(self) -> None:
        items, facts = self.items, self._facts
        known = [facts(item) for item in items]
        newest: dict[str, tuple[int, int]] = {}  # job id -> (its highest seq, where)
        for where, (job_id, seq, _) in enumerate(known):
            best = newest.get(job_id)
            if best is None or seq >= best[0]:  # on a tie, the later one
                newest[job_id] = (seq, where)
        keep = {where for _, where in newest.values()}
        kept = deque(
            item
            for where, (item, (_, _, final)) in enumerate(zip(items, known, strict=True))
            if final or where in keep
        )
        self.coalesced += len(items) - len(kept)
        self.items = kept
        self._limit = max(self.maxlen, 2 * len(kept))
