"""Run jobs on Celery workers (``executor = "celery"``): the same tasks, across machines.

Submitting writes the job row (``queued``) and then sends one Celery message that carries
only the job id, with the job id as the Celery task id. A Celery worker (``jobwire worker``
with ``JOBWIRE_EXECUTOR=celery``) receives it and hands it to this process's jobwire
:class:`~jobwire.worker.Worker`, which claims that one job in the database, runs it in the
Celery pool's thread with the usual :class:`~jobwire.Progress` (events to the bus, snapshots
to the store) and writes how it ended. Only then does Celery acknowledge the message.

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
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ..errors import ConfigurationError, MissingDependency
from .threads import ThreadExecutor

if TYPE_CHECKING:
    from celery import Celery

    from ..app import App
    from ..worker import Run, Worker

logger = logging.getLogger(__name__)

TASK_NAME = "jobwire.run"

#: Set in a prefork child (by Celery's ``worker_process_init``): a hard stop may kill it.
_in_pool_child = False
_main_pid: int | None = None


def _import_celery() -> Any:
    try:
        import celery
    except ImportError as exc:
        raise MissingDependency(
            "executor='celery' needs Celery: pip install 'jobwire[celery]'", package="celery"
        ) from exc
    return celery


def make_celery(app: App) -> Celery:
    """The Celery app that carries ``app``'s jobs, configured so that a message is only
    acknowledged once its job's outcome is stored, and is delivered again when its worker
    dies."""
    celery_mod = _import_celery()
    from celery import signals

    settings = app.settings
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
            delay = local_worker(app).run_job(job_id, task)
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
        app.forget_connections()  # a forked child must not share the parent's sockets
        # Start the engine now, not at the first job: it also recovers the jobs of killed
        # workers, which must not wait until this process happens to receive a message.
        try:
            local_worker(app)
        except Exception:  # the database is down: the first job starts it instead
            logger.exception("could not start the jobwire engine in pool process %d", os.getpid())

    def worker_ready(sender: Any = None, **_: Any) -> None:
        pool = getattr(getattr(sender, "controller", None), "pool_cls", None)
        if app.worker is None and not getattr(pool, "__module__", "").endswith("prefork"):
            local_worker(app)  # the threads pool: jobs run in this process

    signals.worker_init.connect(worker_init, weak=False)
    signals.worker_process_init.connect(child_started, weak=False)
    signals.worker_ready.connect(worker_ready, weak=False)
    return celery


def local_worker(app: App) -> Worker:
    """This process's jobwire worker (its engine thread writes progress and outcomes,
    renews leases and recovers lost jobs), started on first use."""
    worker = app.worker
    if worker is None:
        worker = app.start()
    return worker


def send(app: App, jobs: Iterable[tuple[str, str, float]]) -> None:
    """Send one message per ``(job id, task, run after)``. Raises what the broker raises."""
    celery = app.celery
    queue = app.settings.celery_queue
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


def revoke(app: App, job_id: str) -> None:
    """Tell the workers to drop the message of a job cancelled while queued. Best effort:
    a delivered message finds the job cancelled and does nothing anyway."""
    try:
        app.celery.control.revoke(job_id)
    except Exception as exc:
        logger.warning("could not revoke job %s's message: %s", job_id, exc)


def run_worker(
    app: App, *, concurrency: int, pool: str = "prefork", loglevel: str = "INFO"
) -> None:
    """Run a Celery worker for ``app``'s jobs in this process until it is stopped (SIGTERM:
    running jobs finish first; SIGQUIT: at once, their messages come back)."""
    app.store.upgrade()
    app.forget_connections(close=True)  # prefork children open their own
    # One line per job received and per job done would cost more than a no-op job: jobwire's
    # store and dashboard already show every job. Set these loggers to INFO to see them.
    for name in ("celery.worker.strategy", "celery.app.trace"):
        logging.getLogger(name).setLevel(logging.WARNING)
    node = f"jobwire-{os.getpid()}@{socket.gethostname()}"
    app.celery.worker_main(
        [
            "worker",
            f"--concurrency={concurrency}",
            f"--pool={pool}",
            f"--queues={app.settings.celery_queue}",
            f"--hostname={node}",
            f"--loglevel={loglevel}",
            "--without-gossip",
            "--without-mingle",
        ]
    )


class CeleryExecutor(ThreadExecutor):
    """Runs attempts in the thread Celery calls the task on (see :meth:`Worker.run_job`).
    Async tasks run on one event loop thread, as with the threads executor."""

    kind = "celery"
    claims = False

    def start(self) -> None:
        pass  # Celery's pool runs the attempts; no threads of our own

    def submit(self, run: Run) -> None:
        raise RuntimeError("Celery delivers jobs to Worker.run_job; nothing is submitted")

    def hard_stop(self, run: Run) -> None:
        if _in_pool_child:
            logger.warning(
                "job %s ignored its cancel: killing pool process %d (Celery starts another)",
                run.job_id,
                os.getpid(),
                extra={"job_id": run.job_id, "action": "hard_stop"},
            )
            os.kill(os.getpid(), signal.SIGKILL)
        super().hard_stop(run)
