"""Saving files from a task, in memory: the name rules, Progress.save_file and its sink,
and the saver's limits and lease checks (MemoryStore, the database storage over its blobs).
The same saver on SQLite, PostgreSQL, a directory and S3: tests/integration/test_file_storage.py."""

from __future__ import annotations

import hashlib
import io
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from jobwire import App, FileTooLarge, JobCancelled, JobStatus, Progress, UnstorableValue
from jobwire.errors import ConfigurationError, FileNotFound, JobNotFound
from jobwire.files import CHUNK, FileInfo, check_name, content_type_of
from jobwire.files.saving import ChildFiles, FileLimits, FileSaver, SaverSpec
from jobwire.files.storages import DatabaseStorage, open_storage
from jobwire.store import Claim
from jobwire.testing import MemoryBus, MemoryStore
from tests.conftest import FakeClock

# -- names ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["a", "report.csv", "frame 001.png", "é.txt", "x" * 255, ".env"])
def test_plain_file_names_are_kept(name: str) -> None:
    assert check_name(name) == name


@pytest.mark.parametrize(
    "name",
    ["", ".", "..", "a/b", "../x", "a\\b", "x" * 256, "nul\x00", "lone\udcff", "line\nbreak"],
)
def test_other_names_are_refused(name: str) -> None:
    with pytest.raises(UnstorableValue) as info:
        check_name(name)
    assert "name" in info.value.message


def test_a_name_must_be_text() -> None:
    with pytest.raises(UnstorableValue):
        check_name(b"a.txt")  # type: ignore[arg-type]


def test_content_types_are_guessed_from_the_name() -> None:
    assert content_type_of("a.csv") == "text/csv"
    assert content_type_of("a.png") == "image/png"
    assert content_type_of("noext") == "application/octet-stream"
    assert content_type_of("a.csv", "text/plain") == "text/plain"
    with pytest.raises(UnstorableValue):
        content_type_of("a.csv", "bad\x00type")


# -- Progress.save_file -----------------------------------------------------------------


class Sink:
    def __init__(self) -> None:
        self.saved: list[tuple[str, Any, str]] = []

    def save(self, name: str, data: Any, content_type: str) -> FileInfo:
        self.saved.append((name, data, content_type))
        return FileInfo("j", name, 0, content_type, "", 0.0, 1, "k")


def test_save_file_hands_the_checked_file_to_the_sink() -> None:
    progress = Progress("j")
    progress._files = sink = Sink()
    info = progress.save_file("report.csv", b"a,b\n")
    assert info.name == "report.csv"
    progress.save_file("x.bin", b"1", "application/x-mine")
    assert sink.saved == [
        ("report.csv", b"a,b\n", "text/csv"),
        ("x.bin", b"1", "application/x-mine"),
    ]
    with pytest.raises(UnstorableValue):
        progress.save_file("../etc/passwd", b"")
    progress.request_cancel()
    with pytest.raises(JobCancelled):
        progress.save_file("late.txt", b"")
    assert len(sink.saved) == 2


def test_save_file_outside_a_worker_says_so() -> None:
    with pytest.raises(RuntimeError, match="worker"):
        Progress("j").save_file("a.txt", b"x")


# -- the saver --------------------------------------------------------------------------

LIMITS = FileLimits(max_file_bytes=3 * CHUNK, max_job_file_bytes=5 * CHUNK)


@pytest.fixture
def store(wall_clock: FakeClock) -> MemoryStore:
    return MemoryStore(clock=wall_clock)


def running(store: MemoryStore, worker: str = "w1") -> Any:
    from jobwire.snapshot import JobRecord

    now = store.clock()
    store.submit(JobRecord(id=uuid.uuid4().hex, task="t", owner="o", args={}, created_at=now))
    res = store.write(worker, [], [], claim=Claim(1, ["t"], {}, 30.0))
    return res.claimed[0]


def saver(store: MemoryStore, job: Any, worker: str = "w1", limits: FileLimits = LIMITS) -> Any:
    storage = DatabaseStorage(store.blobs)
    return FileSaver(
        store,
        lambda: storage,
        files_url=None,
        worker_id=worker,
        job_id=job.id,
        attempt=job.attempt,
        limits=limits,
    )


def read(store: MemoryStore, info: FileInfo) -> bytes:
    return b"".join(store.blobs.blob(info.key))


