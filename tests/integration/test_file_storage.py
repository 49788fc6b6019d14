"""One contract for every file storage, run on the database (SQLite and PostgreSQL), a
directory (``file://``) and an S3-compatible bucket (a moto server the test starts).

The storage alone: whole and range reads, a 50 MB file streamed with little memory, deletes,
a source that breaks midway. Then through a real App with a worker: a task saves three files
(one of 50 MB), they are listed and read back byte for byte, deleted with their job (over
HTTP) and by retention; and a file saved by an attempt whose lease was lost is neither listed
nor kept.
"""

from __future__ import annotations

import hashlib
import random
import subprocess
import sys
import threading
import time
import tracemalloc
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from jobwire import App, JobCancelled, JobStatus, Progress
from jobwire.files import CHUNK, FileStorage
from jobwire.files.storages import DatabaseStorage, FsspecStorage
from jobwire.store.sql import SQLStore
from jobwire.store.tables import file_chunks
from jobwire.testing import MemoryBus
from tests.conftest import FakeClock, require_module, require_service
from tests.integration.server_fixtures import free_socket, running_server
from tests.processes import stop, wait_answering

BIG = 50 * CHUNK  # 50 MiB
#: Python memory a 50 MB transfer may take at its peak: a few chunks, never the file.
SMALL = 24 * CHUNK


def random_chunks(n: int, seed: int = 7) -> Iterator[bytes]:
    rng = random.Random(seed)
    for _ in range(n):
        yield rng.randbytes(CHUNK)


def sha_of(chunks: Iterable[bytes]) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    for chunk in chunks:
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def peak_memory(call: Callable[[], Any]) -> tuple[Any, int]:
    """``call()`` and the peak of Python memory allocated meanwhile, in bytes."""
    tracemalloc.start()
    try:
        value = call()
        return value, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def gone(storage: FileStorage, key: str) -> bool:
    try:
        storage.read(key)
    except FileNotFoundError:
        return True
    return False


