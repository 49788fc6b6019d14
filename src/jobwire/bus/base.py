"""The Bus interface: carries events from where jobs run to where people watch."""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Iterable

from ..snapshot import Event

#: Events a listener may hold before the oldest are dropped. Every event is a whole
#: snapshot, so a slow listener skips to newer state and never misses the final one.
LISTENER_BUFFER = 256


class Subscription:
    """One listener's bounded queue of events, filled by the bus, read by one consumer."""

    def __init__(self, bus: Bus, job_id: str | None, maxlen: int = LISTENER_BUFFER) -> None:
        self.bus = bus
        self.job_id = job_id
        self._events: deque[Event] = deque(maxlen=maxlen)
        self._cond = threading.Condition()
        self.closed = False

    def put(self, event: Event) -> None:
        with self._cond:
            self._events.append(event)
            self._cond.notify()

    def get(self, timeout: float | None = None) -> Event | None:
        """The next event, or None after ``timeout`` seconds (or when closed)."""
        with self._cond:
            if not self._events and not self.closed:
                self._cond.wait(timeout)
            return self._events.popleft() if self._events else None

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.bus.unsubscribe(self)
            with self._cond:
                self._cond.notify_all()

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Bus(ABC):
    """Publish events; subscribe to one job's events or to all of them."""

    @abstractmethod
    def publish(self, events: Iterable[Event]) -> None: ...

    @abstractmethod
    def subscribe(self, job_id: str | None = None) -> Subscription: ...

    @abstractmethod
    def unsubscribe(self, subscription: Subscription) -> None: ...

    def close(self) -> None:
        """Release connections; the default has none."""
