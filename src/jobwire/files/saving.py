"""Saving a file from a task: the bytes go to the file storage under a fresh key, streamed
and counted against the limits, then the store records the file, only while the attempt
holds its job's lease. A file the store refuses (the attempt lost its lease) is deleted and
the task gets JobCancelled, as its other writes are rejected.

A :class:`FileSaver` is the files sink of one attempt's
:class:`~jobwire.progress.Progress`. In a child process of the ``processes`` executor,
:class:`ChildFiles` builds one from a :class:`SaverSpec` (the child has no worker).
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import ConfigurationError, FileTooLarge, JobCancelled
from . import CHUNK, FileData, FileInfo, FileStorage

if TYPE_CHECKING:
    from ..store import Store

logger = logging.getLogger(__name__)

#: Seconds a file being written keeps its key out of the trash's reach: a save still writing
#: after this long may find its bytes gone (raise the limit for very slow storages).
RESERVATION = 6 * 3600.0


@dataclass(frozen=True, slots=True)
class FileLimits:
    max_file_bytes: int
    """Bytes one file may have (setting ``max_file_bytes``)."""
    max_job_file_bytes: int
    """Bytes the files of a job's attempt may have together (``max_job_file_bytes``)."""


@dataclass(frozen=True, slots=True)
class SaverSpec:
    """What a child process needs to save the files of one attempt (it can be pickled)."""

    database_url: str | None
    """None when the store lives in the parent's memory (a child cannot reach it)."""
    files_url: str | None
    worker_id: str
    job_id: str
    attempt: int
    limits: FileLimits


def _mib(n: int) -> str:
    return f"{n / (1 << 20):g} MiB"


def chunks_of(data: FileData) -> Iterator[bytes]:
    """The bytes of ``data`` (bytes, a path, or a binary file object), ``CHUNK`` at a time."""
    if isinstance(data, bytes | bytearray | memoryview):
        view = memoryview(data).cast("B")
        for i in range(0, len(view), CHUNK):
            yield bytes(view[i : i + CHUNK])
        return
    if isinstance(data, str | os.PathLike):
        with open(data, "rb") as f:
            yield from chunks_of(f)
        return
    read = getattr(data, "read", None)
    if read is None:
        raise TypeError(
            f"Expected bytes, a path or a binary file object, but got {type(data).__name__}"
        )
    while True:
        piece = read(CHUNK)
        if not isinstance(piece, bytes | bytearray):
            raise TypeError(
                "Expected a binary file object (open it with 'rb'), but its read() gave "
                f"{type(piece).__name__}"
            )
        if not piece:
            return
        yield bytes(piece)


def _forget(store: Store, storage: FileStorage, key: str) -> None:
    """Delete the bytes of a file that was not recorded, and its reservation. A failure here
    must not hide why the file was not recorded: it is logged, and the reserved key stays in
    the trash, whose drain deletes the bytes later."""
    try:
        storage.delete([key])
        store.forget_trash([key])
    except Exception:
        logger.exception("could not delete the bytes of an unrecorded file %s", key)


