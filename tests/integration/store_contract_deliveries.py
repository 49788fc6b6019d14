"""The store contract's part about notifications of jobs' ends: :class:`DeliveriesContract`
is mixed into ``StoreContract`` (test_store_contract.py), so it runs on memory, SQLite and
PostgreSQL alike. It uses that class's helpers (``job``, ``claim_one``, ``clock``,
``another``) and its module's ``finish``."""

from __future__ import annotations

import json
from typing import Any

import pytest

from jobwire.snapshot import JobRecord
from jobwire.status import JobStatus
from jobwire.store import DeliveryAttempt, Store

S = JobStatus
URL = "https://hooks.example.com/jobs?k=1"
LEASE = 30.0


def attempt(outcome: str, at: float, code: int | None = None, error: str | None = None) -> Any:
    return DeliveryAttempt(0, at, 0.25, code, error, outcome)  # type: ignore[arg-type]


class DeliveriesContract:
    """A delivery is owed when a job with a notify_url ends, whatever ends it, and only
    then; senders claim it under a lease; every attempt is recorded."""

    def notified(self, store: Store, **kw: Any) -> JobRecord:
        record = self.job(**kw)  # type: ignore[attr-defined]
        record.notify_url = URL
        job, outcome = store.submit(record)
        assert outcome == "created"
        assert job.notify_url == URL
        got = store.get(job.id)
        assert got is not None and got.notify_url == URL
        return job

    def end(self, store: Store, status: JobStatus, **kw: Any) -> JobRecord:
        from tests.integration.test_store_contract import finish

        job = self.notified(store, **kw)
        running = self.claim_one(store, task=job.task)  # type: ignore[attr-defined]
        assert running.id == job.id
        res = store.write("w1", [], [finish(running, status, error_code="boom")])
        assert res.rejected == []
        return running

    def test_a_job_without_a_notify_url_owes_nothing(self, store: Store) -> None:
        job = self.submit(store)  # type: ignore[attr-defined]
        assert store.get(job.id).notify_url is None  # type: ignore[union-attr]
        self.succeed(store, self.claim_one(store))  # type: ignore[attr-defined]
        assert store.deliveries(job.id) == []
        assert store.claim_deliveries("s1", 10, LEASE) == []

    @pytest.mark.parametrize("status", [S.SUCCEEDED, S.FAILED, S.CANCELLED])
    def test_the_end_of_a_job_adds_its_delivery_in_the_same_write(
        self, store: Store, status: JobStatus
    ) -> None:
        job = self.end(store, status)
        now = self.clock()  # type: ignore[attr-defined]
        (d,) = store.deliveries(job.id)
        assert (d.job_id, d.event, d.url) == (job.id, f"job.{status.value}", URL)
        assert (d.status, d.attempts, d.history) == ("pending", 0, ())
        assert d.created_at == d.updated_at == d.next_attempt_at == now
        body = json.loads(d.payload)
        assert set(body) == {"type", "timestamp", "data"}
        assert body["type"] == f"job.{status.value}"
        assert body["timestamp"].endswith("Z")
        assert body["data"]["id"] == job.id and body["data"]["status"] == status.value
        assert body["data"] == store.events(job.id)[-1]["job"]  # the final snapshot
        assert "notify_url" not in body["data"]

    def test_a_retry_is_not_an_end(self, store: Store) -> None:
        from tests.integration.test_store_contract import finish

        job = self.notified(store, max_attempts=2)
        running = self.claim_one(store)  # type: ignore[attr-defined]
        store.write("w1", [], [finish(running, S.QUEUED, run_after=self.clock())])  # type: ignore[attr-defined]
        assert store.get(job.id).status == S.QUEUED  # type: ignore[union-attr]
        assert store.deliveries(job.id) == []

    def test_cancels_recovery_and_release_end_jobs_with_their_delivery(self, store: Store) -> None:
        queued = self.notified(store)
        store.cancel(queued.id)  # queued: cancelled at once
        assert [d.event for d in store.deliveries(queued.id)] == ["job.cancelled"]

        running = self.notified(store)
        self.claim_one(store)  # type: ignore[attr-defined]
        store.cancel(running.id)  # running: flagged only, not ended
        assert store.deliveries(running.id) == []
        assert [e["job"]["status"] for e in store.release("w1", [running.id])] == ["cancelled"]
        assert [d.event for d in store.deliveries(running.id)] == ["job.cancelled"]

        lost = self.notified(store)
        self.claim_one(store, lease=1.0)  # type: ignore[attr-defined]
        self.clock.advance(2)  # type: ignore[attr-defined]
        assert [e["job"]["status"] for e in store.recover({})] == ["failed"]
        (d,) = store.deliveries(lost.id)
        assert d.event == "job.failed"
        assert json.loads(d.payload)["data"]["error"]["code"] == "worker_lost"

        requeued = self.notified(store)
        self.claim_one(store)  # type: ignore[attr-defined]
        store.release("w1", [requeued.id])  # a shutdown requeues it: not an end
        assert store.deliveries(requeued.id) == []

    def test_a_claim_leases_due_deliveries_to_one_sender(self, store: Store) -> None:
        first = self.end(store, S.SUCCEEDED)
        self.clock.advance(1)  # type: ignore[attr-defined]
        second = self.end(store, S.FAILED)
        claimed = store.claim_deliveries("s1", 10, LEASE)
        assert [d.job_id for d in claimed] == [first.id, second.id]  # oldest due first
        assert store.claim_deliveries("s2", 10, LEASE) == []  # leased
        other = self.another(store)  # type: ignore[attr-defined]
        try:
            assert other.claim_deliveries("s3", 10, LEASE) == []  # in another process too
        finally:
            if other is not store:
                other.close()
        self.clock.advance(LEASE + 1)  # type: ignore[attr-defined]
        # The lease ran out (its sender died): another sender takes them, one at a time.
        assert [d.job_id for d in store.claim_deliveries("s2", 1, LEASE)] == [first.id]
        assert [d.job_id for d in store.claim_deliveries("s2", 5, LEASE)] == [second.id]
        assert store.claim_deliveries("s2", 0, LEASE) == []

    def test_attempts_are_recorded_and_retries_wait_until_due(self, store: Store) -> None:
        job = self.end(store, S.SUCCEEDED)
        (d,) = store.claim_deliveries("s1", 10, LEASE)
        t0 = self.clock()  # type: ignore[attr-defined]
        assert store.record_attempt("s1", d.id, attempt("retry", t0, 500, "HTTP 500"), t0 + 10)
        (now,) = store.deliveries(job.id)
        assert (now.status, now.attempts, now.next_attempt_at) == ("pending", 1, t0 + 10)
        assert store.claim_deliveries("s1", 10, LEASE) == []  # not due yet
        self.clock.advance(5)  # type: ignore[attr-defined]
        assert store.claim_deliveries("s1", 10, LEASE) == []
        self.clock.advance(5)  # type: ignore[attr-defined]
        (again,) = store.claim_deliveries("s2", 10, LEASE)
        assert again.id == d.id and again.payload == d.payload  # the same body, the same id
        t1 = self.clock()  # type: ignore[attr-defined]
        assert not store.record_attempt("s1", d.id, attempt("delivered", t1, 200))  # not its
        assert store.record_attempt("s2", d.id, attempt("delivered", t1, 204))
        assert not store.record_attempt("s2", d.id, attempt("delivered", t1, 204))  # once
        (done,) = store.deliveries(job.id)
        assert (done.status, done.attempts, done.next_attempt_at) == ("delivered", 2, None)
        assert [(a.n, a.outcome, a.status_code, a.error) for a in done.history] == [
            (1, "retry", 500, "HTTP 500"),
            (2, "delivered", 204, None),
        ]
        assert done.history[0].at == t0 and done.history[0].duration == 0.25
        self.clock.advance(3600)  # type: ignore[attr-defined]
        assert store.claim_deliveries("s1", 10, LEASE) == []  # finished: never again

    @pytest.mark.parametrize("outcome", ["gone", "refused", "failed"])
    def test_final_outcomes_end_the_delivery(self, store: Store, outcome: str) -> None:
        job = self.end(store, S.SUCCEEDED)
        (d,) = store.claim_deliveries("s1", 10, LEASE)
        error = "x" * 2000
        assert store.record_attempt("s1", d.id, attempt(outcome, self.clock(), None, error))  # type: ignore[attr-defined]
        (done,) = store.deliveries(job.id)
        assert (done.status, done.next_attempt_at) == (outcome, None)
        assert len(done.history[0].error or "") == 500  # kept short
        self.clock.advance(3600)  # type: ignore[attr-defined]
        assert store.claim_deliveries("s1", 10, LEASE) == []

    def test_a_sender_whose_lease_ran_out_records_nothing(self, store: Store) -> None:
        job = self.end(store, S.SUCCEEDED)
        (d,) = store.claim_deliveries("slow", 10, 1.0)
        self.clock.advance(2)  # type: ignore[attr-defined]
        (taken,) = store.claim_deliveries("fast", 10, LEASE)
        assert taken.id == d.id
        assert not store.record_attempt("slow", d.id, attempt("delivered", self.clock(), 200))  # type: ignore[attr-defined]
        assert store.record_attempt("fast", d.id, attempt("delivered", self.clock(), 200))  # type: ignore[attr-defined]
        assert [a.n for a in store.deliveries(job.id)[0].history] == [1]

    def test_concurrent_senders_claim_each_delivery_once(self, store: Store) -> None:
        from tests.integration.test_store_contract import run_threads

        jobs = [self.end(store, S.SUCCEEDED) for _ in range(6)]
        stores = [self.another(store) for _ in range(4)]  # type: ignore[attr-defined]
        try:
            got = run_threads(4, lambda i: stores[i].claim_deliveries(f"s{i}", 3, LEASE))
        finally:
            for other in stores:
                if other is not store:
                    other.close()
        claimed = [d.job_id for batch in got for d in batch]
        assert sorted(claimed) == sorted(j.id for j in jobs)

    def test_deleting_a_job_keeps_what_is_still_owed(self, store: Store) -> None:
        done = self.end(store, S.SUCCEEDED)
        (d,) = store.claim_deliveries("s1", 10, LEASE)
        assert store.record_attempt("s1", d.id, attempt("delivered", self.clock(), 200))  # type: ignore[attr-defined]
        owed = self.end(store, S.FAILED)
        store.delete(done.id)
        store.delete(owed.id)
        assert store.deliveries(done.id) == []  # finished: gone with its job
        (pending,) = store.deliveries(owed.id)  # still owed: sent after all
        (claimed,) = store.claim_deliveries("s1", 10, LEASE)
        assert claimed.id == pending.id
        assert store.record_attempt("s1", claimed.id, attempt("gone", self.clock(), 410))  # type: ignore[attr-defined]
        store.purge(self.clock() - 1)  # type: ignore[attr-defined]
        assert store.deliveries(owed.id) == []  # finished, its job gone: retention took it

    def test_retention_takes_finished_deliveries_and_keeps_owed_ones(self, store: Store) -> None:
        job = self.end(store, S.SUCCEEDED)
        (d,) = store.claim_deliveries("s1", 10, LEASE)
        assert store.record_attempt("s1", d.id, attempt("delivered", self.clock(), 200))  # type: ignore[attr-defined]
        kept = self.end(store, S.SUCCEEDED)
        assert store.purge(self.clock.advance(10) - 5) == 2  # type: ignore[attr-defined]
        assert store.deliveries(job.id) == []
        assert [x.status for x in store.deliveries(kept.id)] == ["pending"]
