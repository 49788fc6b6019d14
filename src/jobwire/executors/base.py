"""The Executor interface: where a worker's attempts actually run.

An executor knows nothing of stores or buses. It is handed :class:`Attempt` objects and a
:class:`Runner` (the worker) to call back: ``runner.execute(attempt, executor.call)`` runs one
attempt from the thread that runs it, and records how it ended. It is also told when jobs are
queued or cancelled (:meth:`Executor.notify_queued`, :meth:`Executor.notify_cancelled`), so
that an executor whose jobs are delivered from outside (Celery) sends or revokes their
messages, and one that claims from the store wakes its worker.
"""

from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from ..eta import EtaEstimator
from ..progress import Progress
from ..snapshot import EventKind, JobRecord
from ..steps import StepClock

if TYPE_CHECKING:
    from ..store import Finish
    from ..tasks import Task

logger = logging.getLogger(__name__)


@dataclass(eq=False)
class Attempt:
    """One attempt of a job running on a worker."""

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
    """When the worker first learned of a cancel request (monotonic seconds)."""
    hard_stopped: bool = False
    steps: StepClock = field(default_factory=lambda: StepClock([], clock=time.time))
    """Its steps with their times, as the worker records them."""

    @property
    def job_id(self) -> str:
        return self.record.id

    @property
    def attempt(self) -> int:
        return self.record.attempt


#: ``call(attempt, kwargs)``: run the task's function with these arguments, return its value.
Call = Callable[[Attempt, dict[str, Any]], Any]


class Runner(Protocol):
    """What an executor calls back: the worker that owns the attempts."""

    def execute(self, attempt: Attempt, call: Call) -> None:
        """Run one attempt with ``call`` and record how it ended (blocks until it ends)."""

    def report(self, attempt: Attempt, kind: EventKind, log: str | None) -> None:
        """The attempt's Progress has an event due (its fields hold the state)."""

    def poke(self) -> None:
        """New work may be queued: look for it now."""


class Queued(NamedTuple):
    """A job that is waiting in the queue: its id, task and when it is due (UNIX time)."""

    job_id: str
    task: str
    run_after: float


class Executor(ABC):
    """Where attempts run. :class:`PoolExecutor` subclasses run the attempts their worker
    claims from the store; others have jobs delivered to the worker from outside (Celery
    calls the worker's ``run_job`` for each message)."""

    kind: str
    claims = False
    """Whether the worker claims jobs from the store for this executor (a pool executor)."""

    def __init__(self, concurrency: int) -> None:
        if concurrency < 1:
            raise ValueError(f"Expected a concurrency of at least 1, but got {concurrency!r}")
        self.concurrency = concurrency
        self._runner: Runner | None = None

    @property
    def runner(self) -> Runner:
        if self._runner is None:
            raise RuntimeError(f"the {self.kind} executor has no worker: bind() one first")
        return self._runner

    def bind(self, runner: Runner) -> None:
        """The worker whose attempts this executor runs (called by the worker)."""
        self._runner = runner

    @abstractmethod
    def start(self) -> None: ...

    @abstractmethod
    def call(self, attempt: Attempt, kwargs: dict[str, Any]) -> Any:
        """Call the task's function with ``kwargs`` and return its value."""

    def cancel(self, attempt: Attempt) -> None:  # noqa: B027 - optional hook, a no-op by default
        """Stop an attempt harder than the cooperative flag, where the executor can."""

    def hard_stop(self, attempt: Attempt) -> None:
        """The attempt ignored its cancel past the grace period and is recorded cancelled.
        Executors that can kill it do; a thread cannot be killed, so by default it is left
        to return (its slot stays busy until then, its writes are ignored)."""
        logger.warning(
            "job %s: its thread cannot be killed; it keeps its slot until the task returns",
            attempt.job_id,
            extra={"job_id": attempt.job_id, "action": "hard_stop"},
        )

    def notify_queued(self, jobs: Sequence[Queued]) -> None:
        """These jobs were queued (submitted, retried, recovered): by default, wake the
        worker if one is bound. Raises when they cannot be handed on (a broker that is
        down); the caller then takes them back."""
        if jobs and self._runner is not None:
            self._runner.poke()

    def notify_cancelled(self, job_id: str) -> None:  # noqa: B027 - optional hook
        """This queued job was cancelled (a delivering executor drops its message)."""

    @abstractmethod
    def shutdown(self) -> None: ...


class PoolExecutor(Executor):
    """An executor with slots of its own: its worker claims jobs from the store and hands
    each attempt to :meth:`submit`."""

    claims = True

    @abstractmethod
    def submit(self, attempt: Attempt) -> None:
        """Start the attempt; call ``runner.execute(attempt, self.call)`` from the thread that
        runs it."""
