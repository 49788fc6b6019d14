"""The files of jobs as the App serves them: listed, read by range, and deleted with their
job (the trash the store fills is drained into the file storage)."""

from __future__ import annotations

import builtins
import logging
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from ..errors import FileNotFound, JobNotFound
from . import FileInfo, FileStorage

if TYPE_CHECKING:
    from ..store import Store

logger = logging.getLogger(__name__)

#: Keys taken from the trash at a time.
TRASH_BATCH = 500


def drain_trash(store: Store, storage: Callable[[], FileStorage], limit: int = TRASH_BATCH) -> int:
    """Delete from the file storage the bytes of the files whose row is gone (their job was
    deleted or purged, or they were replaced), then forget them; return how many. The
    storage is opened only when there is something to delete. Safe to run in several
    processes at once: deleting twice is harmless."""
    done = 0
    while True:
        keys = store.trash(limit)
        if not keys:
            break
        storage().delete(keys)
        store.forget_trash(keys)
        done += len(keys)
        if len(keys) < limit:
            break
    if done:
        logger.info("deleted the bytes of %d file(s)", done, extra={"action": "file_trash"})
    return done


class JobFiles:
    """The files of jobs: rows in the store (``store``, opened on first use), bytes in the
    file storage that ``url`` names (:func:`~jobwire.files.storages.open_storage`)."""

    def __init__(self, store: Callable[[], Store], url: str | None) -> None:
        self._store = store
        self.url = url
        self._storage: FileStorage | None = None
        self._lock = threading.Lock()

    @property
    def storage(self) -> FileStorage:
        if self._storage is None:
            store = self._store()
            with self._lock:
                if self._storage is None:
                    from .storages import open_storage

                    self._storage = open_storage(self.url, store)
        return self._storage

    def list(self, job_id: str) -> builtins.list[FileInfo]:
        """The files of the job's current attempt, by name. Raises JobNotFound."""
        store = self._store()
        found = store.files(job_id)
        if not found and store.get(job_id) is None:
            raise JobNotFound(f"No job has the id {job_id!r}", job_id=job_id)
        return found

    def open(
        self, job_id: str, name: str, start: int = 0, end: int | None = None
    ) -> tuple[FileInfo, Iterator[bytes]]:
        """The file and its bytes ``start`` up to ``end`` (exclusive; None: to its end), in
        chunks. Raises JobNotFound, or FileNotFound when the job has no such file."""
        store = self._store()
        info = store.file(job_id, name)
        if info is None:
            if store.get(job_id) is None:
                raise JobNotFound(f"No job has the id {job_id!r}", job_id=job_id)
            raise FileNotFound(f"Job {job_id} has no file named {name!r}", job_id=job_id, name=name)
        end = info.size if end is None else min(end, info.size)
        try:
            chunks = self.storage.read(info.key, max(start, 0), end)
        except FileNotFoundError:  # deleted meanwhile (its job was deleted or purged)
            raise FileNotFound(
                f"Job {job_id} has no file named {name!r}", job_id=job_id, name=name
            ) from None
        return info, chunks

    def drain_trash(self) -> int:
        """Delete the bytes of the files the store trashed (see :func:`drain_trash`), after
        a job was deleted or purged. The job is gone already whatever happens here: when the
        storage or the store cannot be reached, the keys stay in the trash, for the worker's
        next look (every minute)."""
        try:
            return drain_trash(self._store(), lambda: self.storage)
        except Exception as exc:  # the job is deleted: this must not turn that into an error
            logger.warning(
                "the bytes of deleted files stay in the trash for now: %s",
                exc,
                extra={"action": "file_trash"},
            )
            return 0

    def close(self) -> None:
        if self._storage is not None:
            self._storage.close()
            self._storage = None
