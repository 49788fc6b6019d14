"""Downloads from a server: a succeeded job's export (JSON, CSV or ZIP) or one of the files it
saved, streamed chunk by chunk to a file or read whole, with an optional progress callback."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Literal
from urllib.parse import quote, unquote

from .. import errors as e

if TYPE_CHECKING:
    import httpx

ExportFormat = Literal["json", "csv", "zip"]
FORMATS: tuple[ExportFormat, ...] = ("json", "csv", "zip")
#: ``progress(done, total)``: bytes received so far, and the size when the server said it.
ProgressCallback = Callable[[int, "int | None"], None]
CHUNK = 1 << 16


def target(job_id: str, format: str | None, file: str | None) -> tuple[str, dict[str, str]]:
    """The path and query of an export (``format``, JSON by default) or of one file."""
    job = f"/api/jobs/{quote(job_id, safe='')}"
    if file is not None:
        if format is not None:
            raise e.ConfigurationError(
                f"Expected a format or a file, but got both: format={format!r}, file={file!r}"
            )
        if not file:
            raise e.ConfigurationError("Expected a file name, but got an empty one")
        return f"{job}/files/{quote(file, safe='')}", {}
    return f"{job}/export", {"format": format or "json"}


def filename_of(disposition: str | None) -> str | None:
    """The file name a ``Content-Disposition`` header gives: ``filename*`` (RFC 5987, UTF-8)
    first, else ``filename``. Only its last path component, and None when there is none."""
    if not disposition:
        return None
    plain = extended = None
    for part in disposition.split(";")[1:]:
        key, _, value = part.strip().partition("=")
        key, value = key.strip().lower(), value.strip()
        if key == "filename*":
            charset, _, rest = value.partition("'")
            _, _, encoded = rest.partition("'")
            with contextlib.suppress(LookupError, UnicodeDecodeError):
                extended = unquote(encoded, encoding=charset or "utf-8", errors="strict")
        elif key == "filename":
            plain = value[1:-1].replace('\\"', '"') if value.startswith('"') else value
    return safe_name(extended or plain)


def safe_name(name: str | None) -> str | None:
    """``name`` without any directory part (a server cannot write outside the target
    directory), or None when nothing usable is left."""
    if not name:
        return None
    base = name.replace("\\", "/").rsplit("/", 1)[-1].strip()
    return None if base in ("", ".", "..") or "\x00" in base else base


@dataclass
class Download:
    """A download the server has started to send (see :meth:`Client.open_download
    <jobwire.Client.open_download>`): read it once with :meth:`iter_bytes`."""

    response: httpx.Response
    filename: str
    """The server's name for it (``Content-Disposition``), else one made from the request."""
    total: int | None
    """Its size in bytes (``Content-Length``), or None when the server did not say."""
    content_type: str

    def iter_bytes(self, progress: ProgressCallback | None = None) -> Iterator[bytes]:
        """The body in chunks; ``progress(done, total)`` after each one (and once at 0)."""
        # Content-Length counts the bytes as sent: compressed ones, when the body is encoded.
        encoded = self.response.headers.get("content-encoding", "identity") != "identity"
        done = 0
        if progress is not None:
            progress(0, self.total)
        for chunk in self.response.iter_bytes(CHUNK):
            done += len(chunk)
            if progress is not None:
                progress(self.response.num_bytes_downloaded if encoded else done, self.total)
            yield chunk

    def read(self, progress: ProgressCallback | None = None) -> bytes:
        return b"".join(self.iter_bytes(progress))

    def write_to(self, out: BinaryIO, progress: ProgressCallback | None = None) -> int:
        """Copy the body into ``out``; the number of bytes written."""
        size = 0
        for chunk in self.iter_bytes(progress):
            out.write(chunk)
            size += len(chunk)
        return size

    def save(self, path: str | os.PathLike[str], progress: ProgressCallback | None = None) -> Path:
        """Write the body to ``path`` (into it, under :attr:`filename`, when ``path`` is a
        directory). It goes to a temporary file beside it first, renamed when complete, so a
        failed download leaves nothing behind and never half-overwrites a file."""
        dest = Path(path)
        if dest.is_dir():
            dest = dest / self.filename
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as out:
                self.write_to(out, progress)
            os.replace(tmp, dest)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        return dest


def download_of(response: httpx.Response, fallback: str) -> Download:
    length = response.headers.get("content-length")
    total = int(length) if length and length.isdigit() else None
    return Download(
        response=response,
        filename=filename_of(response.headers.get("content-disposition")) or fallback,
        total=total,
        content_type=response.headers.get("content-type", "application/octet-stream"),
    )


def fallback_name(job_id: str, format: str | None, file: str | None) -> str:
    return safe_name(file) or f"{job_id}.{format or 'json'}"
