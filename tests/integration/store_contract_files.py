"""The store contract's part about the result cache's counters and the files jobs saved:
:class:`FilesContract` is mixed into ``StoreContract`` (test_store_contract.py), so it runs
on memory, SQLite and PostgreSQL alike. It uses the helpers of that class (``job``,
``submit``, ``claim_one``, ``succeed``, ``clock``)."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

import pytest

from jobwire.errors import JobwireError
from jobwire.files import CHUNK, FileInfo
from jobwire.snapshot import JobRecord
from jobwire.status import JobStatus
from jobwire.store import CacheStats, Finish, Store

S = JobStatus


def info(job: JobRecord, name: str, *, attempt: int | None = None, data: bytes = b"x") -> FileInfo:
    return FileInfo(
        job_id=job.id,
        name=name,
        size=len(data),
        content_type="text/plain",
        sha256=hashlib.sha256(data).hexdigest(),
        created_at=1000.0,
        attempt=job.attempt if attempt is None else attempt,
        key=f"{job.id}/{uuid.uuid4().hex}",
    )


def ended(job: JobRecord, status: JobStatus, **kw: Any) -> Finish:
    return Finish(job.id, job.attempt, status, job.current, job.total, None, None, **kw)


class FilesContract:
    """Cache counters, file rows, the trash and the blobs of every Store."""

    clock: Any
    job: Any
    submit: Any
    claim_one: Any
    succeed: Any
    another: Any

    # -- the result cache's counters ----------------------------------------------------

    def test_cached_submits_count_one_miss_then_hits(self, store: Store) -> None:
        first, outcome = store.submit(self.job(dedupe_key="sq:3"), cache_ttl=60)
        assert outcome == "created"
        self.succeed(store, self.claim_one(store), result="9")
        for _ in range(9):
            again, outcome = store.submit(self.job(dedupe_key="sq:3"), cache_ttl=60)
            assert (again.id, outcome) == (first.id, "cached")
        assert store.cache_stats() == {"classify": CacheStats(hits=9, misses=1)}

    def test_deduplicated_submits_and_tasks_without_a_cache_count_nothing(
        self, store: Store
    ) -> None:
        store.submit(self.job(dedupe_key="k"), cache_ttl=60)
        _, outcome = store.submit(self.job(dedupe_key="k"), cache_ttl=60)
        assert outcome == "deduplicated"
        store.submit(self.job(task="plain", dedupe_key="p"))
        store.submit(self.job(task="plain"))
        assert store.cache_stats() == {"classify": CacheStats(0, 1)}

    def test_a_fresh_submit_is_a_miss_and_a_new_job(self, store: Store) -> None:
        first, _ = store.submit(self.job(dedupe_key="sq:3"), cache_ttl=60)
        self.succeed(store, self.claim_one(store), result="9")
        again, outcome = store.submit(self.job(dedupe_key="sq:3"), cache_ttl=60, fresh=True)
        assert outcome == "created" and again.id != first.id
        assert store.cache_stats()["classify"] == CacheStats(0, 2)
        # fresh skips the cache, not the dedupe of a live job
        _, outcome = store.submit(self.job(dedupe_key="sq:3"), cache_ttl=60, fresh=True)
        assert outcome == "deduplicated"
        assert store.cache_stats()["classify"] == CacheStats(0, 2)

    def test_deleting_the_job_takes_its_result_out_of_the_cache(self, store: Store) -> None:
        first, _ = store.submit(self.job(dedupe_key="sq:3"), cache_ttl=60)
        self.succeed(store, self.claim_one(store), result="9")
        _, outcome = store.submit(self.job(dedupe_key="sq:3"), cache_ttl=60)
        assert outcome == "cached"
        store.delete(first.id)
        again, outcome = store.submit(self.job(dedupe_key="sq:3"), cache_ttl=60)
        assert outcome == "created" and again.id != first.id
        assert store.cache_stats()["classify"] == CacheStats(1, 2)

    def test_cache_counters_hold_under_concurrent_first_submits(self, store: Store) -> None:
        import threading

        store.upgrade()
        stores = [self.another(store) for _ in range(6)]
        barrier = threading.Barrier(len(stores))
        errors: list[BaseException] = []

        def submit(i: int) -> None:
            barrier.wait()
            try:
                for n in range(3):
                    stores[i].submit(self.job(task="eda", dedupe_key=f"d{i}:{n}"), cache_ttl=60)
            except BaseException as exc:  # asserted on below
                errors.append(exc)

        threads = [threading.Thread(target=submit, args=(i,)) for i in range(len(stores))]
        try:
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)
        finally:
            for s in stores:
                if s is not store:
                    s.close()
        assert errors == []
        assert store.cache_stats() == {"eda": CacheStats(0, 18)}

    # -- file rows ----------------------------------------------------------------------

    def test_a_file_is_recorded_while_its_attempt_holds_the_lease(self, store: Store) -> None:
        self.submit(store)
        job = self.claim_one(store, worker="w1")
        saved = info(job, "report.csv", data=b"a,b\n")
        assert store.add_file("w1", saved)
        assert store.files(job.id) == [saved]
        assert store.file(job.id, "report.csv") == saved
        assert store.file(job.id, "other.csv") is None
        assert store.add_file(None, info(job, "b.txt"))  # None checks the attempt only
        assert [f.name for f in store.files(job.id)] == ["b.txt", "report.csv"]
        assert store.trash() == []

    def test_a_file_from_a_wrong_worker_old_attempt_or_ended_job_is_refused(
        self, store: Store
    ) -> None:
        queued = self.submit(store)
        assert not store.add_file("w1", info(queued, "q.txt", attempt=1))  # not running
        job = self.claim_one(store, worker="w1")
        assert not store.add_file("w2", info(job, "a.txt"))
        assert not store.add_file("w1", info(job, "a.txt", attempt=job.attempt + 1))
        assert not store.add_file("w1", info(job, "a.txt", attempt=job.attempt - 1))
        unknown = job.copy(id=uuid.uuid4().hex)
        assert not store.add_file("w1", info(unknown, "a.txt"))
        assert not store.add_file("w1", info(job.copy(id="bad\x00id"), "a.txt"))
        self.succeed(store, job)
        assert not store.add_file("w1", info(job, "late.txt"))
        assert not store.add_file(None, info(job, "late.txt"))
        assert store.files(job.id) == []
        assert store.files(uuid.uuid4().hex) == []

    def test_a_waiting_attempt_may_save_files(self, store: Store) -> None:
        self.submit(store)
        job = self.claim_one(store, worker="w1")
        rep = store.write(
            "w1",
            [_report(job, status=S.WAITING)],
            [],
        )
        assert rep.rejected == []
        assert store.get(job.id).status == S.WAITING
        assert store.add_file("w1", info(job, "frame.png"))

    def test_a_file_of_the_same_name_is_replaced_and_its_key_trashed(self, store: Store) -> None:
        self.submit(store)
        job = self.claim_one(store)
        first = info(job, "out.txt", data=b"one")
        second = info(job, "out.txt", data=b"two!")
        assert store.add_file("w1", first)
        assert store.add_file("w1", second)
        assert store.files(job.id) == [second]
        assert store.trash() == [first.key]
        store.forget_trash([first.key])
        assert store.trash() == []

    def test_a_reserved_key_is_trash_only_after_its_time_unless_a_file_takes_it(
        self, store: Store
    ) -> None:
        # Bytes are written under a reserved key before their row exists: a writer that
        # dies leaves the key to the trash once the reservation is over; a recorded file
        # takes the key out of the trash.
        self.submit(store)
        job = self.claim_one(store)
        recorded, orphan = info(job, "kept.txt"), info(job, "lost.txt")
        store.reserve(recorded.key, 60)
        store.reserve(orphan.key, 60)
        assert store.trash() == []
        assert store.add_file("w1", recorded)
        self.clock.advance(61)
        assert store.trash() == [orphan.key]
        store.forget_trash([orphan.key])
        assert store.trash() == []
        assert store.files(job.id) == [recorded]

    def test_files_of_an_earlier_attempt_are_not_listed_after_a_retry(self, store: Store) -> None:
        self.submit(store, max_attempts=2)
        job = self.claim_one(store)
        assert store.add_file("w1", info(job, "a.txt"))
        store.write("w1", [], [ended(job, S.QUEUED, error_code="boom")])
        assert len(store.files(job.id)) == 1  # queued again: attempt 1 is still the last
        retry = self.claim_one(store, worker="w2")
        assert retry.attempt == 2
        assert store.files(job.id) == []
        assert store.file(job.id, "a.txt") is None
        again = info(retry, "a.txt", data=b"second")
        assert store.add_file("w2", again)
        assert store.files(job.id) == [again]

    def test_deleting_a_job_trashes_its_files(self, store: Store) -> None:
        self.submit(store, max_attempts=2)
        job = self.claim_one(store)
        old = info(job, "old.txt")
        assert store.add_file("w1", old)
        store.write("w1", [], [ended(job, S.QUEUED)])
        job = self.claim_one(store)
        kept = [info(job, n) for n in ("a.txt", "b.txt")]
        for f in kept:
            assert store.add_file("w1", f)
        other = self.submit(store)
        self.succeed(store, job)
        store.delete(job.id)
        assert sorted(store.trash()) == sorted([old.key, *(f.key for f in kept)])
        assert store.files(job.id) == []
        assert store.get(other.id) is not None
        store.forget_trash(store.trash(limit=1))
        assert len(store.trash()) == 2

    def test_purging_jobs_trashes_their_files(self, store: Store) -> None:
        t0 = self.clock() - 100
        self.submit(store, created_at=t0)
        job = self.claim_one(store)
        saved = info(job, "a.bin")
        assert store.add_file("w1", saved)
        self.succeed(store, job)
        self.submit(store)
        live = self.claim_one(store)
        alive = info(live, "b.bin")
        assert store.add_file("w1", alive)
        assert store.purge(self.clock() + 1) == 1
        assert store.trash() == [saved.key]
        assert store.files(live.id) == [alive]

    def test_a_refused_delete_trashes_nothing(self, store: Store) -> None:
        self.submit(store)
        job = self.claim_one(store)
        assert store.add_file("w1", info(job, "a.txt"))
        with pytest.raises(JobwireError):
            store.delete(job.id)
        assert store.trash() == []
        assert len(store.files(job.id)) == 1

    # -- blobs --------------------------------------------------------------------------

    def test_blobs_are_read_whole_and_by_range(self, store: Store) -> None:
        data = bytes(range(256)) * (CHUNK * 5 // 2 // 256 + 1)  # two and a half chunks
        pieces = [data[i : i + 300_000] for i in range(0, len(data), 300_000)]
        store.blobs.put_blob("k1", iter(pieces))
        whole = list(store.blobs.blob("k1"))
        assert b"".join(whole) == data
        assert all(len(c) <= CHUNK for c in whole)
        for start, end in [
            (0, 1),
            (5, 10),
            (CHUNK - 3, CHUNK + 3),  # across a chunk boundary
            (CHUNK, 2 * CHUNK),
            (10, None),
            (len(data) - 1, None),
            (len(data) - 5, len(data) + 100),
            (len(data), None),
            (len(data) + 10, None),
            (7, 7),
        ]:
            got = b"".join(store.blobs.blob("k1", start, end))
            assert got == data[start:end], (start, end)

    def test_an_empty_blob_exists_and_a_missing_one_does_not(self, store: Store) -> None:
        store.blobs.put_blob("empty", [])
        assert list(store.blobs.blob("empty")) == []
        with pytest.raises(FileNotFoundError):
            store.blobs.blob("missing")

    def test_a_blob_whose_chunks_raise_leaves_nothing(self, store: Store) -> None:
        def chunks() -> Any:
            for _ in range(6):
                yield b"z" * CHUNK
            raise OSError("the source broke")

        with pytest.raises(OSError, match="source broke"):
            store.blobs.put_blob("broken", chunks())
        with pytest.raises(FileNotFoundError):
            store.blobs.blob("broken")

    def test_deleted_blobs_are_gone(self, store: Store) -> None:
        store.blobs.put_blob("a", [b"1" * 10])
        store.blobs.put_blob("b", [b"2" * 10])
        store.blobs.delete_blobs(["a", "nope"])
        with pytest.raises(FileNotFoundError):
            store.blobs.blob("a")
        assert b"".join(store.blobs.blob("b")) == b"2" * 10
        store.blobs.delete_blobs([])


def _report(job: JobRecord, *, status: JobStatus) -> Any:
    from jobwire.store import Report

    return Report(job.id, job.attempt, "status", 0, None, None, None, status=status)
