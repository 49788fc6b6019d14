"""The store contract's part about durable waits: :class:`WaitsContract` is mixed into
``StoreContract`` (test_store_contract.py), so it runs on memory, SQLite and PostgreSQL
alike. It uses that class's helpers (``submit``, ``claim_one``, ``claim``, ``clock``)."""

from __future__ import annotations

from typing import Any

from jobwire.snapshot import JobRecord
from jobwire.status import JobStatus
from jobwire.store import Finish, Store

S = JobStatus
LEASE = 30.0


def suspend(job: JobRecord, *, wake_at: float, index: int = 0, **kw: Any) -> Finish:
    values: dict[str, Any] = {
        "current": 3,
        "total": 10,
        "step": "dreaming",
        "message": "at the provider",
        "run_after": wake_at,
        "wait_index": index,
    }
    values.update(kw)
    return Finish(job.id, job.attempt, S.WAITING, **values)


class WaitsContract:
    """A waiting attempt holds no lease and goes on, as the same attempt, when due."""

    def wait_one(self, store: Store, wake_in: float = 100.0) -> JobRecord:
        self.submit(store)  # type: ignore[attr-defined]
        job = self.claim_one(store)  # type: ignore[attr-defined]
        res = store.write("w1", [], [suspend(job, wake_at=self.clock() + wake_in)])  # type: ignore[attr-defined]
        assert res.rejected == [] and len(res.events) == 1
        waiting = store.get(job.id)
        assert waiting is not None
        return waiting

    def test_a_suspended_attempt_waits_without_a_lease(self, store: Store) -> None:
        job = self.wait_one(store)
        assert job.status == S.WAITING and job.lease_owner is None
        assert (job.current, job.total, job.step, job.message) == (
            3,
            10,
            "dreaming",
            "at the provider",
        )
        assert job.attempt == 1
        # not due: no claim takes it, and no sweep sees it
        assert self.claim(store, "w2", 5, tasks=["classify"], limits={}, lease_seconds=LEASE) == []  # type: ignore[attr-defined]
        assert store.due_waits(self.clock()) == []  # type: ignore[attr-defined]
        assert store.recover({}) == []

    def test_a_delivery_makes_it_due_and_it_goes_on_as_the_same_attempt(self, store: Store) -> None:
        job = self.wait_one(store)
        assert store.add_hook(job.id, "k1", '{"state": "completed"}') is True
        assert store.due_waits(self.clock()) == [(job.id, "classify")]  # type: ignore[attr-defined]
        self.clock.advance(5)  # type: ignore[attr-defined]
        resumed = self.claim_one(store, worker="w2")  # type: ignore[attr-defined]
        assert resumed.id == job.id and resumed.status == S.RUNNING
        assert resumed.attempt == 1 and resumed.started_at == job.started_at
        assert (resumed.current, resumed.message) == (3, "at the provider")
        assert resumed.lease_owner == "w2"
        assert store.callbacks(job.id, 1) == ['{"state": "completed"}']

    def test_it_goes_on_at_its_wake_time_without_a_delivery(self, store: Store) -> None:
        job = self.wait_one(store, wake_in=10.0)
        self.clock.advance(9.9)  # type: ignore[attr-defined]
        assert store.due_waits(self.clock()) == []  # type: ignore[attr-defined]
        self.clock.advance(0.2)  # type: ignore[attr-defined]
        assert store.due_waits(self.clock()) == [(job.id, "classify")]  # type: ignore[attr-defined]
        record, event = store.claim_one("w3", job.id, limit=None, lease_seconds=LEASE)
        assert event is not None and record is not None and record.attempt == 1

    def test_a_delivery_during_the_run_makes_the_suspension_due_at_once(self, store: Store) -> None:
        self.submit(store)  # type: ignore[attr-defined]
        job = self.claim_one(store)  # type: ignore[attr-defined]
        store.add_hook(job.id, "early", '{"n": 1}')  # came while the attempt still ran
        store.write("w1", [], [suspend(job, wake_at=self.clock() + 1000, index=0)])  # type: ignore[attr-defined]
        assert store.due_waits(self.clock()) == [(job.id, "classify")]  # type: ignore[attr-defined]
        # ...but not for a later wait, which that delivery does not answer
        resumed = self.claim_one(store)  # type: ignore[attr-defined]
        store.write("w1", [], [suspend(resumed, wake_at=self.clock() + 1000, index=1)])  # type: ignore[attr-defined]
        assert store.due_waits(self.clock()) == []  # type: ignore[attr-defined]

    def test_deliveries_are_in_order_per_attempt_and_repeats_are_dropped(
        self, store: Store
    ) -> None:
        job = self.wait_one(store)
        for i, key in enumerate(["a", "b", "a", "c"]):
            self.clock.advance(0.001)  # type: ignore[attr-defined]
            store.add_hook(job.id, key, f'{{"i": {i}}}')
        assert store.callbacks(job.id, 1) == ['{"i": 0}', '{"i": 1}', '{"i": 3}']
        assert store.callbacks(job.id, 2) == []
        assert store.hook(job.id) == '{"i": 0}'

    def test_memos_are_kept_once_per_attempt_under_the_lease(self, store: Store) -> None:
        self.submit(store)  # type: ignore[attr-defined]
        job = self.claim_one(store)  # type: ignore[attr-defined]
        assert store.put_memo("w1", job.id, 1, "ask", '"ticket-1"') is True
        assert store.put_memo("w1", job.id, 1, "ask", '"ticket-2"') is True  # kept: the first
        assert store.memos(job.id, 1) == {"ask": '"ticket-1"'}
        assert store.put_memo("someone", job.id, 1, "other", "1") is False  # no lease
        assert store.put_memo("w1", job.id, 2, "other", "1") is False  # not its attempt
        assert store.memos(job.id, 2) == {}
        store.write("w1", [], [suspend(job, wake_at=self.clock() + 10)])  # type: ignore[attr-defined]
        assert store.put_memo("w1", job.id, 1, "late", "1") is False  # waiting: no lease

    def test_a_waiting_job_is_cancelled_at_once(self, store: Store) -> None:
        job = self.wait_one(store)
        record, event = store.cancel(job.id)
        assert record.status == S.CANCELLED and event is not None

    def test_waiting_counts_for_the_owner_limit_not_for_the_task_limit(self, store: Store) -> None:
        job = self.wait_one(store)
        other = self.job()  # type: ignore[attr-defined]
        from jobwire.errors import OwnerLimitReached

        try:
            store.submit(other, owner_limit=1)
            raise AssertionError("the waiting job did not count")
        except OwnerLimitReached:
            pass
        self.submit(store, owner="bob")  # type: ignore[attr-defined]
        # max_concurrency 1: the waiting job does not take the one place
        claimed = self.claim(
            store, "w2", 1, tasks=["classify"], limits={"classify": 1}, lease_seconds=LEASE
        )  # type: ignore[attr-defined]
        assert [j.owner for j, _ in claimed] == ["bob"]
        assert store.get(job.id).status == S.WAITING  # type: ignore[union-attr]

    def test_deleting_a_job_forgets_its_memos_and_deliveries(self, store: Store) -> None:
        self.submit(store)  # type: ignore[attr-defined]
        job = self.claim_one(store)  # type: ignore[attr-defined]
        store.put_memo("w1", job.id, 1, "ask", "1")
        store.add_hook(job.id, "k", "{}")
        self.succeed(store, job)  # type: ignore[attr-defined]
        store.delete(job.id)
        assert store.memos(job.id, 1) == {} and store.callbacks(job.id, 1) == []
