"""The store contract's part about time per step: :class:`StepsContract` is mixed into
``StoreContract`` (test_store_contract.py), so it runs on memory, SQLite and PostgreSQL
alike. It uses that class's helpers (``submit``, ``claim_one``, ``clock``)."""

from __future__ import annotations

from typing import Any

from jobwire.snapshot import JobRecord, snapshot
from jobwire.status import JobStatus
from jobwire.steps import StepTime
from jobwire.store import Finish, Report, Store

S = JobStatus


def progress(job: JobRecord, steps: list[StepTime] | None, **kw: Any) -> Report:
    values: dict[str, Any] = {"step": steps[-1].name if steps else None, "steps": steps}
    values.update(kw)
    return Report(job.id, job.attempt, "progress", 1, 10, message=None, **values)


def end(job: JobRecord, status: JobStatus, steps: list[StepTime] | None, **kw: Any) -> Finish:
    return Finish(job.id, job.attempt, status, 10, 10, "b", None, steps=steps, **kw)


class StepsContract:
    """Steps are kept with their times, written only when given, cleared by a new attempt
    and kept by a resumed one; a succeeded run's step durations go to the history."""

    def running(self, store: Store, **kw: Any) -> JobRecord:
        self.submit(store, **kw)  # type: ignore[attr-defined]
        job: JobRecord = self.claim_one(store)  # type: ignore[attr-defined]
        return job

    def test_steps_are_kept_and_a_report_without_them_keeps_them(self, store: Store) -> None:
        job = self.running(store)
        assert job.steps == []
        t = self.clock()  # type: ignore[attr-defined]
        steps = [StepTime("a", t, t + 2.5, 3.0), StepTime("b", t + 2.5), StepTime("c", None)]
        assert store.write("w1", [progress(job, steps)], []).rejected == []
        res = store.write("w1", [progress(job, None, step="b")], [])
        assert res.events[0]["job"]["steps"][0]["seconds"] == 2.5
        got = store.get(job.id)
        assert got is not None and got.steps == steps
        snap = snapshot(got)["steps"]
        assert [s["name"] for s in snap] == ["a", "b", "c"]
        assert snap[0]["typical_seconds"] == 3.0 and snap[1]["seconds"] is None
        assert snap[2]["started_at"] is None and snap[1]["finished_at"] is None

    def test_a_success_records_step_durations_in_the_history(self, store: Store) -> None:
        t = self.clock()  # type: ignore[attr-defined]
        for took in (10.0, 30.0):
            job = self.running(store)
            steps = [StepTime("a", t, t + 1), StepTime("b", t + 1, t + 1 + took)]
            assert (
                store.write("w1", [], [end(job, S.SUCCEEDED, steps, duration=1.0)]).rejected == []
            )
            self.clock.advance(1)  # type: ignore[attr-defined]
        job = self.running(store)  # a failure adds nothing
        failed = [StepTime("a", t, t + 99)]
        store.write("w1", [], [end(job, S.FAILED, failed, error_code="x", error_message="x")])
        assert store.step_history("classify") == [{"a": 1.0, "b": 30.0}, {"a": 1.0, "b": 10.0}]
        assert store.step_history("classify", limit=1) == [{"a": 1.0, "b": 30.0}]
        assert store.step_history("other") == []

    def test_a_run_without_steps_leaves_none_in_the_step_history(self, store: Store) -> None:
        job = self.running(store)
        store.write("w1", [], [end(job, S.SUCCEEDED, [], duration=1.0)])
        assert store.step_history("classify") == []
        assert len(store.history("classify")) == 1

    def test_a_retry_starts_with_no_steps(self, store: Store) -> None:
        job = self.running(store, max_attempts=2)
        t = self.clock()  # type: ignore[attr-defined]
        steps = [StepTime("a", t, t + 1)]
        fin = end(job, S.QUEUED, steps, error_code="x", error_message="x", run_after=t)
        assert store.write("w1", [], [fin]).rejected == []
        got = store.get(job.id)
        assert got is not None and got.steps == steps
        again = self.claim_one(store, worker="w2")  # type: ignore[attr-defined]
        assert again.attempt == 2 and again.steps == []
        stored = store.get(job.id)
        assert stored is not None and stored.steps == []

    def test_a_resumed_attempt_keeps_its_steps_and_a_waiting_eta(self, store: Store) -> None:
        job = self.running(store)
        t = self.clock()  # type: ignore[attr-defined]
        steps = [StepTime("submit", t, t + 1), StepTime("dreaming", t + 1, None, 70.0)]
        fin = Finish(
            job.id, job.attempt, S.WAITING, 0, None, "dreaming", None,
            steps=steps, run_after=t + 5, wait_index=0, eta_seconds=69.0,
        )  # fmt: skip
        assert store.write("w1", [], [fin]).rejected == []
        waiting = store.get(job.id)
        assert waiting is not None and waiting.steps == steps and waiting.eta_seconds == 69.0
        self.clock.advance(6)  # type: ignore[attr-defined]
        resumed = self.claim_one(store, worker="w2")  # type: ignore[attr-defined]
        assert resumed.attempt == 1 and resumed.steps == steps

    def test_a_job_cancelled_while_waiting_shows_its_open_step_ended(self, store: Store) -> None:
        job = self.running(store)
        t = self.clock()  # type: ignore[attr-defined]
        steps = [StepTime("dreaming", t, None)]
        fin = Finish(
            job.id, job.attempt, S.WAITING, 0, None, "dreaming", None,
            steps=steps, run_after=t + 100, wait_index=0,
        )  # fmt: skip
        store.write("w1", [], [fin])
        self.clock.advance(4)  # type: ignore[attr-defined]
        cancelled, _ = store.cancel(job.id)
        step = snapshot(cancelled)["steps"][0]
        assert step["finished_at"] is not None and step["seconds"] == 4.0