class FileSaver:
    """Saves the files of one attempt: the files sink of its Progress."""

    def __init__(
        self,
        store: Store,
        storage: Callable[[], FileStorage],
        *,
        files_url: str | None,
        worker_id: str,
        job_id: str,
        attempt: int,
        limits: FileLimits,
    ) -> None:
        self.store = store
        self.storage = storage
        self.files_url = files_url
        self.worker_id = worker_id
        self.job_id = job_id
        self.attempt = attempt
        self.limits = limits

    def spec(self) -> SaverSpec:
        """What a child process needs to save files for this attempt."""
        shared = self.store.url.startswith(("sqlite", "postgres"))
        return SaverSpec(
            self.store.url if shared else None,
            self.files_url,
            self.worker_id,
            self.job_id,
            self.attempt,
            self.limits,
        )

    def save(self, name: str, data: FileData, content_type: str) -> FileInfo:
        """Store ``data`` as the file ``name`` of this attempt; its FileInfo. Raises
        FileTooLarge over a limit, JobCancelled when the attempt lost its lease; in both
        cases nothing of the file is kept."""
        others = sum(
            f.size
            for f in self.store.files(self.job_id)
            if f.attempt == self.attempt and f.name != name
        )
        key = f"{self.job_id}/{self.attempt}/{uuid.uuid4().hex}"
        digest = hashlib.sha256()
        size = 0

        def counted() -> Iterator[bytes]:
            nonlocal size
            for chunk in chunks_of(data):
                size += len(chunk)
                self._check(name, size, others)
                digest.update(chunk)
                yield chunk

        storage = self.storage()
        # Written ahead: if this process dies before the file is recorded, the key is in the
        # trash, and its bytes are deleted once the reservation is over.
        self.store.reserve(key, RESERVATION)
        try:
            storage.write(key, counted())
        except BaseException:
            _forget(
                self.store, storage, key
            )  # the storage left nothing; a second look costs little
            raise
        info = FileInfo(
            job_id=self.job_id,
            name=name,
            size=size,
            content_type=content_type,
            sha256=digest.hexdigest(),
            created_at=time.time(),
            attempt=self.attempt,
            key=key,
        )
        try:
            recorded = self.store.add_file(self.worker_id, info)
        except BaseException:
            _forget(self.store, storage, key)
            raise
        if not recorded:
            _forget(self.store, storage, key)
            logger.info(
                "job %s attempt %d lost its lease: file %r discarded",
                self.job_id,
                self.attempt,
                name,
                extra={"job_id": self.job_id, "action": "file_discarded"},
            )
            raise JobCancelled(
                f"Attempt {self.attempt} of job {self.job_id} no longer holds its lease "
                f"(it was recovered or ended elsewhere): the file {name!r} was discarded."
            )
        return info

    def _check(self, name: str, size: int, others: int) -> None:
        limit = self.limits.max_file_bytes
        if size > limit:
            raise FileTooLarge(
                f"The file {name!r} is larger than max_file_bytes ({_mib(limit)}); nothing "
                "was kept. Save less, or raise JOBWIRE_MAX_FILE_BYTES.",
                name=name,
                limit=limit,
                setting="max_file_bytes",
            )
        limit = self.limits.max_job_file_bytes
        if others + size > limit:
            raise FileTooLarge(
                f"With the file {name!r}, the files of job {self.job_id} would be larger "
                f"than max_job_file_bytes ({_mib(limit)}); nothing of it was kept. Save "
                "less, or raise JOBWIRE_MAX_JOB_FILE_BYTES.",
                name=name,
                limit=limit,
                setting="max_job_file_bytes",
            )


class ChildFiles:
    """The files sink of a task in a child process of the ``processes`` executor: opens its
    own store and file storage on the first save, from the :class:`SaverSpec`."""

    def __init__(self, spec: SaverSpec) -> None:
        self.spec = spec
        self._store: Store | None = None
        self._saver: FileSaver | None = None

    def save(self, name: str, data: FileData, content_type: str) -> FileInfo:
        if self._saver is None:
            self._saver = self._open()
        return self._saver.save(name, data, content_type)

    def _open(self) -> FileSaver:
        spec = self.spec
        if spec.database_url is None:
            raise ConfigurationError(
                "Files saved by a task on the processes executor need a database URL "
                "(App('sqlite:///jobwire.db') or postgresql://…): its child process cannot "
                "reach a store in the parent's memory (App(store=MemoryStore())). Use the "
                "threads executor with a MemoryStore."
            )
        from ..store.sql import SQLStore
        from .storages import open_storage

        self._store = store = SQLStore(spec.database_url)
        storage = open_storage(spec.files_url, store)
        return FileSaver(
            store,
            lambda: storage,
            files_url=spec.files_url,
            worker_id=spec.worker_id,
            job_id=spec.job_id,
            attempt=spec.attempt,
            limits=spec.limits,
        )

    def close(self) -> None:
        if self._saver is not None:
            self._saver.storage().close()
        if self._store is not None:
            self._store.close()
