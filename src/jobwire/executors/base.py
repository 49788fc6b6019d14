"""The Executor interface: where a worker's attempts actually run."""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..worker import Run, Worker

logger = logging.getLogger(__name__)


class Executor(ABC):
    kind: str
    claims = True
    """Whether the worker claims jobs from the store for this executor. False when something
    else (Celery) delivers jobs one by one to :meth:`Worker.run_job`."""

    def __init__(self, worker: Worker, concurrency: int) -> None:
        self.worker = worker
        self.concurrency = concurrency

    @abstractmethod
    def start(self) -> None: ...

    @abstractmethod
    def submit(self, run: Run) -> None:
        """Start the attempt; call ``worker.execute(run, self.call)`` from the thread that
        runs it."""

    @abstractmethod
    def call(self, run: Run, kwargs: dict[str, Any]) -> Any:
        """Call the task's function with ``kwargs`` and return its value."""

    def cancel(self, run: Run) -> None:  # noqa: B027 - optional hook, a no-op by default
        """Stop an attempt harder than the cooperative flag, where the executor can."""

    def hard_stop(self, run: Run) -> None:
        """The attempt ignored its cancel past the grace period and is recorded cancelled.
        Executors that can kill it do; a thread cannot be killed, so by default it is left
        to return (its slot stays busy until then, its writes are ignored)."""
        logger.warning(
            "job %s: its thread cannot be killed; it keeps its slot until the task returns",
            run.job_id,
            extra={"job_id": run.job_id, "action": "hard_stop"},
        )

    @abstractmethod
    def shutdown(self) -> None: ...
