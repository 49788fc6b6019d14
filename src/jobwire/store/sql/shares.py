"""Jobs shared with teams: one row per job and team, a revoked one kept as a tombstone (its
``revoked_at``) until retention, so that other servers read the revoke in
:meth:`~SQLShareStore.share_changes`."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from ..common import decode_cursor, encode_cursor, impossible_id, not_found
from ..sharing import Share, SharedPage, ShareStore, best
from ..tables import jobs, shares
from .engine import SQLBase
from .rows import record_from_row


def share_from_row(row: Row[Any]) -> Share:
    return Share(
        job_id=row.job_id,
        team=row.team,
        can_view=bool(row.can_view),
        can_download=bool(row.can_download),
        expires_at=row.expires_at,
        shared_by=row.shared_by,
        created_at=row.created_at,
        updated_at=row.updated_at,
        revoked_at=row.revoked_at,
    )


def _live(now: float) -> Any:
    """Shares that grant something at ``now``."""
    return sa.and_(
        shares.c.revoked_at.is_(None),
        shares.c.can_view.is_(True),
        sa.or_(shares.c.expires_at.is_(None), shares.c.expires_at > now),
    )


def delete_job_shares(conn: Connection, job_ids: Sequence[str]) -> None:
    """Drop these jobs' shares, in the caller's transaction (the jobs are being deleted)."""
    conn.execute(shares.delete().where(shares.c.job_id.in_(builtins.list(job_ids))))


def purge_shares(conn: Connection, older_than: float) -> None:
    """Drop the shares that ended (expired or revoked) before ``older_than``, and any whose
    job is gone."""
    conn.execute(
        shares.delete().where(
            sa.or_(
                shares.c.revoked_at < older_than,
                shares.c.expires_at < older_than,
                ~sa.exists().where(jobs.c.id == shares.c.job_id),
            )
        )
    )


class SQLShareStore(SQLBase, ShareStore):
    """The ShareStore part of SQLStore."""

    def share(
        self,
        job_id: str,
        team: str,
        *,
        can_view: bool = True,
        can_download: bool = True,
        expires_at: float | None = None,
        shared_by: str,
    ) -> tuple[Share, bool]:
        if impossible_id(job_id):
            raise not_found(job_id)
        now = self.clock()
        key = (shares.c.job_id == job_id, shares.c.team == team)
        with self._write() as conn:
            # Lock the job row: a share never outlives a job deleted at the same time.
            found = conn.execute(
                sa.select(jobs.c.id).where(jobs.c.id == job_id).with_for_update()
            ).first()
            if found is None:
                raise not_found(job_id)
            old = conn.execute(sa.select(shares).where(*key)).first()
            values = {
                "can_view": can_view,
                "can_download": can_download,
                "expires_at": expires_at,
                "shared_by": shared_by,
                "updated_at": now,
                "revoked_at": None,
            }
            if old is None:
                conn.execute(
                    shares.insert().values(job_id=job_id, team=team, created_at=now, **values)
                )
                created = True
            else:
                # A revoked share that comes back is a new share (created now).
                created = old.revoked_at is not None
                if created:
                    values["created_at"] = now
                conn.execute(shares.update().where(*key).values(values))
            row = conn.execute(sa.select(shares).where(*key)).one()
        return share_from_row(row), created

    def unshare(self, job_id: str, team: str) -> Share | None:
        if impossible_id(job_id):
            return None
        now = self.clock()
        key = (shares.c.job_id == job_id, shares.c.team == team)
        with self._write() as conn:
            done = conn.execute(
                shares.update()
                .where(*key, shares.c.revoked_at.is_(None))
                .values(revoked_at=now, updated_at=now)
            )
            if not done.rowcount:
                return None
            row = conn.execute(sa.select(shares).where(*key)).one()
        return share_from_row(row)

    def shares(self, job_id: str) -> builtins.list[Share]:
        if impossible_id(job_id):
            return []
        with self._read() as conn:
            rows = conn.execute(
                sa.select(shares)
                .where(shares.c.job_id == job_id, shares.c.revoked_at.is_(None))
                .order_by(shares.c.team)
            ).all()
        return [share_from_row(r) for r in rows]

    def team_shares(self, teams: Sequence[str], now: float) -> builtins.list[Share]:
        if not teams:
            return []
        with self._read() as conn:
            rows = conn.execute(
                sa.select(shares).where(shares.c.team.in_(builtins.list(teams)), _live(now))
            ).all()
        return [share_from_row(r) for r in rows]

    def shared_with(
        self,
        teams: Sequence[str],
        *,
        now: float,
        status: Sequence[str] | None = None,
        task: str | None = None,
        owner: str | None = None,
        not_owner: str | None = None,
        cursor: str | None = None,
        limit: int = 50,
    ) -> SharedPage:
        limit = max(limit, 1)
        after = decode_cursor(cursor) if cursor else None  # a bad cursor is 400, teams or not
        if not teams:
            return SharedPage([])
        team_list = builtins.list(teams)
        shared = sa.select(shares.c.job_id).where(shares.c.team.in_(team_list), _live(now))
        query = sa.select(jobs).where(jobs.c.id.in_(shared))
        if status:
            query = query.where(jobs.c.status.in_(builtins.list(status)))
        if task:
            query = query.where(jobs.c.task == task)
        if owner:
            query = query.where(jobs.c.owner == owner)
        if not_owner:
            query = query.where(jobs.c.owner != not_owner)
        if after is not None:
            created, job_id = after
            query = query.where(
                sa.or_(
                    jobs.c.created_at < created,
                    sa.and_(jobs.c.created_at == created, jobs.c.id < job_id),
                )
            )
        query = query.order_by(jobs.c.created_at.desc(), jobs.c.id.desc()).limit(limit + 1)
        with self._read() as conn:
            rows = conn.execute(query).fetchall()
            found = [record_from_row(r) for r in rows[:limit]]
            granted = conn.execute(
                sa.select(shares).where(
                    shares.c.job_id.in_([j.id for j in found]),
                    shares.c.team.in_(team_list),
                    _live(now),
                )
            ).all()
        by_job: dict[str, builtins.list[Share]] = {}
        for r in granted:
            by_job.setdefault(r.job_id, []).append(share_from_row(r))
        chosen = {job_id: b for job_id, s in by_job.items() if (b := best(s)) is not None}
        more = len(rows) > limit
        next_cursor = encode_cursor(found[-1].created_at, found[-1].id) if more else None
        return SharedPage(found, chosen, next_cursor)

    def share_changes(self, since: float) -> builtins.list[Share]:
        with self._read() as conn:
            rows = conn.execute(
                sa.select(shares).where(shares.c.updated_at >= since).order_by(shares.c.updated_at)
            ).all()
        return [share_from_row(r) for r in rows]
