"""One contract for every executor, run on threads, processes and Celery.

Each runs a real App (SQLite store, memory bus) whose worker uses that executor; Celery runs
in this process through ``celery.contrib.testing.worker.start_worker`` (a threads pool on
kombu's in-memory transport), so the jobs reach it as Celery messages. The tasks are in
``tests/apps/contract.py``, importable by the processes executor's children.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from jobwire import App, JobStatus
from tests.apps import contract

GRACE = 0.5


def make_app(tmp_path: Path, kind: str) -> App:
    app = App(
        f"sqlite:///{tmp_path}/executor.db",
        executor=kind,
        workers=2,
        progress_interval=0.02,
        poll_interval=0.05,
    )
    app.settings.cancel_grace = GRACE
    app.settings.celery_broker_url = "memory://"
    app.settings.celery_queue = f"contract-{id(app)}"
    for fn in (contract.count, contract.fail, contract.spin, contract.nap, contract.sleepy):
        app.task(name=fn.__name__)(fn)
    app.task(name="retried", retries=1, retry_backoff=0.0)(contract.fail)
    app.task(name="stubborn")(contract.stubborn)
    for fn in (contract.waiter, contract.awaiter, contract.poller):
        app.task(name=fn.__name__)(fn)
    return app


class ExecutorContract:
    kind: str

    @pytest.fixture(scope="class")
    @classmethod
    def app(cls, tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
        app = make_app(tmp_path_factory.mktemp(cls.kind), cls.kind)
        try:
            with cls.running(app):
                yield app
        finally:
            app.close()

    @classmethod
    @contextlib.contextmanager
    def running(cls, app: App) -> Iterator[None]:
        app.start()
        try:
            yield
        finally:
            app.stop(grace=2.0)

    # -- durable waits ------------------------------------------------------------------

    @staticmethod
    def until_status(app: App, job_id: str, status: JobStatus, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while app.get(job_id).status != status:
            assert time.monotonic() < deadline, f"{job_id} never {status}"
            time.sleep(0.02)

    def test_waiting_jobs_hold_no_worker_and_go_on_when_their_webhook_comes(
        self, app: App, tmp_path: Path
    ) -> None:
        marks = str(tmp_path / "marks.txt")
        # Twice as many waits as workers: a wait holding a worker would block the rest.
        waiters = [app.submit("waiter", {"marks": marks, "tag": f"w{i}"}) for i in range(4)]
        for job in waiters:
            self.until_status(app, job.id, JobStatus.WAITING)
            record = app.get(job.id).record
            assert (record.step, record.message) == ("waiting", "for its webhook")
            assert record.lease_owner is None
        # While they wait, the workers run other jobs.
        short = [app.submit("count", {"n": 5}) for _ in range(4)]
        assert [j.result(timeout=30) for j in short] == [5] * 4
        assert all(app.get(j.id).status == JobStatus.WAITING for j in waiters)
        for i, job in enumerate(waiters):
            assert app.deliver(job.id, "only", f'{{"video": "v{i}.mp4"}}') is True
            assert app.deliver(job.id, "only", "{}") is False  # a repeat changes nothing
        for i, job in enumerate(waiters):
            result = job.result(timeout=30)
            assert result["got"] == {"video": f"v{i}.mp4"}
            record = app.get(job.id).record
            assert record.attempt == 1 and record.step == "using it"
        # the side effect before the wait happened once per job
        lines = (tmp_path / "marks.txt").read_text().split()
        assert sorted(lines) == [f"w{i}" for i in range(4)]

    def test_an_async_task_waits_twice_and_keeps_what_it_did_once(
        self, app: App, tmp_path: Path
    ) -> None:
        marks = str(tmp_path / "marks.txt")
        job = app.submit("awaiter", {"marks": marks, "tag": "a"})
        self.until_status(app, job.id, JobStatus.WAITING)
        app.deliver(job.id, "one", '{"n": 1}')
        deadline = time.monotonic() + 30
        while app.get(job.id).record.step != "waiting again":
            assert time.monotonic() < deadline
            time.sleep(0.02)
        self.until_status(app, job.id, JobStatus.WAITING)
        app.deliver(job.id, "two", '{"n": 2}')
        assert job.result(timeout=30) == {"ticket": 1, "got": [{"n": 1}, {"n": 2}]}
        assert (tmp_path / "marks.txt").read_text() == "a\n"

    def test_a_wait_polls_on_a_worker_and_times_out(self, app: App, tmp_path: Path) -> None:
        status = tmp_path / "status.txt"
        status.write_text("")
        job = app.submit("poller", {"status_file": str(status)})
        self.until_status(app, job.id, JobStatus.WAITING)
        status.write_text("done")
        assert job.result(timeout=30) == {"polled": "done"}
        late = tmp_path / "never.txt"
        late.write_text("")
        job = app.submit("poller", {"status_file": str(late), "timeout": 0.5}).wait(timeout=30)
        assert job.status == JobStatus.FAILED
        assert job.record.error_code == "callback_timeout"

    def test_a_waiting_job_is_cancelled_at_once(self, app: App, tmp_path: Path) -> None:
        job = app.submit("waiter", {"marks": str(tmp_path / "m.txt"), "tag": "c"})
        self.until_status(app, job.id, JobStatus.WAITING)
        assert app.cancel(job.id).status == JobStatus.CANCELLED

    def test_the_executor_is_the_one_asked_for(self, app: App) -> None:
        assert app.worker is not None and app.worker.executor.kind == self.kind

    def test_a_task_runs_and_its_result_is_stored(self, app: App) -> None:
        job = app.submit("count", {"n": 50})
        assert job.result(timeout=30) == 50
        record = job.refresh().record
        assert record.status == JobStatus.SUCCEEDED and record.attempt == 1
        assert record.current == record.total == 50 and record.step == "counting"

    def test_progress_reaches_the_store_and_the_watchers_in_order(self, app: App) -> None:
        job = app.submit("count", {"n": 30, "delay": 0.01})
        watched = list(job.watch())
        assert watched[-1]["job"]["status"] == "succeeded"
        stored = app.store.events(job.id)  # the claim, the progress and the outcome
        seqs = [e["seq"] for e in stored]
        assert seqs == sorted(set(seqs))
        assert stored[0]["job"]["status"] == "running"
        assert stored[-1]["job"] == watched[-1]["job"]
        assert any(e["kind"] == "progress" and e["job"]["step"] == "counting" for e in stored)

    def test_an_exception_fails_the_job_with_its_error(self, app: App) -> None:
        job = app.submit("fail", {"message": "it broke"}).wait(timeout=30)
        assert job.status == JobStatus.FAILED
        assert job.record.error_code == "task_error"
        assert "ValueError: it broke" in (job.record.error_message or "")
        assert job.record.step == "failing"

    def test_a_failed_attempt_is_retried_as_the_same_job(self, app: App) -> None:
        job = app.submit("retried").wait(timeout=30)
        assert job.status == JobStatus.FAILED
        assert job.record.attempt == 2

    def test_async_tasks_run(self, app: App) -> None:
        assert app.submit("nap", {"n": 7}).result(timeout=30) == 7

    def test_cancel_stops_a_running_task_at_its_next_progress_call(self, app: App) -> None:
        job = app.submit("spin", {"seconds": 60})
        self.until_running(app, job.id)
        app.cancel(job.id)
        job.wait(timeout=30)
        assert job.status == JobStatus.CANCELLED
        assert job.record.error_code is None

    def test_cancel_stops_an_async_task_that_never_calls_progress(self, app: App) -> None:
        job = app.submit("sleepy", {"seconds": 60})
        self.until_running(app, job.id)
        app.cancel(job.id)
        job.wait(timeout=30)
        assert job.status == JobStatus.CANCELLED
        assert job.record.error_code is None  # its coroutine was cancelled, no grace needed

    def test_a_task_that_ignores_its_cancel_is_recorded_cancelled_after_the_grace(
        self, app: App
    ) -> None:
        job = app.submit("stubborn", {"seconds": 3})
        self.until_running(app, job.id)
        app.cancel(job.id)
        job.wait(timeout=30)
        assert job.status == JobStatus.CANCELLED
        assert job.record.error_code == "cancel_grace_exceeded"

    def test_attempts_run_side_by_side_up_to_the_concurrency(self, app: App) -> None:
        jobs = [app.submit("spin", {"seconds": 60}) for _ in range(2)]
        try:
            for job in jobs:
                self.until_running(app, job.id)
            assert all(app.get(job.id).status == JobStatus.RUNNING for job in jobs)
        finally:
            for job in jobs:
                app.cancel(job.id)
            for job in jobs:
                assert job.wait(timeout=30).status == JobStatus.CANCELLED

    @staticmethod
    def until_running(app: App, job_id: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while (record := app.record(job_id)).current < 1 and record.step is None:
            assert not record.terminal, record
            assert time.monotonic() < deadline, f"{job_id} never started: {record.status}"
            time.sleep(0.02)


class TestThreadExecutor(ExecutorContract):
    kind = "threads"


@pytest.mark.slow
class TestProcessExecutor(ExecutorContract):
    kind = "processes"


@pytest.mark.slow
class TestCeleryExecutor(ExecutorContract):
    """Celery delivers the jobs: messages on kombu's in-memory transport, consumed by an
    embedded Celery worker (a threads pool of 2) that hands each to this process's worker."""

    kind = "celery"

    @classmethod
    @contextlib.contextmanager
    def running(cls, app: App) -> Iterator[None]:
        from celery.contrib.testing.worker import start_worker

        from jobwire.executors.celery import CeleryExecutor

        executor = app.executor
        assert isinstance(executor, CeleryExecutor)
        app.start()
        with start_worker(
            executor.celery,
            concurrency=2,
            pool="threads",
            perform_ping_check=False,
            shutdown_timeout=10,
        ):
            yield
        app.stop(grace=2.0)
