"""What a worker holds: its collaborators, its running attempts and the writes waiting for
the engine. The worker's parts (the engine loop, the batch writer, the attempts) share it."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from ..executors import Attempt, Executor, PoolExecutor
from ..settings import Settings
from ..store import Finish, Report
from .waits import StoreCallbacks

if TYPE_CHECKING:
    from ..bus import Bus
    from ..store import Store
    from ..tasks import Task


class WorkerState:
    """The state the worker's parts share. Built by :class:`~jobwire.worker.Worker`."""

    def __init__(
        self,
        store: Store,
        bus: Bus,
        tasks: Mapping[str, Task],
        settings: Settings,
        executor: Executor,
        *,
        secret: Callable[[], str],
    ) -> None:
        self.store = store
        self.bus = bus
        self.tasks = tasks
        """The task registry (the App's, shared: tasks registered later are found too)."""
        self.settings = settings
        self.executor = executor
        self.pool: PoolExecutor | None = executor if isinstance(executor, PoolExecutor) else None
        """The executor, when it has slots of its own to fill with claimed jobs."""
        self.id = uuid.uuid4().hex[:16]
        self.concurrency = executor.concurrency
        self.lease_seconds = settings.lease_seconds
        self.poll_interval = settings.poll_interval
        self.cancel_grace = settings.cancel_grace
        self.callbacks = StoreCallbacks(store, secret)
        self._running: dict[str, Attempt] = {}
        self._reports: list[Report] = []
        self._finishes: list[tuple[Attempt, Finish]] = []
        self._cond = threading.Condition()
        self._more_work = True
        self._stopping = False
        self._claiming = True
        self._next_poll = 0.0
        self._avg_duration: float | None = None
        self._history_cache: dict[str, tuple[float, float | None]] = {}
        self._resent: dict[str, float] = {}
        """Jobs whose message was sent again, and when (see ``_resend_stale``)."""
        self.stats = {
            "claimed": 0,
            "succeeded": 0,
            "failed": 0,
            "cancelled": 0,
            "retried": 0,
            "rejected": 0,
            "recovered": 0,
            "ignored": 0,
            "dropped": 0,
        }

    @property
    def claims(self) -> bool:
        """False when something else (Celery) hands this worker its jobs, one by one."""
        return self.pool is not None

    @property
    def running(self) -> int:
        return len(self._running)

    def request_cancel(self, job_id: str) -> bool:
        """Stop an attempt of this worker: its next Progress call raises JobCancelled, and
        the executor stops it harder where it can. False when it runs no such attempt."""
        attempt = self._running.get(job_id)
        if attempt is None:
            return False
        if attempt.cancel_seen is None:
            attempt.cancel_seen = time.monotonic()
        attempt.progress.request_cancel()
        self.executor.cancel(attempt)
        return True