def test_bytes_a_path_and_a_file_object_are_saved(store: MemoryStore, tmp_path: Path) -> None:
    job = running(store)
    files = saver(store, job, limits=FileLimits(3 * CHUNK, 100 * CHUNK))
    data = bytes(range(256)) * 9000  # over two chunks
    path = tmp_path / "in.bin"
    path.write_bytes(data)
    saved = [
        files.save("a.bin", data, "application/octet-stream"),
        files.save("b.bin", str(path), "application/octet-stream"),
        files.save("c.bin", path, "application/octet-stream"),
        files.save("d.bin", io.BytesIO(data), "application/octet-stream"),
        files.save("e.bin", memoryview(data), "application/octet-stream"),
    ]
    for info in saved:
        assert info.size == len(data)
        assert info.sha256 == hashlib.sha256(data).hexdigest()
        assert info.key.startswith(f"{job.id}/{job.attempt}/") and info.name not in info.key
        assert read(store, info) == data
    assert [f.name for f in store.files(job.id)] == ["a.bin", "b.bin", "c.bin", "d.bin", "e.bin"]
    empty = files.save("empty.txt", b"", "text/plain")
    assert empty.size == 0 and read(store, empty) == b""


def test_a_text_file_object_is_refused_and_leaves_nothing(store: MemoryStore) -> None:
    job = running(store)
    with pytest.raises(TypeError, match="binary"):
        saver(store, job).save("a.txt", io.StringIO("text"), "text/plain")
    with pytest.raises(TypeError, match="Expected bytes"):
        saver(store, job).save("a.txt", 42, "text/plain")
    assert store.files(job.id) == [] and store.blobs._blobs == {}


def test_a_file_over_max_file_bytes_raises_and_leaves_nothing(store: MemoryStore) -> None:
    job = running(store)
    with pytest.raises(FileTooLarge) as info:
        saver(store, job).save("big.bin", b"x" * (3 * CHUNK + 1), "application/octet-stream")
    assert info.value.code == "file_too_large" and info.value.status == 413
    assert "max_file_bytes" in info.value.message and "JOBWIRE_MAX_FILE_BYTES" in info.value.message
    assert info.value.details["limit"] == 3 * CHUNK
    assert store.files(job.id) == [] and store.blobs._blobs == {}


def test_the_files_of_a_job_together_stay_under_max_job_file_bytes(store: MemoryStore) -> None:
    job = running(store)
    files = saver(store, job)
    files.save("a.bin", b"x" * 2 * CHUNK, "application/octet-stream")
    files.save("b.bin", b"x" * 2 * CHUNK, "application/octet-stream")
    with pytest.raises(FileTooLarge, match="max_job_file_bytes"):
        files.save("c.bin", b"x" * (CHUNK + 1), "application/octet-stream")
    # replacing a file counts its new size, not both
    files.save("b.bin", b"y" * 3 * CHUNK, "application/octet-stream")
    assert [f.size for f in store.files(job.id)] == [2 * CHUNK, 3 * CHUNK]
    assert len(store.blobs._blobs) == 3  # a, b and the replaced b (in the trash)
    assert len(store.trash()) == 1


def test_a_file_saved_after_the_lease_was_lost_is_discarded(
    store: MemoryStore, wall_clock: FakeClock
) -> None:
    job = running(store)
    wall_clock.advance(60)  # the lease (30 s) ran out
    assert store.recover({})  # and another worker's recovery took the job
    with pytest.raises(JobCancelled, match="lease"):
        saver(store, job).save("late.txt", b"late", "text/plain")
    assert store.files(job.id) == [] and store.blobs._blobs == {}


def test_a_file_from_another_worker_is_discarded(store: MemoryStore) -> None:
    job = running(store, worker="w1")
    with pytest.raises(JobCancelled):
        saver(store, job, worker="w2").save("x.txt", b"x", "text/plain")
    assert store.blobs._blobs == {}


def test_a_child_process_with_a_store_in_memory_is_told_to_use_a_database() -> None:
    spec = SaverSpec(None, None, "w1", "j", 1, LIMITS)
    with pytest.raises(ConfigurationError, match="database URL"):
        ChildFiles(spec).save("a.txt", b"x", "text/plain")


def test_the_spec_of_a_memory_store_has_no_database(store: MemoryStore) -> None:
    job = running(store)
    spec = saver(store, job).spec()
    assert spec.database_url is None and spec.job_id == job.id and spec.limits == LIMITS


def test_storage_urls_are_checked(store: MemoryStore) -> None:
    assert isinstance(open_storage(None, store), DatabaseStorage)
    assert isinstance(open_storage("database", store), DatabaseStorage)
    for bad in ("ftp://host/x", "s3:///nobucket", "file://", "s3://b/p?secret=x"):
        with pytest.raises(ConfigurationError):
            open_storage(bad, store)


