"""Workers: claim queued jobs, run them, report their progress, keep their leases.

A :class:`Worker` is built from a store, a bus, the task registry, the settings and an
executor; ``App.start()`` builds one, and ``jobwire worker`` runs one. Its parts, one module
each: :mod:`~jobwire.worker.state` (what it holds), :mod:`~jobwire.worker.attempts` (running
an attempt and recording how it ended, with :mod:`~jobwire.worker.outcomes`),
:mod:`~jobwire.worker.batch` (group commit and claims), :mod:`~jobwire.worker.engine` (the
thread that does the store I/O and its timers). Waits for webhooks are in :mod:`jobwire.waits`.
Its :class:`~jobwire.notify.sender.Notifier` sends the notifications of jobs' ends from a
thread of its own, started and stopped with it.
Files a task saves go through :mod:`jobwire.files.saving`.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from ..executors import Executor
from ..settings import Settings
from ..snapshot import JobRecord
from ..status import JobStatus
from .engine import Engine, purge_old

if TYPE_CHECKING:
    from ..bus import Bus
    from ..files import FileStorage
    from ..store import Store
    from ..tasks import Task

logger = logging.getLogger(__name__)


class Worker(Engine):
    """Runs the jobs of a task registry. Usually started by ``App.start()`` or ``jobwire
    worker``.

    ```python
    worker = Worker(store, bus, app.tasks, settings, ThreadExecutor(2), secret=lambda: key)
    worker.start()
    ...
    worker.stop(grace=10)
    ```
    """

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
        super().__init__(
            store,
            bus,
            tasks,
            settings,
            executor,
            secret=secret,
            files=files,
            notify_secret=notify_secret,
        )
        self._thread: threading.Thread | None = None
        executor.bind(self)

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            return
        self.executor.start()
        self._thread = threading.Thread(
            target=self._loop, name=f"jobwire-engine-{self.id}", daemon=True
        )
        self._thread.start()
        self.notifier.start()
        logger.info(
            "worker %s started with %d %s",
            self.id,
            self.concurrency,
            self.executor.kind,
            extra={"action": "worker_start"},
        )

    def stop(self, grace: float = 10.0) -> None:
        """Stop claiming; give running jobs ``grace`` seconds, then requeue the rest."""
        if self._thread is None:
            return
        with self._cond:
            self._claiming = False
            self._cond.notify()
        deadline = time.monotonic() + grace
        while self._running and time.monotonic() < deadline:
            time.sleep(0.02)
        leftover = [a for a in list(self._running.values()) if not a.ended]
        for attempt in leftover:
            attempt.ended = True
            attempt.progress.request_cancel()
            self.executor.cancel(attempt)
        with self._cond:
            self._stopping = True
            self._cond.notify()
        self._thread.join(timeout=30)
        self._thread = None
        if leftover:
            events = self.store.release(self.id, [a.job_id for a in leftover])
            self.bus.publish(events)
            self._requeued(events)
            logger.warning(
                "requeued %d job(s) still running at shutdown",
                len(events),
                extra={"action": "requeue"},
            )
        for attempt in leftover:
            self._running.pop(attempt.job_id, None)
        self.notifier.stop()  # after the last outcomes: their notifications may be sent now
        self.executor.shutdown()

    def poke(self) -> None:
        """New work may be queued: claim without waiting for the next poll."""
        with self._cond:
            self._more_work = self._resume = True
            self._cond.notify()

    def purge(self) -> int:
        """Delete jobs that ended more than ``retention_days`` ago, and their files."""
        deleted = purge_old(self.store, self.settings.retention_days)
        self._drain_trash()
        return deleted

    # -- jobs delivered one by one (Celery) ------------------------------------------------

    def run_job(self, job_id: str, task_name: str | None = None) -> float | None:
        """Run one attempt of ``job_id`` in the calling thread, for an executor that hands
        out jobs itself (Celery). Returns ``None`` when the message is done with (the job
        ran, ended or is gone), or the seconds after which to deliver it again: the job is
        not due yet, its task is at its limit, another attempt holds its lease, or it failed
        and will be retried."""
        if task_name is None:  # an older message: read the job to learn its task
            found = self.store.get(job_id)
            if found is None or found.terminal:
                return None
            task_name = found.task
        task = self.tasks.get(task_name)
        if task is None:
            logger.error(
                "job %s: task %r is not registered in this worker; message dropped",
                job_id,
                task_name,
                extra={"job_id": job_id, "action": "unknown_task"},
            )
            return None
        record, event = self.store.claim_one(
            self.id,
            job_id,
            limit=task.options.max_concurrency,
            lease_seconds=self.lease_seconds,
        )
        if record is None or record.terminal:
            return None
        if event is None:
            return self._not_now(record)
        self.bus.publish([event])
        self.stats["claimed"] += 1
        outcome = self.run_attempt(self.make_attempt(record), self.executor.call)
        if outcome is not None and outcome.status == JobStatus.QUEUED:
            return max((outcome.run_after or 0.0) - time.time(), 0.0)
        return None  # ended, or waiting: what wakes it sends a new message

    def _not_now(self, record: JobRecord) -> float | None:
        now = time.time()
        if record.status == JobStatus.WAITING and record.run_after > now:
            return None  # not due: what wakes it (a webhook, its poll time) sends a message
        if record.status in (JobStatus.QUEUED, JobStatus.WAITING):
            if record.run_after > now:
                return record.run_after - now
            return 0.5 + random.random()  # its task is at max_concurrency
        expires = record.lease_expires_at
        if expires is not None and expires > now:
            # Running under another attempt's lease: a duplicate delivery, or the redelivery
            # of a killed worker's message. Look again once that lease could have run out.
            return expires - now + 0.5
        self._recover()  # the lease ran out: recover the job, then try again at once
        return 0.0


__all__ = ["Worker", "purge_old"]
