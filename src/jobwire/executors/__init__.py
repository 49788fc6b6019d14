"""Executors: where attempts run. Threads by default, processes for CPU-bound work, Celery
workers across machines."""

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
    if kind == "celery":
        from .celery import CeleryExecutor

        return CeleryExecutor(worker, concurrency)
    from ..errors import ConfigurationError

    raise ConfigurationError(
        f"Expected executor 'threads', 'processes' or 'celery', but got {kind!r}"
    )


__all__ = ["Executor", "make_executor"]
