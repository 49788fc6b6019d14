"""The process executor: CPU-bound tasks in child processes, progress and cancel across."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from jobwire import App, JobStatus
from tests.apps import sample


@pytest.fixture
def app(tmp_path) -> Iterator[App]:
    app = App(f"sqlite:///{tmp_path}/p.db", executor="processes", workers=2, poll_interval=0.1)
    app.task(name="crunch")(sample.crunch)
    app.task(name="spin")(sample.spin)
    app.task(name="pid")(os.getpid)
    yield app
    app.close()


def test_cpu_task_runs_in_a_child_and_reports_progress(app: App) -> None:
    with app:
        job = app.submit("crunch", {"n": 300_000, "chunk": 10_000})
        events = list(job.watch())
        assert job.result(30) == sum(i * i for i in range(300_000))
        child = app.submit("pid").result(30)
    assert child != os.getpid()
    final = events[-1]["job"]
    assert final["status"] == "succeeded"
    assert final["current"] == final["total"] == 300_000
    assert final["step"] == "crunching"
    seqs = [e["seq"] for e in events]
    assert seqs == sorted(set(seqs))


def test_cancel_reaches_the_child(app: App) -> None:
    with app:
        job = app.submit("spin", {"seconds": 30})
        for event in job.watch():
            if event["job"]["current"] > 10:
                break
        app.cancel(job.id)
        job.wait(10)  # WaitTimeout if the child spun on: it would run its 30 s
    assert job.status == JobStatus.CANCELLED
