"""What an exporter receives: :class:`ExportContext`, the job with its arguments, result and
files, and the helpers that write CSV and ZIP."""

from __future__ import annotations

import functools
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from ..errors import ExportNotAvailable
from ..snapshot import JobRecord, Snapshot, snapshot
from .archive import Data, ZipMember, zip_stream
from .readme import Entry, readme
from .tabular import Table, csv_chunks, flat_rows

if TYPE_CHECKING:
    from ..files import FileInfo
    from ..tasks import ExportFormat, Task


class Source(Protocol):
    """What exporting needs of the App (an :class:`~jobwire.App` is one)."""

    @property
    def tasks(self) -> Mapping[str, Task]: ...

    def record(self, job_id: str) -> JobRecord: ...

    def result_text(self, job_id: str) -> str | None: ...

    def files(self, job_id: str) -> list[FileInfo]: ...

    def open_file(
        self, job_id: str, name: str, start: int = 0, end: int | None = None
    ) -> tuple[FileInfo, Iterator[bytes]]: ...


class ExportContext:
    """A succeeded job, as an exporter sees it.

    ```python
    @analyse.exporter("zip")
    def pure_functions(ctx: ExportContext) -> Iterable[bytes]:
        members = [(f"{f['name']}_pure.py", f["code"]) for f in ctx.result["files"]]
        return ctx.zip([*members, ("README.md", ctx.readme())])
    ```
    """

    def __init__(
        self,
        source: Source,
        record: JobRecord,
        result: Any,
        format: ExportFormat,
        task: Task | None,
    ) -> None:
        self.source = source
        self.record = record
        self.job: Snapshot = snapshot(record)
        """The job's snapshot (``id``, ``task``, ``created_at``, ``finished_at``…)."""
        self.args: dict[str, Any] = record.args
        """The job's arguments, as stored (JSON values)."""
        self.result = result
        """The job's result, as stored (JSON values)."""
        self.format = format
        self.task = task
        """The registered task; None when this process does not know it."""

    @functools.cached_property
    def files(self) -> list[FileInfo]:
        """The files the job saved (read once, on first use)."""
        return self.source.files(self.record.id)

    def open(self, name: str) -> Iterator[bytes]:
        """The bytes of one of the job's files, in chunks. Raises FileNotFound."""
        return self.source.open_file(self.record.id, name)[1]

    def table(self) -> Table | None:
        """The rows of the job's CSV, checked: what the task's ``export_rows`` returns for
        the result (with ``export_columns``), else the result itself when it is a list of
        flat objects; None when there are none."""
        options = self.task.options if self.task is not None else None
        make = options.export_rows if options is not None else None
        what = f"task {self.record.task!r}"
        if make is not None:
            rows = functools.partial(make, self.result)
            return Table.of(rows, options.export_columns if options else None, what)
        flat = flat_rows(self.result)
        if flat is None:
            return None
        return Table.of(lambda: flat, options.export_columns if options else None, what)

    def csv(
        self,
        rows: Iterable[Mapping[str, Any]] | None = None,
        columns: Sequence[str] | None = None,
    ) -> Iterator[bytes]:
        """CSV, UTF-8 with a byte order mark, streamed: of ``rows`` (an iterator is read
        into a list first: the columns are found before the rows are written) with
        ``columns``, or by default of the job's rows (:meth:`table`). Raises
        ExportNotAvailable when there are none."""
        if rows is None:
            table = self.table()
            if table is None:
                raise ExportNotAvailable(
                    f"Task {self.record.task!r} declares no rows for a CSV export, and its "
                    "result is not a list of flat objects: give the task export_rows=… (a "
                    'function of the result returning the rows, e.g. lambda r: r["files"]), '
                    'or an exporter: @task.exporter("csv")',
                    job_id=self.record.id,
                    task=self.record.task,
                )
        else:
            given = rows if isinstance(rows, Sequence) else list(rows)
            table = Table.of(lambda: given, columns, f"task {self.record.task!r}")
        return csv_chunks(table)

    def zip(self, members: Iterable[ZipMember | tuple[str, Data]]) -> Iterator[bytes]:
        """A streamed ZIP of ``members`` (see :func:`jobwire.export.zip_stream`), dated when
        the job finished."""
        return zip_stream(members, modified=self.finished)

    def readme(self, contents: Iterable[Entry] = (), summary: Iterable[str] = ()) -> str:
        """The README.md that the default ZIP holds: the task, its arguments, when it ran
        and how long, then ``summary`` and ``contents``."""
        return readme(self.record, list(contents), list(summary), exported_at=time.time())

    @property
    def finished(self) -> datetime:
        ts = self.record.finished_at or self.record.created_at
        return datetime.fromtimestamp(ts, UTC)
