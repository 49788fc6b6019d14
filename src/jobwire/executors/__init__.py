"""Executors: where attempts run. Threads by default, processes for CPU-bound work, Celery
workers across machines."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .base import Attempt, Call, Executor, PoolExecutor, Queued, Runner

if TYPE_CHECKING:
    from .celery import CeleryHost


def make_executor(
    kind: str, concurrency: int, host: CeleryHost, *, reuse: Executor | None = None
) -> Executor:
    """The executor named ``kind``; ``host`` (the App) is what a Celery executor calls back.
    ``reuse`` is returned instead when it is of that kind and concurrency."""
    if reuse is not None and (reuse.kind, reuse.concurrency) == (kind, concurrency):
        return reuse
    if kind == "threads":
        from .threads import ThreadExecutor

        return ThreadExecutor(concurrency)
    if kind == "processes":
        from .processes import ProcessExecutor

        return ProcessExecutor(concurrency)
    if kind == "celery":
        from .celery import CeleryExecutor

        return CeleryExecutor(concurrency, host)
    from ..errors import ConfigurationError

    raise ConfigurationError(
        f"Expected executor 'threads', 'processes' or 'celery', but got {kind!r}"
    )


__all__ = [
    "Attempt",
    "Call",
    "Executor",
    "PoolExecutor",
    "Queued",
    "Runner",
    "make_executor",
]
