"""The Executor interface: where a worker's attempts actually run."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..worker import Run, Worker


class Executor(ABC):
    kind: str

    def __init__(self, worker: Worker, concurrency: int) -> None:
        self.worker = worker
        self.concurrency = concurrency

    @abstractmethod
    def start(self) -> None: ...

    @abstractmethod
    def submit(self, run: Run) -> None:
        """Start the attempt; call ``worker.execute(run, call)`` from the thread that runs it."""

    def cancel(self, run: Run) -> None:  # noqa: B027 - optional hook, a no-op by default
        """Stop an attempt harder than the cooperative flag, where the executor can."""

    @abstractmethod
    def shutdown(self) -> None: ...
