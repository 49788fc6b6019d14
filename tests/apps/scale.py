"""Tasks for the scale-out tests: the same code runs on thread workers or Celery workers,
chosen by JOBWIRE_EXECUTOR. Every attempt appends its start and end to a side-effect log
(JOBWIRE_TEST_SIDE_EFFECTS, a directory), one file per process, so a test can count how many
times each job really ran and check that no two attempts overlapped."""

from __future__ import annotations

import os
import time
from pathlib import Path

from jobwire import App, Progress

app = App()


def _log(progress: Progress, what: str) -> None:
    folder = os.environ.get("JOBWIRE_TEST_SIDE_EFFECTS")
    if not folder:
        return
    line = f"{progress.job_id} {what} {os.getpid()} {time.time():.6f}\n"
    with open(Path(folder) / f"{os.getpid()}.log", "a") as f:
        f.write(line)
        f.flush()


@app.task(name="tick")
def tick(progress: Progress, items: int = 3) -> int:
    """A short job that reports progress: the 1,000-job run."""
    _log(progress, "start")
    for _ in progress.iter(range(items), step="ticking"):
        pass
    _log(progress, "end")
    return items


def _work(progress: Progress, seconds: float, items: int) -> int:
    _log(progress, "start")
    for _ in progress.iter(range(items), step="working"):
        time.sleep(seconds / items)
    _log(progress, "end")
    return items


@app.task(name="long", retries=1, retry_backoff=0.0)
def long(progress: Progress, seconds: float = 4.0, items: int = 40) -> int:
    """Runs ``seconds`` with regular progress; one retry (a killed worker's job runs again)."""
    return _work(progress, seconds, items)


@app.task(name="long_once", retries=0)
def long_once(progress: Progress, seconds: float = 4.0, items: int = 40) -> int:
    """Like long, with no retry: a killed worker's job fails ``worker_lost``."""
    return _work(progress, seconds, items)


@app.task(name="solo", max_concurrency=1)
def solo(progress: Progress, seconds: float = 0.5) -> None:
    """At most one runs at a time, across every worker."""
    _log(progress, "start")
    progress.update(0, total=1, step="alone")
    time.sleep(seconds)
    _log(progress, "end")


@app.task(name="limited", per_owner_limit=2)
def limited(progress: Progress, seconds: float = 3.0) -> None:
    """Each owner may have two of these live."""
    progress.update(0, total=1)
    time.sleep(seconds)


@app.task(name="keyed", dedupe_key="{key}")
def keyed(progress: Progress, key: str, seconds: float = 3.0) -> str:
    """One live job per key."""
    progress.update(0, total=1)
    time.sleep(seconds)
    return key


@app.task(name="stubborn")
def stubborn(progress: Progress, seconds: float = 60.0) -> None:
    """Never looks at Progress after it starts: a cancel can only stop it by force."""
    _log(progress, "start")
    progress.update(0, total=None, step="ignoring")
    progress.flush()
    time.sleep(seconds)
    _log(progress, "end")


@app.task(name="awaits")
def awaits(progress: Progress, timeout: float = 30.0) -> object:
    """Waits for its webhook; shows the callback URL in its message for the test to call."""
    progress.update(0, total=1, message=progress.callback_url)
    progress.flush()
    payload = progress.wait_for_callback(timeout=timeout, step="waiting for the provider")
    progress.update(1)
    return payload


@app.task(name="asks")
def asks(progress: Progress, timeout: float = 120.0) -> object:
    """Asks a provider (a side effect, logged: it must happen once), then waits for its
    webhook holding no worker."""
    progress.update(0, total=1, step="asking")
    progress.once("ask", lambda: _log(progress, "asked"))
    payload = progress.wait_for_callback(timeout=timeout, step="waiting for the provider")
    progress.update(1, step="done")
    return payload
