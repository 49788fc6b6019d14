"""The in-process bus: the embedded default, and a testing tool for users' own code."""

from __future__ import annotations

import threading
from collections.abc import Iterable

from ..snapshot import Event
from .base import Bus, Subscription


class MemoryBus(Bus):
    """Delivers events to listeners in the same process."""

    def __init__(self) -> None:
        self._by_job: dict[str, set[Subscription]] = {}
        self._all: set[Subscription] = set()
        self._lock = threading.Lock()

    def publish(self, events: Iterable[Event]) -> None:
        for event in events:
            job_id = event["job"]["id"]
            with self._lock:
                targets = list(self._by_job.get(job_id, ()))
                if self._all:
                    targets.extend(self._all)
            for sub in targets:
                sub.put(event)

    def subscribe(self, job_id: str | None = None) -> Subscription:
        sub = Subscription(self, job_id)
        with self._lock:
            if job_id is None:
                self._all.add(sub)
            else:
                self._by_job.setdefault(job_id, set()).add(sub)
        return sub

    def unsubscribe(self, subscription: Subscription) -> None:
        with self._lock:
            if subscription.job_id is None:
                self._all.discard(subscription)
                return
            subs = self._by_job.get(subscription.job_id)
            if subs is not None:
                subs.discard(subscription)
                if not subs:
                    del self._by_job[subscription.job_id]
