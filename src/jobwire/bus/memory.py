"""The in-process bus: the embedded default, and a testing tool for users' own code."""

from __future__ import annotations

from collections.abc import Iterable

from ..snapshot import Event
from .base import Bus


class MemoryBus(Bus):
    """Delivers events to listeners in the same process, in the publisher's thread.

    ```python
    bus = MemoryBus()
    with bus.subscribe(job_id) as sub:
        bus.publish([event])
        assert sub.get(0) == event
    ```
    """

    def publish(self, events: Iterable[Event]) -> None:
        for event in events:
            self._deliver(event)
