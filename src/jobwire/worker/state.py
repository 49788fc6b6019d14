"""What a worker holds: its collaborators, its running attempts and the writes waiting for
the engine. The worker's parts (the engine loop, the batch writer, the attempts) share it."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from ..eta import FromHistory, prior_from_history
from ..executors import Attempt, Executor, PoolExecutor
from ..files.saving import FileLimits
from ..notify.sender import Notifier, stored_secret
from ..settings import Settings
from ..steps import TypicalSteps
from ..store import Finish, Report
from ..waits import CallbackUrls

if TYPE_CHECKING:
    from ..bus import Bus
    from ..files import FileStorage
    from ..store import Store
    from ..tasks import Task

#: Seconds a task's run history is reused for the ETA prior of its next attempts.
HISTORY_TTL = 30.0


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
        files: Callable[[], FileStorage] | None = None,
        notify_secret: Callable[[], str] | None = None,
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
        self.callback_urls = CallbackUrls(secret, lambda: self.settings.webhook_secrets)
        self.notifier = Notifier(
            store, settings, secret=notify_secret or (lambda: stored_secret(store, settings))
        )
        """Sends the notifications of jobs' ends, from a thread of its own."""
        self._files = files
        self._file_storage: FileStorage | None = None
        self._files_lock = threading.Lock()
        self.file_limits = FileLimits(settings.max_file_bytes, settings.max_job_file_bytes)
        self._running: dict[str, Attempt] = {}
        self._reports: list[Report] = []
        self._finishes: list[tuple[Attempt, Finish]] = []
        self._cond = threading.Condition()
        self._more_work = True
        self._stopping = False
        self._claiming = True
        self._next_poll = 0.0
        self._resume = True
        """The next claim also looks for waiting jobs due to go on (see Claim.resume)."""
        self._avg_duration: float | None = None
        self.prior = FromHistory(store.history, prior_from_history, ttl=HISTORY_TTL)
        """The ETA prior of a task's next attempts: seconds per item in its recent runs."""
        self.typical_steps = TypicalSteps(store.step_history, ttl=HISTORY_TTL, clock=time.monotonic)
        """Seconds each step of a task usually takes (the median of its recent runs)."""
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
            "suspended": 0,
            "ignored": 0,
            "dropped": 0,
        }

    def file_storage(self) -> FileStorage:
        """Where the files of this worker's tasks go: the App's (``files``), else the one
        ``files_url`` names, opened on first use."""
        if self._files is not None:
            return self._files()
        with self._files_lock:
            if self._file_storage is None:
                from ..files.storages import open_storage

                self._file_storage = open_storage(self.settings.files_url, self.store)
            return self._file_storage

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
