"""Task functions for the executor contract: module-level, so that the processes executor's
children can import them by name."""

from __future__ import annotations

import asyncio
import time

from jobwire import Progress


def count(progress: Progress, n: int = 20, delay: float = 0.0) -> int:
    for _ in progress.iter(range(n), step="counting"):
        if delay:
            time.sleep(delay)
    return n


def fail(progress: Progress, message: str = "boom") -> None:
    progress.step("failing")
    raise ValueError(message)


def spin(progress: Progress, seconds: float = 30.0) -> str:
    """Loops until cancelled (or ``seconds`` pass), calling Progress all the time."""
    end = time.monotonic() + seconds
    progress.update(0, total=None, step="spinning")
    while time.monotonic() < end:
        progress.advance()
        time.sleep(0.001)
    return "finished"


async def nap(progress: Progress, n: int = 5) -> int:
    """An async task: yields to its event loop between items."""
    progress.update(0, total=n, step="napping")
    for i in range(n):
        await asyncio.sleep(0)
        progress.update(i + 1)
    return n


async def sleepy(progress: Progress, seconds: float = 30.0) -> str:
    """An async task that never calls Progress: only a real cancel of its coroutine stops it."""
    progress.step("sleeping")
    await asyncio.sleep(seconds)
    return "woke"


def stubborn(progress: Progress, seconds: float = 3.0) -> str:
    """Ignores its cancel (never calls Progress while it waits)."""
    progress.step("ignoring")
    time.sleep(seconds)
    return "done"
