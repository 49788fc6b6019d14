"""Workers: claim queued jobs, run them, report their progress, keep their leases.

One *engine* thread per worker does all the store I/O: it batches the progress reports and
finished attempts of all running jobs into one transaction (group commit), publishes the
resulting events after the commit, claims new jobs when slots are free, renews leases,
recovers jobs whose worker died and purges old jobs. Tasks run on the executor's threads (or
processes) and never touch the database themselves.
"""

from __future__ import annotations

import logging
import math
import random
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic_core import to_jsonable_python

from . import hooks
from .errors import CallbackTimeout, JobCancelled, StoreUnavailable, UnstorableValue
from .eta import EtaEstimator, prior_from_history
from .executors import Executor, make_executor
from .progress import Progress
from .snapshot import Event, EventKind, JobRecord, dumps, loads
from .status import JobStatus
from .storable import MAX_STEP, find_unstorable, problem, sanitize, storable
from .store import Claim, Finish, Report

if TYPE_CHECKING:
    from .app import App
    from .tasks import Task

logger = logging.getLogger(__name__)

MAX_BACKOFF = 300.0
#: Prefetch only while attempts take less than this many seconds on average.
PREFETCH_BELOW = 0.05


@dataclass(eq=False)
class Run:
    """One attempt of a job running on this worker."""

    record: JobRecord
    task: Task
    progress: Progress
    eta: EtaEstimator
    started: float
    deadline: float | None
    last_step: str | None = None
    ended: bool = False
    """The attempt's outcome was decided (finished, timed out or lost its lease)."""
    lock: threading.Lock = field(default_factory=threading.Lock)
    handle: Any = None
    """What the executor needs to stop the attempt (an asyncio future)."""
    finishing: bool = False
    """A Finish for this attempt was handed to the engine (set under ``lock``)."""
    committed: threading.Event = field(default_factory=threading.Event)
    """Set once the attempt's Finish was written (or rejected), or when there is none."""
    outcome: Finish | None = None
    """The Finish the store accepted, once ``committed`` is set."""
    cancel_seen: float | None = None
    """When this worker first learned of a cancel request (monotonic seconds)."""
    hard_stopped: bool = False

    @property
    def job_id(self) -> str:
        return self.record.id

    @property
    def attempt(self) -> int:
        return self.record.attempt


class StoreCallbacks:
    """How a worker's tasks wait for webhooks: a callback URL signed with the app's secret
    (the server's), and a wait that looks in the store for the first delivery (the server
    records it there) every ``CHECK_EVERY`` seconds."""

    CHECK_EVERY = 0.25

    def __init__(self, app: App) -> None:
        self.app = app

    def url(self, job_id: str) -> str:
        return hooks.path(self.app.secret, job_id)

    def wait(
        self,
        progress: Progress,
        timeout: float | None,
        poll: Callable[[], Any] | None,
        poll_interval: float,
    ) -> Any:
        start = time.monotonic()
        deadline = None if timeout is None else start + timeout
        next_poll = start + poll_interval if poll is not None else math.inf
        while True:
            progress.check()
            payload = self.app.store.hook(progress.job_id)
            if payload is not None:
                return loads(payload)
            now = time.monotonic()
            if poll is not None and now >= next_poll:
                value = poll()
                if value is not None:
                    return value
                next_poll = time.monotonic() + poll_interval
            if deadline is not None and now >= deadline:
                raise CallbackTimeout(
                    f"No callback for job {progress.job_id} within {timeout:g} s",
                    job_id=progress.job_id,
                    timeout=timeout,
                )
            wake = min(next_poll, deadline or math.inf, now + self.CHECK_EVERY)
            time.sleep(max(wake - time.monotonic(), 0.0))


