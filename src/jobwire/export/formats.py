"""A succeeded job as a download: JSON, CSV or a ZIP, or what the task's own exporter makes
(:meth:`Task.exporter <jobwire.Task.exporter>`). ``App.export`` calls :func:`export_job`."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ..errors import ExportNotAvailable, ResultNotAvailable
from ..snapshot import loads
from ..status import JobStatus
from ..tasks import EXPORT_FORMATS
from .archive import ZipMember, packed
from .context import ExportContext, Source
from .names import download_name
from .readme import Entry, plural, size_text
from .tabular import csv_chunks, csv_size

MEDIA_TYPES = {
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "zip": "application/zip",
}


@dataclass(frozen=True, slots=True)
class Export:
    """A job as a download: iterate it (or ``chunks``) for its bytes, once."""

    filename: str
    """``{task}-{short id}.{format}``, in ASCII letters, digits and ``.-_``."""
    media_type: str
    size: int | None
    """Its length in bytes, when known before it is written (JSON); None when streamed."""
    chunks: Iterator[bytes]

    def __iter__(self) -> Iterator[bytes]:
        return self.chunks


def export_job(source: Source, job_id: str, format: str) -> Export:
    """Job ``job_id`` as ``format`` (``json``, ``csv`` or ``zip``). Raises JobNotFound,
    ResultNotAvailable until the job succeeded, and ExportNotAvailable for another format,
    or a CSV of a task without rows. The bytes are made as they are read."""
    if format not in EXPORT_FORMATS:
        raise ExportNotAvailable(
            f"Expected the format json, csv or zip, but got {format!r}", format=format
        )
    record = source.record(job_id)
    if record.status != JobStatus.SUCCEEDED:
        raise ResultNotAvailable(
            f"Job {job_id} is {record.status.value}; only a succeeded job can be exported.",
            job_id=job_id,
            status=record.status.value,
        )
    text = source.result_text(job_id)
    result = loads(text) if text is not None else None
    task = source.tasks.get(record.task)
    fmt = format  # narrowed to ExportFormat by the check above
    ctx = ExportContext(source, record, result, fmt, task)
    name = download_name(record.task, record.id, fmt)
    media_type = MEDIA_TYPES[fmt]
    custom = task.exporters.get(fmt) if task is not None else None
    if custom is not None:
        made = custom(ctx)
        if isinstance(made, str):
            made = made.encode("utf-8")
        if isinstance(made, bytes):
            return Export(name, media_type, len(made), iter((made,)))
        if not isinstance(made, Iterable) or isinstance(made, Mapping):
            raise TypeError(
                f"Expected the {fmt} exporter of task {record.task!r} to return bytes, text "
                f"or an iterable of bytes, but got {type(made).__name__}"
            )
        return Export(name, media_type, None, _as_bytes(made, record.task))
    if fmt == "json":
        body = pretty_json(result)
        return Export(name, media_type, len(body), iter((body,)))
    if fmt == "csv":
        return Export(name, media_type, None, ctx.csv())
    return Export(name, media_type, None, default_zip(ctx))


def pretty_json(value: Any) -> bytes:
    """``value`` indented by 2, non-ASCII text as it is (UTF-8), with a final newline."""
    return (json.dumps(value, indent=2, ensure_ascii=False, default=str) + "\n").encode()


def default_zip(ctx: ExportContext) -> Iterator[bytes]:
    """``result.json``; ``result.csv`` when the job has rows (:meth:`ExportContext.table`);
    every file the job saved, under ``files/``; and a ``README.md`` saying what the job was
    and what the archive holds."""
    table = ctx.table()  # now: a task whose rows are wrong fails before the first byte

    def members() -> Iterator[ZipMember]:
        contents: list[Entry] = []
        summary: list[str] = []
        body = pretty_json(ctx.result)
        contents.append(Entry("result.json", len(body), "the result, as JSON"))
        yield ZipMember("result.json", body)
        if table is not None:
            size = csv_size(table)  # written once to count: a known size keeps it ZIP32
            rows = plural(table.count, "row")
            contents.append(Entry("result.csv", size, f"{rows} (UTF-8 with BOM, for Excel)"))
            summary.append(
                f"result.csv has {rows} and {plural(len(table.columns), 'column')}: "
                + ", ".join(str(c) for c in table.columns)
            )
            yield ZipMember("result.csv", csv_chunks(table), size=size)
        else:
            summary.append("No CSV: the task declares no rows (`export_rows`).")
        files = ctx.files
        for info in files:
            name = f"files/{info.name}"
            contents.append(Entry(name, info.size, f"{info.content_type}, sha256 {info.sha256}"))
            yield ZipMember(
                name,
                ctx.open(info.name),
                size=info.size,
                modified=datetime.fromtimestamp(info.created_at, UTC),
                compress=not packed(info.content_type),
            )
        total = sum(f.size for f in files)
        saved = plural(len(files), "file") + (f", {size_text(total)} in all" if files else "")
        summary.insert(0, f"The job saved {saved}.")
        yield ZipMember("README.md", ctx.readme(contents, summary))

    return ctx.zip(members())


def _as_bytes(chunks: Iterable[Any], task: str) -> Iterator[bytes]:
    for chunk in chunks:
        if isinstance(chunk, str):
            yield chunk.encode("utf-8")
        elif isinstance(chunk, bytes | bytearray | memoryview):
            yield bytes(chunk)
        else:
            raise TypeError(
                f"Expected the exporter of task {task!r} to give bytes or text, but got "
                f"{type(chunk).__name__}"
            )
