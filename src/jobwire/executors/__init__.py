"""Executors: where attempts run. Threads by default, processes for CPU-bound work."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .base import Executor

if TYPE_CHECKING:
    from ..worker import Worker


def make_executor(kind: str, worker: Worker, concurrency: int) -> Executor:
    if kind == "threads":
        from .threads import ThreadExecutor

        return ThreadExecutor(worker, concurrency)
    if kind == "processes":
        from .processes import ProcessExecutor

        return ProcessExecutor(worker, concurrency)
    from ..errors import ConfigurationError

    raise ConfigurationError(f"Expected executor 'threads' or 'processes', but got {kind!r}")


__all__ = ["Executor", "make_executor"]
