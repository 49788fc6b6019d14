"""jobwire.testing: an App on MemoryStore and MemoryBus runs tasks end to end, as the guide
shows users testing their own tasks."""

from __future__ import annotations

import threading

import pytest

import jobwire.testing
from jobwire import App, Progress
from jobwire.errors import JobCancelled, JobFailed
from jobwire.status import JobStatus
from jobwire.store import Store
from jobwire.testing import MemoryBus, MemoryStore


def test_the_testing_module_exports_the_memory_implementations() -> None:
    assert jobwire.testing.__all__ == ["MemoryBus", "MemoryStore"]
    assert isinstance(MemoryStore(), Store)
    assert "App(store=MemoryStore()" in (MemoryStore.__doc__ or "")


def test_an_app_on_the_memory_store_runs_a_task_to_its_result() -> None:
    app = App(store=MemoryStore(), bus=MemoryBus())

    @app.task(name="square")
    def square(progress: Progress, n: int) -> int:
        for _ in progress.iter(range(n), step="counting"):
            pass
        return n * n

    with app:
        job = square.submit(n=3)
        assert job.result(timeout=5) == 9
    record = app.store.get(job.id)
    assert record is not None and record.status == JobStatus.SUCCEEDED
    assert (record.current, record.total, record.step) == (3, 3, "counting")
    kinds = [e["job"]["status"] for e in app.store.events(job.id) if e["kind"] == "status"]
    assert kinds[-1] == "succeeded"


def test_failures_retries_and_cancel_work_on_the_memory_store() -> None:
    app = App(store=MemoryStore(), bus=MemoryBus())
    calls: list[int] = []
    release = threading.Event()

    @app.task(name="flaky", retries=1, retry_backoff=0)
    def flaky(progress: Progress) -> str:
        calls.append(1)
        if len(calls) == 1:
            raise ValueError("first try fails")
        return "ok"

    @app.task(name="broken")
    def broken(progress: Progress) -> None:
        raise ValueError("always")

    @app.task(name="slow")
    def slow(progress: Progress) -> None:
        while not progress.cancelled and not release.wait(0.01):
            pass

    with app:
        assert flaky.submit().result(timeout=5) == "ok"
        assert len(calls) == 2
        with pytest.raises(JobFailed):
            broken.submit().result(timeout=5)
        job = slow.submit()
        app.cancel(job.id)
        release.set()
        with pytest.raises(JobCancelled):
            job.result(timeout=5)
    assert app.store.get(job.id).status == JobStatus.CANCELLED
