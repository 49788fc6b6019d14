"""The process executor: CPU-bound tasks in child processes, progress, cancel and saved files
across."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from jobwire import App, JobStatus
from jobwire.testing import MemoryStore
from tests.apps import sample


@pytest.fixture
def app(tmp_path) -> Iterator[App]:
    app = App(f"sqlite:///{tmp_path}/p.db", executor="processes", workers=2, poll_interval=0.1)
    app.task(name="crunch")(sample.crunch)
    app.task(name="spin")(sample.spin)
    app.task(name="pid")(os.getpid)
    app.task(name="save_report")(sample.save_report)
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


def test_a_child_saves_files_through_its_own_store(app: App) -> None:
    with app:
        job = app.submit("save_report", {"rows": 4})
        sha = job.result(30)
    (info,) = app.files(job.id)
    assert (info.name, info.content_type, info.sha256, info.attempt) == (
        "report.csv",
        "text/csv",
        sha,
        1,
    )
    _, chunks = app.open_file(job.id, "report.csv")
    assert b"".join(chunks) == b"0,0\n1,1\n2,4\n3,9\n"


def test_a_child_cannot_save_files_into_a_store_in_memory() -> None:
    app = App(store=MemoryStore(), executor="processes", workers=1, poll_interval=0.1)
    app.task(name="save_report")(sample.save_report)
    try:
        with app:
            job = app.submit("save_report")
            job.wait(30)
        record = app.record(job.id)
        assert record.status == JobStatus.FAILED
        assert "need a database URL" in (record.error_message or "")
    finally:
        app.close()