# -- through an App ---------------------------------------------------------------------


def test_an_app_lists_serves_and_deletes_the_files_of_a_job() -> None:
    app = App(store=MemoryStore(), bus=MemoryBus(), poll_interval=0.05)

    @app.task()
    def report(progress: Progress, n: int) -> int:
        progress.save_file("data.csv", b"a,b\n" * n)
        progress.save_file("notes.txt", b"notes")
        return n

    with app:
        job = report.submit(n=3)
        assert job.result(timeout=10) == 3
    names = [f.name for f in app.files(job.id)]
    assert names == ["data.csv", "notes.txt"]
    info, chunks = app.open_file(job.id, "data.csv")
    assert info.content_type == "text/csv" and b"".join(chunks) == b"a,b\n" * 3
    _, chunks = app.open_file(job.id, "data.csv", 4, 9)
    assert b"".join(chunks) == (b"a,b\n" * 3)[4:9]
    with pytest.raises(FileNotFound) as missing:
        app.open_file(job.id, "nope.txt")
    assert missing.value.code == "file_not_found" and missing.value.status == 404
    with pytest.raises(JobNotFound):
        app.files("nosuchjob")
    with pytest.raises(JobNotFound):
        app.open_file("nosuchjob", "data.csv")
    app.delete(job.id)
    assert app.store.blobs._blobs == {}  # type: ignore[attr-defined]
    assert app.store.trash() == []


def test_a_file_too_large_fails_the_job_without_a_retry() -> None:
    app = App(store=MemoryStore(), bus=MemoryBus(), poll_interval=0.05)
    app.settings.max_file_bytes = 10

    @app.task(retries=2)
    def big(progress: Progress) -> None:
        progress.save_file("big.bin", b"x" * 11)

    with app:
        job = big.submit()
        job.wait(10)
    record = app.record(job.id)
    assert record.status == JobStatus.FAILED and record.attempt == 1
    assert record.error_code == "file_too_large"
    assert "max_file_bytes" in (record.error_message or "")
    assert app.files(job.id) == []


class BrokenStorage(DatabaseStorage):
    def delete(self, keys: Any) -> None:
        raise OSError("the bucket is unreachable")


def test_a_job_is_deleted_even_when_its_bytes_cannot_be_yet(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from jobwire.worker import engine

    monkeypatch.setattr(engine, "TRASH_EVERY", 0.05)
    store = MemoryStore()
    app = App(store=store, bus=MemoryBus(), poll_interval=0.05)

    @app.task()
    def one(progress: Progress) -> None:
        progress.save_file("a.txt", b"a")

    job = one.submit()
    with app:
        job.wait(10)
    app._files._storage = BrokenStorage(store.blobs)
    app.delete(job.id)  # the storage failed: the job is gone all the same
    assert app.store.get(job.id) is None
    assert len(store.trash()) == 1 and len(store.blobs._blobs) == 1
    app._files._storage = DatabaseStorage(store.blobs)
    with app:  # the worker looks at the trash on a timer, and deletes what is left
        deadline = time.monotonic() + 10
        while store.trash() and time.monotonic() < deadline:
            time.sleep(0.02)
    assert store.trash() == [] and store.blobs._blobs == {}


def test_the_bytes_of_a_save_that_died_midway_are_deleted_after_its_reservation(
    store: MemoryStore, wall_clock: FakeClock, tmp_path: Path
) -> None:
    # A worker killed while it writes (or before it records the file) runs no cleanup:
    # the key it reserved first is in the trash, and the drain deletes the bytes once the
    # reservation is over. A file that was recorded keeps its bytes.
    from jobwire.files import saving
    from jobwire.files.access import drain_trash

    storage = open_storage(f"file://{tmp_path}", store)
    job = running(store)
    kept = FileSaver(
        store,
        lambda: storage,
        files_url=None,
        worker_id="w1",
        job_id=job.id,
        attempt=job.attempt,
        limits=LIMITS,
    ).save("kept.txt", b"kept", "text/plain")
    dead_key = f"{job.id}/{job.attempt}/dead"
    store.reserve(dead_key, saving.RESERVATION)  # what save() does first…
    storage.write(dead_key, [b"half of a file"])  # …then the process dies
    assert drain_trash(store, lambda: storage) == 0  # still reserved: maybe still writing
    wall_clock.advance(saving.RESERVATION + 1)
    assert drain_trash(store, lambda: storage) == 1
    with pytest.raises(FileNotFoundError):
        b"".join(storage.read(dead_key))
    assert b"".join(storage.read(kept.key)) == b"kept"
