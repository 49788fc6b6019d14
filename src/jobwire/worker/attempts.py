"""Attempts: how a claimed job runs on the executor's thread, reports its progress to the
engine, and ends (succeeded, failed, retried, cancelled, timed out or stopped for good)."""

from __future__ import annotations

import logging
import time
from typing import Any

from ..errors import JobCancelled
from ..eta import EtaEstimator
from ..executors import Attempt, Call
from ..files.saving import FileSaver
from ..progress import Progress, Suspended
from ..snapshot import EventKind, JobRecord
from ..status import JobStatus
from ..steps import StepClock
from ..storable import MAX_STEP
from ..store import Finish, Report
from ..waits import DurableWaits
from . import outcomes
from .state import WorkerState

logger = logging.getLogger(__name__)


class Attempts(WorkerState):
    """The part of the worker that runs attempts (called from the executor's threads)."""

    def make_attempt(self, record: JobRecord) -> Attempt:
        task = self.tasks[record.task]
        eta = EtaEstimator(prior_seconds_per_item=self.prior(task.name))
        attempt = Attempt(
            record=record,
            task=task,
            progress=Progress(record.id, interval=self.settings.progress_interval),
            eta=eta,
            started=time.monotonic(),
            deadline=None,  # set when the attempt starts running
            # The steps the store kept: none for a new attempt, the earlier runs' when a
            # waiting attempt goes on (and the task runs again from the top).
            steps=StepClock(
                record.steps,
                declared=task.options.steps,
                typical=self.typical_steps(task.name),
                clock=self.store.clock,
            ),
        )
        attempt.progress._sink = lambda p, kind, log: self.report(attempt, kind, log)
        attempt.progress._hooks = DurableWaits(
            self.store,
            self.callback_urls,
            worker_id=self.id,
            job_id=record.id,
            attempt=record.attempt,
            clock=self.store.clock,
        )
        attempt.progress._files = FileSaver(
            self.store,
            self.file_storage,
            files_url=self.settings.files_url,
            worker_id=self.id,
            job_id=record.id,
            attempt=record.attempt,
            limits=self.file_limits,
        )
        eta.start()
        return attempt

    # -- called from task threads ----------------------------------------------------------

    def report(self, attempt: Attempt, kind: EventKind, log: str | None) -> None:
        """The sink of an attempt's Progress: turn its state into a Report for the engine."""
        if attempt.ended:
            return
        p = attempt.progress
        if p.step_name != attempt.last_step:
            attempt.last_step = p.step_name
            attempt.eta.start(p.total, p.current)
            attempt.steps.change(outcomes.display(p.step_name, MAX_STEP))
        estimate = attempt.eta.update(p.current, p.total)
        eta = estimate.eta_seconds
        if eta is None:  # no counts to go by: how long the step usually takes, if known
            eta = attempt.steps.eta()
        rep = Report(
            attempt.job_id,
            attempt.attempt,
            kind,
            p.current,
            p.total,
            outcomes.display(p.step_name, MAX_STEP),
            outcomes.display(p.message),
            eta,
            estimate.rate,
            outcomes.display(log),
            JobStatus.RUNNING,  # waiting is how an attempt ends, not a report
            attempt.steps.take(),
        )
        with self._cond:
            self._reports.append(rep)
            self._cond.notify()

    def execute(self, attempt: Attempt, call: Call) -> None:
        """Run one attempt with ``call(attempt, kwargs)`` and record how it ended."""
        if attempt.ended:  # cancelled, timed out or handed back while it waited in the queue
            self._done(attempt)
            return
        attempt.started = time.monotonic()  # a prefetched attempt starts now, not at claim
        if attempt.task.options.timeout:
            attempt.deadline = attempt.started + attempt.task.options.timeout
        attempt.eta.start()
        try:
            attempt.progress.check()  # cancelled while it waited: do not start it at all
            kwargs = attempt.task.python_args(attempt.record.args)
            if attempt.task.progress_param:
                kwargs[attempt.task.progress_param] = attempt.progress
            value = call(attempt, kwargs)
            fin: Finish | None = outcomes.success(attempt, value)
        except Suspended as stop:  # a wait without its webhook yet: free this slot
            fin = outcomes.suspended(attempt, stop)
        except JobCancelled:
            fin = outcomes.finish(attempt, JobStatus.CANCELLED)
        except BaseException as exc:  # a task may raise anything: record it, never lose it
            fin = outcomes.from_exception(attempt, exc)
        if fin is not None:
            with attempt.lock:
                if attempt.ended:
                    fin = None
                else:
                    attempt.finishing = True
                attempt.ended = True
        if fin is not None:
            self._end(attempt, fin)
        self._done(attempt)

    def _done(self, attempt: Attempt) -> None:
        with attempt.lock:
            if not attempt.finishing:  # no Finish will be written: nothing to wait for
                attempt.committed.set()
        took = time.monotonic() - attempt.started
        avg = self._avg_duration
        self._avg_duration = took if avg is None else 0.8 * avg + 0.2 * took
        with self._cond:
            self._running.pop(attempt.job_id, None)
            self._more_work = True
            self._cond.notify()

    def _end(self, attempt: Attempt, fin: Finish) -> None:
        if fin.status == JobStatus.QUEUED:
            self.stats["retried"] += 1
        elif fin.status == JobStatus.WAITING:
            self.stats["suspended"] += 1
        with self._cond:
            self._finishes.append((attempt, fin))
            self._cond.notify()

    # -- decided by the engine ---------------------------------------------------------------

    def _time_out(self, attempt: Attempt) -> None:
        with attempt.lock:
            if attempt.ended:
                return
            attempt.ended = attempt.finishing = True
        attempt.progress.request_cancel()
        self.executor.cancel(attempt)
        self._end(attempt, outcomes.timed_out(attempt))

    def _hard_stop(self, attempt: Attempt) -> None:
        with attempt.lock:
            if attempt.ended:
                return
            attempt.ended = attempt.finishing = attempt.hard_stopped = True
        logger.warning(
            "job %s did not stop within %g s of its cancel; stopping it",
            attempt.job_id,
            self.cancel_grace,
            extra={"job_id": attempt.job_id, "action": "hard_stop"},
        )
        self._end(attempt, outcomes.hard_stopped(attempt, self.cancel_grace))

    def run_attempt(self, attempt: Attempt, call: Call) -> Any:
        """Run a delivered attempt in the calling thread and wait until its outcome is
        stored (or rejected); return the Finish the store accepted, if any."""
        with self._cond:
            self._running[attempt.job_id] = attempt
        self.execute(attempt, call)
        while not attempt.committed.wait(1.0):  # the message is acknowledged only after this
            pass
        return attempt.outcome
