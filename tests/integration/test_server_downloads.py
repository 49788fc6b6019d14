"""Files and exports through a real server (authentication on, real httpx): a job that writes
1,000 CSV rows of Korean text and 3 files, one of 50 MB, exported as CSV (UTF-8 with BOM) and
as a ZIP streamed to disk, its files downloaded whole and by range, on SQLite and PostgreSQL;
then who may download what, the answers for jobs that cannot be exported, a task's own
exporter, and the result cache's statistics."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import random
import re
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from jobwire import App, Progress
from jobwire.export import ExportContext

from .server_util import running_server

BIG = 50 * 1024 * 1024
#: Set when the "endless" exporter's generator is closed.
CLOSED = threading.Event()
REPORT_NAME = "요약 보고서.txt"


def rows() -> list[dict[str, Any]]:
    # Commas, quotes and a line break inside cells: the CSV must quote them as Excel does.
    return [
        {"번호": i, "이름": f"사용자 {i}", "의견": f'좋아요, "정말" {i}\n두 번째 줄', "점수": i % 7}
        for i in range(1000)
    ]


def files() -> dict[str, bytes]:
    return {
        REPORT_NAME: "한국어 요약: 1,000명 응답\n".encode() * 200,
        "data.json": json.dumps({"응답": 1000}, ensure_ascii=False).encode(),
        "big.bin": random.Random(11).randbytes(BIG),
    }


def tasks_app(database_url: str) -> App:
    app = App(database_url, progress_interval=0.05, poll_interval=0.1)

    @app.task(name="survey", export_rows=lambda result: result["rows"])
    def survey(progress: Progress) -> dict[str, Any]:
        """1,000 rows of answers, and 3 files."""
        for name, data in files().items():
            progress.save_file(name, data)
        return {"title": "설문 결과", "rows": rows()}

    @app.task(name="plain")
    def plain(progress: Progress, n: int = 1) -> dict[str, int]:
        return {"n": n}

    @app.task(name="spin")
    def spin(progress: Progress, seconds: float = 30.0) -> None:
        for _ in progress.iter(range(int(seconds * 100))):
            __import__("time").sleep(0.01)

    @app.task(name="cached", cache_ttl=600)
    def cached(progress: Progress, key: str) -> dict[str, str]:
        return {"key": key}

    analyse = app.task(name="analyse")(_analyse)

    endless = app.task(name="endless")(_analyse)

    @endless.exporter("zip")
    def forever(ctx: ExportContext) -> Iterator[bytes]:
        try:
            for _ in range(100_000):
                yield b"x" * (1 << 20)
        finally:
            CLOSED.set()

    @analyse.exporter("zip")
    def pure_functions(ctx: ExportContext) -> Iterator[bytes]:
        members = [(f"{f['name']}_pure.py", f["code"]) for f in ctx.result["files"]]
        return ctx.zip([*members, ("README.md", ctx.readme(summary=["Pure functions only."]))])

    return app


def _analyse(progress: Progress) -> dict[str, Any]:
    return {"files": [{"name": "utils", "code": "def add(a, b):\n    return a + b\n"}]}


@dataclass
class Served:
    base: str
    app: App
    alice: str
    bob: str
    admin: str

    def headers(self, key: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {key or self.alice}"}

    def get(self, path: str, key: str | None = None, **kwargs: Any) -> httpx.Response:
        headers = {**self.headers(key), **kwargs.pop("headers", {})}
        return httpx.get(f"{self.base}{path}", headers=headers, timeout=60, **kwargs)

    def submit(
        self, task: str, user: str | None = None, params: Any = None, **args: Any
    ) -> dict[str, Any]:
        r = httpx.post(
            f"{self.base}/api/tasks/{task}/jobs",
            json=args,
            headers=self.headers(user),
            params=params,
        )
        assert r.status_code in (200, 202), r.text
        answer: dict[str, Any] = r.json()
        answer["status_code"] = r.status_code
        return answer

    def finished(self, answer: dict[str, Any]) -> str:
        record = self.app.wait_record(answer["id"], 120)
        assert record.status.value == "succeeded", record.error_message
        return record.id


def serve(database_url: str) -> Iterator[Served]:
    app = tasks_app(database_url)
    app.store.upgrade()
    _, alice = app.store.keys.create_key("alice")
    _, bob = app.store.keys.create_key("bob")
    _, admin = app.store.keys.create_key("root", roles=["admin"])
    try:
        with running_server(app, auth="token") as base:
            yield Served(base, app, alice, bob, admin)
    finally:
        app.close()


@pytest.fixture(params=["sqlite", "postgres"])
def served(request: pytest.FixtureRequest) -> Iterator[Served]:
    yield from serve(request.getfixturevalue(f"{request.param}_url"))


@pytest.fixture
def on_sqlite(sqlite_url: str) -> Iterator[Served]:
    yield from serve(sqlite_url)


def error_code(r: httpx.Response, status: int) -> str:
    assert r.status_code == status, (r.status_code, r.text)
    code: str = r.json()["error"]["code"]
    return code


# -- a job with 1,000 rows and 3 files, on SQLite and PostgreSQL ---------------------------


@pytest.mark.timeout(300)
def test_csv_zip_files_and_ranges_of_a_job_with_korean_rows_and_a_50_mb_file(
    served: Served, tmp_path: Path
) -> None:
    answer = served.submit("survey")
    assert answer["links"]["files"] == f"/api/jobs/{answer['id']}/files"
    assert answer["links"]["export"] == f"/api/jobs/{answer['id']}/export"
    assert answer["files_url"] == f"/api/jobs/{answer['id']}/files"
    job = served.finished(answer)
    expected = files()
    digests = {name: hashlib.sha256(data).hexdigest() for name, data in expected.items()}

    listed = served.get(f"/api/jobs/{job}/files").json()["files"]
    assert {f["name"]: (f["size"], f["sha256"]) for f in listed} == {
        name: (len(data), digests[name]) for name, data in expected.items()
    }
    assert all(f["content_type"] and f["created_at"].endswith("Z") for f in listed)

    # CSV: a BOM, then the same rows back.
    r = served.get(f"/api/jobs/{job}/export", params={"format": "csv"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "text/csv; charset=utf-8"
    assert r.headers["content-disposition"] == (f'attachment; filename="survey-{job[-8:]}.csv"')
    assert r.content.startswith(b"\xef\xbb\xbf")  # the UTF-8 BOM
    parsed = list(csv.DictReader(io.StringIO(r.content[3:].decode("utf-8"), newline="")))
    assert parsed == [{k: str(v) for k, v in row.items()} for row in rows()]

    # JSON: indented, Korean as UTF-8.
    r = served.get(f"/api/jobs/{job}/export", params={"format": "json"})
    assert r.headers["content-length"] == str(len(r.content))
    assert '"title": "설문 결과"' in r.text and r.text.startswith('{\n  "title"')

    # ZIP: streamed to a file, then read with zipfile.
    path = tmp_path / "export.zip"
    with httpx.stream(
        "GET",
        f"{served.base}/api/jobs/{job}/export",
        params={"format": "zip"},
        headers=served.headers(),
        timeout=120,
    ) as r:
        assert r.status_code == 200
        assert r.headers["content-type"] == "application/zip"
        assert "content-length" not in r.headers  # streamed as it is made
        with path.open("wb") as out:
            for chunk in r.iter_bytes():
                out.write(chunk)
    with zipfile.ZipFile(path) as archive:
        assert sorted(archive.namelist()) == sorted(
            ["result.json", "result.csv", "README.md", *(f"files/{n}" for n in expected)]
        )
        assert json.loads(archive.read("result.json"))["rows"][999]["번호"] == 999
        assert archive.read("result.csv").startswith(b"\xef\xbb\xbf")
        for name in expected:
            digest = hashlib.sha256()
            with archive.open(f"files/{name}") as member:
                while chunk := member.read(1 << 20):
                    digest.update(chunk)
            assert digest.hexdigest() == digests[name], name
        readme = archive.read("README.md").decode()
        assert "# survey — job" in readme and "| Duration |" in readme
        assert "The job saved 3 files, 52.4 MB in all." in readme
        assert "result.csv has 1,000 rows and 4 columns: 번호, 이름, 의견, 점수" in readme

    # A file, whole (streamed) and by ranges.
    url = f"/api/jobs/{job}/files/big.bin"
    with httpx.stream("GET", served.base + url, headers=served.headers(), timeout=60) as r:
        assert r.status_code == 200
        assert r.headers["content-length"] == str(BIG)
        assert r.headers["accept-ranges"] == "bytes"
        assert r.headers["etag"] == f'"{digests["big.bin"]}"'
        digest = hashlib.sha256()
        for chunk in r.iter_bytes():
            digest.update(chunk)
        assert digest.hexdigest() == digests["big.bin"]
    big = expected["big.bin"]
    for header, (start, end) in {
        "bytes=1000-1999": (1000, 2000),
        f"bytes={BIG - 5}-": (BIG - 5, BIG),
        "bytes=-10": (BIG - 10, BIG),
        f"bytes=30000000-{BIG * 2}": (30_000_000, BIG),
    }.items():
        r = served.get(url, headers={"Range": header})
        assert r.status_code == 206, (header, r.text)
        assert r.headers["content-range"] == f"bytes {start}-{end - 1}/{BIG}"
        assert r.content == big[start:end], header
    r = served.get(url, headers={"Range": f"bytes={BIG}-"})
    assert error_code(r, 416) == "range_not_satisfiable"
    assert r.headers["content-range"] == f"bytes */{BIG}"
    r = served.get(url, headers={"If-None-Match": f'"{digests["big.bin"]}"'})
    assert r.status_code == 304 and r.content == b""
    # If-Range with another tag: the whole file.
    r = served.get(
        f"/api/jobs/{job}/files/data.json", headers={"Range": "bytes=0-1", "If-Range": '"x"'}
    )
    assert (r.status_code, r.content) == (200, expected["data.json"])

    # A Korean file name: RFC 5987.
    r = served.get(f"/api/jobs/{job}/files/{quote(REPORT_NAME)}")
    assert r.status_code == 200 and r.content == expected[REPORT_NAME]
    assert r.headers["content-disposition"] == (
        f"attachment; filename=\"file.txt\"; filename*=UTF-8''{quote(REPORT_NAME, safe='')}"
    )
    assert r.headers["content-type"].startswith("text/plain")
    assert r.headers["x-content-type-options"] == "nosniff"

    # The job's stream token downloads through a plain link (no header).
    token = answer["stream_token"]
    r = httpx.get(f"{served.base}{url}", params={"token": token}, headers={"Range": "bytes=0-3"})
    assert (r.status_code, r.content) == (206, big[:4])
    r = httpx.get(f"{served.base}/api/jobs/{job}/export", params={"token": token, "format": "json"})
    assert r.status_code == 200


# -- who may download what; what cannot be exported ----------------------------------------


def test_another_users_job_is_404_on_files_and_export(on_sqlite: Served) -> None:
    s = on_sqlite
    job = s.finished(s.submit("plain", n=3))
    for path in (
        f"/api/jobs/{job}/files",
        f"/api/jobs/{job}/files/data.json",
        f"/api/jobs/{job}/export?format=zip",
        f"/api/jobs/{job}/export",
    ):
        assert error_code(s.get(path, s.bob), 404) == "job_not_found", path
    assert s.get(f"/api/jobs/{job}/export", s.admin).json() == {"n": 3}
    # Bob's stream token reaches his job only.
    bobs = s.submit("plain", s.bob)
    r = httpx.get(f"{s.base}/api/jobs/{job}/files", params={"token": bobs["stream_token"]})
    assert error_code(r, 404) == "job_not_found"


def test_unknown_jobs_and_files_are_404(on_sqlite: Served) -> None:
    s = on_sqlite
    job = s.finished(s.submit("plain"))
    assert s.get(f"/api/jobs/{job}/files").json() == {"files": []}
    assert error_code(s.get(f"/api/jobs/{job}/files/nope.txt"), 404) == "file_not_found"
    assert error_code(s.get("/api/jobs/nope/files"), 404) == "job_not_found"
    assert error_code(s.get("/api/jobs/nope/export"), 404) == "job_not_found"
    assert error_code(s.get("/api/jobs/nope/files/x"), 404) == "job_not_found"


def test_a_running_job_is_409_an_unknown_format_422_a_csv_without_rows_409(
    on_sqlite: Served,
) -> None:
    s = on_sqlite
    running = s.submit("spin")["id"]
    r = s.get(f"/api/jobs/{running}/export", params={"format": "zip"})
    assert error_code(r, 409) == "result_not_available"
    assert "only a succeeded job can be exported" in r.json()["error"]["message"]
    assert s.get(f"/api/jobs/{running}/files").status_code == 200
    s.app.cancel(running)
    done = s.finished(s.submit("plain"))
    r = s.get(f"/api/jobs/{done}/export", params={"format": "xml"})
    assert error_code(r, 422) == "validation_error"
    assert "json" in r.text and "zip" in r.text
    r = s.get(f"/api/jobs/{done}/export", params={"format": "csv"})
    assert error_code(r, 409) == "export_not_available"
    assert "export_rows" in r.json()["error"]["message"]


def test_a_tasks_own_exporter_is_used_for_its_format(on_sqlite: Served) -> None:
    s = on_sqlite
    job = s.finished(s.submit("analyse"))
    r = s.get(f"/api/jobs/{job}/export", params={"format": "zip"})
    assert r.status_code == 200
    assert r.headers["content-disposition"] == f'attachment; filename="analyse-{job[-8:]}.zip"'
    archive = zipfile.ZipFile(io.BytesIO(r.content))
    assert archive.namelist() == ["utils_pure.py", "README.md"]
    assert archive.read("utils_pure.py") == b"def add(a, b):\n    return a + b\n"
    assert "Pure functions only." in archive.read("README.md").decode()
    # The other formats stay the default ones.
    assert s.get(f"/api/jobs/{job}/export").json()["files"][0]["name"] == "utils"


def test_a_download_the_client_leaves_is_closed_on_the_server(on_sqlite: Served) -> None:
    s = on_sqlite
    job = s.finished(s.submit("endless"))
    CLOSED.clear()
    url = f"{s.base}/api/jobs/{job}/export?format=zip"
    with httpx.stream("GET", url, headers=s.headers(), timeout=30) as r:
        assert r.status_code == 200
        assert len(next(r.iter_raw())) > 0
    # 100 GB were on offer: the server stopped reading them when the client went away.
    assert CLOSED.wait(10), "the exporter's generator was not closed"


# -- the result cache ------------------------------------------------------------------------


def metric(text: str, name: str, task: str) -> float:
    match = re.search(rf'^{name}\{{task="{task}"\}} (\S+)$', text, re.MULTILINE)
    assert match is not None, f"{name} for {task} not in /metrics"
    return float(match.group(1))


def test_cache_statistics_fresh_submits_and_delete(on_sqlite: Served) -> None:
    s = on_sqlite
    first = s.submit("cached", key="k")
    assert first["status_code"] == 202
    s.finished(first)
    for _ in range(9):
        again = s.submit("cached", key="k")
        assert (again["status_code"], again["outcome"], again["id"]) == (200, "cached", first["id"])
    expected = {"hits": 9, "misses": 1, "hit_rate": 0.9}
    assert s.get("/api/stats").json()["cache"] == {"cached": expected}
    assert s.get("/api/stats", s.bob).json()["cache"] == {"cached": expected}  # per task
    text = s.get("/metrics", s.admin).text
    assert metric(text, "jobwire_cache_hits_total", "cached") == 9
    assert metric(text, "jobwire_cache_misses_total", "cached") == 1
    assert "# TYPE jobwire_cache_hits_total counter" in text

    # fresh=true runs the job again, and counts a miss.
    fresh = s.submit("cached", key="k", params={"fresh": "true"})
    assert (fresh["status_code"], fresh["outcome"]) == (202, "created")
    assert fresh["id"] != first["id"]
    s.finished(fresh)
    assert s.get("/api/stats").json()["cache"]["cached"] == {
        "hits": 9,
        "misses": 2,
        "hit_rate": 0.8182,
    }
    assert s.app.store.cache_stats()["cached"] == (9, 2)

    # Deleting the jobs takes their result out of the cache.
    for job in (first["id"], fresh["id"]):
        r = httpx.delete(f"{s.base}/api/jobs/{job}", headers=s.headers())
        assert r.status_code == 204
    after = s.submit("cached", key="k")
    assert (after["status_code"], after["outcome"]) == (202, "created")
