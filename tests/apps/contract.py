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


def mark(marks: str, tag: str) -> int:
    """A side effect that must happen once: a line appended to the file ``marks`` (shared by
    processes); returns how many lines it has now."""
    with open(marks, "a", encoding="utf-8") as f:
        f.write(tag + "\n")
    with open(marks, encoding="utf-8") as f:
        return sum(1 for _ in f)


def waiter(progress: Progress, marks: str, tag: str, timeout: float = 60.0) -> dict[str, object]:
    """Asks an external system (once), waits for its webhook holding no worker, then ends."""
    progress.update(0, total=2, step="asking")
    ticket = progress.once("ask", lambda: mark(marks, tag))
    got = progress.wait_for_callback(timeout=timeout, step="waiting", message="for its webhook")
    progress.update(1, step="using it")
    progress.update(2)
    return {"ticket": ticket, "got": got}


async def awaiter(
    progress: Progress, marks: str, tag: str, timeout: float = 60.0
) -> dict[str, object]:
    """:func:`waiter` as an async task, with two waits."""
    progress.update(0, total=2, step="asking")
    ticket = progress.once("ask", lambda: mark(marks, tag))
    await asyncio.sleep(0)
    first = progress.wait_for_callback(timeout=timeout, step="waiting")
    second = progress.wait_for_callback(timeout=timeout, step="waiting again")
    progress.update(2, step="done")
    return {"ticket": ticket, "got": [first, second]}


def poller(progress: Progress, status_file: str, timeout: float = 60.0) -> object:
    """Waits with a poll fallback: the "provider's" status is the content of a file."""

    def poll() -> object:
        with open(status_file, encoding="utf-8") as f:
            text = f.read().strip()
        return {"polled": text} if text else None

    return progress.wait_for_callback(timeout=timeout, poll=poll, poll_interval=0.1)
