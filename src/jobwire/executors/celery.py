"""Run jobs on Celery workers (``executor = "celery"``): the same tasks, across machines.

Submitting writes the job row (``queued``) and then sends one Celery message that carries
only the job id, with the job id as the Celery task id. A Celery worker (``jobwire worker``
with ``JOBWIRE_EXECUTOR=celery``) receives it and hands it to this process's jobwire
:class:`~jobwire.worker.Worker` (its ``run_job``), which claims that one job in the database,
runs it in the Celery pool's thread with the usual :class:`~jobwire.Progress` (events to the
bus, snapshots to the store) and writes how it ended. Only then does Celery acknowledge the message.

The database decides, Celery delivers. Limits, dedupe and per-owner rules are enforced in
the store, so they hold across any number of workers. A message is delivered again when its
worker was killed (``acks_late`` with ``reject_on_worker_lost``, and a visibility timeout on
Redis); a delivery that finds the job running under another attempt's lease waits for that
lease instead of running the job a second time, and a stale attempt's writes are rejected.
A job that is not due yet, is at its task's ``max_concurrency``, or failed and will be
retried, is delivered again later by ``Task.retry`` (a new message, same id).

Cancelling a queued job marks it cancelled and revokes its message. A running job is
cancelled cooperatively through Progress; when it ignores the cancel for ``cancel_grace``
seconds it is recorded ``cancelled`` and, in a prefork child, its process is killed (Celery
starts a new one).
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from ..errors import ConfigurationError, MissingDependency
from .aio import AsyncTasks
from .base import Attempt, Executor, Queued

if TYPE_CHECKING:
    from celery import Celery

    from ..settings import Settings
    from ..store import Store

logger = logging.getLogger(__name__)

TASK_NAME = "jobwire.run"

#: Set in a prefork child (by Celery's ``worker_process_init``): a hard stop may kill it.
_in_pool_child = False
_main_pid: int | None = None


class DeliveredRunner(Protocol):
    """A worker that runs the jobs delivered to it one by one."""

    def run_job(self, job_id: str, task_name: str | None = None) -> float | None:
        """Run one attempt in the calling thread; None when the message is done with, else
        the seconds after which to deliver it again."""


class CeleryHost(Protocol):
    """What the executor needs of the App that owns it."""

    @property
    def settings(self) -> Settings: ...

    @property
    def store(self) -> Store: ...

    def start(self) -> DeliveredRunner:
        """This process's worker, started on first call."""

    def forget_connections(self, *, close: bool = False) -> None:
        """Drop the store and bus connections (in a forked child, or before forking)."""


def _import_celery() -> Any:
    try:
        import celery
    except ImportError as exc:
        raise MissingDependency(
            "executor='celery' needs Celery: pip install 'jobwire[celery]'", package="celery"
        ) from exc
    return celery


class CeleryExecutor(Executor):
    """Runs attempts in the thread Celery calls the task on (see the worker's ``run_job``).
    Async tasks run on one event loop thread, as with the threads executor. Jobs are handed
    on as Celery messages (:meth:`notify_queued`) and revoked when cancelled while queued."""

    kind = "celery"

    def __init__(self, concurrency: int, host: CeleryHost) -> None:
        super().__init__(concurrency)
        self.host = host
        self._celery: Celery | None = None
        self._celery_lock = threading.Lock()
        self._async = AsyncTasks()

    @property
    def celery(self) -> Celery:
        """The Celery app that carries the jobs, built on first use."""
        if self._celery is None:
            with self._celery_lock:  # submits race here: one Celery app, imported once
                if self._celery is None:
                    self._celery = make_celery(self.host)
        return self._celery

    def start(self) -> None:
        pass  # Celery's pool runs the attempts; no threads of our own

    def call(self, attempt: Attempt, kwargs: dict[str, Any]) -> Any:
        if attempt.task.is_async:
            return self._async.run(attempt, kwargs)
        return attempt.task.fn(**kwargs)

    def cancel(self, attempt: Attempt) -> None:
        self._async.cancel(attempt)

    def notify_queued(self, jobs: Sequence[Queued]) -> None:
        """Send one message per job. Raises what the broker raises."""
        celery = self.celery
        queue = self.host.settings.celery_queue
        now = time.time()
        for job_id, task, run_after in jobs:
            countdown = run_after - now
            celery.send_task(
                TASK_NAME,
                args=[job_id, task],
                task_id=job_id,
                queue=queue,
                countdown=countdown if countdown > 0.05 else None,
            )

    def notify_cancelled(self, job_id: str) -> None:
        """Tell the workers to drop the message of a job cancelled while queued. Best
        effort: a delivered message finds the job cancelled and does nothing anyway."""
        try:
            self.celery.control.revoke(job_id)
        except Exception as exc:  # the broker is away: the message finds the job cancelled
            logger.warning("could not revoke job %s's message: %s", job_id, exc)

    def hard_stop(self, attempt: Attempt) -> None:
        if _in_pool_child:
            logger.warning(
                "job %s ignored its cancel: killing pool process %d (Celery starts another)",
                attempt.job_id,
                os.getpid(),
                extra={"job_id": attempt.job_id, "action": "hard_stop"},
            )
            os.kill(os.getpid(), signal.SIGKILL)
        super().hard_stop(attempt)

    def run_worker(self, *, pool: str = "prefork", loglevel: str = "INFO") -> None:
        """Run a Celery worker for the host's jobs in this process until it is stopped
        (SIGTERM: running jobs finish first; SIGQUIT: at once, their messages come back)."""
        settings = self.host.settings
        self.host.store.upgrade()
        self.host.forget_connections(close=True)  # prefork children open their own
        # One line per job received and per job done would cost more than a no-op job:
        # jobwire's store and dashboard already show every job. Set these loggers to INFO
        # to see them.
        for name in ("celery.worker.strategy", "celery.app.trace"):
            logging.getLogger(name).setLevel(logging.WARNING)
        node = f"jobwire-{os.getpid()}@{socket.gethostname()}"
        self.celery.worker_main(
            [
                "worker",
                f"--concurrency={self.concurrency}",
                f"--pool={pool}",
                f"--queues={settings.celery_queue}",
                f"--hostname={node}",
                f"--loglevel={loglevel}",
                "--without-gossip",
                "--without-mingle",
            ]
        )

    def shutdown(self) -> None:
        self._async.close()


