"""Exports without a server: names, CSV (BOM, columns, formulas), JSON, the streamed ZIP and a
task's own exporters, over a small in-memory source of jobs and files."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile
from collections.abc import Iterator
from typing import Any

import pytest

from jobwire import App, ConfigurationError, Progress, ResultNotAvailable
from jobwire.errors import ExportNotAvailable, FileNotFound
from jobwire.export import (
    BOM,
    Export,
    ExportContext,
    ZipMember,
    content_disposition,
    download_name,
    export_job,
    safe_name,
    zip_stream,
)
from jobwire.files import FileInfo
from jobwire.snapshot import JobRecord
from jobwire.status import JobStatus
from jobwire.tasks import Task
from jobwire.testing import MemoryBus, MemoryStore

JOB = "0193a1b2c3d4e5f60718293a4b5c6d7e"


class Source:
    """Jobs, results and files in dicts: what export_job reads of an App."""

    def __init__(self, app: App) -> None:
        self.tasks = app.tasks
        self.records: dict[str, JobRecord] = {}
        self.results: dict[str, Any] = {}
        self.blobs: dict[tuple[str, str], tuple[FileInfo, bytes]] = {}

    def add(self, task: str, result: Any, status: JobStatus = JobStatus.SUCCEEDED) -> str:
        self.records[JOB] = JobRecord(
            id=JOB,
            task=task,
            owner="alice",
            args={"repo": "예제/저장소"},
            status=status,
            created_at=1_767_225_600.0,
            started_at=1_767_225_601.0,
            finished_at=1_767_225_661.5,
            attempt=1,
        )
        self.results[JOB] = result
        return JOB

    def add_file(self, name: str, data: bytes, content_type: str = "text/plain") -> None:
        info = FileInfo(
            JOB, name, len(data), content_type, hashlib.sha256(data).hexdigest(), 1.0, 1, name
        )
        self.blobs[(JOB, name)] = (info, data)

    def record(self, job_id: str) -> JobRecord:
        return self.records[job_id]

    def result_text(self, job_id: str) -> str | None:
        return json.dumps(self.results[job_id], ensure_ascii=False)

    def files(self, job_id: str) -> list[FileInfo]:
        return sorted((i for (j, _), (i, _) in self.blobs.items() if j == job_id), key=str)

    def open_file(
        self, job_id: str, name: str, start: int = 0, end: int | None = None
    ) -> tuple[FileInfo, Iterator[bytes]]:
        if (job_id, name) not in self.blobs:
            raise FileNotFound(name=name)
        info, data = self.blobs[(job_id, name)]
        body = data[start:end]
        return info, iter([body[i : i + 1000] for i in range(0, len(body), 1000)])


@pytest.fixture
def app() -> Iterator[App]:
    app = App(store=MemoryStore(), bus=MemoryBus())
    yield app
    app.close()


def register(app: App, name: str, **options: Any) -> Task:
    def fn(progress: Progress) -> None: ...

    fn.__name__ = name
    return app.task(name=name, **options)(fn)


def body(export: Export) -> bytes:
    return b"".join(export)


UTF8_BOM = b"\xef\xbb\xbf"


def parse_csv(data: bytes) -> list[dict[str, str]]:
    assert BOM == UTF8_BOM and data.startswith(UTF8_BOM)
    return list(csv.DictReader(io.StringIO(data[3:].decode("utf-8"), newline="")))


# -- names ----------------------------------------------------------------------------


def test_download_names_are_safe_ascii_and_keep_the_short_id() -> None:
    assert download_name("code.analyse", JOB, "zip") == "code.analyse-4b5c6d7e.zip"
    long = download_name("분석 " + "x" * 80, JOB, "csv")
    stem, ext = long.rsplit(".", 1)
    assert ext == "csv" and len(stem) == 50 and stem.endswith("-4b5c6d7e")
    assert set(stem) <= set("abcdefghijklmnopqrstuvwxyz0123456789._-")
    assert safe_name("../../etc/passwd") == "_.._etc_passwd"
    assert safe_name("보고서") == "file"
    assert safe_name("café") == "cafe"


def test_content_disposition_carries_non_ascii_names_as_rfc_5987() -> None:
    assert content_disposition("report.csv") == 'attachment; filename="report.csv"'
    header = content_disposition("분석 결과.csv")
    assert header == (
        'attachment; filename="file.csv"; '
        "filename*=UTF-8''%EB%B6%84%EC%84%9D%20%EA%B2%B0%EA%B3%BC.csv"
    )
    assert content_disposition('a"b.txt') == (
        "attachment; filename=\"a_b.txt\"; filename*=UTF-8''a%22b.txt"
    )


# -- CSV -------------------------------------------------------------------------------


def test_csv_is_utf8_with_a_bom_and_columns_in_the_order_first_met(app: App) -> None:
    register(app, "scan", export_rows=lambda r: r["files"])
    source = Source(app)
    rows = [{"파일": "가.py", "loc": 3}, {"파일": "나.py", "ui": True}, {"loc": 1.5}]
    source.add("scan", {"files": rows})
    export = export_job(source, JOB, "csv")
    assert (export.filename, export.media_type) == ("scan-4b5c6d7e.csv", "text/csv; charset=utf-8")
    assert parse_csv(body(export)) == [
        {"파일": "가.py", "loc": "3", "ui": ""},
        {"파일": "나.py", "loc": "", "ui": "true"},
        {"파일": "", "loc": "1.5", "ui": ""},
    ]


def test_export_columns_choose_and_order_the_columns(app: App) -> None:
    register(app, "scan", export_rows=lambda r: r, export_columns=["b", "a"])
    source = Source(app)
    source.add("scan", [{"a": 1, "b": [1, 2], "c": "left out"}])
    data = body(export_job(source, JOB, "csv"))
    assert data == BOM + b'b,a\r\n"[1,2]",1\r\n'


def test_text_that_a_spreadsheet_would_run_gets_a_quote(app: App) -> None:
    source = Source(app)
    source.add("plain", [{"v": "=HYPERLINK(1)"}, {"v": "-2"}, {"v": -2}, {"v": "@x"}])
    assert [r["v"] for r in parse_csv(body(export_job(source, JOB, "csv")))] == [
        "'=HYPERLINK(1)",
        "'-2",
        "-2",
        "'@x",
    ]


def test_a_large_csv_is_written_in_chunks(app: App) -> None:
    register(app, "big", export_rows=lambda r: ({"n": i, "t": "한글" * 20} for i in range(r)))
    source = Source(app)
    source.add("big", 5000)
    chunks = list(export_job(source, JOB, "csv"))
    assert len(chunks) > 3 and max(len(c) for c in chunks) < 200_000
    rows = parse_csv(b"".join(chunks))
    assert len(rows) == 5000 and rows[-1] == {"n": "4999", "t": "한글" * 20}


def test_a_result_that_is_a_list_of_flat_objects_is_its_own_rows(app: App) -> None:
    source = Source(app)
    source.add("unregistered", [{"a": 1}, {"a": 2, "b": None}])
    assert parse_csv(body(export_job(source, JOB, "csv"))) == [
        {"a": "1", "b": ""},
        {"a": "2", "b": ""},
    ]


@pytest.mark.parametrize("result", [{"files": []}, [{"a": {"nested": 1}}], [1, 2], "text", None])
def test_no_rows_no_csv(app: App, result: Any) -> None:
    source = Source(app)
    source.add("unregistered", result)
    with pytest.raises(ExportNotAvailable, match="export_rows"):
        export_job(source, JOB, "csv")


def test_rows_that_are_not_mappings_are_refused_before_any_byte(app: App) -> None:
    register(app, "bad", export_rows=lambda r: [{"a": 1}, ["not", "a", "dict"]])
    source = Source(app)
    source.add("bad", None)
    with pytest.raises(ExportNotAvailable, match="row 2 is list"):
        export_job(source, JOB, "csv")
    with pytest.raises(ExportNotAvailable, match="row 2 is list"):
        export_job(source, JOB, "zip")


# -- JSON, answers ---------------------------------------------------------------------


def test_json_is_indented_and_keeps_korean_as_utf8(app: App) -> None:
    source = Source(app)
    source.add("x", {"이름": "값", "n": [1]})
    export = export_job(source, JOB, "json")
    data = body(export)
    assert data == '{\n  "이름": "값",\n  "n": [\n    1\n  ]\n}\n'.encode()
    assert export.size == len(data) and export.media_type == "application/json"


def test_only_a_succeeded_job_in_a_known_format_is_exported(app: App) -> None:
    source = Source(app)
    source.add("x", None, status=JobStatus.RUNNING)
    with pytest.raises(ResultNotAvailable, match="running"):
        export_job(source, JOB, "json")
    with pytest.raises(ExportNotAvailable, match="json, csv or zip, but got 'xml'"):
        export_job(source, JOB, "xml")


# -- ZIP -------------------------------------------------------------------------------


def test_the_zip_holds_the_result_the_csv_the_files_and_a_readme(app: App) -> None:
    register(app, "scan", export_rows=lambda r: r["rows"])
    source = Source(app)
    source.add("scan", {"rows": [{"이름": "가"}, {"이름": "나"}]})
    files = {"보고서.txt": "내용".encode() * 1000, "a.png": bytes(range(256)) * 50}
    for name, data in files.items():
        source.add_file(name, data, "image/png" if name.endswith("png") else "text/plain")
    export = export_job(source, JOB, "zip")
    assert (export.filename, export.media_type, export.size) == (
        "scan-4b5c6d7e.zip",
        "application/zip",
        None,
    )
    archive = zipfile.ZipFile(io.BytesIO(body(export)))
    assert archive.testzip() is None
    assert archive.namelist() == [
        "result.json",
        "result.csv",
        "files/a.png",
        "files/보고서.txt",
        "README.md",
    ]
    assert json.loads(archive.read("result.json")) == {"rows": [{"이름": "가"}, {"이름": "나"}]}
    assert parse_csv(archive.read("result.csv")) == [{"이름": "가"}, {"이름": "나"}]
    for name, data in files.items():
        assert archive.read(f"files/{name}") == data
    assert archive.getinfo("files/a.png").compress_size > 0
    readme = archive.read("README.md").decode()
    assert "# scan — job 4b5c6d7e" in readme
    assert "| Duration | 1 min (60.5 s) |" in readme
    assert '"repo": "예제/저장소"' in readme
    assert "The job saved 2 files, 18.8 kB in all." in readme
    assert "result.csv has 2 rows and 1 column: 이름" in readme
    assert hashlib.sha256(files["a.png"]).hexdigest() in readme
    # Every size was known: no member needed ZIP64 (which macOS Archive Utility cannot read).
    assert all(i.extract_version < 45 for i in archive.infolist())


def test_a_zip_without_rows_says_so(app: App) -> None:
    source = Source(app)
    source.add("x", {"not": "rows"})
    archive = zipfile.ZipFile(io.BytesIO(body(export_job(source, JOB, "zip"))))
    assert archive.namelist() == ["result.json", "README.md"]
    readme = archive.read("README.md").decode()
    assert "The job saved 0 files." in readme and "No CSV" in readme


def test_zip_stream_takes_pairs_members_and_iterables_and_keeps_names_inside() -> None:
    data = b"".join(
        zip_stream(
            [
                ("a.txt", "텍스트"),
                ("../../b.bin", iter([b"x" * 10, b"y"])),
                ZipMember("c/d.bin", iter([b"z" * 5]), size=5, compress=False),
            ]
        )
    )
    archive = zipfile.ZipFile(io.BytesIO(data))
    assert archive.namelist() == ["a.txt", "b.bin", "c/d.bin"]
    assert archive.read("a.txt").decode() == "텍스트"
    assert archive.read("b.bin") == b"x" * 10 + b"y"
    assert archive.read("c/d.bin") == b"zzzzz"


# -- a task's own exporters ------------------------------------------------------------


def test_a_tasks_own_exporter_replaces_the_format(app: App) -> None:
    task = register(app, "analyse")
    seen: list[ExportContext] = []

    @task.exporter("zip")
    def pure_functions(ctx: ExportContext) -> Iterator[bytes]:
        seen.append(ctx)
        members = [(f"{f['name']}_pure.py", f["code"]) for f in ctx.result["files"]]
        return ctx.zip([*members, ("README.md", ctx.readme(summary=["2 files"]))])

    @task.exporter("json")
    def as_text(ctx: ExportContext) -> str:
        return f"{ctx.job['id']} {ctx.args['repo']}"

    @task.exporter("csv")
    def pieces(ctx: ExportContext) -> Iterator[str | bytes]:
        yield "a,b\r\n"
        yield b"1,2\r\n"

    source = Source(app)
    source.add("analyse", {"files": [{"name": "m", "code": "def f(): ..."}]})
    archive = zipfile.ZipFile(io.BytesIO(body(export_job(source, JOB, "zip"))))
    assert archive.namelist() == ["m_pure.py", "README.md"]
    assert archive.read("m_pure.py") == b"def f(): ..."
    assert seen[0].format == "zip" and seen[0].task is task
    assert body(export_job(source, JOB, "json")) == f"{JOB} 예제/저장소".encode()
    assert export_job(source, JOB, "json").size == len(f"{JOB} 예제/저장소".encode())
    assert body(export_job(source, JOB, "csv")) == b"a,b\r\n1,2\r\n"


def test_an_exporter_must_give_bytes(app: App) -> None:
    task = register(app, "odd")
    task.exporter("json")(lambda ctx: {"a": 1})
    source = Source(app)
    source.add("odd", None)
    with pytest.raises(TypeError, match="bytes, text or an iterable of bytes, but got dict"):
        export_job(source, JOB, "json")
    task.exporter("json")(lambda ctx: [1])
    with pytest.raises(TypeError, match="bytes or text, but got int"):
        body(export_job(source, JOB, "json"))


def test_exporters_are_for_known_formats_only(app: App) -> None:
    with pytest.raises(ConfigurationError, match="json, csv, zip, but got 'xml'"):
        register(app, "x").exporter("xml")  # type: ignore[arg-type]


def test_the_context_csv_helper_takes_rows_and_columns(app: App) -> None:
    source = Source(app)
    source.add("x", None)
    ctx = ExportContext(source, source.records[JOB], None, "csv", None)
    rows = ({"a": i, "b": "나"} for i in range(3))  # an iterator: read into a list first
    assert parse_csv(b"".join(ctx.csv(rows, columns=["b", "a"]))) == [
        {"b": "나", "a": str(i)} for i in range(3)
    ]
    with pytest.raises(ExportNotAvailable):
        ctx.csv()
