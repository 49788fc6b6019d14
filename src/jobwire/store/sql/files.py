"""The files jobs saved: one row each, recorded only while the attempt that saved it holds
its job's lease; and the trash of keys whose bytes the file storage must still delete."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from ...files import FileInfo
from ..base import FileStore
from ..common import impossible_id
from ..moves import REPORT
from ..tables import file_trash, files, jobs
from .engine import SQLBase


def file_from_row(row: Row[Any]) -> FileInfo:
    return FileInfo(
        job_id=row.job_id,
        name=row.name,
        size=int(row.size),
        content_type=row.content_type,
        sha256=row.sha256,
        created_at=row.created_at,
        attempt=row.attempt,
        key=row.key,
    )


def trash_job_files(conn: Connection, job_ids: Sequence[str], now: float) -> None:
    """Move the keys of these jobs' files to the trash and drop their rows, in the caller's
    transaction (a job being deleted or purged)."""
    owned = sa.select(files.c.key, sa.literal(now, sa.Double)).where(
        files.c.job_id.in_(builtins.list(job_ids))
    )
    conn.execute(file_trash.insert().from_select(["key", "trashed_at"], owned))
    conn.execute(files.delete().where(files.c.job_id.in_(builtins.list(job_ids))))


#: The files of the current attempt of a job.
_CURRENT = (
    sa.select(files)
    .join(jobs, jobs.c.id == files.c.job_id)
    .where(files.c.job_id == sa.bindparam("b_id"), files.c.attempt == jobs.c.attempt)
)


class SQLFileStore(SQLBase, FileStore):
    """The FileStore part of SQLStore."""

    def add_file(self, worker_id: str | None, info: FileInfo) -> bool:
        if impossible_id(info.job_id):
            return False
        now = self.clock()
        with self._write() as conn:
            row = conn.execute(
                sa.select(jobs.c.status, jobs.c.attempt, jobs.c.lease_owner)
                .where(jobs.c.id == info.job_id)
                .with_for_update()
            ).first()
            if (
                row is None
                or row.attempt != info.attempt
                or row.status not in REPORT.values
                or (worker_id is not None and row.lease_owner != worker_id)
            ):
                return False
            # The row owns the bytes now: they are no longer waiting to be deleted.
            conn.execute(file_trash.delete().where(file_trash.c.key == info.key))
            same = (files.c.job_id == info.job_id, files.c.name == info.name)
            old = conn.execute(sa.select(files.c.key).where(*same)).scalar()
            if old is not None:
                conn.execute(file_trash.insert().values(key=old, trashed_at=now))
                conn.execute(files.delete().where(*same))
            conn.execute(
                files.insert().values(
                    job_id=info.job_id,
                    name=info.name,
                    attempt=info.attempt,
                    size=info.size,
                    content_type=info.content_type,
                    sha256=info.sha256,
                    created_at=info.created_at,
                    key=info.key,
                )
            )
        return True

    def files(self, job_id: str) -> builtins.list[FileInfo]:
        if impossible_id(job_id):
            return []
        with self._read() as conn:
            rows = conn.execute(_CURRENT.order_by(files.c.name), {"b_id": job_id}).all()
        return [file_from_row(r) for r in rows]

    def file(self, job_id: str, name: str) -> FileInfo | None:
        if impossible_id(job_id) or "\x00" in name:
            return None
        with self._read() as conn:
            row = conn.execute(_CURRENT.where(files.c.name == name), {"b_id": job_id}).first()
        return None if row is None else file_from_row(row)

    def reserve(self, key: str, hold: float) -> None:
        with self._write() as conn:
            conn.execute(file_trash.insert().values(key=key, trashed_at=self.clock() + hold))

    def trash(self, limit: int = 500) -> builtins.list[str]:
        with self._read() as conn:
            keys = conn.execute(
                sa.select(file_trash.c.key)
                .where(file_trash.c.trashed_at <= self.clock())
                .order_by(file_trash.c.trashed_at, file_trash.c.key)
                .limit(max(limit, 0))
            ).scalars()
            return builtins.list(keys)

    def forget_trash(self, keys: Sequence[str]) -> None:
        if not keys:
            return
        with self._write() as conn:
            conn.execute(file_trash.delete().where(file_trash.c.key.in_(builtins.list(keys))))
