"""An app used by the end-to-end tests (CLI subprocesses) and the process-executor tests.

Its settings come from the environment (JOBWIRE_DATABASE_URL, JOBWIRE_LEASE_SECONDS…)."""

from __future__ import annotations

import time

from jobwire import App, Progress

app = App()


@app.task(name="slow", retries=1, retry_backoff=0.0)
def slow(progress: Progress, seconds: float = 3.0, items: int = 30) -> dict[str, int]:
    """Takes ``seconds``, reporting ``items`` steps; one retry allowed."""
    for _ in progress.iter(range(items), step="working"):
        time.sleep(seconds / items)
    return {"items": items}


@app.task(name="slow_once", retries=0)
def slow_once(progress: Progress, seconds: float = 3.0, items: int = 30) -> dict[str, int]:
    """Like slow, with no retry."""
    for _ in progress.iter(range(items), step="working"):
        time.sleep(seconds / items)
    return {"items": items}


@app.task(name="count")
def count(progress: Progress, n: int = 100, delay: float = 0.0) -> int:
    for _ in progress.iter(range(n), step="counting"):
        if delay:
            time.sleep(delay)
    return n


@app.task(name="boom")
def boom(progress: Progress, message: str = "boom") -> None:
    progress.step("exploding")
    raise ValueError(message)


def crunch(progress: Progress, n: int = 200_000, chunk: int = 10_000) -> int:
    """CPU-bound: sums squares, reporting every chunk."""
    total = 0
    progress.update(0, total=n, step="crunching")
    for start in range(0, n, chunk):
        total += sum(i * i for i in range(start, min(start + chunk, n)))
        progress.update(min(start + chunk, n))
    return total


def spin(progress: Progress, seconds: float = 30.0) -> str:
    """Loops until cancelled (or ``seconds`` pass), calling Progress all the time."""
    end = time.monotonic() + seconds
    progress.update(0, total=None, step="spinning")
    while time.monotonic() < end:
        progress.advance()
        time.sleep(0.001)
    return "finished"


def save_report(progress: Progress, rows: int = 3) -> str:
    """Saves a CSV file of ``rows`` rows (from a child process, on the processes executor)."""
    info = progress.save_file("report.csv", b"".join(b"%d,%d\n" % (i, i * i) for i in range(rows)))
    return info.sha256


crunch_task = app.task(name="crunch")(crunch)
spin_task = app.task(name="spin")(spin)
