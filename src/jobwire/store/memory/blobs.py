"""File bytes in memory (``MemoryStore().blobs``), in chunks, for tests."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence

from ..base import BlobStore


class MemoryBlobStore(BlobStore):
    """Chunks in a dict, under the lock of the MemoryStore that made it. A blob appears
    whole once all its chunks are in, or not at all."""

    def __init__(self, lock: threading.RLock) -> None:
        self._lock = lock
        self._blobs: dict[str, list[bytes]] = {}

    def put_blob(self, key: str, chunks: Iterable[bytes]) -> None:
        kept = [bytes(c) for c in chunks if c]  # raises before anything is stored
        with self._lock:
            self._blobs[key] = kept

    def blob(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        with self._lock:
            chunks = self._blobs.get(key)
        if chunks is None:
            raise FileNotFoundError(f"No bytes are stored under {key!r}")
        return self._range(chunks, max(start, 0), end)

    @staticmethod
    def _range(chunks: list[bytes], start: int, end: int | None) -> Iterator[bytes]:
        offset = 0
        for chunk in chunks:
            if end is not None and offset >= end:
                return
            stop = len(chunk) if end is None else min(len(chunk), end - offset)
            piece = chunk[max(start - offset, 0) : stop]
            if piece:
                yield piece
            offset += len(chunk)

    def delete_blobs(self, keys: Sequence[str]) -> None:
        with self._lock:
            for key in keys:
                self._blobs.pop(key, None)
