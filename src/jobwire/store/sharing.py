"""Shares: a job shared with a team, with ``can_view`` / ``can_download`` and an expiry.

:class:`ShareStore` is the part of the store that keeps them (one row per job and team).
A revoked share is kept as a tombstone (``revoked_at``) until retention removes it, so that
every server sharing the database learns of the revoke from :meth:`ShareStore.share_changes`
(a short cache with an explicit check, as revoked API keys are read). What a share grants is
decided here, purely (:func:`live`, :func:`best`): no I/O, no clock of its own.
"""

from __future__ import annotations

import builtins
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..snapshot import JobRecord, iso

#: Longest team name (as an owner's).
MAX_TEAM = 200


@dataclass(frozen=True, slots=True)
class Share:
    """One job shared with one team. ``can_download`` implies ``can_view``."""

    job_id: str
    team: str
    can_view: bool
    can_download: bool
    expires_at: float | None
    """UNIX time after which the share grants nothing; None: until revoked."""
    shared_by: str
    created_at: float
    updated_at: float
    revoked_at: float | None = None
    """Set on a revoked share (a tombstone kept until retention); never on a live one."""

    def expired(self, now: float) -> bool:
        return self.expires_at is not None and self.expires_at <= now

    def live(self, now: float) -> bool:
        """Whether it grants anything at ``now``: not revoked, not expired, view granted."""
        return self.revoked_at is None and self.can_view and not self.expired(now)

    def to_json(self) -> dict[str, Any]:
        """The share as the HTTP API describes it (times in ISO 8601)."""
        return {
            "job_id": self.job_id,
            "team": self.team,
            "can_view": self.can_view,
            "can_download": self.can_download,
            "expires_at": iso(self.expires_at),
            "shared_by": self.shared_by,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
        }

    def via(self) -> dict[str, Any]:
        """How a shared job reached its viewer: the ``shared`` of a listed job."""
        return {
            "team": self.team,
            "shared_by": self.shared_by,
            "can_view": self.can_view,
            "can_download": self.can_download,
            "expires_at": iso(self.expires_at),
        }


@dataclass(slots=True)
class SharedPage:
    """A page of the jobs shared with some teams, newest first, and the best share that
    shows each of them (:func:`best`)."""

    jobs: list[JobRecord]
    shares: dict[str, Share] = field(default_factory=dict)
    next_cursor: str | None = None


def live(shares: Iterable[Share], teams: Iterable[str], now: float) -> list[Share]:
    """The shares among ``shares`` that grant one of ``teams`` anything at ``now``."""
    wanted = set(teams)
    return [s for s in shares if s.team in wanted and s.live(now)]


def best(shares: Iterable[Share]) -> Share | None:
    """The share that grants the most: download over view only, then the latest expiry (none
    is latest), then the team name (so that the choice is the same everywhere)."""
    return min(
        shares,
        key=lambda s: (
            not s.can_download,
            s.expires_at is not None,
            -(s.expires_at or 0.0),
            s.team,
        ),
        default=None,
    )


class ShareStore(ABC):
    """Jobs shared with teams. Every time is UNIX seconds from the store's clock."""

    @abstractmethod
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
        """Share the job with ``team``, or change that team's share (a revoked one comes
        back); return the share and whether it is new (none was live). Raises JobNotFound."""

    @abstractmethod
    def unshare(self, job_id: str, team: str) -> Share | None:
        """Revoke the team's live share (an expired one included); return it, or None when
        there was none."""

    @abstractmethod
    def shares(self, job_id: str) -> builtins.list[Share]:
        """The job's shares that were not revoked (expired ones included), by team."""

    @abstractmethod
    def team_shares(self, teams: Sequence[str], now: float) -> builtins.list[Share]:
        """The shares with any of ``teams`` that are live at ``now``."""

    @abstractmethod
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
        """The jobs with a share live at ``now`` for any of ``teams``, newest first, paged by
        the cursor of :meth:`JobStore.list`, with the best share of each; filtered by status,
        task and owner as the list is, and leaving out ``not_owner``'s jobs."""

    @abstractmethod
    def share_changes(self, since: float) -> builtins.list[Share]:
        """Shares created, changed or revoked at or after ``since`` (their ``updated_at``),
        revoked ones included: what a server that cached decisions must look at again."""