class FileStorageContract:
    """What every file storage does, alone and under an App."""

    @pytest.fixture
    def database_url(self, sqlite_url: str) -> str:
        return sqlite_url

    @pytest.fixture
    def files_url(self) -> str | None:  # pragma: no cover - provided by subclasses
        raise NotImplementedError

    @pytest.fixture
    def store(self, database_url: str, wall_clock: FakeClock) -> Iterator[SQLStore]:
        store = SQLStore(database_url, clock=wall_clock)
        yield store
        store.close()

    @pytest.fixture
    def make_app(
        self, database_url: str, files_url: str | None, monkeypatch: pytest.MonkeyPatch
    ) -> Iterator[Callable[..., App]]:
        if files_url is not None:
            monkeypatch.setenv("JOBWIRE_FILES_URL", files_url)
        made: list[App] = []

        def make(**options: Any) -> App:
            options.setdefault("bus", MemoryBus())
            app = App(database_url, poll_interval=0.05, **options)
            made.append(app)
            return app

        yield make
        for app in made:
            app.close()

    @pytest.fixture
    def storage(self, make_app: Callable[..., App]) -> FileStorage:
        return make_app().file_storage

    def stored_keys(self, storage: FileStorage) -> set[str]:
        """Every key with bytes in the storage."""
        if isinstance(storage, DatabaseStorage):
            db = storage.blobs._db  # type: ignore[attr-defined]
            with db._read() as conn:
                return set(conn.execute(sa.select(file_chunks.c.key).distinct()).scalars())
        assert isinstance(storage, FsspecStorage)
        root = storage.root + "/"
        return {p.split(root, 1)[1] for p in storage.fs.find(storage.root)}

    # -- the storage alone ---------------------------------------------------------------

    def test_write_then_read_whole_and_by_range(self, storage: FileStorage) -> None:
        data = bytes(range(256)) * (CHUNK * 5 // 2 // 256)  # two and a half chunks
        storage.write("j/1/a", [data[:1000], data[1000:]])
        whole = list(storage.read("j/1/a"))
        assert b"".join(whole) == data and all(len(c) <= CHUNK for c in whole)
        for start, end in [(0, 10), (CHUNK - 5, CHUNK + 5), (100, None), (len(data) - 1, None)]:
            assert b"".join(storage.read("j/1/a", start, end)) == data[start:end]
        assert b"".join(storage.read("j/1/a", len(data), None)) == b""
        storage.write("j/1/empty", [])
        assert b"".join(storage.read("j/1/empty")) == b""
        assert gone(storage, "j/1/missing")

    def test_a_50_mb_file_is_streamed_in_and_out_with_little_memory(
        self, storage: FileStorage
    ) -> None:
        expected = sha_of(random_chunks(50))
        _, peak_in = peak_memory(lambda: storage.write("j/1/big", random_chunks(50)))
        got, peak_out = peak_memory(lambda: sha_of(storage.read("j/1/big")))
        assert got == expected
        assert peak_in < SMALL, f"writing 50 MB took {peak_in / CHUNK:.1f} MiB"
        assert peak_out < SMALL, f"reading 50 MB took {peak_out / CHUNK:.1f} MiB"
        tail = b"".join(storage.read("j/1/big", BIG - CHUNK - 7, BIG - 3))
        assert tail == b"".join(random_chunks(50))[BIG - CHUNK - 7 : BIG - 3]

    def test_delete_forgets_keys_and_ignores_missing_ones(self, storage: FileStorage) -> None:
        storage.write("j/1/a", [b"a"])
        storage.write("j/1/b", [b"b"])
        storage.delete(["j/1/a", "j/1/nope"])
        assert gone(storage, "j/1/a")
        assert b"".join(storage.read("j/1/b")) == b"b"
        storage.delete(["j/1/b"])
        assert self.stored_keys(storage) == set()

    def test_a_source_that_breaks_midway_leaves_nothing(self, storage: FileStorage) -> None:
        def broken() -> Iterator[bytes]:
            yield from random_chunks(12)  # over an S3 upload part and a database batch
            raise OSError("the source broke")

        with pytest.raises(OSError, match="source broke"):
            storage.write("j/1/broken", broken())
        assert gone(storage, "j/1/broken")
        assert self.stored_keys(storage) == set()

    # -- through an App --------------------------------------------------------------------

    def test_a_task_saves_three_files_listed_read_back_and_deleted_with_its_job(
        self, make_app: Callable[..., App], tmp_path: Path
    ) -> None:
        big = tmp_path / "big.bin"
        with big.open("wb") as f:
            for chunk in random_chunks(50, seed=3):
                f.write(chunk)
        big_sha = sha_of(random_chunks(50, seed=3))
        app = make_app()

        @app.task()
        def produce(progress: Progress, path: str) -> str:
            progress.save_file("summary.json", b'{"ok": true}')
            progress.save_file("report.csv", b"a,b\n1,2\n", "text/csv; charset=utf-8")
            with open(path, "rb") as f:
                progress.save_file("frames.bin", f)
            return "done"

        with running_server(app) as url:
            job = produce.submit(path=str(big))
            assert job.result(timeout=120) == "done"
            files = {f.name: f for f in app.files(job.id)}
            assert sorted(files) == ["frames.bin", "report.csv", "summary.json"]
            assert files["summary.json"].content_type == "application/json"
            assert files["report.csv"].content_type == "text/csv; charset=utf-8"
            assert files["frames.bin"].content_type == "application/octet-stream"
            assert (files["frames.bin"].sha256, files["frames.bin"].size) == big_sha
            for f in files.values():
                assert f.created_at > 0 and f.attempt == 1
                entry = f.entry()
                assert entry["name"] == f.name and entry["created_at"]
                _, chunks = app.open_file(job.id, f.name)
                assert sha_of(chunks) == (f.sha256, f.size)
            keys = {f.key for f in files.values()}
            assert keys <= self.stored_keys(app.file_storage)
            answer = httpx.delete(f"{url}/api/jobs/{job.id}", timeout=30)
            assert answer.status_code == 204
        assert not keys & self.stored_keys(app.file_storage)
        assert app.store.trash() == []

    def test_retention_deletes_the_files_of_old_jobs(self, make_app: Callable[..., App]) -> None:
        app = make_app(retention_days=1e-6)  # ~0.09 s

        @app.task()
        def one(progress: Progress) -> None:
            progress.save_file("a.txt", b"old")

        with app:
            job = one.submit()
            job.wait(30)
        key = app.files(job.id)[0].key
        assert key in self.stored_keys(app.file_storage)
        time.sleep(0.2)
        assert app.purge() == 1
        assert key not in self.stored_keys(app.file_storage)
        assert app.store.trash() == []

    def test_a_file_saved_after_the_lease_was_lost_is_not_kept(
        self,
        make_app: Callable[..., App],
        store: SQLStore,
        wall_clock: FakeClock,
        database_url: str,
    ) -> None:
        # A lease far longer than the test: this worker never renews it by itself. The
        # store's clock then jumps past it and another worker's recovery takes the job.
        wall_clock.now = time.time() + 60  # jobs are made (and due) by the real clock
        app = make_app(store=store, lease_seconds=3600)
        started, release = threading.Event(), threading.Event()
        seen: list[BaseException] = []

        @app.task()
        def stuck(progress: Progress) -> None:
            progress.save_file("early.txt", b"before")
            started.set()
            release.wait(60)
            try:
                progress.save_file("late.txt", b"after the lease was lost")
            except JobCancelled as exc:
                seen.append(exc)
                raise

        with app:
            job = stuck.submit()
            assert started.wait(30)
            wall_clock.advance(7200)
            other = SQLStore(database_url, clock=wall_clock)  # another worker's process
            try:
                other.recover({})
            finally:
                other.close()
            # Recovered (by that worker, or by this one's own first sweep if it came late):
            # failed, as no retry is left.
            assert app.record(job.id).status == JobStatus.FAILED
            release.set()
            deadline = time.monotonic() + 30
            while not seen and time.monotonic() < deadline:
                time.sleep(0.02)
        assert seen and "lease" in str(seen[0])
        record = app.record(job.id)
        assert record.status == JobStatus.FAILED and record.error_code == "worker_lost"
        names = [f.name for f in app.files(job.id)]
        assert names == ["early.txt"]  # saved while the lease held: kept
        early = app.files(job.id)[0].key
        assert self.stored_keys(app.file_storage) == {early}  # late.txt's bytes are gone


class TestDatabaseStorageSQLite(FileStorageContract):
    @pytest.fixture
    def files_url(self) -> str | None:
        return None


@pytest.mark.postgres
class TestDatabaseStoragePostgres(FileStorageContract):
    @pytest.fixture
    def database_url(self, postgres_url: str) -> str:
        return postgres_url

    @pytest.fixture
    def files_url(self) -> str | None:
        return None


class TestDirectoryStorage(FileStorageContract):
    @pytest.fixture
    def files_url(self, tmp_path: Path) -> str | None:
        require_module("fsspec", "pip install 'jobwire[s3]'")
        return (tmp_path / "files").as_uri()


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    """An S3-compatible server: moto in server mode, on a free port, for this module. In
    a process of its own (not ``ThreadedMotoServer``), like a real bucket: what it keeps in
    memory is not counted as the client's."""
    require_module("moto.server", "pip install 'moto[server]'")
    require_module("s3fs", "pip install 'jobwire[s3]'")
    sock = free_socket()
    port = sock.getsockname()[1]
    sock.close()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        require_service("moto S3 server", lambda: wait_answering(proc, f"{url}/", timeout=30))
        yield url
    finally:
        stop(proc)


class TestS3Storage(FileStorageContract):
    @pytest.fixture
    def files_url(self, moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str | None:
        for name, value in {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
        }.items():
            monkeypatch.setenv(name, value)
        bucket = f"jobwire-{uuid.uuid4().hex[:12]}"
        import boto3

        boto3.client("s3", endpoint_url=moto_endpoint).create_bucket(Bucket=bucket)
        return f"s3://{bucket}/files?endpoint_url={moto_endpoint}"
