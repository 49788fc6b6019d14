"""Time per step through a real App (SQLite, a threads worker): each step's start and end,
a waiting job's step left open (its waiting time counts in it), the run from the top after
the webhook not recording its earlier steps again, a retry starting with no steps, and the
typical seconds per step (and a waiting job's ETA) from the task's earlier runs."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from jobwire import App, JobStatus, Progress
from jobwire.snapshot import StepInfo

STEPS = ("submit", "dreaming", "download")


@pytest.fixture
def app(tmp_path: Path) -> Iterator[App]:
    app = App(
        f"sqlite:///{tmp_path}/steps.db", workers=2, progress_interval=0.02, poll_interval=0.05
    )
    runs: list[str] = []

    @app.task(name="dream", steps=STEPS)
    def dream(progress: Progress) -> Any:
        runs.append(progress.job_id)
        progress.step("submit")
        progress.once("ask", lambda: time.sleep(0.2))
        got = progress.wait_for_callback(timeout=300, step="dreaming")
        progress.step("download")
        time.sleep(0.1)
        return got

    tries: list[str] = []

    @app.task(name="flaky", retries=1, retry_backoff=0.0)
    def flaky(progress: Progress) -> int:
        tries.append(progress.job_id)
        progress.step("first")
        if len(tries) == 1:
            progress.step("breaking")
            raise RuntimeError("once")
        return 1

    app.runs = runs  # type: ignore[attr-defined]
    app.start()
    try:
        yield app
    finally:
        app.stop(grace=2.0)
        app.close()


def until_status(app: App, job_id: str, status: JobStatus, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while app.get(job_id).status != status:
        assert time.monotonic() < deadline, f"{job_id} never {status}"
        time.sleep(0.02)


def at(text: str | None) -> float:
    assert text is not None
    return datetime.fromisoformat(text).timestamp()


def names(steps: list[StepInfo]) -> list[str]:
    return [s["name"] for s in steps]


def test_steps_are_timed_across_a_wait_and_its_replay(app: App) -> None:
    job = app.submit("dream", {})
    until_status(app, job.id, JobStatus.WAITING)
    waiting = app.get(job.id).snapshot["steps"]
    assert names(waiting) == list(STEPS)
    submit, dreaming, download = waiting
    assert submit["seconds"] is not None and submit["seconds"] >= 0.2
    assert dreaming["started_at"] is not None and dreaming["finished_at"] is None
    assert dreaming["seconds"] is None
    assert download["started_at"] is None  # declared, not reached yet
    assert all(s["typical_seconds"] is None for s in waiting)  # no earlier run
    time.sleep(0.3)  # waiting counts in its step
    assert app.deliver(job.id, "k", '{"video": "v.mp4"}') is True
    assert job.result(timeout=20) == {"video": "v.mp4"}
    assert app.runs.count(job.id) == 2  # type: ignore[attr-defined]
    done = app.get(job.id).snapshot
    steps = done["steps"]
    assert names(steps) == list(STEPS)  # the replay recorded nothing again
    assert steps[0] == submit  # the replayed step kept its times
    assert steps[1]["started_at"] == dreaming["started_at"]
    assert all(s["seconds"] is not None for s in steps)
    assert steps[1]["seconds"] is not None and steps[1]["seconds"] >= 0.3
    assert steps[2]["seconds"] is not None and steps[2]["seconds"] >= 0.1
    for before, after in itertools.pairwise(steps):
        assert before["finished_at"] == after["started_at"]
    assert at(steps[-1]["finished_at"]) <= at(done["finished_at"]) + 0.001

    # The next run knows how long each step usually takes.
    second = app.submit("dream", {})
    until_status(app, second.id, JobStatus.WAITING)
    snap = app.get(second.id).snapshot
    typical = {s["name"]: s["typical_seconds"] for s in snap["steps"]}
    assert typical == {s["name"]: pytest.approx(s["seconds"], abs=0.1) for s in steps}
    assert snap["eta_seconds"] is not None  # what "dreaming" usually has left
    assert 0 <= snap["eta_seconds"] <= (typical["dreaming"] or 0) + 0.1
    app.deliver(second.id, "k", "{}")
    assert second.result(timeout=20) == {}


def test_a_retry_starts_with_no_steps(app: App) -> None:
    job = app.submit("flaky", {})
    assert job.result(timeout=20) == 1
    snap = app.get(job.id).snapshot
    assert snap["attempt"] == 2
    assert names(snap["steps"]) == ["first"]
    assert snap["steps"][0]["seconds"] is not None
