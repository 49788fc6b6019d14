"""Jobs shared with teams, in memory: one share per job and team, a revoked one kept as a
tombstone until retention, as the SQL stores keep them."""

from __future__ import annotations

import builtins
import dataclasses
from collections.abc import Sequence

from ..common import decode_cursor, encode_cursor, not_found
from ..sharing import Share, SharedPage, ShareStore, best
from .state import MemoryBase


class MemoryShareStore(MemoryBase, ShareStore):
    """The ShareStore part of MemoryStore."""

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
        now = self.clock()
        with self._lock:
            if job_id not in self._jobs:
                raise not_found(job_id)
            old = self._shares.get((job_id, team))
            created = old is None or old.revoked_at is not None
            share = Share(
                job_id=job_id,
                team=team,
                can_view=can_view,
                can_download=can_download,
                expires_at=expires_at,
                shared_by=shared_by,
                created_at=now if created or old is None else old.created_at,
                updated_at=now,
            )
            self._shares[(job_id, team)] = share
        return share, created

    def unshare(self, job_id: str, team: str) -> Share | None:
        now = self.clock()
        with self._lock:
            old = self._shares.get((job_id, team))
            if old is None or old.revoked_at is not None:
                return None
            revoked = dataclasses.replace(old, revoked_at=now, updated_at=now)
            self._shares[(job_id, team)] = revoked
        return revoked

    def shares(self, job_id: str) -> builtins.list[Share]:
        with self._lock:
            found = [
                s for (j, _), s in self._shares.items() if j == job_id and s.revoked_at is None
            ]
        return sorted(found, key=lambda s: s.team)

    def team_shares(self, teams: Sequence[str], now: float) -> builtins.list[Share]:
        wanted = set(teams)
        with self._lock:
            return [s for s in self._shares.values() if s.team in wanted and s.live(now)]

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
        after = decode_cursor(cursor) if cursor else None
        by_job: dict[str, builtins.list[Share]] = {}
        with self._lock:
            for share in self.team_shares(teams, now):
                by_job.setdefault(share.job_id, []).append(share)
            found = [
                j
                for j in (self._jobs.get(job_id) for job_id in by_job)
                if j is not None
                and (not status or j.status.value in status)
                and (not task or j.task == task)
                and (not owner or j.owner == owner)
                and (not not_owner or j.owner != not_owner)
                and (after is None or (j.created_at, j.id) < after)
            ]
            found.sort(key=lambda j: (j.created_at, j.id), reverse=True)
            page = [self._out(j) for j in found[:limit]]
        chosen = {j.id: b for j in page if (b := best(by_job[j.id])) is not None}
        more = len(found) > limit
        cursor_out = encode_cursor(page[-1].created_at, page[-1].id) if more else None
        return SharedPage(page, chosen, cursor_out)

    def share_changes(self, since: float) -> builtins.list[Share]:
        with self._lock:
            changed = [s for s in self._shares.values() if s.updated_at >= since]
        return sorted(changed, key=lambda s: s.updated_at)
