"""Client.download / Client.files over httpx's MockTransport: the URLs asked for, file names
from Content-Disposition, streaming to a path through a temporary file, the progress callback
and the error mapping. (Against a real server: tests/integration/test_client_files.py.)"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from jobwire import Client, ConfigurationError, JobNotFound, JobwireError, ResultNotAvailable
from jobwire.client import RemoteJob
from jobwire.client.download import filename_of

JOB = "a" * 32
BODY = bytes(range(256)) * 1000  # 256,000 bytes: several chunks


def client_for(handler: Callable[[httpx.Request], httpx.Response], token: str | None = None):
    client = Client("http://jobwire.test", token)
    client.http.close()
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    client.http = httpx.Client(
        base_url=client.url, headers=headers, transport=httpx.MockTransport(handler)
    )
    return client


def serving(body: bytes = BODY, **headers: str) -> tuple[list[httpx.Request], Callable]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=body, headers=headers)

    return seen, handler


@pytest.mark.parametrize(
    ("header", "name"),
    [
        ('attachment; filename="count-aaaaaaaa.csv"', "count-aaaaaaaa.csv"),
        ("attachment; filename=plain.json", "plain.json"),
        (
            "attachment; filename=\"r_sum_.txt\"; filename*=UTF-8''r%C3%A9sum%C3%A9.txt",
            "résumé.txt",
        ),
        ("attachment; filename*=utf-8''%E5%9B%BE.png; filename=\"_.png\"", "图.png"),
        ('attachment; filename="../../etc/passwd"', "passwd"),
        ("attachment; filename*=UTF-8''..%2F..%2Fx.bin", "x.bin"),
        ('attachment; filename=".."', None),
        ("attachment", None),
        (None, None),
    ],
)
def test_file_name_from_content_disposition(header: str | None, name: str | None) -> None:
    assert filename_of(header) == name


def test_download_an_export_as_bytes_with_progress() -> None:
    seen, handler = serving(**{"content-type": "text/csv"})
    calls: list[tuple[int, int | None]] = []
    with client_for(handler) as client:
        data = client.download(JOB, "csv", progress=lambda done, total: calls.append((done, total)))
    assert data == BODY
    assert seen[0].url.path == f"/api/jobs/{JOB}/export"
    assert dict(seen[0].url.params) == {"format": "csv"}
    assert calls[0] == (0, len(BODY))
    assert calls[-1] == (len(BODY), len(BODY))
    assert len(calls) > 2  # one call per chunk
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)


def test_json_is_the_default_export_and_a_stream_token_goes_in_the_query() -> None:
    seen, handler = serving(b"{}")
    with client_for(handler) as client:
        assert client.download(JOB, stream_token="st") == b"{}"
    assert dict(seen[0].url.params) == {"format": "json", "token": "st"}


def test_download_one_file_into_a_directory_under_the_servers_name(tmp_path: Path) -> None:
    seen, handler = serving(
        **{"content-disposition": "attachment; filename*=UTF-8''frame%20001.png"}
    )
    with client_for(handler) as client:
        written = client.download(JOB, file="frame 001.png", path=tmp_path)
    assert written == tmp_path / "frame 001.png"
    assert written.read_bytes() == BODY
    assert seen[0].url.raw_path.decode() == f"/api/jobs/{JOB}/files/frame%20001.png"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["frame 001.png"]


def test_download_to_a_path_replaces_it_only_when_complete(tmp_path: Path) -> None:
    out = tmp_path / "out.zip"
    out.write_bytes(b"old")
    _, handler = serving(**{"content-disposition": 'attachment; filename="x-aaaaaaaa.zip"'})
    with client_for(handler) as client:
        assert client.download(JOB, "zip", path=out) == out
    assert out.read_bytes() == BODY

    class Broken(httpx.SyncByteStream):
        def __iter__(self) -> Iterator[bytes]:
            yield b"x" * 1000
            raise httpx.ReadError("connection reset")

    def broken(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, stream=Broken(), headers={"content-length": "5000"})

    with client_for(broken) as client, pytest.raises(httpx.ReadError):
        client.download(JOB, "zip", path=out)
    assert out.read_bytes() == BODY  # untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.zip"]  # no .part left


def test_a_directory_without_a_server_name_uses_the_file_or_job_id(tmp_path: Path) -> None:
    _, handler = serving(b"abc")
    with client_for(handler) as client:
        assert client.download(JOB, "csv", path=tmp_path) == tmp_path / f"{JOB}.csv"
        assert client.download(JOB, file="a/b.txt", path=tmp_path) == tmp_path / "b.txt"


def error(status: int, code: str) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        body = {"error": {"code": code, "message": f"{code} here", "details": {}}}
        return httpx.Response(status, json=body)

    return handler


def test_errors_are_jobwire_errors(tmp_path: Path) -> None:
    with (
        client_for(error(409, "result_not_available")) as client,
        pytest.raises(ResultNotAvailable),
    ):
        client.download(JOB, "csv", path=tmp_path / "x.csv")
    assert list(tmp_path.iterdir()) == []
    with client_for(error(404, "job_not_found")) as client, pytest.raises(JobNotFound):
        client.files(JOB)
    with client_for(error(422, "invalid_format")) as client, pytest.raises(JobwireError) as raised:
        client.download(JOB, "xml")  # type: ignore[arg-type]
    assert raised.value.code == "invalid_format" and raised.value.message == "invalid_format here"
    with client_for(error(500, "x")) as client, pytest.raises(ConfigurationError):
        client.download(JOB, "csv", file="a.png")


def test_files_lists_the_entries_and_remote_jobs_mirror_the_client() -> None:
    entry = {
        "name": "a.txt",
        "size": 3,
        "content_type": "text/plain",
        "sha256": "ba7816bf" + "0" * 56,
        "created_at": "2025-01-01T00:00:00Z",
    }
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path.endswith("/files"):
            return httpx.Response(200, json={"files": [entry]})
        return httpx.Response(200, content=b"abc")

    snap = {"id": JOB, "task": "t", "status": "succeeded"}
    with client_for(handler) as anonymous:
        job = RemoteJob(anonymous, snap, stream_token="st")  # type: ignore[arg-type]
        assert job.files() == [entry]
        assert job.download(file="a.txt") == b"abc"
    assert [dict(r.url.params) for r in seen] == [{"token": "st"}, {"token": "st"}]
    seen.clear()
    with client_for(handler, token="key") as keyed:
        job = RemoteJob(keyed, snap, stream_token="st")  # type: ignore[arg-type]
        assert job.download("csv") == b"abc"
    # A client with credentials of its own uses them (a stream token expires).
    assert dict(seen[0].url.params) == {"format": "csv"}
    assert seen[0].headers["authorization"] == "Bearer key"
