"""Files that jobs produce (frames, reports, extracted code), besides their JSON result.

A task saves one with :meth:`Progress.save_file <jobwire.Progress.save_file>`; its bytes go
to a :class:`FileStorage` (chosen by ``JOBWIRE_FILES_URL``: the database by default, a
directory, an S3-compatible bucket), and a :class:`FileInfo` row in the store says where they
are, so every server of a deployment can list and serve them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TypedDict

from ..snapshot import iso

#: Bytes read or written at a time.
CHUNK = 1 << 20


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
