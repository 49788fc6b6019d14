"""File bytes in the database (``store.blobs``): the default file storage, which every
server sharing the database can serve. One row per chunk of at most
:data:`~jobwire.files.CHUNK` bytes with its ``offset``, written a few chunks per transaction
(SQLite's write lock is never held for a whole large file) and read back one chunk per query
(a slow download holds no transaction open)."""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import sqlalchemy as sa

from ...files import CHUNK
from ..base import BlobStore
from ..tables import file_chunks
from .engine import SQLBase

#: Bytes written per transaction at most (plus one chunk).
BATCH_BYTES = 4 * CHUNK
#: Keys deleted per transaction.
DELETE_BATCH = 100

_ROW = sa.select(file_chunks.c.offset, file_chunks.c.data).where(
    file_chunks.c.key == sa.bindparam("b_key"), file_chunks.c.seq == sa.bindparam("b_seq")
)
_FIRST = (
    sa.select(file_chunks.c.seq)
    .where(
        file_chunks.c.key == sa.bindparam("b_key"),
        file_chunks.c.offset <= sa.bindparam("b_start"),
    )
    .order_by(file_chunks.c.offset.desc())
    .limit(1)
)


def pieces(chunks: Iterable[bytes], size: int = CHUNK) -> Iterator[bytes]:
    """The bytes of ``chunks`` in pieces of at most ``size`` bytes, none empty."""
    for chunk in chunks:
        data = bytes(chunk)
        for i in range(0, len(data), size):
            yield data[i : i + size]


class SQLBlobStore(BlobStore):
    """``store.blobs`` of an SQLStore: it shares the store's engines."""

    def __init__(self, db: SQLBase) -> None:
        self._db = db

    def put_blob(self, key: str, chunks: Iterable[bytes]) -> None:
        rows: builtins.list[dict[str, Any]] = []
        held = 0
        seq = offset = 0
        try:
            for piece in pieces(chunks):
                rows.append({"key": key, "seq": seq, "offset": offset, "data": piece})
                seq += 1
                offset += len(piece)
                held += len(piece)
                if held >= BATCH_BYTES:
                    self._insert(rows)
                    rows, held = [], 0
            if seq == 0:  # an empty file still has a row: it exists
                rows.append({"key": key, "seq": 0, "offset": 0, "data": b""})
            self._insert(rows)
        except BaseException:
            self.delete_blobs([key])  # nothing is left under the key
            raise

    def _insert(self, rows: builtins.list[dict[str, Any]]) -> None:
        if rows:
            with self._db._write() as conn:
                conn.execute(file_chunks.insert(), rows)

    def blob(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        start = max(start, 0)
        with self._db._read() as conn:
            first = conn.execute(_FIRST, {"b_key": key, "b_start": start}).scalar()
        if first is None:
            raise FileNotFoundError(f"No bytes are stored under {key!r}")
        return self._chunks(key, first, start, end)

    def _chunks(self, key: str, seq: int, start: int, end: int | None) -> Iterator[bytes]:
        while end is None or start < end:
            with self._db._read() as conn:
                row = conn.execute(_ROW, {"b_key": key, "b_seq": seq}).first()
            if row is None:
                return
            data: bytes = bytes(row.data)
            offset = int(row.offset)
            stop = len(data) if end is None else min(len(data), end - offset)
            piece = data[max(start - offset, 0) : stop]
            if piece:
                yield piece
            start = offset + len(data)
            seq += 1
            if not data:
                return

    def delete_blobs(self, keys: Sequence[str]) -> None:
        keys = builtins.list(keys)
        for i in range(0, len(keys), DELETE_BATCH):
            with self._db._write() as conn:
                conn.execute(
                    file_chunks.delete().where(file_chunks.c.key.in_(keys[i : i + DELETE_BATCH]))
                )
