"""Client.files / Client.download and the CLI's `export` and `files` with --url, against a
real server (uvicorn in a thread, SQLite file, workers in it)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from jobwire import App, Client, JobNotFound, JobwireError, ResultNotAvailable
from jobwire.client import RemoteJob
from jobwire.errors import FileNotFound, Unauthorized
from jobwire.snapshot import short_id
from tests.apps.outputs import NAMES, big_bytes, register
from tests.integration.server_fixtures import running_server

ROOT = Path(__file__).resolve().parents[2]
BIG = 1_500_000


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    app = App(f"sqlite:///{tmp_path_factory.mktemp('files') / 'jobwire.db'}", workers=2)
    register(app)
    app.store.upgrade()
    yield app
    app.close()


@pytest.fixture(scope="module")
def url(app: App) -> Iterator[str]:
    with running_server(app, submit_rate=1000.0, submit_burst=1000) as base:
        yield base


@pytest.fixture(scope="module")
def client(url: str) -> Iterator[Client]:
    with Client(url, timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def job(client: Client) -> RemoteJob:
    return client.submit("report", {"rows": 3, "big": BIG}).wait(timeout=60)


def test_files_and_each_download(app: App, url: str, job: RemoteJob, tmp_path: Path) -> None:
    with Client(url, timeout=30) as client:  # another client than the job's
        assert client.files(job.id) == [info.entry() for info in app.files(job.id)]
        assert {f["name"] for f in client.files(job.id)} == {*NAMES, "big.bin"}
        for fmt in ("json", "csv"):
            api = httpx.get(f"{url}/api/jobs/{job.id}/export", params={"format": fmt}).content
            assert client.download(job.id, fmt) == api, fmt  # type: ignore[arg-type]
        assert json.loads(client.download(job.id)) == {"rows": job.result()["rows"]}

        written = client.download(job.id, "zip", path=tmp_path)
        assert written == tmp_path / f"report-{short_id(job.id)}.zip"
        with zipfile.ZipFile(written) as archive:  # (its README says when: not byte-equal)
            assert archive.testzip() is None
            members = {name.rsplit("/", 1)[-1]: name for name in archive.namelist()}
            assert archive.read(members["big.bin"]) == big_bytes(BIG)
            assert archive.read(members[NAMES[0]]) == b"3 rows\n"

        # One file: to a path, into a directory under its own (Korean) name, as bytes.
        seen: list[tuple[int, int | None]] = []
        big = client.download(
            job.id, file="big.bin", path=tmp_path / "b.bin", progress=lambda *a: seen.append(a)
        )
        assert big.read_bytes() == big_bytes(BIG)
        assert seen[0] == (0, BIG) and seen[-1] == (BIG, BIG) and len(seen) > 3
        assert client.download(job.id, file=NAMES[1], path=tmp_path) == tmp_path / NAMES[1]
        _, chunks = app.open_file(job.id, NAMES[1])
        assert (tmp_path / NAMES[1]).read_bytes() == b"".join(chunks)
        assert job.download(file=NAMES[0]) == b"3 rows\n"
        assert job.files() == client.files(job.id)


def test_download_errors(app: App, url: str, job: RemoteJob, tmp_path: Path) -> None:
    queued = app.submit("report", {"rows": 1}, delay=3600)  # waits an hour: not succeeded
    with Client(url, timeout=30) as client:
        with pytest.raises(JobNotFound):
            client.download("f" * 32, "csv")
        with pytest.raises(JobNotFound):
            client.files("f" * 32)
        with pytest.raises(ResultNotAvailable):
            client.download(queued.id, "csv", path=tmp_path / "x.csv")
        with pytest.raises(FileNotFound):
            client.download(job.id, file="nope.txt", path=tmp_path)
        with pytest.raises(JobwireError) as bad:
            client.download(job.id, "xml")  # type: ignore[arg-type]
        answer = httpx.get(f"{url}/api/jobs/{job.id}/export", params={"format": "xml"})
        assert answer.status_code == 422
        assert bad.value.code == answer.json()["error"]["code"]
    assert list(tmp_path.iterdir()) == []
    app.cancel(queued.id)


def test_stream_tokens_reach_one_jobs_downloads(tmp_path: Path) -> None:
    app = App(f"sqlite:///{tmp_path / 'auth.db'}", workers=1)
    register(app)
    app.store.upgrade()
    _, alice = app.store.keys.create_key("alice")
    try:
        with running_server(app, auth="token") as base:
            with Client(base, token=alice) as client:
                job = client.submit("report", {"rows": 2}).wait(timeout=60)
                other = client.submit("report", {"rows": 5}).wait(timeout=60)
                expected = client.download(job.id, "csv")
            with Client(base) as anonymous:
                with pytest.raises(Unauthorized):
                    anonymous.files(job.id)
                # What a browser's link has: no header, the job's stream token in the URL.
                assert job.stream_token
                assert anonymous.download(job.id, "csv", stream_token=job.stream_token) == expected
                assert [f["name"] for f in anonymous.files(job.id, stream_token=job.stream_token)]
                viewer = RemoteJob(anonymous, job.snapshot, stream_token=job.stream_token)
                assert viewer.download(file=NAMES[0]) == b"2 rows\n"
                with pytest.raises((JobNotFound, Unauthorized)):
                    anonymous.download(other.id, "csv", stream_token=job.stream_token)
    finally:
        app.close()


# -- the CLI with --url ---------------------------------------------------------------------


def jobwire(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "COLUMNS": "200", "PYTHONPATH": str(ROOT)}
    env.pop("JOBWIRE_TOKEN", None)
    return subprocess.run(
        [sys.executable, "-m", "jobwire", *args], env=env, cwd=cwd, capture_output=True, timeout=60
    )


@pytest.mark.slow
def test_cli_export_and_files_with_url(url: str, job: RemoteJob, tmp_path: Path) -> None:
    out = jobwire("export", job.id, "--url", url, "--format", "csv", "-o", str(tmp_path / "o.csv"))
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "o.csv").read_bytes() == job.download("csv")

    listed = jobwire("files", job.id, "--url", url, "--json")
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout)["files"] == job.files()
    table = jobwire("files", job.id, "--url", url)
    assert table.returncode == 0 and NAMES[1].encode() in table.stdout

    got = jobwire("files", job.id, "--url", url, "--get", "big.bin", cwd=tmp_path)
    assert got.returncode == 0, got.stderr
    assert (tmp_path / "big.bin").read_bytes() == big_bytes(BIG)

    missing = jobwire("files", job.id, "--url", url, "--get", "nope.txt")
    assert missing.returncode == 2 and b"nope.txt" in missing.stderr
    down = jobwire("export", job.id, "--url", "http://127.0.0.1:9", "-o", str(tmp_path))
    assert down.returncode == 2 and b"cannot reach" in down.stderr
