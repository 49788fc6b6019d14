"""A job's files and exports, as :class:`~jobwire.Client` reads them: the list, and
downloads streamed to a file or read whole."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, cast, overload

from .download import Download, ExportFormat, ProgressCallback, download_of, fallback_name, target
from .http import Session

if TYPE_CHECKING:
    from ..files import FileEntry


class JobFiles(Session):
    """The part of :class:`~jobwire.Client` that lists and downloads a job's files and
    exports."""

    def files(self, job_id: str, *, stream_token: str | None = None) -> list[FileEntry]:
        """The files the job saved (``name``, ``size``, ``content_type``, ``sha256``,
        ``created_at``), by name. Raises JobNotFound."""
        path = self._job_path(job_id, "/files")
        body = self._request("GET", path, params=self._token(stream_token)).json()
        return cast("list[FileEntry]", body["files"])

    @contextlib.contextmanager
    def open_download(
        self,
        job_id: str,
        format: ExportFormat | None = None,
        *,
        file: str | None = None,
        stream_token: str | None = None,
    ) -> Iterator[Download]:
        """Start a download and hand it over unread, to stream it anywhere (what
        :meth:`download` is built on); the connection closes when the block ends.

        ```python
        with client.open_download(job_id, "zip") as d:
            print(d.filename, d.total)
            for chunk in d.iter_bytes(): ...
        ```
        """
        path, params = target(job_id, format, file)
        with self._stream("GET", path, params={**params, **self._token(stream_token)}) as r:
            yield download_of(r, fallback_name(job_id, format, file))

    @overload
    def download(
        self,
        job_id: str,
        format: ExportFormat | None = None,
        *,
        file: str | None = None,
        path: None = None,
        progress: ProgressCallback | None = None,
        stream_token: str | None = None,
    ) -> bytes: ...

    @overload
    def download(
        self,
        job_id: str,
        format: ExportFormat | None = None,
        *,
        file: str | None = None,
        path: str | os.PathLike[str],
        progress: ProgressCallback | None = None,
        stream_token: str | None = None,
    ) -> Path: ...

    def download(
        self,
        job_id: str,
        format: ExportFormat | None = None,
        *,
        file: str | None = None,
        path: str | os.PathLike[str] | None = None,
        progress: ProgressCallback | None = None,
        stream_token: str | None = None,
    ) -> Path | bytes:
        """A succeeded job's export as ``format`` (``"json"``, the default, ``"csv"`` or
        ``"zip"``: ``GET /api/jobs/{id}/export``), or with ``file=`` one file it saved
        (``GET /api/jobs/{id}/files/{name}``); not both.

        With ``path``, the body is streamed there in chunks, never whole in memory (into a
        directory: under the server's file name, ``{task}-{short id}.{ext}`` or the file's
        name), through a temporary file renamed when complete; returns the path written.
        Without it, returns the bytes. ``progress(done, total)`` is called after each chunk
        (``total`` is None when the server did not give a size).

        Raises JobNotFound, FileNotFound, ResultNotAvailable until the job succeeded,
        ExportNotAvailable for a CSV of a task without rows, and a JobwireError with the
        code ``validation_error`` for a format the server does not know.

        ```python
        client.download(job.id, "csv", path="report.csv")
        frame = client.download(job.id, file="frame-001.png")
        ```
        """
        with self.open_download(job_id, format, file=file, stream_token=stream_token) as d:
            return d.read(progress) if path is None else d.save(path, progress)
