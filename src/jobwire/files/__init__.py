"""Files that jobs produce (frames, reports, extracted code), besides their JSON result.

A task saves one with :meth:`Progress.save_file <jobwire.Progress.save_file>`; its bytes go
to a :class:`FileStorage` (chosen by ``JOBWIRE_FILES_URL``: the database by default, a
directory, an S3-compatible bucket), and a :class:`FileInfo` row in the store says where they
are, so every server of a deployment can list and serve them.
"""

from __future__ import annotations

import mimetypes
import os
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import IO, TypedDict

from ..errors import UnstorableValue
from ..snapshot import iso
from ..storable import check_text

#: Bytes read or written at a time.
CHUNK = 1 << 20
#: Longest file name (and content type) the stores keep.
MAX_NAME = 255

#: What :meth:`Progress.save_file <jobwire.Progress.save_file>` takes: the bytes, a path to
#: a file, or a binary file object (read in chunks).
FileData = bytes | bytearray | memoryview | str | os.PathLike[str] | IO[bytes]


def check_name(name: str) -> str:
    """``name`` if it is a plain file name every store keeps and every browser can download
    as is: 1 to 255 characters, no ``/`` or ``\\``, not ``.`` or ``..``, no control
    character, valid Unicode. Raises UnstorableValue saying what is wrong."""
    check_text(name, "file name", max_length=MAX_NAME)
    wrong = None
    if not name:
        wrong = "is empty"
    elif "/" in name or "\\" in name:
        wrong = "contains a / or \\ (a file name, not a path, is expected)"
    elif name in (".", ".."):
        wrong = "is . or .."
    elif any(ord(c) < 32 or ord(c) == 127 for c in name):
        wrong = "contains a control character"
    if wrong is not None:
        raise UnstorableValue(
            f"The file name {name!r} {wrong}: use a plain name such as 'report.csv'.",
            field="file name",
        )
    return name


def content_type_of(name: str, given: str | None = None) -> str:
    """``given`` (checked), else the type ``mimetypes`` guesses from the name, else
    ``application/octet-stream``."""
    if given is not None:
        return check_text(given, "content_type", max_length=MAX_NAME)
    guessed, _ = mimetypes.guess_type(name, strict=False)
    return guessed or "application/octet-stream"


class FileEntry(TypedDict):
    """A file as the API lists it."""

    name: str
    size: int
    content_type: str
    sha256: str
    created_at: str | None


@dataclass(frozen=True, slots=True)
class FileInfo:
    """A file a job's attempt saved."""

    job_id: str
    name: str
    size: int
    content_type: str
    sha256: str
    """Hex SHA-256 of its bytes."""
    created_at: float
    attempt: int
    """The attempt that saved it: only the job's current attempt's files are listed."""
    key: str
    """Where its bytes are in the file storage."""

    def entry(self) -> FileEntry:
        return {
            "name": self.name,
            "size": self.size,
            "content_type": self.content_type,
            "sha256": self.sha256,
            "created_at": iso(self.created_at),
        }


class FileStorage(ABC):
    """Where the bytes of files live, by key. Keys are made by jobwire (no user text)."""

    url: str

    @abstractmethod
    def write(self, key: str, chunks: Iterable[bytes]) -> None:
        """Store the bytes of ``chunks`` under ``key``, streamed (never whole in memory).
        When ``chunks`` raises, nothing is left under ``key``."""

    @abstractmethod
    def read(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """The bytes ``start`` up to ``end`` (exclusive; None: to the end) of ``key``, in
        chunks."""

    @abstractmethod
    def delete(self, keys: Sequence[str]) -> None:
        """Forget these keys (missing ones are fine)."""

    def close(self) -> None:  # noqa: B027 - optional: only storages with connections need it
        """Release connections; the default has none."""
