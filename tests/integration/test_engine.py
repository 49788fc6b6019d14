"""The engine end to end in one process: App + SQLite store + workers + memory bus."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

import pytest

from jobwire import (
    App,
    InvalidArguments,
    JobAlreadyFinished,
    JobCancelled,
    JobFailed,
    JobNotFound,
    JobStatus,
    OwnerLimitReached,
    Progress,
    UnknownTask,
)

INTERVAL = 0.1


@pytest.fixture
def app(tmp_path) -> Iterator[App]:
    app = App(f"sqlite:///{tmp_path}/jobs.db", progress_interval=INTERVAL, poll_interval=0.1)
    yield app
    app.close()


def row_count(app: App) -> int:
    return sum(app.store.counts().values())


def test_500_items_progress_is_ordered_bounded_and_complete(app: App) -> None:
    @app.task
    def work(progress: Progress, n: int = 500) -> int:
        for _ in progress.iter(range(n), step="processing"):
            time.sleep(0.002)
        return n

    with app:
        job = work.submit(n=500)
        events = list(job.watch())
    final = events[-1]["job"]
    assert final["status"] == "succeeded"
    assert final["current"] == final["total"] == 500
    assert final["percent"] == 100
    seqs = [e["seq"] for e in events]
    assert seqs == sorted(set(seqs)), "seq must strictly grow"
    percents = [e["job"]["percent"] for e in events if e["job"]["percent"] is not None]
    assert percents == sorted(percents), "percent must never go down"
    # Throttled: never one event per item. (At most one per interval, plus the status
    # changes: tests/unit/test_progress.py, on a fake clock.)
    assert len(events) < 100
    # The store keeps the same stream for resuming.
    stored = app.store.events(job.id)
    assert [e["seq"] for e in stored] == sorted({e["seq"] for e in stored})
    assert stored[-1]["job"] == final
    assert job.result() == 500
    # ETA was given while it ran, and is gone at the end.
    assert any(e["job"]["eta_seconds"] is not None for e in events[1:-1])
    assert final["eta_seconds"] is None


def test_cancel_running_job_stops_at_next_progress_call(app: App) -> None:
    calls_after_cancel: list[float] = []
    cancel_at: list[float] = []
    raised_at: list[float] = []

    @app.task
    def loop(progress: Progress) -> str:
        try:
            for _ in range(100_000):
                progress.advance()
                if cancel_at:
                    calls_after_cancel.append(time.monotonic())
                time.sleep(0.005)
        except JobCancelled:
            raised_at.append(time.monotonic())
            raise
        return "not cancelled"

    with app:
        job = loop.submit()
        for event in job.watch():
            if event["job"]["current"] >= 20:
                break
        cancel_at.append(time.monotonic())
        app.cancel(job.id)
        job.wait(timeout=10)
    assert job.status == JobStatus.CANCELLED
    assert raised_at, "the task's next Progress call must raise JobCancelled"
    # The first Progress call after the request raised: none completed after it.
    assert len(calls_after_cancel) <= 1  # the request may land between advance() and the check
    assert job.record.cancel_requested
    with pytest.raises(JobCancelled):
        job.result()


def test_cancel_queued_job_never_runs(app: App) -> None:
    gate = threading.Event()
    ran: list[str] = []

    @app.task
    def blocker(progress: Progress) -> None:
        gate.wait(10)

    @app.task
    def victim(progress: Progress) -> None:
        ran.append("victim")

    app.start(workers=1)
    try:
        first = blocker.submit()
        second = victim.submit()
        cancelled = app.cancel(second.id)
        assert cancelled.status == JobStatus.CANCELLED
        gate.set()
        first.wait(10)
        time.sleep(0.3)  # give the worker every chance to (wrongly) pick the victim up
    finally:
        app.stop()
    assert ran == []
    victim_job = app.get(second.id)
    assert victim_job.status == JobStatus.CANCELLED
    assert victim_job.record.attempt == 0
    with pytest.raises(JobAlreadyFinished):
        app.cancel(second.id)


def test_dedupe_returns_live_job_then_a_new_one_after_it_ends(app: App) -> None:
    gate = threading.Event()

    @app.task(dedupe_key="{dataset_id}:eda")
    def eda(progress: Progress, dataset_id: str) -> str:
        gate.wait(10)
        return dataset_id

    with app:
        first = eda.submit(dataset_id="d1")
        again = eda.submit(dataset_id="d1")
        other = eda.submit(dataset_id="d2")
        assert first.created and not again.created
        assert again.outcome == "deduplicated" and again.id == first.id
        assert other.id != first.id
        gate.set()
        first.wait(10)
        later = eda.submit(dataset_id="d1")
        assert later.created and later.id != first.id
        later.wait(10)


def test_concurrent_submits_with_one_key_make_one_job(app: App) -> None:
    @app.task(dedupe_key=lambda dataset_id: dataset_id)
    def eda(progress: Progress, dataset_id: str) -> None:
        time.sleep(0.5)

    ids: list[str] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def submit() -> None:
        barrier.wait()
        try:
            ids.append(eda.submit(dataset_id="same").id)
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=submit) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(ids) == 8 and len(set(ids)) == 1
    assert row_count(app) == 1


def test_cached_result_is_returned_at_once(app: App) -> None:
    runs: list[int] = []

    @app.task(cache_ttl=60)
    def square(progress: Progress, x: int) -> int:
        runs.append(x)
        return x * x

    with app:
        first = square.submit(x=7)
        assert first.result(10) == 49
        hit = square.submit(x=7)
        assert hit.outcome == "cached" and hit.id == first.id
        assert hit.status == JobStatus.SUCCEEDED and hit.result(1) == 49
        miss = square.submit(x=8)
        assert miss.created and miss.result(10) == 64
    assert runs == [7, 8]


def test_owner_limit_refuses_and_writes_nothing(app: App) -> None:
    gate = threading.Event()

    @app.task(per_owner_limit=1)
    def classify(progress: Progress, file_id: str) -> None:
        gate.wait(10)

    with app:
        first = classify.configure(owner="alice").submit(file_id="a")
        before = row_count(app)
        with pytest.raises(OwnerLimitReached) as info:
            classify.configure(owner="alice").submit(file_id="b")
        assert "limit is 1" in info.value.message
        assert row_count(app) == before
        bob = classify.configure(owner="bob").submit(file_id="c")
        assert bob.created
        gate.set()
        first.wait(10)
        again = classify.configure(owner="alice").submit(file_id="d")
        assert again.created
        again.wait(10)
        bob.wait(10)


def test_owner_limit_holds_under_concurrent_submits(app: App) -> None:
    gate = threading.Event()

    @app.task(per_owner_limit=2)
    def job(progress: Progress, i: int) -> None:
        gate.wait(10)

    outcomes: list[str] = []
    barrier = threading.Barrier(10)

    def submit(i: int) -> None:
        barrier.wait()
        try:
            job.configure(owner="carol").submit(i=i)
            outcomes.append("ok")
        except OwnerLimitReached:
            outcomes.append("limit")

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("ok") == 2 and outcomes.count("limit") == 8
    assert row_count(app) == 2


def test_bad_input_is_a_clear_error_and_writes_nothing(app: App) -> None:
    @app.task
    def typed(progress: Progress, count: int, name: str = "x") -> None: ...

    app.store.upgrade()
    with pytest.raises(UnknownTask, match="nope"):
        app.submit("nope", {})
    with pytest.raises(InvalidArguments) as missing:
        app.submit(typed.name, {})
    assert missing.value.details["errors"][0]["loc"] == ["count"]
    assert "count" in missing.value.message
    with pytest.raises(InvalidArguments) as wrong:
        app.submit(typed.name, {"count": "many"})
    assert "count" in wrong.value.message and "integer" in wrong.value.message
    with pytest.raises(InvalidArguments, match="extra: not an argument of this task"):
        app.submit(typed.name, {"count": 1, "extra": True})
    assert row_count(app) == 0
    with pytest.raises(JobNotFound):
        app.get("0" * 32)
    with pytest.raises(JobNotFound):
        app.cancel("0" * 32)
    assert row_count(app) == 0


def test_cancel_of_finished_job_is_refused(app: App) -> None:
    @app.task
    def quick(progress: Progress) -> int:
        return 1

    with app:
        job = quick.submit()
        job.wait(10)
    seq = job.record.seq
    with pytest.raises(JobAlreadyFinished):
        app.cancel(job.id)
    assert app.get(job.id).record.seq == seq


def test_retry_then_success_is_attempt_two(app: App) -> None:
    attempts: list[int] = []

    @app.task(retries=2, retry_backoff=0.05)
    def flaky(progress: Progress) -> str:
        attempts.append(len(attempts) + 1)
        progress.update(1, total=1)
        if len(attempts) == 1:
            raise RuntimeError("first attempt fails")
        return "ok"

    with app:
        job = flaky.submit()
        assert job.result(10) == "ok"
    assert job.record.attempt == 2
    assert attempts == [1, 2]
    statuses = [e["job"]["status"] for e in app.store.events(job.id) if e["kind"] == "status"]
    assert statuses == ["running", "queued", "running", "succeeded"]


def test_failure_without_retries_keeps_the_error(app: App) -> None:
    @app.task
    def broken(progress: Progress) -> None:
        raise ValueError("bad data in row 3")

    with app:
        job = broken.submit()
        job.wait(10)
    assert job.status == JobStatus.FAILED
    error = job.snapshot["error"]
    assert error is not None
    assert error["code"] == "task_error"
    assert "bad data in row 3" in error["message"]
    assert error["details"]["type"] == "builtins.ValueError"
    assert "Traceback" in error["details"]["traceback"]
    with pytest.raises(JobFailed, match="bad data"):
        job.result()


def test_timeout_fails_the_job_with_code_timeout(app: App) -> None:
    @app.task(timeout=0.3)
    def endless(progress: Progress) -> None:
        while True:
            progress.advance()
            time.sleep(0.01)

    with app:
        job = endless.submit()
        job.wait(10)
    assert job.status == JobStatus.FAILED
    assert job.snapshot["error"]["code"] == "timeout"


def test_max_concurrency_per_task(tmp_path) -> None:
    app = App(f"sqlite:///{tmp_path}/c.db", workers=3, poll_interval=0.05)
    lock = threading.Lock()
    active = [0]
    peak = [0]

    @app.task(max_concurrency=1)
    def exclusive(progress: Progress, i: int) -> None:
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.05)
        with lock:
            active[0] -= 1

    with app:
        jobs = [exclusive.submit(i=i) for i in range(6)]
        for j in jobs:
            j.wait(20)
    app.close()
    assert all(j.status == JobStatus.SUCCEEDED for j in jobs)
    assert peak[0] == 1


def test_async_task_and_async_watch(app: App) -> None:
    @app.task
    async def fetch(progress: Progress, n: int = 20) -> int:
        for i in range(n):
            await asyncio.sleep(0.005)
            progress.update(i + 1, total=n)
        return n

    async def follow(job_id: str) -> list[dict]:
        return [e async for e in app.watch(job_id)]

    with app:
        job = fetch.submit(n=20)
        events = asyncio.run(follow(job.id))
    assert events[-1]["job"]["status"] == "succeeded"
    assert events[-1]["job"]["current"] == 20
    assert job.result(5) == 20


def test_async_task_cancel_is_immediate(app: App) -> None:
    @app.task
    async def sleeper(progress: Progress) -> None:
        progress.step("sleeping")
        await asyncio.sleep(60)

    with app:
        job = sleeper.submit()
        for event in job.watch():
            if event["job"]["step"] == "sleeping":
                break
        app.cancel(job.id)
        job.wait(5)
    assert job.status == JobStatus.CANCELLED


def test_graceful_shutdown_requeues_then_another_worker_finishes(app: App) -> None:
    release = threading.Event()

    @app.task(retries=0)
    def long(progress: Progress) -> str:
        for _ in range(1000):
            progress.advance()
            if release.is_set():
                break
            time.sleep(0.01)
        return "done"

    app.start(workers=1)
    job = long.submit()
    for event in job.watch():
        if event["job"]["current"] > 3:
            break
    app.stop(grace=0.2)
    requeued = app.get(job.id)
    assert requeued.status == JobStatus.QUEUED
    assert requeued.record.max_attempts == 2  # the shutdown did not use up its retries
    release.set()
    with app:
        assert job.result(10) == "done"
    assert app.get(job.id).record.attempt == 2


def test_estimates_come_from_history(app: App) -> None:
    @app.task
    def steady(progress: Progress, n: int = 10) -> None:
        for _ in progress.iter(range(n)):
            time.sleep(0.01)

    with app:
        first = steady.submit()
        assert first.snapshot["estimated_seconds"] is None  # no history yet: no number
        first.wait(10)
        app._estimate.clear()
        second = steady.submit()
        assert second.snapshot["estimated_seconds"] is not None
        assert 0.05 <= second.snapshot["estimated_seconds"] <= 5
        second.wait(10)


def test_nothing_left_behind_and_retention(app: App) -> None:
    @app.task
    def tiny(progress: Progress, i: int) -> int:
        progress.update(1, total=1)
        return i

    with app:
        jobs = [tiny.submit(i=i) for i in range(50)]
        for j in jobs:
            j.wait(20)
        worker = app.worker
        assert worker is not None
        assert worker.running == 0
        assert worker._running == {}
        assert worker._reports == [] and worker._finishes == []
    bus = app.bus
    assert bus._by_job == {} and bus._all == set()  # type: ignore[attr-defined]
    assert app.store.counts()["succeeded"] == 50
    app.settings.retention_days = 1e-9
    assert app.purge() == 50
    assert row_count(app) == 0
    assert app.store.events(jobs[0].id) == []
    assert app.store.result(jobs[0].id) is None
