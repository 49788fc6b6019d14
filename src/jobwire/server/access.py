"""Who may do what with a job: its owner, admins, the holder of a stream token made for it,
and the members of the teams it is shared with.

:func:`decide` is the rule, pure: what a principal may do with a job, given the live shares
this server knows of. :class:`ShareBook` is that knowledge: a copy, in memory, of every
share in the store, so that the checks a stream makes on every event (``subscribe all``),
the 304 answered without the store and the end of streams whose share ended cost no
database read. The copy is brought up to date every ``SHARE_CHECK`` seconds (one indexed
read of the shares changed since the last look, as revoked API keys are read), at once for
the changes this server makes, and before a request whose answer hangs on a share. An
expiry needs no read at all: a share grants nothing from its ``expires_at`` on.
"""

from __future__ import annotations

import functools
import math
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

from ..store import Store
from ..store.sharing import Share, best
from .auth import Principal

#: Seconds between two reads of the changed shares: the longest a share revoked by another
#: server still works here (an expiry takes effect on time, everywhere).
SHARE_CHECK = 0.1
#: Seconds of changes read again at every look: transactions commit out of the order of
#: their clocks, and a change stamped a little earlier than the newest seen is not lost.
OVERLAP = 5.0
#: Seconds after its expiry that an expired share is forgotten here (retention removes it
#: from the store later).
FORGET_EXPIRED = 60.0

Need = Literal["view", "download", "cancel", "manage"]
Via = Literal["owner", "admin", "share", "stream_token"]


@dataclass(frozen=True, slots=True)
class Access:
    """What a principal may do with one job, and through what."""

    via: Via
    download: bool = True
    """Its files and export."""
    cancel: bool = True
    manage: bool = True
    """Its shares (who may create one also needs a sharing role: see the routes)."""
    share: Share | None = None
    """The share it comes through (``via == "share"``)."""

    view: bool = True

    def allows(self, need: Need) -> bool:
        return {
            "view": self.view,
            "download": self.download,
            "cancel": self.cancel,
            "manage": self.manage,
        }[need]


OWNER = Access("owner")
ADMIN = Access("admin")
OWN_STREAM_TOKEN = Access("stream_token", manage=False)


@functools.lru_cache(maxsize=4096)
def through(share: Share) -> Access:
    """What a live share grants: the job and its result, with its downloads when the share
    says so; never cancel, delete or its shares. (Kept per share: a poll answered 304 from
    memory asks for it every time.)"""
    return Access("share", download=share.can_download, cancel=False, manage=False, share=share)


def decide(who: Principal, job_id: str, owner: str, shares: ShareBook, now: float) -> Access | None:
    """What ``who`` may do with the job ``job_id`` of ``owner`` at ``now``; None when they
    may not even see it (it does not exist for them: 404)."""
    if who.job_scope is not None:
        if job_id != who.job_scope:
            return None
        if who.team is None:
            return OWN_STREAM_TOKEN
        # Made for a viewer: as good as the share it came through, while that share lives.
        share = shares.share_of(job_id, who.team)
        if share is None or not share.live(now) or share.created_at != who.shared_since:
            return None
        return through(share)
    if who.admin:
        return ADMIN
    if owner == who.user:
        return OWNER
    if who.teams:
        share = shares.grant(job_id, who.teams, now)
        if share is not None:
            return through(share)
    return None


def depends_on_shares(who: Principal, owner: str) -> bool:
    """Whether :func:`decide` reads shares for this principal and owner (then the copy of the
    shares must be current)."""
    if who.job_scope is not None:
        return who.team is not None
    return not who.admin and owner != who.user and bool(who.teams)


class ShareBook:
    """Every share of the store, as of the last look, by job and team (revoked ones left
    out). Reads are lock-free; :meth:`refresh` and :meth:`note` replace a job's entry whole,
    so a reader never sees one half-changed."""

    def __init__(self, store: Callable[[], Store]) -> None:
        self._store = store  # opened when first read: the App opens its store lazily
        self._jobs: dict[str, dict[str, Share]] = {}
        self._since: float | None = None  # the newest updated_at read
        self._checked_at = -math.inf  # time.monotonic() of the last look
        self._pruned_at = time.monotonic()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return sum(len(by_team) for by_team in self._jobs.values())

    @property
    def current(self) -> bool:
        """Whether the store was read less than ``SHARE_CHECK`` seconds ago."""
        return time.monotonic() - self._checked_at < SHARE_CHECK

    def read_ago(self) -> float:
        """Seconds since the store was last read."""
        return time.monotonic() - self._checked_at

    def refresh(self, *, force: bool = False) -> list[Share]:
        """Read the shares changed since the last look (a blocking database read; the whole
        table the first time) unless a look was just made (or ``force``); return those that
        changed here."""
        with self._lock:
            if self.current and not force:
                return []
            checked = time.monotonic()
            since = 0.0 if self._since is None else self._since - OVERLAP
            found = self._store().share_changes(since)
            changed = [s for s in found if self._apply(s)]
            if found:
                self._since = max(self._since or 0.0, max(s.updated_at for s in found))
            if checked - self._pruned_at > FORGET_EXPIRED:
                self._prune(self._store().clock())
                self._pruned_at = checked
            self._checked_at = checked
        return changed

    def note(self, share: Share) -> None:
        """A change this server made: known here at once."""
        with self._lock:
            self._apply(share)

    def forget_job(self, job_id: str) -> None:
        """The job was deleted (its shares with it)."""
        with self._lock:
            self._jobs.pop(job_id, None)

    def share_of(self, job_id: str, team: str) -> Share | None:
        """The team's share of the job (live or expired; never a revoked one)."""
        return self._jobs.get(job_id, {}).get(team)

    def grant(self, job_id: str, teams: Iterable[str], now: float) -> Share | None:
        """The share of the job that grants one of ``teams`` the most at ``now``."""
        by_team = self._jobs.get(job_id)
        if not by_team:
            return None
        found = [s for team in teams if (s := by_team.get(team)) is not None and s.live(now)]
        if len(found) < 2:  # the usual case: one of the caller's teams has it, or none
            return found[0] if found else None
        return best(found)

    def _apply(self, share: Share) -> bool:
        """Take in one share as read or made (with the lock held); whether it changed."""
        by_team = self._jobs.get(share.job_id, {})
        known = by_team.get(share.team)
        if known is not None and known.updated_at > share.updated_at:
            return False  # an older version, read again in the overlap
        if share.revoked_at is not None:
            if known is None:
                return False
            changed = {t: s for t, s in by_team.items() if t != share.team}
        else:
            if known == share:
                return False
            changed = {**by_team, share.team: share}
        if changed:
            self._jobs[share.job_id] = changed
        else:
            self._jobs.pop(share.job_id, None)
        return True

    def _prune(self, now: float) -> None:
        for job_id, by_team in list(self._jobs.items()):
            kept = {
                t: s
                for t, s in by_team.items()
                if s.expires_at is None or s.expires_at > now - FORGET_EXPIRED
            }
            if len(kept) != len(by_team):
                if kept:
                    self._jobs[job_id] = kept
                else:
                    del self._jobs[job_id]
