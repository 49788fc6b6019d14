"""One contract for every Store implementation, run against SQLite, PostgreSQL and memory.

The tests use the store only through its public methods (no SQL), so the same class checks
any implementation: subclass :class:`StoreContract` and provide a ``store`` fixture built
with the ``wall_clock`` fixture as its clock. Time only moves when a test moves it, so
leases, retry delays and the result cache are tested without sleeping.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import pytest

from jobwire.errors import (
    JobAlreadyFinished,
    JobNotFinished,
    JobNotFound,
    JobwireError,
    OwnerLimitReached,
)
from jobwire.retry import retry_delay
from jobwire.snapshot import Event, JobRecord
from jobwire.status import JobState, JobStatus, Transition, check
from jobwire.store import ApiKey, Claim, Finish, Report, Store, migrate
from jobwire.store.common import EVENTS_KEPT, HISTORY_KEPT, PRUNE_EVERY
from jobwire.store.sql import SQLStore
from jobwire.testing import MemoryStore
from tests.conftest import FakeClock
from tests.integration.store_contract_deliveries import DeliveriesContract
from tests.integration.store_contract_files import FilesContract
from tests.integration.store_contract_shares import SharesContract
from tests.integration.store_contract_steps import StepsContract
from tests.integration.store_contract_waits import WaitsContract

S = JobStatus
LEASE = 30.0


def new_job(
    task: str = "classify",
    owner: str = "alice",
    *,
    created_at: float,
    dedupe_key: str | None = None,
    run_after: float | None = None,
    max_attempts: int = 1,
    args: dict[str, Any] | None = None,
) -> JobRecord:
    return JobRecord(
        id=uuid.uuid4().hex,
        task=task,
        owner=owner,
        args=args if args is not None else {"file_id": "f1"},
        created_at=created_at,
        run_after=run_after if run_after is not None else created_at,
        max_attempts=max_attempts,
        dedupe_key=dedupe_key,
    )


def finish(job: JobRecord, status: JobStatus, **changes: Any) -> Finish:
    values: dict[str, Any] = {
        "job_id": job.id,
        "attempt": job.attempt,
        "status": status,
        "current": job.current,
        "total": job.total,
        "step": job.step,
        "message": job.message,
    }
    values.update(changes)
    return Finish(**values)


def report(job: JobRecord, current: int, **changes: Any) -> Report:
    values: dict[str, Any] = {
        "job_id": job.id,
        "attempt": job.attempt,
        "kind": "progress",
        "current": current,
        "total": job.total,
        "step": job.step,
        "message": job.message,
    }
    values.update(changes)
    return Report(**values)


def run_threads(n: int, target: Callable[[int], Any]) -> list[Any]:
    """Run ``target(i)`` in ``n`` threads released at the same moment; return what each
    returned or raised."""
    barrier = threading.Barrier(n)
    out: list[Any] = [None] * n

    def body(i: int) -> None:
        barrier.wait()
        try:
            out[i] = target(i)
        except Exception as exc:  # collected and asserted on by the test
            out[i] = exc

    threads = [threading.Thread(target=body, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads)
    return out


class StoreContract(
    FilesContract, SharesContract, WaitsContract, StepsContract, DeliveriesContract
):
    """The behaviour every Store must have (the result cache's counters, files and blobs:
    :class:`~tests.integration.store_contract_files.FilesContract`; shares:
    :class:`~tests.integration.store_contract_shares.SharesContract`; notifications of jobs'
    ends: :class:`~tests.integration.store_contract_deliveries.DeliveriesContract`)."""

    clock: FakeClock

    @pytest.fixture
    def store(self) -> Iterator[Store]:  # pragma: no cover - provided by subclasses
        raise NotImplementedError

    @pytest.fixture(autouse=True)
    def _wall_clock(self, wall_clock: FakeClock) -> None:
        self.clock = wall_clock  # the store fixture is built with this same clock

    # -- what differs between implementations ------------------------------------------

    def another(self, store: Store) -> Store:
        """Another store on the same data, as another process would open it."""
        raise NotImplementedError

    def check_first_upgrade(self, applied: list[str]) -> None:
        """What the first ``upgrade()`` of a new store returns."""
        raise NotImplementedError

    @pytest.fixture(autouse=True)
    def _status_changes_follow_the_state_machine(self, store: Store) -> Iterator[None]:
        """After every test, each job's status events replay through ``status.check``: no
        SQL the store ran (claims, reports, finishes, cancels, recovery, release) made a move
        that ``TRANSITIONS`` does not allow."""
        yield
        cursor: str | None = None
        while True:
            page = store.list(cursor=cursor, limit=200)
            for job in page.jobs:
                status = JobStatus.QUEUED  # every job starts queued, with no event
                for event in store.events(job.id, limit=10 * EVENTS_KEPT):
                    to = JobStatus(event["job"]["status"])
                    if to != status:
                        assert check(JobState(status), Transition(to)) is None, (job.id, event)
                        status = to
                assert status == job.status, job.id
            cursor = page.next_cursor
            if cursor is None:
                break

    # -- helpers ----------------------------------------------------------------------

    def job(self, task: str = "classify", owner: str = "alice", **kw: Any) -> JobRecord:
        """A new job record, created now by the store's clock unless told otherwise. The
        clock ticks a millisecond first, so that jobs are ordered as they were made."""
        if "created_at" not in kw:
            kw["created_at"] = self.clock.advance(0.001)
        return new_job(task, owner, **kw)

    def submit(self, store: Store, **kw: Any) -> JobRecord:
        job, outcome = store.submit(self.job(**kw))
        assert outcome == "created"
        return job

    def claim(
        self,
        store: Store,
        worker: str,
        slots: int,
        *,
        tasks: Sequence[str],
        limits: Mapping[str, int],
        lease_seconds: float,
    ) -> list[tuple[JobRecord, Event]]:
        """Claim through ``write``, as workers do: the claimed jobs with their events."""
        res = store.write(worker, [], [], claim=Claim(slots, tasks, limits, lease_seconds))
        assert len(res.events) == len(res.claimed)
        assert [e["job"]["id"] for e in res.events] == [j.id for j in res.claimed]
        return list(zip(res.claimed, res.events, strict=True))

    def claim_one(
        self, store: Store, task: str = "classify", worker: str = "w1", lease: float = LEASE
    ) -> JobRecord:
        claimed = self.claim(store, worker, 1, tasks=[task], limits={}, lease_seconds=lease)
        assert len(claimed) == 1
        return claimed[0][0]

    def succeed(self, store: Store, job: JobRecord, worker: str = "w1", **kw: Any) -> None:
        res = store.write(worker, [], [finish(job, S.SUCCEEDED, **kw)])
        assert res.rejected == []

    # -- migrations -------------------------------------------------------------------

    def test_upgrade_applies_once_and_is_idempotent(self, store: Store) -> None:
        applied = store.upgrade()
        self.check_first_upgrade(applied)
        assert len(applied) == len(set(applied))
        assert store.upgrade() == []
        other = self.another(store)
        try:
            assert other.upgrade() == []
        finally:
            other.close()

    def test_schema_is_created_on_first_use(self, store: Store) -> None:
        job, outcome = store.submit(self.job())
        assert outcome == "created"
        assert store.get(job.id) is not None
        assert store.upgrade() == []

    # -- submit -----------------------------------------------------------------------

    def test_submit_creates_a_queued_job(self, store: Store) -> None:
        record = self.job(args={"file_id": "f1", "n": [1, 2]})
        job, outcome = store.submit(record)
        assert outcome == "created"
        assert job.id == record.id
        assert job.status == S.QUEUED
        assert (job.seq, job.attempt, job.current) == (1, 0, 0)
        got = store.get(job.id)
        assert got is not None
        assert got.args == {"file_id": "f1", "n": [1, 2]}
        assert got.status == S.QUEUED and got.owner == "alice" and got.task == "classify"
        assert got.created_at == pytest.approx(record.created_at)
        # The queued state is the job row itself: no event row is written for it (a stream
        # that resumes from before the first stored event is sent the snapshot).
        assert store.events(job.id) == []

    def test_submit_deduplicates_while_live(self, store: Store) -> None:
        first, outcome = store.submit(self.job(dedupe_key="eda:d1"))
        assert outcome == "created"
        second, outcome = store.submit(self.job(dedupe_key="eda:d1"))
        assert outcome == "deduplicated"
        assert second.id == first.id
        other, outcome = store.submit(self.job(dedupe_key="eda:d2"))
        assert outcome == "created" and other.id != first.id
        # Still live while running.
        running = self.claim_one(store)
        assert running.id == first.id
        again, outcome = store.submit(self.job(dedupe_key="eda:d1"))
        assert (again.id, outcome) == (first.id, "deduplicated")
        assert again.status == S.RUNNING
        assert store.counts()["queued"] + store.counts()["running"] == 2

    def test_submit_after_the_live_job_ended_creates_a_new_one(self, store: Store) -> None:
        first, _ = store.submit(self.job(dedupe_key="k"))
        running = self.claim_one(store)
        self.succeed(store, running)
        # No cache: a finished job does not answer for its key.
        second, outcome = store.submit(self.job(dedupe_key="k"))
        assert outcome == "created" and second.id != first.id
        # A cancelled one neither.
        store.cancel(second.id)
        third, outcome = store.submit(self.job(dedupe_key="k"))
        assert outcome == "created" and third.id not in (first.id, second.id)

    def test_submit_returns_a_cached_result_within_ttl(self, store: Store) -> None:
        first, _ = store.submit(self.job(dedupe_key="sq:3"), cache_ttl=60)
        self.succeed(store, self.claim_one(store), result="9")
        cached, outcome = store.submit(self.job(dedupe_key="sq:3"), cache_ttl=60)
        assert outcome == "cached"
        assert cached.id == first.id and cached.status == S.SUCCEEDED
        assert store.result(cached.id) == "9"
        assert store.counts()["queued"] == 0
        # A different key is not a hit.
        _, outcome = store.submit(self.job(dedupe_key="sq:4"), cache_ttl=60)
        assert outcome == "created"

    def test_submit_does_not_return_a_result_older_than_ttl(self, store: Store) -> None:
        first, _ = store.submit(self.job(dedupe_key="sq:3"), cache_ttl=0.2)
        self.succeed(store, self.claim_one(store), result="9")
        self.clock.advance(0.1)
        cached, outcome = store.submit(self.job(dedupe_key="sq:3"), cache_ttl=0.2)
        assert (cached.id, outcome) == (first.id, "cached")
        self.clock.advance(0.2)
        fresh, outcome = store.submit(self.job(dedupe_key="sq:3"), cache_ttl=0.2)
        assert outcome == "created" and fresh.id != first.id

    def test_only_succeeded_jobs_are_cached(self, store: Store) -> None:
        first, _ = store.submit(self.job(dedupe_key="k"), cache_ttl=60)
        running = self.claim_one(store)
        store.write("w1", [], [finish(running, S.FAILED, error_code="boom")])
        again, outcome = store.submit(self.job(dedupe_key="k"), cache_ttl=60)
        assert outcome == "created" and again.id != first.id

    def test_owner_limit_refuses_and_writes_nothing(self, store: Store) -> None:
        a = self.submit(store)
        self.submit(store)
        before = store.counts()
        with pytest.raises(OwnerLimitReached) as info:
            store.submit(self.job(), owner_limit=2)
        assert info.value.code == "owner_limit_reached"
        assert info.value.details == {"owner": "alice", "task": "classify", "limit": 2}
        assert store.counts() == before
        assert len(store.list(owner="alice").jobs) == 2
        # Other owners and other tasks have their own count.
        _, outcome = store.submit(self.job(owner="bob"), owner_limit=2)
        assert outcome == "created"
        _, outcome = store.submit(self.job(task="other"), owner_limit=2)
        assert outcome == "created"
        # Running jobs count as live; finished ones do not.
        running = self.claim_one(store)
        assert running.id == a.id
        with pytest.raises(OwnerLimitReached):
            store.submit(self.job(), owner_limit=2)
        self.succeed(store, running)
        _, outcome = store.submit(self.job(), owner_limit=2)
        assert outcome == "created"

    def test_dedupe_hit_is_answered_even_at_the_owner_limit(self, store: Store) -> None:
        first, _ = store.submit(self.job(dedupe_key="k"), owner_limit=1)
        same, outcome = store.submit(self.job(dedupe_key="k"), owner_limit=1)
        assert (same.id, outcome) == (first.id, "deduplicated")

    # -- get and list -----------------------------------------------------------------

    def test_get_unknown_is_none(self, store: Store) -> None:
        assert store.get("nope") is None

    def test_list_is_newest_first_and_filters(self, store: Store) -> None:
        t0 = self.clock() - 100
        a = self.submit(store, task="eda", owner="alice", created_at=t0)
        b = self.submit(store, task="eda", owner="bob", created_at=t0 + 1)
        c = self.submit(store, task="drift", owner="alice", created_at=t0 + 2)
        d = self.submit(store, task="eda", owner="alice", created_at=t0 + 3)
        running = self.claim_one(store, task="eda")
        assert running.id == a.id
        store.cancel(b.id)

        def ids(**kw: Any) -> list[str]:
            return [j.id for j in store.list(**kw).jobs]

        assert ids() == [d.id, c.id, b.id, a.id]
        assert ids(task="eda") == [d.id, b.id, a.id]
        assert ids(owner="alice") == [d.id, c.id, a.id]
        assert ids(owner="alice", task="eda") == [d.id, a.id]
        assert ids(status=["queued"]) == [d.id, c.id]
        assert ids(status=["running", "cancelled"]) == [b.id, a.id]
        assert ids(status=["succeeded"]) == []
        assert ids(owner="carol") == []

    def test_cursor_paging_visits_every_job_once(self, store: Store) -> None:
        t0 = self.clock() - 100
        made = [self.submit(store, created_at=t0 + i // 3) for i in range(10)]  # ties
        expected = [j.id for j in sorted(made, key=lambda j: (j.created_at, j.id), reverse=True)]
        seen: list[str] = []
        cursor = None
        pages = 0
        while True:
            page = store.list(cursor=cursor, limit=3)
            pages += 1
            assert len(page.jobs) <= 3
            seen.extend(j.id for j in page.jobs)
            cursor = page.next_cursor
            if cursor is None:
                break
            assert pages < 10
        assert pages == 4
        assert seen == expected
        assert len(set(seen)) == len(seen)

    def test_cursor_with_filters_and_exact_fit(self, store: Store) -> None:
        t0 = self.clock() - 100
        for i in range(4):
            self.submit(store, owner="alice", created_at=t0 + i)
            self.submit(store, owner="bob", created_at=t0 + i)
        page = store.list(owner="alice", limit=2)
        assert [j.owner for j in page.jobs] == ["alice", "alice"]
        assert page.next_cursor is not None
        page2 = store.list(owner="alice", limit=2, cursor=page.next_cursor)
        assert len(page2.jobs) == 2 and page2.next_cursor is None
        assert {j.id for j in page.jobs}.isdisjoint({j.id for j in page2.jobs})

    def test_a_page_holds_at_least_one_job(self, store: Store) -> None:
        t0 = self.clock() - 100
        older = self.submit(store, created_at=t0)
        newer = self.submit(store, created_at=t0 + 1)
        for limit in (0, -3):
            page = store.list(limit=limit)
            assert [j.id for j in page.jobs] == [newer.id]
            assert page.next_cursor is not None
            rest = store.list(limit=limit, cursor=page.next_cursor)
            assert [j.id for j in rest.jobs] == [older.id] and rest.next_cursor is None

    @pytest.mark.parametrize("cursor", ["not-a-cursor", "!!!", "eA", "MTIz", "YWJjfGRlZg", "gA"])
    def test_invalid_cursor_is_a_jobwire_error(self, store: Store, cursor: str) -> None:
        self.submit(store)
        with pytest.raises(JobwireError) as info:
            store.list(cursor=cursor)
        assert info.value.code == "invalid_cursor"

    # -- claim ------------------------------------------------------------------------

    def test_claim_takes_the_oldest_first(self, store: Store) -> None:
        t0 = self.clock() - 100
        late = self.submit(store, created_at=t0 + 2)
        early = self.submit(store, created_at=t0)
        middle = self.submit(store, created_at=t0 + 1)
        before = self.clock()
        claimed = self.claim(store, "w1", 2, tasks=["classify"], limits={}, lease_seconds=LEASE)
        assert [job.id for job, _ in claimed] == [early.id, middle.id]
        for job, event in claimed:
            assert job.status == S.RUNNING
            assert job.attempt == 1
            assert job.seq == 2
            assert job.lease_owner == "w1"
            assert job.started_at is not None and job.started_at >= before - 1
            assert job.lease_expires_at == pytest.approx(job.started_at + LEASE)
            assert event["kind"] == "status" and event["seq"] == 2
            assert event["job"]["status"] == "running" and event["job"]["id"] == job.id
            assert [e["seq"] for e in store.events(job.id)] == [2]
        assert store.get(late.id).status == S.QUEUED
        rest = self.claim(store, "w2", 5, tasks=["classify"], limits={}, lease_seconds=LEASE)
        assert [job.id for job, _ in rest] == [late.id]
        assert self.claim(store, "w2", 5, tasks=["classify"], limits={}, lease_seconds=LEASE) == []

    def test_claim_respects_per_task_limits_across_workers(self, store: Store) -> None:
        t0 = self.clock() - 100
        a = [self.submit(store, task="a", created_at=t0 + i) for i in range(3)]
        b = self.submit(store, task="b", created_at=t0 + 10)
        claimed = self.claim(
            store, "w1", 10, tasks=["a", "b"], limits={"a": 1}, lease_seconds=LEASE
        )
        assert sorted(job.id for job, _ in claimed) == sorted([a[0].id, b.id])
        # Another worker: "a" is at its limit everywhere.
        assert self.claim(store, "w2", 10, tasks=["a"], limits={"a": 1}, lease_seconds=LEASE) == []
        running_a = next(job for job, _ in claimed if job.task == "a")
        self.succeed(store, running_a)
        claimed = self.claim(store, "w2", 10, tasks=["a"], limits={"a": 1}, lease_seconds=LEASE)
        assert [job.id for job, _ in claimed] == [a[1].id]

    def test_claim_limit_above_one(self, store: Store) -> None:
        t0 = self.clock() - 100
        for i in range(5):
            self.submit(store, task="a", created_at=t0 + i)
        first = self.claim(store, "w1", 1, tasks=["a"], limits={"a": 2}, lease_seconds=LEASE)
        second = self.claim(store, "w2", 10, tasks=["a"], limits={"a": 2}, lease_seconds=LEASE)
        assert len(first) == 1 and len(second) == 1
        assert store.counts()["running"] == 2

    def test_claim_only_listed_tasks(self, store: Store) -> None:
        other = self.submit(store, task="other")
        mine = self.submit(store, task="mine")
        claimed = self.claim(store, "w1", 5, tasks=["mine"], limits={}, lease_seconds=LEASE)
        assert [job.id for job, _ in claimed] == [mine.id]
        assert store.get(other.id).status == S.QUEUED
        assert self.claim(store, "w1", 5, tasks=[], limits={}, lease_seconds=LEASE) == []
        assert self.claim(store, "w1", 0, tasks=["other"], limits={}, lease_seconds=LEASE) == []
        assert store.get(other.id).status == S.QUEUED

    def test_claim_skips_jobs_not_yet_due(self, store: Store) -> None:
        now = self.clock()
        later = self.submit(store, created_at=now - 10, run_after=now + 60)
        due = self.submit(store, created_at=now - 5)
        claimed = self.claim(store, "w1", 5, tasks=["classify"], limits={}, lease_seconds=LEASE)
        assert [job.id for job, _ in claimed] == [due.id]
        assert store.get(later.id).status == S.QUEUED

    def test_delayed_job_is_claimed_once_due(self, store: Store) -> None:
        now = self.clock()
        job = self.submit(store, created_at=now, run_after=now + 1.0)
        assert self.claim(store, "w1", 1, tasks=["classify"], limits={}, lease_seconds=LEASE) == []
        self.clock.advance(0.5)
        assert self.claim(store, "w1", 1, tasks=["classify"], limits={}, lease_seconds=LEASE) == []
        self.clock.advance(0.5)  # due exactly now
        assert self.claim_one(store).id == job.id

    # -- write ------------------------------------------------------------------------

    def test_reports_update_the_snapshot_with_growing_seq(self, store: Store) -> None:
        self.submit(store)
        job = self.claim_one(store)
        res = store.write(
            "w1",
            [
                report(
                    job, 1, total=3, step="processing", message="one", eta_seconds=2.0, rate=1.0
                ),
                report(job, 2, total=3, step="processing", message="two"),
            ],
            [],
        )
        assert res.rejected == []
        res2 = store.write(
            "w1",
            [
                report(
                    job,
                    3,
                    total=3,
                    step="saving",
                    kind="log",
                    log="done counting",
                    eta_seconds=0.5,
                    rate=4.0,
                ),
            ],
            [],
        )
        seqs = [e["seq"] for e in res.events + res2.events]
        assert seqs == [3, 4, 5]
        assert [e["job"]["current"] for e in res.events + res2.events] == [1, 2, 3]
        assert res2.events[0]["kind"] == "log" and res2.events[0]["log"] == "done counting"
        got = store.get(job.id)
        assert got is not None
        assert (got.current, got.total, got.step, got.seq) == (3, 3, "saving", 5)
        assert (got.eta_seconds, got.rate) == (0.5, 4.0)
        assert got.status == S.RUNNING
        stored = store.events(job.id)
        assert [e["seq"] for e in stored] == [2, 3, 4, 5]
        assert stored[1]["job"]["message"] == "one"
        assert stored[1]["job"]["percent"] == pytest.approx(33.3)
        assert stored[3]["log"] == "done counting"

    def test_empty_write_does_nothing(self, store: Store) -> None:
        res = store.write("w1", [], [])
        assert res.events == [] and res.rejected == []

    def test_finish_succeeded_stores_result_and_history(self, store: Store) -> None:
        self.submit(store)
        job = self.claim_one(store)
        res = store.write(
            "w1",
            [report(job, 10, total=10, step="saving")],
            [
                finish(
                    job,
                    S.SUCCEEDED,
                    current=10,
                    total=10,
                    step="saving",
                    result='{"labels": 10}',
                    duration=2.5,
                ),
            ],
        )
        assert res.rejected == []
        # The progress report is dropped: the finish in the same batch, in the same step,
        # carries its counts.
        assert [e["seq"] for e in res.events] == [3]
        final = res.events[-1]
        assert final["kind"] == "status"
        assert final["job"]["status"] == "succeeded"
        assert final["job"]["result_url"] == f"/api/jobs/{job.id}/result"
        got = store.get(job.id)
        assert got is not None
        assert got.status == S.SUCCEEDED
        assert got.finished_at is not None and got.finished_at >= got.started_at
        assert got.lease_owner is None and got.lease_expires_at is None
        assert (got.current, got.total, got.step, got.seq) == (10, 10, "saving", 3)
        assert store.result(job.id) == '{"labels": 10}'
        assert store.history("classify") == [(2.5, 10)]
        assert store.history("other") == []
        assert store.events(job.id)[-1]["job"]["status"] == "succeeded"

    def test_history_is_newest_first_and_limited(self, store: Store) -> None:
        for i in range(4):
            self.submit(store)
            job = self.claim_one(store)
            self.succeed(store, job, duration=float(i + 1), total=i * 10)
            self.clock.advance(1)
        history = store.history("classify", limit=3)
        assert history == [(4.0, 30), (3.0, 20), (2.0, 10)]

    def test_finish_failed_keeps_the_error(self, store: Store) -> None:
        self.submit(store)
        job = self.claim_one(store)
        store.write(
            "w1",
            [],
            [
                finish(
                    job,
                    S.FAILED,
                    error_code="ValueError",
                    error_message="bad row 3",
                    error_details={"row": 3},
                )
            ],
        )
        got = store.get(job.id)
        assert got is not None and got.status == S.FAILED
        assert (got.error_code, got.error_message, got.error_details) == (
            "ValueError",
            "bad row 3",
            {"row": 3},
        )
        assert store.result(job.id) is None
        assert store.history("classify") == []
        assert store.events(job.id)[-1]["job"]["error"]["code"] == "ValueError"

    def test_finish_queued_is_a_retry_of_the_same_job(self, store: Store) -> None:
        self.submit(store, max_attempts=2, dedupe_key="k")
        job = self.claim_one(store)
        now = self.clock()
        store.write("w1", [], [finish(job, S.QUEUED, error_code="Flaky", run_after=now + 60)])
        got = store.get(job.id)
        assert got is not None
        assert got.status == S.QUEUED and got.attempt == 1 and got.lease_owner is None
        assert got.run_after == pytest.approx(now + 60)
        assert self.claim(store, "w1", 1, tasks=["classify"], limits={}, lease_seconds=LEASE) == []
        # Still live for its dedupe key.
        same, outcome = store.submit(self.job(dedupe_key="k"))
        assert (same.id, outcome) == (job.id, "deduplicated")

    def test_retry_due_now_is_claimed_as_attempt_two(self, store: Store) -> None:
        self.submit(store, max_attempts=2)
        job = self.claim_one(store)
        store.write("w1", [], [finish(job, S.QUEUED, run_after=self.clock() - 1)])
        again = self.claim_one(store, worker="w2")
        assert again.id == job.id and again.attempt == 2 and again.lease_owner == "w2"

    def test_a_step_change_in_the_finishing_batch_is_kept(self, store: Store) -> None:
        self.submit(store)
        job = self.claim_one(store)
        res = store.write(
            "w1",
            [report(job, 5, total=5, step="processing"), report(job, 5, step="saving")],
            [finish(job, S.SUCCEEDED, current=5, total=5, step="saving", result="1")],
        )
        kept = [(e["kind"], e["job"]["step"], e["job"]["status"]) for e in res.events]
        assert kept == [
            ("progress", "processing", "running"),
            ("status", "saving", "succeeded"),
        ]

    def test_writes_from_a_wrong_worker_or_attempt_are_rejected(self, store: Store) -> None:
        self.submit(store)
        job = self.claim_one(store)
        store.write("w1", [report(job, 5, total=10)], [])
        before = store.get(job.id)
        for batch in (([report(job, 9)], []), ([], [finish(job, S.SUCCEEDED, result="1")])):
            res = store.write("w2", *batch)
            assert res.rejected == [job.id]
            assert res.events == []
        stale = job.copy(attempt=job.attempt - 1)
        for batch in (([report(stale, 9)], []), ([], [finish(stale, S.FAILED)])):
            res = store.write("w1", *batch)
            assert res.rejected == [job.id]
        assert store.get(job.id) == before
        assert store.result(job.id) is None
        assert [e["seq"] for e in store.events(job.id)] == [2, 3]

    def test_a_second_finish_is_rejected(self, store: Store) -> None:
        self.submit(store)
        job = self.claim_one(store)
        self.succeed(store, job, result='"first"')
        assert store.write("w1", [report(job, 1)], []).rejected == [job.id]
        assert store.write("w1", [], [finish(job, S.FAILED)]).rejected == [job.id]
        got = store.get(job.id)
        assert got is not None and got.status == S.SUCCEEDED
        assert store.result(job.id) == '"first"'

    def test_a_repeated_finish_in_one_batch_does_not_spoil_the_batch(self, store: Store) -> None:
        t0 = self.clock() - 100
        self.submit(store, created_at=t0)
        self.submit(store, created_at=t0 + 1)
        a, b = (
            job
            for job, _ in self.claim(
                store, "w1", 2, tasks=["classify"], limits={}, lease_seconds=LEASE
            )
        )
        res = store.write(
            "w1",
            [],
            [
                finish(a, S.SUCCEEDED, result='"a"'),
                finish(a, S.FAILED, error_code="late"),
                finish(b, S.SUCCEEDED, result='"b"'),
            ],
        )
        assert res.rejected == [a.id]
        assert [(e["job"]["id"], e["job"]["status"]) for e in res.events] == [
            (a.id, "succeeded"),
            (b.id, "succeeded"),
        ]
        assert store.get(a.id).status == S.SUCCEEDED
        assert store.get(b.id).status == S.SUCCEEDED
        assert (store.result(a.id), store.result(b.id)) == ('"a"', '"b"')

    def test_unknown_job_write_is_rejected(self, store: Store) -> None:
        ghost = self.job().copy(attempt=1)
        assert store.write("w1", [report(ghost, 1)], []).rejected == [ghost.id]
        assert store.write("w1", [], [finish(ghost, S.SUCCEEDED)]).rejected == [ghost.id]

    def test_write_tells_the_worker_about_a_cancel(self, store: Store) -> None:
        self.submit(store)
        job = self.claim_one(store)
        store.cancel(job.id)
        res = store.write("w1", [report(job, 1)], [])
        assert res.cancel_requested == {job.id}
        assert res.events[0]["job"]["cancel_requested"] is True
        store.write("w1", [], [finish(job, S.CANCELLED)])
        got = store.get(job.id)
        assert got is not None and got.status == S.CANCELLED and got.finished_at is not None

    # -- leases -----------------------------------------------------------------------

    def test_claim_one_claims_the_job_a_message_names(self, store: Store) -> None:
        first = self.submit(store, created_at=self.clock() - 10)
        named = self.submit(store)
        job, event = store.claim_one("w1", named.id, limit=None, lease_seconds=LEASE)
        assert job is not None and event is not None
        assert (job.id, job.status, job.attempt, job.lease_owner) == (named.id, S.RUNNING, 1, "w1")
        assert job.started_at == self.clock()
        assert job.lease_expires_at == pytest.approx(self.clock() + LEASE)
        assert event["seq"] == job.seq == 2 and event["job"]["status"] == "running"
        assert [e["seq"] for e in store.events(named.id)] == [2]
        assert store.get(first.id).status == S.QUEUED  # only the one named
        # Not queued any more: how it is, and no event.
        again, event = store.claim_one("w2", named.id, limit=None, lease_seconds=LEASE)
        assert event is None and again is not None and again.lease_owner == "w1"
        assert store.claim_one("w1", "0" * 32, limit=None, lease_seconds=LEASE) == (None, None)

    def test_claim_one_waits_for_the_job_to_be_due_and_for_room(self, store: Store) -> None:
        now = self.clock()
        later = self.submit(store, run_after=now + 60)
        job, event = store.claim_one("w1", later.id, limit=None, lease_seconds=LEASE)
        assert event is None and job is not None and job.status == S.QUEUED
        other = self.submit(store)
        assert self.claim_one(store).id == other.id  # the one due: "later" is not yet
        self.clock.advance(60)
        job, event = store.claim_one("w1", later.id, limit=1, lease_seconds=LEASE)
        assert event is None and job is not None and job.status == S.QUEUED  # at the limit
        job, event = store.claim_one("w1", later.id, limit=2, lease_seconds=LEASE)
        assert event is not None and job is not None and job.status == S.RUNNING

    def test_stale_queued_lists_due_queued_jobs_oldest_first(self, store: Store) -> None:
        now = self.clock()
        a = self.submit(store, task="a", created_at=now - 30)
        b = self.submit(store, task="b", created_at=now - 20)
        self.submit(store, created_at=now - 10, run_after=now + 60)  # not due
        running = self.submit(store, task="c", created_at=now - 40)
        self.claim_one(store, task="c")
        assert running.id not in [i for i, _ in store.stale_queued(now + 1)]
        assert store.stale_queued(now + 1) == [(a.id, "a"), (b.id, "b")]
        assert store.stale_queued(now + 1, limit=1) == [(a.id, "a")]
        assert store.stale_queued(now - 30) == []  # due at its creation: not before it

    def test_cancel_requests_are_read_per_worker(self, store: Store) -> None:
        t0 = self.clock() - 100
        for i in range(3):
            self.submit(store, created_at=t0 + i)
        a, b = [
            j
            for j, _ in self.claim(
                store, "w1", 2, tasks=["classify"], limits={}, lease_seconds=LEASE
            )
        ]
        theirs = self.claim_one(store, worker="w2")
        assert store.cancel_requests("w1") == set()
        store.cancel(b.id)
        store.cancel(theirs.id)
        assert store.cancel_requests("w1") == {b.id}
        assert store.cancel_requests("w2") == {theirs.id}
        store.write("w1", [], [finish(b, S.CANCELLED)])
        assert store.cancel_requests("w1") == set()
        assert store.get(a.id).status == S.RUNNING

    def test_renew_extends_leases_and_returns_cancel_requests(self, store: Store) -> None:
        t0 = self.clock() - 100
        for i in range(3):
            self.submit(store, created_at=t0 + i)
        start = self.clock()
        mine = [
            j for j, _ in self.claim(store, "w1", 2, tasks=["classify"], limits={}, lease_seconds=5)
        ]
        theirs = self.claim_one(store, worker="w2", lease=5)
        self.clock.advance(3)
        assert store.renew("w1", [j.id for j in mine], 60) == set()
        for job in mine:
            got = store.get(job.id)
            assert got.lease_expires_at == pytest.approx(start + 3 + 60)
        assert store.get(theirs.id).lease_expires_at == pytest.approx(start + 5)
        store.cancel(mine[1].id)
        store.cancel(theirs.id)
        assert store.renew("w1", [j.id for j in mine], 60) == {mine[1].id}
        assert store.renew("w2", [theirs.id], 60) == {theirs.id}
        assert store.renew("w3", [theirs.id], 60) == set()

    def test_renew_extends_only_the_leases_named(self, store: Store) -> None:
        # A job whose outcome a worker could not store is left out of its renewals, so its
        # lease runs out and recovery decides; the worker's other leases go on.
        t0 = self.clock() - 100
        for i in range(2):
            self.submit(store, created_at=t0 + i)
        kept, dropped = [
            j for j, _ in self.claim(store, "w1", 2, tasks=["classify"], limits={}, lease_seconds=5)
        ]
        self.clock.advance(4)
        store.renew("w1", [kept.id], 60)
        assert store.get(kept.id).lease_expires_at == pytest.approx(self.clock() + 60)
        self.clock.advance(2)  # the dropped lease has run out, the kept one has not
        assert [e["job"]["id"] for e in store.recover({})] == [dropped.id]
        assert store.get(kept.id).status == S.RUNNING

    def test_recover_requeues_a_lost_job_with_attempts_left(self, store: Store) -> None:
        self.submit(store, max_attempts=2, dedupe_key="k")
        job = self.claim_one(store)
        self.clock.advance(LEASE + 1)  # the lease runs out
        events = store.recover({"classify": 0.0})
        assert [e["job"]["id"] for e in events] == [job.id]
        event = events[0]
        assert event["kind"] == "status" and event["job"]["status"] == "queued"
        assert event["job"]["attempt"] == 1
        assert event["seq"] == job.seq + 1
        got = store.get(job.id)
        assert got is not None
        assert got.status == S.QUEUED and got.attempt == 1
        assert got.lease_owner is None and got.error_code == "worker_lost"
        assert store.events(job.id)[-1]["seq"] == got.seq
        # The dedupe key stays taken; the retry is the same job, as attempt 2.
        same, outcome = store.submit(self.job(dedupe_key="k"))
        assert (same.id, outcome) == (job.id, "deduplicated")
        again = self.claim_one(store, worker="w2")
        assert again.id == job.id and again.attempt == 2
        # Its old worker can no longer write.
        assert store.write("w1", [report(job, 1)], []).rejected == [job.id]

    def test_recover_backoff_delays_the_retry(self, store: Store) -> None:
        self.submit(store, max_attempts=3)
        job = self.claim_one(store)
        self.clock.advance(LEASE + 1)
        lost = self.clock()
        store.recover({"classify": 30.0})
        got = store.get(job.id)
        assert got is not None and got.status == S.QUEUED
        assert got.run_after == pytest.approx(lost + retry_delay(30.0, 1))  # 30 s
        assert self.claim(store, "w1", 1, tasks=["classify"], limits={}, lease_seconds=LEASE) == []
        self.clock.advance(30)
        again = self.claim_one(store, worker="w2")
        assert (again.id, again.attempt) == (job.id, 2)
        # Lost again: the delay doubles for the second attempt.
        self.clock.advance(LEASE + 1)
        lost = self.clock()
        store.recover({"classify": 30.0})
        assert store.get(job.id).run_after == pytest.approx(lost + retry_delay(30.0, 2))

    def test_recover_waits_until_the_lease_runs_out(self, store: Store) -> None:
        self.submit(store, max_attempts=2)
        job = self.claim_one(store)
        self.clock.advance(LEASE)  # the lease ends now: not yet run out
        assert store.recover({}) == []
        store.renew("w1", [job.id], LEASE)
        self.clock.advance(LEASE - 1)
        assert store.recover({}) == []
        self.clock.advance(2)
        assert [e["job"]["status"] for e in store.recover({})] == ["queued"]
        # A task missing from the backoff waits one second.
        assert store.get(job.id).run_after == pytest.approx(self.clock() + 1.0)

    def test_recover_fails_a_lost_job_without_attempts_left(self, store: Store) -> None:
        self.submit(store, max_attempts=1, dedupe_key="k")
        job = self.claim_one(store)
        self.clock.advance(LEASE + 1)
        events = store.recover({})
        assert [e["job"]["status"] for e in events] == ["failed"]
        got = store.get(job.id)
        assert got is not None
        assert got.status == S.FAILED and got.finished_at is not None
        assert got.error_code == "worker_lost"
        assert events[0]["job"]["error"]["code"] == "worker_lost"
        # The key is free again.
        _, outcome = store.submit(self.job(dedupe_key="k"))
        assert outcome == "created"

    def test_recover_cancels_a_lost_job_with_a_cancel_request(self, store: Store) -> None:
        self.submit(store, max_attempts=3)
        job = self.claim_one(store)
        self.clock.advance(LEASE + 1)
        store.cancel(job.id)
        store.recover({})
        got = store.get(job.id)
        assert got is not None and got.status == S.CANCELLED and got.error_code is None

    def test_recover_leaves_live_leases_alone(self, store: Store) -> None:
        self.submit(store)
        job = self.claim_one(store, lease=LEASE)
        assert store.recover({}) == []
        assert store.get(job.id).status == S.RUNNING

    def test_release_requeues_without_using_an_attempt(self, store: Store) -> None:
        self.submit(store, max_attempts=1)
        job = self.claim_one(store, worker="w1")
        assert store.release("w2", [job.id]) == []  # not its job
        assert store.release("w1", []) == []
        events = store.release("w1", [job.id])
        assert [e["job"]["status"] for e in events] == ["queued"]
        got = store.get(job.id)
        assert got is not None
        assert got.status == S.QUEUED and got.lease_owner is None
        assert got.attempt < got.max_attempts  # it still has its attempt
        assert store.write("w1", [report(job, 1)], []).rejected == [job.id]
        again = self.claim_one(store, worker="w2")
        assert again.id == job.id and again.attempt == 2
        # Losing the worker now still leaves no retry: the shutdown did not use one.
        self.clock.advance(LEASE + 1)
        store.recover({})
        assert store.get(job.id).status == S.FAILED

    def test_release_of_a_job_being_cancelled_cancels_it(self, store: Store) -> None:
        self.submit(store)
        job = self.claim_one(store)
        store.cancel(job.id)
        events = store.release("w1", [job.id])
        assert [e["job"]["status"] for e in events] == ["cancelled"]
        got = store.get(job.id)
        assert got is not None and got.status == S.CANCELLED and got.finished_at is not None
        assert self.claim(store, "w2", 1, tasks=["classify"], limits={}, lease_seconds=LEASE) == []

    # -- hooks ------------------------------------------------------------------------

    def test_a_hook_is_recorded_once_per_key(self, store: Store) -> None:
        job = self.submit(store)
        assert store.hook(job.id) is None
        assert store.add_hook(job.id, "k1", '{"n": 1}') is True
        self.clock.advance(1)
        assert store.add_hook(job.id, "k1", '{"n": 9}') is False  # a repeat
        assert store.add_hook(job.id, "k2", '{"n": 2}') is True
        assert store.hook(job.id) == '{"n": 1}'  # the first delivery
        running = self.claim_one(store)
        assert store.add_hook(running.id, "k3", "3") is True  # live jobs take hooks

    def test_a_hook_for_an_unknown_or_finished_job_is_refused(self, store: Store) -> None:
        with pytest.raises(JobNotFound):
            store.add_hook("0" * 32, "k", "1")
        job = self.submit(store)
        store.add_hook(job.id, "early", "1")
        store.cancel(job.id)
        with pytest.raises(JobAlreadyFinished) as info:
            store.add_hook(job.id, "late", "2")
        assert info.value.code == "job_finished"
        assert store.add_hook(job.id, "early", "1") is False  # a repeat is still a repeat
        store.delete(job.id)
        assert store.hook(job.id) is None

    # -- ids no job can have --------------------------------------------------------------

    def test_an_id_with_nul_is_unknown_everywhere(self, store: Store) -> None:
        bad = "a\x00b"
        assert store.get(bad) is None
        assert store.events(bad) == []
        assert store.result(bad) is None
        for call in (store.cancel, store.delete, lambda i: store.add_hook(i, "k", "1")):
            with pytest.raises(JobNotFound):
                call(bad)

    # -- cancel -----------------------------------------------------------------------

    def test_cancel_queued_is_immediate(self, store: Store) -> None:
        job = self.submit(store, dedupe_key="k")
        cancelled, event = store.cancel(job.id)
        assert cancelled.status == S.CANCELLED
        assert cancelled.cancel_requested is True
        assert cancelled.finished_at is not None
        assert event is not None and event["job"]["status"] == "cancelled"
        assert event["seq"] == 2
        assert [e["seq"] for e in store.events(job.id)] == [2]
        assert self.claim(store, "w1", 1, tasks=["classify"], limits={}, lease_seconds=LEASE) == []

    def test_cancel_running_sets_the_flag(self, store: Store) -> None:
        self.submit(store)
        job = self.claim_one(store)
        flagged, event = store.cancel(job.id)
        assert flagged.status == S.RUNNING and flagged.cancel_requested is True
        assert event is not None and event["job"]["cancel_requested"] is True
        assert event["seq"] == job.seq + 1
        again, event = store.cancel(job.id)  # asking twice changes nothing
        assert event is None and again.seq == flagged.seq

    def test_cancel_finished_or_unknown(self, store: Store) -> None:
        self.submit(store)
        job = self.claim_one(store)
        self.succeed(store, job)
        with pytest.raises(JobAlreadyFinished) as info:
            store.cancel(job.id)
        assert info.value.code == "job_finished"
        with pytest.raises(JobNotFound):
            store.cancel("0" * 32)
        cancelled = self.submit(store)
        store.cancel(cancelled.id)
        with pytest.raises(JobAlreadyFinished):
            store.cancel(cancelled.id)

    # -- events -----------------------------------------------------------------------

    def test_events_after_resume_a_stream(self, store: Store) -> None:
        self.submit(store)
        job = self.claim_one(store)
        store.write("w1", [report(job, i, total=5) for i in range(1, 6)], [])
        self.succeed(store, job, current=5, total=5)
        all_events = store.events(job.id)
        assert [e["seq"] for e in all_events] == list(range(2, 9))
        resumed = store.events(job.id, after=4)
        assert [e["seq"] for e in resumed] == [5, 6, 7, 8]
        assert resumed == all_events[3:]
        assert resumed[-1]["job"]["status"] == "succeeded"
        assert store.events(job.id, after=8) == []
        assert [e["seq"] for e in store.events(job.id, after=2, limit=2)] == [3, 4]
        assert store.events("unknown") == []

    def test_old_events_are_pruned_as_a_job_runs(self, store: Store) -> None:
        self.submit(store)
        job = self.claim_one(store)
        last = EVENTS_KEPT + PRUNE_EVERY + 1  # the claim is seq 2
        store.write("w1", [report(job, i) for i in range(3, last + 1)], [])
        kept = [e["seq"] for e in store.events(job.id, limit=10 * EVENTS_KEPT)]
        assert kept[-1] == last
        assert kept == list(range(kept[0], last + 1))  # no gap
        assert EVENTS_KEPT <= len(kept) < EVENTS_KEPT + PRUNE_EVERY

    # -- delete and purge -------------------------------------------------------------

    def test_delete_forgets_a_finished_job(self, store: Store) -> None:
        self.submit(store)
        job = self.claim_one(store)
        self.succeed(store, job, result="42")
        keep = self.submit(store)
        store.delete(job.id)
        assert store.get(job.id) is None
        assert store.events(job.id) == []
        assert store.result(job.id) is None
        assert store.get(keep.id) is not None
        with pytest.raises(JobNotFound):
            store.delete(job.id)

    def test_delete_refuses_a_live_job(self, store: Store) -> None:
        queued = self.submit(store)
        with pytest.raises(JobNotFinished) as info:
            store.delete(queued.id)
        assert info.value.code == "job_not_finished"
        running = self.claim_one(store)
        with pytest.raises(JobNotFinished):
            store.delete(running.id)
        assert store.get(running.id) is not None
        assert len(store.events(running.id)) == 1

    def test_purge_deletes_only_old_finished_jobs(self, store: Store) -> None:
        t0 = self.clock() - 100
        done = [self.submit(store, created_at=t0 + i) for i in range(3)]
        for _ in done:
            self.succeed(store, self.claim_one(store), result="1", duration=1.0)
        live = self.submit(store)
        assert store.purge(self.clock() - 3600) == 0
        assert store.purge(self.clock() + 1) == 3
        for job in done:
            assert store.get(job.id) is None
            assert store.result(job.id) is None
            assert store.events(job.id) == []
        assert store.get(live.id) is not None
        assert store.history("classify") == []
        assert store.purge(self.clock() + 1) == 0

    def test_purge_keeps_the_latest_history_of_each_task(self, store: Store) -> None:
        n = HISTORY_KEPT + 3
        for _ in range(n):
            self.submit(store)
            self.clock.advance(0.001)
        claimed = [
            j
            for j, _ in self.claim(
                store, "w1", n, tasks=["classify"], limits={}, lease_seconds=LEASE
            )
        ]
        for i, job in enumerate(claimed):
            self.succeed(store, job, duration=float(i), result="1")
            self.clock.advance(1)
        assert len(store.history("classify", limit=1000)) == n
        assert store.purge(self.clock() - 10 * n) == 0
        history = store.history("classify", limit=1000)
        assert [d for d, _ in history] == [float(i) for i in reversed(range(n))][:HISTORY_KEPT]

    def test_counts(self, store: Store) -> None:
        assert store.counts() == {s.value: 0 for s in S}
        for _ in range(3):
            self.submit(store)
        job = self.claim_one(store)
        self.succeed(store, job)
        running = self.claim_one(store)
        store.cancel(self.submit(store).id)
        counts = store.counts()
        assert counts == {
            "queued": 1,
            "running": 1,
            "waiting": 0,
            "succeeded": 1,
            "failed": 0,
            "cancelled": 1,
        }
        assert running.id != job.id

    # -- keys and meta ----------------------------------------------------------------

    def test_keys_are_found_by_secret_until_revoked(self, store: Store) -> None:
        keys = store.keys
        key_id, secret = keys.create_key("alice", roles=["admin", "admin"], teams=["b", "a"])
        other_id, other = keys.create_key("bob")
        assert secret.startswith(f"jw_{key_id}_") and secret != other
        found = keys.find_key(secret)
        assert found == ApiKey(key_id, "alice", ("admin",), ("a", "b"))
        assert keys.find_key(secret + "x") is None
        created = self.clock()
        listed = keys.list_keys()
        assert [(k.id, at, revoked) for k, at, revoked in listed] == [
            (key_id, created, None),
            (other_id, created, None),
        ]
        self.clock.advance(5)
        assert keys.revoke_key(key_id) is True
        assert keys.revoke_key(key_id) is False
        assert keys.revoke_key("nope") is False
        assert keys.find_key(secret) is None
        assert keys.find_key(other) is not None
        assert keys.revoked_keys() == [(key_id, created + 5)]
        assert keys.revoked_keys(since=created + 5) == [(key_id, created + 5)]
        assert keys.revoked_keys(since=created + 6) == []

    def test_a_meta_value_is_stored_once(self, store: Store) -> None:
        made: list[str] = []

        def default() -> str:
            made.append("x")
            return f"secret-{len(made)}"

        assert store.keys.meta_value("stream_secret", default) == "secret-1"
        assert store.keys.meta_value("stream_secret", default) == "secret-1"
        other = self.another(store)
        try:
            assert other.keys.meta_value("stream_secret", default) == "secret-1"
        finally:
            other.close()
        assert made == ["x"]
        assert store.keys.meta_value("other", lambda: "b") == "b"

    def test_check_writable_passes_on_a_writable_store(self, store: Store) -> None:
        store.check_writable()
        store.check_writable()  # repeatable
        assert self.submit(store).status == S.QUEUED

    # -- concurrency ------------------------------------------------------------------

    def test_concurrent_submits_with_one_dedupe_key_make_one_job(self, store: Store) -> None:
        store.upgrade()
        results = run_threads(8, lambda i: store.submit(self.job(dedupe_key="eda:d1")))
        errors = [r for r in results if isinstance(r, Exception)]
        assert errors == []
        outcomes = sorted(outcome for _, outcome in results)
        assert outcomes == ["created"] + ["deduplicated"] * 7
        ids = {job.id for job, _ in results}
        assert len(ids) == 1
        assert store.counts()["queued"] == 1

    def test_concurrent_submits_from_separate_stores(self, store: Store) -> None:
        # Like several server processes: one store (engine, pool) each, schema not yet made.
        stores = [self.another(store) for _ in range(6)]
        try:
            results = run_threads(6, lambda i: stores[i].submit(self.job(dedupe_key="k")))
        finally:
            for s in stores:
                s.close()
        assert not [r for r in results if isinstance(r, Exception)]
        assert len({job.id for job, _ in results}) == 1
        assert sorted(o for _, o in results).count("created") == 1
        assert sum(store.counts().values()) == 1

    def test_owner_limit_holds_under_concurrent_submits(self, store: Store) -> None:
        store.upgrade()
        results = run_threads(12, lambda i: store.submit(self.job(), owner_limit=3))
        created = [r for r in results if isinstance(r, tuple)]
        refused = [r for r in results if isinstance(r, OwnerLimitReached)]
        assert len(created) == 3
        assert len(refused) == 9
        assert len(created) + len(refused) == 12
        assert store.counts()["queued"] == 3

    def test_owner_limit_holds_across_separate_stores(self, store: Store) -> None:
        store.upgrade()
        stores = [self.another(store) for _ in range(8)]
        try:
            results = run_threads(
                8, lambda i: stores[i].submit(self.job(owner="bob"), owner_limit=2)
            )
        finally:
            for s in stores:
                s.close()
        assert sum(isinstance(r, tuple) for r in results) == 2
        assert sum(isinstance(r, OwnerLimitReached) for r in results) == 6
        assert len(store.list(owner="bob").jobs) == 2

    def test_concurrent_claims_never_share_a_job(self, store: Store) -> None:
        t0 = self.clock() - 100
        made = {self.submit(store, created_at=t0 + i).id for i in range(20)}
        made |= {self.submit(store, task="limited", created_at=t0 + 30 + i).id for i in range(5)}

        def claim(i: int) -> list[str]:
            got: list[str] = []
            for _ in range(10):
                claimed = self.claim(
                    store,
                    f"w{i}",
                    2,
                    tasks=["classify", "limited"],
                    limits={"limited": 2},
                    lease_seconds=LEASE,
                )
                got.extend(job.id for job, _ in claimed)
            return got

        results = run_threads(6, claim)
        assert not [r for r in results if isinstance(r, Exception)]
        claimed = [job_id for r in results for job_id in r]
        assert len(claimed) == len(set(claimed))  # nobody claimed a job twice
        limited = [j for j in claimed if store.get(j).task == "limited"]
        assert len(limited) == 2  # the limit held across workers
        assert len(claimed) == 22
        assert set(claimed) <= made
        counts = store.counts()
        assert counts["running"] == 22 and counts["queued"] == 3


class SQLStoreContract(StoreContract):
    """SQL stores: another store is another engine on the same database, as in another
    process; the first upgrade applies every migration."""

    def another(self, store: Store) -> Store:
        return SQLStore(store.url, clock=self.clock)

    def check_first_upgrade(self, applied: list[str]) -> None:
        assert applied[0] == "0001"  # every revision, oldest first, up to the head
        assert applied[-1] == migrate.head()

    def test_pending_lists_what_upgrade_applies(self, store: SQLStore) -> None:
        todo = store.pending()
        assert todo[0] == "0001" and todo[-1] == migrate.head()
        assert store.upgrade() == todo
        assert store.pending() == []


class TestSQLiteStore(SQLStoreContract):
    @pytest.fixture
    def store(self, sqlite_url: str, wall_clock: FakeClock) -> Iterator[Store]:
        store = SQLStore(sqlite_url, clock=wall_clock)
        yield store
        store.close()


@pytest.mark.postgres
class TestPostgresStore(SQLStoreContract):
    @pytest.fixture
    def store(self, postgres_url: str, wall_clock: FakeClock) -> Iterator[Store]:
        store = SQLStore(postgres_url, clock=wall_clock)
        yield store
        store.close()


class TestMemoryStore(StoreContract):
    """The testing store keeps the same contract. It lives in one process: "another" store
    on its data is itself, and there is nothing to migrate."""

    @pytest.fixture
    def store(self, wall_clock: FakeClock) -> Iterator[Store]:
        store = MemoryStore(clock=wall_clock)
        yield store
        store.close()

    def another(self, store: Store) -> Store:
        return store

    def check_first_upgrade(self, applied: list[str]) -> None:
        assert applied == []