class Worker:
    """Runs an App's jobs. Usually started by ``App.start()`` or ``jobwire worker``."""

    def __init__(
        self,
        app: App,
        *,
        concurrency: int = 2,
        executor: str = "threads",
        lease_seconds: float = 30.0,
        poll_interval: float = 0.5,
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"Expected at least 1 worker, but got {concurrency!r}")
        self.app = app
        self.id = uuid.uuid4().hex[:16]
        self.concurrency = concurrency
        self.lease_seconds = lease_seconds
        self.poll_interval = poll_interval
        self.executor: Executor = make_executor(executor, self, concurrency)
        #: False when something else (Celery) hands this worker its jobs, one by one.
        self.claims = self.executor.claims
        self.cancel_grace = app.settings.cancel_grace
        self.callbacks = StoreCallbacks(app)
        self._running: dict[str, Run] = {}
        self._reports: list[Report] = []
        self._finishes: list[tuple[Run, Finish]] = []
        self._cond = threading.Condition()
        self._resent: dict[str, float] = {}
        self._more_work = True
        self._stopping = False
        self._claiming = True
        self._thread: threading.Thread | None = None
        self._history_cache: dict[str, tuple[float, float | None]] = {}
        self._avg_duration: float | None = None
        self._store_down: str | None = None
        """Why the store could not be used, while it cannot."""
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

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            return
        self.executor.start()
        self._thread = threading.Thread(
            target=self._loop, name=f"jobwire-engine-{self.id}", daemon=True
        )
        self._thread.start()
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
        leftover = [run for run in list(self._running.values()) if not run.ended]
        for run in leftover:
            run.ended = True
            run.progress.request_cancel()
            self.executor.cancel(run)
        with self._cond:
            self._stopping = True
            self._cond.notify()
        self._thread.join(timeout=30)
        self._thread = None
        if leftover:
            events = self.app.store.release(self.id, [r.job_id for r in leftover])
            self.app.bus.publish(events)
            self._dispatch_requeued(events)
            logger.warning(
                "requeued %d job(s) still running at shutdown",
                len(events),
                extra={"action": "requeue"},
            )
        for run in leftover:
            self._running.pop(run.job_id, None)
        self.executor.shutdown()

    def poke(self) -> None:
        """New work may be queued: claim without waiting for the next poll."""
        with self._cond:
            self._more_work = True
            self._cond.notify()

    def request_cancel(self, job_id: str) -> bool:
        run = self._running.get(job_id)
        if run is None:
            return False
        if run.cancel_seen is None:
            run.cancel_seen = time.monotonic()
        run.progress.request_cancel()
        self.executor.cancel(run)
        return True

    def run_job(self, job_id: str, task_name: str | None = None) -> float | None:
        """Run one attempt of ``job_id`` in the calling thread, for an executor that hands
        out jobs itself (Celery). Returns ``None`` when the message is done with (the job
        ran, ended or is gone), or the seconds after which to deliver it again: the job is
        not due yet, its task is at its limit, another attempt holds its lease, or it failed
        and will be retried."""
        if task_name is None:  # an older message: read the job to learn its task
            found = self.app.store.get(job_id)
            if found is None or found.terminal:
                return None
            task_name = found.task
        task = self.app.tasks.get(task_name)
        if task is None:
            logger.error(
                "job %s: task %r is not registered in this worker; message dropped",
                job_id,
                task_name,
                extra={"job_id": job_id, "action": "unknown_task"},
            )
            return None
        record, event = self.app.store.claim_one(
            self.id,
            job_id,
            limit=task.options.max_concurrency,
            lease_seconds=self.lease_seconds,
        )
        if record is None or record.terminal:
            return None
        if event is None:
            return self._not_now(record)
        self.app.bus.publish([event])
        self.stats["claimed"] += 1
        run = self._make_run(record)
        with self._cond:
            self._running[record.id] = run
        self.execute(run, self.executor.call)
        while not run.committed.wait(1.0):  # the message is acknowledged only after this
            pass
        outcome = run.outcome
        if outcome is not None and outcome.status == JobStatus.QUEUED:
            return max((outcome.run_after or 0.0) - time.time(), 0.0)
        return None

    def _not_now(self, record: JobRecord) -> float | None:
        now = time.time()
        if record.status == JobStatus.QUEUED:
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

    @property
    def running(self) -> int:
        return len(self._running)

    # -- the engine loop ----------------------------------------------------------------

    def _loop(self) -> None:
        interval = max(self.app.progress_interval, 0.01)
        next_tick = next_renew = next_sweep = next_purge = next_cancels = 0.0
        while True:
            with self._cond:
                if not (self._reports or self._finishes or self._stopping or self._can_claim()):
                    now = time.monotonic()
                    poll = self._next_poll if self.claims else next_tick
                    wake = min(next_tick, next_renew, next_sweep, poll)
                    self._cond.wait(max(wake - now, 0.0))
                reports, self._reports = self._reports, []
                finishes, self._finishes = self._finishes, []
                stopping = self._stopping
            try:
                now = time.monotonic()
                claim = None
                if self.claims and not stopping and (self._can_claim() or now >= self._next_poll):
                    claim = self._claim_request()
                if reports or finishes or claim is not None:
                    self._write_batch(reports, finishes, claim)
                if stopping:
                    return
                if now >= next_tick:
                    next_tick = now + interval
                    self._tick()
                if now >= next_renew:
                    next_renew = now + self.lease_seconds / 3
                    self._renew()
                if now >= next_cancels:
                    next_cancels = now + 1.0
                    self._check_cancels()
                if now >= next_sweep:
                    next_sweep = now + max(self.lease_seconds / 2, 0.2)
                    self._sweep()
                if now >= next_purge:
                    next_purge = now + 300.0
                    self.app.purge()
            except StoreUnavailable as exc:
                # The database is away (unreachable, locked, read-only): back off and go on.
                # The writes not stored yet were put back by _write_batch: nothing is lost.
                if exc.message != self._store_down:  # said once, not twice a second
                    logger.warning("worker engine: %s", exc.message, extra={"action": "engine"})
                self._store_down = exc.message
                time.sleep(0.5)
                continue
            except Exception:
                # The engine must outlive anything else too: log it, back off, go on.
                logger.exception("worker engine error; retrying", extra={"action": "engine"})
                time.sleep(0.5)
                continue
            if self._store_down is not None:
                logger.warning("worker engine: the store is back", extra={"action": "engine"})
                self._store_down = None

    def _write_batch(
        self, reports: list[Report], finishes: list[tuple[Run, Finish]], claim: Claim | None
    ) -> None:
        """Write one batch in one transaction. When the store is unavailable, the batch is
        put back to be written later. Any other error means that one of its writes can never
        be stored (a value the database refuses): the batch is then written again part by
        part, so that the others go through, and each part the store refuses is dropped and
        logged with its job id. A refused outcome is first replaced by a plain failure
        (``store_refused``), so the job still ends."""
        try:
            self._flush(reports, finishes, claim)
            return
        except StoreUnavailable:
            self._put_back(reports, finishes)
            raise
        except Exception as exc:
            logger.warning(
                "the store refused a batch of %d write(s) (%s: %s); writing them one by one",
                len(reports) + len(finishes),
                type(exc).__name__,
                storable(str(exc))[:300],
                extra={"action": "isolate"},
            )
        for i, rep in enumerate(reports):
            try:
                self._flush([rep], [], None)
            except StoreUnavailable:
                self._put_back(reports[i:], finishes)
                raise
            except Exception as exc:
                self._dropped(rep.job_id, "a progress report", exc)
        for i, (run, fin) in enumerate(finishes):
            try:
                self._flush([], [(run, fin)], None)
                continue
            except StoreUnavailable:
                self._put_back([], finishes[i:])
                raise
            except Exception as exc:
                self._dropped(run.job_id, f"its {fin.status.value} outcome", exc)
                fallback = self._refused(run, fin, exc)
            try:
                self._flush([], [(run, fallback)], None)
            except StoreUnavailable:
                self._put_back([], [(run, fallback), *finishes[i + 1 :]])
                raise
            except Exception as exc:
                # Not even a plain failure is stored: leave the job to lease recovery.
                self._dropped(run.job_id, "its failure", exc)
                run.committed.set()
        if claim is not None:
            self._flush([], [], claim)

    def _put_back(self, reports: list[Report], finishes: list[tuple[Run, Finish]]) -> None:
        with self._cond:
            self._reports[:0] = reports
            self._finishes[:0] = finishes

    def _dropped(self, job_id: str, what: str, exc: Exception) -> None:
        self.stats["dropped"] += 1
        logger.error(
            "job %s: the store refused %s; dropped (%s: %s)",
            job_id,
            what,
            type(exc).__name__,
            storable(str(exc))[:300],
            extra={"job_id": job_id, "action": "dropped"},
        )

    def _refused(self, run: Run, fin: Finish, exc: Exception) -> Finish:
        """A failure to record instead of an outcome the store refused: only text of ours."""
        return Finish(
            run.job_id,
            run.attempt,
            JobStatus.FAILED,
            fin.current,
            fin.total,
            None,
            None,
            error_code="store_refused",
            error_message=(
                "The store refused to record how this attempt ended "
                f"({type(exc).__name__}); see the worker's log."
            ),
            duration=fin.duration,
        )

    _next_poll = 0.0

    def _capacity(self) -> int:
        """Attempts to hold: the workers, plus a prefetch while jobs are short.

        Claiming ahead saves a transaction per job when jobs take milliseconds. A prefetched
        job already shows ``running``, so there is none while jobs take longer than
        ``PREFETCH_BELOW`` seconds: a long job never hides queued ones behind it."""
        avg = self._avg_duration
        if avg is None or avg >= PREFETCH_BELOW:
            return self.concurrency
        return self.concurrency * (8 if avg < PREFETCH_BELOW / 10 else 2)

    def _can_claim(self) -> bool:
        return (
            self.claims
            and self._claiming
            and self._more_work
            and len(self._running) < self._capacity()
        )

    def _claim_request(self) -> Claim | None:
        slots = self._capacity() - len(self._running)
        if slots <= 0 or not self._claiming or not self.claims:
            return None
        limits = {
            t.name: t.options.max_concurrency
            for t in self.app.tasks.values()
            if t.options.max_concurrency
        }
        return Claim(slots, list(self.app.tasks), limits, self.lease_seconds)

    def _claimed(self, claim: Claim, claimed: list[JobRecord]) -> None:
        self._more_work = len(claimed) == claim.slots
        self._next_poll = time.monotonic() + self.poll_interval
        if not claimed:
            return
        self.stats["claimed"] += len(claimed)
        for record in claimed:
            run = self._make_run(record)
            self._running[record.id] = run
            self.executor.submit(run)

    def _make_run(self, record: JobRecord) -> Run:
        task = self.app.tasks[record.task]
        now = time.monotonic()
        eta = EtaEstimator(prior_seconds_per_item=self._prior(task.name))
        run = Run(
            record=record,
            task=task,
            progress=Progress(record.id, interval=self.app.progress_interval),
            eta=eta,
            started=now,
            deadline=None,  # set when the attempt starts running
        )
        run.progress._sink = lambda p, kind, log: self.report(run, kind, log)
        run.progress._hooks = self.callbacks
        eta.start()
        return run

    def _prior(self, task: str) -> float | None:
        cached = self._history_cache.get(task)
        now = time.monotonic()
        if cached is None or now - cached[0] > 30:
            prior = prior_from_history(self.app.store.history(task))
            self._history_cache[task] = cached = (now, prior)
        return cached[1]

    def _flush(
        self, reports: list[Report], finishes: list[tuple[Run, Finish]], claim: Claim | None
    ) -> None:
        result = self.app.store.write(self.id, reports, [f for _, f in finishes], claim)
        if claim is not None:
            self._claimed(claim, result.claimed)
        rejected = set(result.rejected)
        for run, fin in finishes:
            run.outcome = None if fin.job_id in rejected else fin
            run.committed.set()
        self.app.bus.publish(result.events)
        for run, _ in finishes:
            if run.hard_stopped:  # after its cancelled event left: this may end the process
                self.executor.hard_stop(run)
        for job_id in result.cancel_requested:
            self.request_cancel(job_id)
        for job_id in result.rejected:
            self.stats["rejected"] += 1
            logger.warning(
                "job %s: this attempt lost its lease; its writes were dropped",
                job_id,
                extra={"job_id": job_id, "action": "rejected"},
            )
            lost = self._running.get(job_id)
            if lost is not None:  # someone else owns the job now: stop working on it
                lost.ended = True
                lost.progress.request_cancel()
        self.stats["ignored"] += sum(result.ignored.values())
        for event in result.events:
            status = event["job"]["status"]
            if status in self.stats and event["kind"] == "status":
                self.stats[status] += 1

    def _tick(self) -> None:
        """Every progress interval: send held-back progress, enforce timeouts, stop for good
        the attempts that ignored a cancel for longer than the grace period."""
        now = time.monotonic()
        for run in list(self._running.values()):
            if run.ended:
                continue
            if run.deadline is not None and now >= run.deadline:
                self._time_out(run)
                continue
            if run.cancel_seen is not None and now - run.cancel_seen >= self.cancel_grace:
                self._hard_stop(run)
                continue
            run.progress.flush()

    def _hard_stop(self, run: Run) -> None:
        with run.lock:
            if run.ended:
                return
            run.ended = run.finishing = run.hard_stopped = True
        logger.warning(
            "job %s did not stop within %g s of its cancel; stopping it",
            run.job_id,
            self.cancel_grace,
            extra={"job_id": run.job_id, "action": "hard_stop"},
        )
        fin = self._finish(run, JobStatus.CANCELLED)
        fin.error_code = "cancel_grace_exceeded"
        fin.error_message = (
            f"The task did not stop within {self.cancel_grace:g} s of the cancel request."
        )
        self._end(run, fin)

    def _check_cancels(self) -> None:
        """Cancels requested through another process reach this one here (and with each
        progress write), not only at the next lease renewal."""
        if self._running:
            for job_id in self.app.store.cancel_requests(self.id):
                self.request_cancel(job_id)

    def _time_out(self, run: Run) -> None:
        with run.lock:
            if run.ended:
                return
            run.ended = run.finishing = True
        timeout = run.task.options.timeout
        run.progress.request_cancel()
        self.executor.cancel(run)
        self._end(
            run,
            self._failure(
                run,
                "timeout",
                f"The attempt ran longer than its timeout of {timeout} s.",
                {"timeout": timeout},
            ),
        )

    def _renew(self) -> None:
        """Extend the leases of the attempts this worker still runs or has an outcome of to
        write; a job it gave up on (its outcome refused by the store) is left to recovery."""
        with self._cond:
            held = {*self._running, *(run.job_id for run, _ in self._finishes)}
        if not held:
            return
        for job_id in self.app.store.renew(self.id, sorted(held), self.lease_seconds):
            self.request_cancel(job_id)

    def _sweep(self) -> None:
        self._recover()
        if not self.claims:
            self._resend_stale()

    def _recover(self) -> None:
        backoff = {t.name: t.options.retry_backoff for t in self.app.tasks.values()}
        events = self.app.store.recover(backoff)
        if events:
            self.stats["recovered"] += len(events)
            self.app.bus.publish(events)
            self._more_work = True
            self._dispatch_requeued(events)

    def _dispatch_requeued(self, events: list[Event]) -> None:
        """Jobs these events put back in the queue need a worker (a message, with Celery)."""
        self.app.dispatch(
            [
                (ev["job"]["id"], ev["job"]["task"])
                for ev in events
                if ev["job"]["status"] == "queued"
            ]
        )

    def _resend_stale(self) -> None:
        """Jobs due for longer than ``celery_resend_after`` and still queued may have lost
        their message (a broker that restarted without persistence): send it again, at most
        once per that period from this process. A spare message is harmless: the job is
        claimed once, other deliveries find it taken."""
        after = self.app.settings.celery_resend_after
        now = time.time()
        self._resent = {k: t for k, t in self._resent.items() if now - t < after}
        stale = [
            (job_id, task)
            for job_id, task in self.app.store.stale_queued(now - after, limit=500)
            if job_id not in self._resent
        ]
        if stale:
            logger.warning(
                "%d job(s) queued for over %g s: sending their messages again",
                len(stale),
                after,
                extra={"action": "resend"},
            )
            self.app.dispatch(stale)
            self._resent.update((job_id, now) for job_id, _ in stale)

    # -- called from task threads -------------------------------------------------------

    def report(self, run: Run, kind: EventKind, log: str | None) -> None:
        """The sink of a run's Progress: turn its state into a Report for the engine."""
        if run.ended:
            return
        p = run.progress
        if p.step_name != run.last_step:
            run.last_step = p.step_name
            run.eta.start(p.total, p.current)
        estimate = run.eta.update(p.current, p.total)
        rep = Report(
            run.job_id,
            run.attempt,
            kind,
            p.current,
            p.total,
            _display(p.step_name, MAX_STEP),
            _display(p.message),
            estimate.eta_seconds,
            estimate.rate,
            _display(log),
            JobStatus.WAITING if p.waiting else JobStatus.RUNNING,
        )
        with self._cond:
            self._reports.append(rep)
            self._cond.notify()

    def execute(self, run: Run, call: Any) -> None:
        """Run one attempt with ``call(run, kwargs)`` and record how it ended."""
        if run.ended:  # cancelled, timed out or handed back while it waited in the queue
            self._done(run)
            return
        run.started = time.monotonic()  # a prefetched attempt starts now, not at its claim
        if run.task.options.timeout:
            run.deadline = run.started + run.task.options.timeout
        run.eta.start()
        try:
            run.progress.check()  # cancelled while it waited: do not start it at all
            kwargs = run.task.python_args(run.record.args)
            if run.task.progress_param:
                kwargs[run.task.progress_param] = run.progress
            value = call(run, kwargs)
            finish: Finish | None = self._success(run, value)
        except JobCancelled:
            finish = self._finish(run, JobStatus.CANCELLED)
        except BaseException as exc:  # a task may raise anything: record it, never lose it
            finish = self._from_exception(run, exc)
        if finish is not None:
            with run.lock:
                if run.ended:
                    finish = None
                else:
                    run.finishing = True
                run.ended = True
        if finish is not None:
            self._end(run, finish)
        self._done(run)

    def _done(self, run: Run) -> None:
        with run.lock:
            if not run.finishing:  # no Finish will be written: nothing to wait for
                run.committed.set()
        took = time.monotonic() - run.started
        avg = self._avg_duration
        self._avg_duration = took if avg is None else 0.8 * avg + 0.2 * took
        with self._cond:
            self._running.pop(run.job_id, None)
            self._more_work = True
            self._cond.notify()

    def _end(self, run: Run, finish: Finish) -> None:
        with self._cond:
            self._finishes.append((run, finish))
            self._cond.notify()

    def _finish(self, run: Run, status: JobStatus, **kw: Any) -> Finish:
        p = run.progress
        return Finish(
            run.job_id,
            run.attempt,
            status,
            p.current,
            p.total,
            _display(p.step_name, MAX_STEP),
            _display(p.message),
            duration=time.monotonic() - run.started,
            **kw,
        )

    def _success(self, run: Run, value: Any) -> Finish:
        try:
            jsonable = to_jsonable_python(value)
            found = find_unstorable(jsonable)
            if found is not None:
                where = "/".join(str(p) for p in found[0]) or "the result"
                raise ValueError(f"{where}: {found[1]}")
            text = dumps(jsonable)
        except Exception as exc:
            return self._failure(
                run,
                "result_not_serializable",
                f"The task returned a value that cannot be stored as JSON: {storable(str(exc))}",
                {"type": type(value).__name__},
                retry=False,
            )
        return self._finish(run, JobStatus.SUCCEEDED, result=text)

    def _from_exception(self, run: Run, exc: BaseException) -> Finish:
        # A task may raise anything, with any text: what is recorded is made storable.
        details = {
            "type": f"{type(exc).__module__}.{type(exc).__qualname__}",
            "traceback": storable("".join(traceback.format_exception(exc)[-20:])),
        }
        message = storable(f"{type(exc).__name__}: {exc}")
        if isinstance(exc, UnstorableValue):
            return self._failure(run, exc.code, message, details, retry=False)
        code = exc.code if isinstance(exc, CallbackTimeout) else "task_error"
        return self._failure(run, code, message, details)

    def _failure(
        self, run: Run, code: str, message: str, details: Any, retry: bool = True
    ) -> Finish:
        record = run.record
        if retry and record.attempt < record.max_attempts:
            delay = min(run.task.options.retry_backoff * 2 ** (record.attempt - 1), MAX_BACKOFF)
            self.stats["retried"] += 1
            logger.info(
                "job %s attempt %d failed (%s); retrying in %.1f s",
                run.job_id,
                record.attempt,
                code,
                delay,
                extra={"job_id": run.job_id, "action": "retry"},
            )
            return self._finish(
                run,
                JobStatus.QUEUED,
                error_code=code,
                error_message=message,
                error_details=sanitize(details),
                run_after=time.time() + delay,
            )
        logger.info(
            "job %s failed: %s",
            run.job_id,
            message,
            extra={"job_id": run.job_id, "action": "failed"},
        )
        return self._finish(
            run,
            JobStatus.FAILED,
            error_code=code,
            error_message=message,
            error_details=sanitize(details),
        )


def _display(text: str | None, limit: int | None = None) -> str | None:
    """Text a task set on its Progress by assigning an attribute (the methods refuse bad
    text at the source), made storable: every store keeps the result."""
    if text is None:
        return None
    if not isinstance(text, str):
        text = str(text)
    if problem(text) is not None:
        text = storable(text)
    return text if limit is None else text[:limit]