def make_celery(host: CeleryHost) -> Celery:
    """The Celery app that carries ``host``'s jobs, configured so that a message is only
    acknowledged once its job's outcome is stored, and is delivered again when its worker
    dies."""
    celery_mod = _import_celery()
    from celery import signals

    settings = host.settings
    if not settings.celery_broker_url:
        raise ConfigurationError(
            "executor='celery' needs a broker: set JOBWIRE_CELERY_BROKER_URL "
            "(redis://… or amqp://…)"
        )
    celery: Celery = celery_mod.Celery("jobwire", set_as_current=False)
    celery.conf.update(
        broker_url=settings.celery_broker_url,
        broker_connection_retry_on_startup=True,
        broker_transport_options={"visibility_timeout": settings.celery_visibility_timeout},
        task_default_queue=settings.celery_queue,
        task_serializer="json",
        accept_content=["json"],
        # The job's state and result live in jobwire's store; Celery keeps none.
        task_ignore_result=True,
        task_store_errors_even_if_ignored=False,
        # Acknowledge after the outcome is stored; a killed worker's message comes back.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
    )

    @celery.task(name=TASK_NAME, bind=True, max_retries=None)  # type: ignore[untyped-decorator]
    def run(self: Any, job_id: str, task: str | None = None) -> None:
        try:
            delay = host.start().run_job(job_id, task)
        except Exception as exc:
            # The database or the bus failed us (a task's own errors never get here): the
            # message must not be acknowledged as done. Deliver it again, backing off.
            wait = min(2.0 ** min(self.request.retries, 6), 60.0)
            reason = (str(exc).splitlines() or [""])[0][:200]
            logger.warning(
                "job %s: %s: %s; delivering it again in %g s",
                job_id,
                type(exc).__name__,
                reason,
                wait,
            )
            raise self.retry(countdown=wait, max_retries=None) from exc
        if delay is not None:
            raise self.retry(countdown=delay, max_retries=None)

    def worker_init(**_: Any) -> None:
        global _main_pid
        _main_pid = os.getpid()

    def child_started(**_: Any) -> None:
        global _in_pool_child
        # Sent in each prefork child, and in the main process by the solo pool.
        _in_pool_child = _main_pid is not None and os.getpid() != _main_pid
        host.forget_connections()  # a forked child must not share the parent's sockets
        # Start the engine now, not at the first job: it also recovers the jobs of killed
        # workers, which must not wait until this process happens to receive a message.
        try:
            host.start()
        except Exception:  # the database is down: the first job starts it instead
            logger.exception("could not start the jobwire engine in pool process %d", os.getpid())

    def worker_ready(sender: Any = None, **_: Any) -> None:
        pool = getattr(getattr(sender, "controller", None), "pool_cls", None)
        if not getattr(pool, "__module__", "").endswith("prefork"):
            host.start()  # the threads pool: jobs run in this process

    signals.worker_init.connect(worker_init, weak=False)
    signals.worker_process_init.connect(child_started, weak=False)
    signals.worker_ready.connect(worker_ready, weak=False)
    return celery
