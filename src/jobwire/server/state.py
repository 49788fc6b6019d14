"""What a running server keeps: the App, the authenticator, the hub, the rate limiter."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool

from ..errors import Forbidden, JobNotFound, JobwireError
from ..snapshot import JobRecord
from .access import SHARE_CHECK, Access, Need, ShareBook, decide, depends_on_shares
from .auth import REVOCATION_CHECK, Authenticator, Principal
from .guards import Guards
from .hub import SEQ_TRUST, Hub
from .ratelimit import RateLimiter

if TYPE_CHECKING:
    from ..app import App

logger = logging.getLogger(__name__)

#: Seconds a health check's answer about the store is reused.
HEALTH_CACHE = 1.0
#: Seconds the server's own reads (revoked keys, shares) pause after the store failed.
STORE_REST = 1.0


class ServerState:
    def __init__(self, app: App, *, workers: bool = True) -> None:
        self.app = app
        self.settings = app.settings
        self.auth = Authenticator(app)
        self.hub = Hub(app.bus)
        self.limiter = RateLimiter(app.settings.submit_rate, app.settings.submit_burst)
        self.run_workers = workers
        self._started = False
        self._lock = threading.Lock()
        self._health: tuple[float, dict[str, Any]] | None = None
        self._owns_worker = False
        self.guards = Guards()
        """Open streams, to end those whose credential is revoked or whose share ended."""
        self.shares = ShareBook(lambda: app.store)
        """Every share, as of the last look (a copy in memory, see :mod:`.access`)."""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._watcher: asyncio.Task[None] | None = None

    @property
    def trust_bus(self) -> bool:
        """True when every change, made in any process, reaches this process's bus: a shared
        bus (Redis) connected right now. Idle streams then read the store once per heartbeat
        only (pub/sub can still lose an event).

        A memory bus carries this process's own events only. Another process on the same
        database (a second ``jobwire serve`` on one SQLite file, ``jobwire cancel``) changes
        jobs behind its back, so it is never trusted, workers here or not: streams and long
        polls read the store every poll interval (docs/deploy.md)."""
        return self.app.bus.shared and self.app.bus.connected

    @property
    def seq_trust(self) -> float:
        """Seconds a job's seq that the hub saw (in an event or a store read) is taken as
        current, so that a poll whose ETag matches it is answered 304 without the store:
        ``SEQ_TRUST`` on a trusted bus, the poll interval on a memory bus, and none (0)
        while a shared bus is disconnected."""
        if self.trust_bus:
            return SEQ_TRUST
        if self.app.bus.shared:
            return 0.0
        return self.settings.poll_interval

    def store_check_interval(self, heartbeat: float) -> float:
        """How often an idle stream reads the store: once per heartbeat when the bus is
        trusted, else every poll interval (a memory bus, or a shared bus while it is
        disconnected)."""
        if self.trust_bus:
            return heartbeat
        return min(heartbeat, self.settings.poll_interval)

    def ensure_started(self) -> None:
        """Start the hub (and the workers) once, from inside the event loop. Called by the
        lifespan, or by the first request when the app is mounted (mounted apps get no
        lifespan)."""
        if self._started:
            return
        with self._lock:
            if self._started:
                return
            self.app.store.upgrade()
            _ = self.auth.secret  # read (or create) the stream-token secret now, not mid-request
            # Without workers of its own, the engine here runs no jobs: it recovers those of
            # killed workers. A worker the App already had is left to its owner.
            self._owns_worker = self.app.worker is None
            self.app.start(run_jobs=self.run_workers)
            loop = self._loop = asyncio.get_running_loop()
            self.hub.start(loop)
            self.auth.on_revoked = self._revoked
            self.shares.refresh()  # the first look reads them all
            self._watcher = loop.create_task(self._watch())
            self._started = True
            logger.info(
                "jobwire server ready: %d task(s), auth=%s", len(self.app.tasks), self.settings.auth
            )

    async def store_health(self) -> dict[str, Any]:
        """``{"writable": bool, "reason": str | None}``: whether the store took a write just
        now (checked at most once per ``HEALTH_CACHE`` seconds, whatever the probe rate)."""
        now = time.monotonic()
        if self._health is None or now - self._health[0] > HEALTH_CACHE:
            try:
                await run_in_threadpool(self.app.store.check_writable)
                result: dict[str, Any] = {"writable": True, "reason": None}
            except Exception as exc:  # whatever stops a write is the answer, not a 500
                reason = exc.details.get("reason") if isinstance(exc, JobwireError) else None
                result = {"writable": False, "reason": reason or f"{type(exc).__name__}: {exc}"}
            self._health = (time.monotonic(), result)
        return self._health[1]

    async def _watch(self) -> None:
        """Read the revoked API keys and the changed shares every ``REVOCATION_CHECK`` and
        ``SHARE_CHECK`` seconds (unless a request just did), so that a key revoked or a share
        removed anywhere stops working here within that time, open streams included; and end
        the streams of shares that expired."""
        # Looked at twice per period, so that the copies are read again before they count as
        # stale: a poll answered from memory (the 304 fast path) then rarely finds them so.
        every = min(REVOCATION_CHECK, SHARE_CHECK) / 2
        while True:
            await asyncio.sleep(every)
            down = getattr(self.app.store, "unavailable_at", None)
            if down is not None and time.monotonic() - down < STORE_REST:
                # The store just failed (read-only, away): leave it without connections for a
                # moment. An SQLite file whose permissions come back is opened read-write
                # again only once none of this process's connections holds it.
                continue
            try:
                await run_in_threadpool(self._refresh, every)
            except Exception as exc:  # the database is away: requests say so, we retry
                logger.debug("could not read revoked keys or shares: %s", exc)
            ended = self.guards.end_shared(self.may_see_now)
            if ended:
                logger.info("closed %d stream(s) whose share ended", ended)

    def _refresh(self, older_than: float) -> None:
        """Read the revoked keys and the changed shares (one worker thread for both) when
        their copies are at least ``older_than`` seconds old."""
        if self.auth.read_ago() >= older_than:
            self.auth.refresh_revoked(force=True)
        if self.shares.read_ago() >= older_than:
            self.shares.refresh(force=True)

    def _revoked(self, key_ids: set[str]) -> None:
        """Called (from any thread) with newly revoked key ids: end their streams."""
        loop = self._loop
        if loop is not None and key_ids:
            loop.call_soon_threadsafe(self._end_streams, key_ids)

    def _end_streams(self, key_ids: set[str]) -> None:
        ended = self.guards.revoke_keys(key_ids)
        if ended:
            logger.info("closed %d stream(s) of %d revoked API key(s)", ended, len(key_ids))

    def stop(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            self._watcher = None
        self.hub.stop()
        if self._owns_worker:
            self.app.stop(grace=5.0)
            self._owns_worker = False
        self._started = False

    # -- access ---------------------------------------------------------------------------

    def access(self, who: Principal, job_id: str, need: Need = "view") -> tuple[JobRecord, Access]:
        """The job and what ``who`` may do with it. JobNotFound when they may not see it
        (never 403: another user's job does not exist for them); Forbidden when they may
        see it but not do what they ``need``."""
        record = self.app.store.get(job_id) if _plausible_id(job_id) else None
        if record is None:
            raise JobNotFound(f"No job has the id {job_id!r}", job_id=job_id)
        if depends_on_shares(who, record.owner) and not self.shares.current:
            self.shares.refresh()
        granted = decide(who, record.id, record.owner, self.shares, self.app.store.clock())
        if granted is None:
            raise JobNotFound(f"No job has the id {job_id!r}", job_id=job_id)
        self.hub.note(record.id, record.seq, record.owner)
        require(granted, need, record.id)
        return record, granted

    async def aaccess(
        self, who: Principal, job_id: str, need: Need = "view"
    ) -> tuple[JobRecord, Access]:
        return await run_in_threadpool(self.access, who, job_id, need)

    def visible(self, who: Principal, job_id: str, need: Need = "view") -> JobRecord:
        """The job, if ``who`` may see it (and do what they ``need``): see :meth:`access`."""
        return self.access(who, job_id, need)[0]

    async def avisible(self, who: Principal, job_id: str, need: Need = "view") -> JobRecord:
        return (await self.aaccess(who, job_id, need))[0]

    def may_see_now(self, who: Principal, job_id: str, owner: str) -> bool:
        """Whether ``who`` may see the job, from memory only (the shares as of the last
        look): for the checks made on every event, and the end of shared streams."""
        return decide(who, job_id, owner, self.shares, self.app.store.clock()) is not None

    def may_see_cached(self, who: Principal, job_id: str, owner: str) -> bool | None:
        """:meth:`may_see_now` when the copy of the shares is current or not needed; None
        when only a read of the store can say (for a 304 answered without it)."""
        if depends_on_shares(who, owner) and not self.shares.current:
            return None
        return self.may_see_now(who, job_id, owner)


_FORBIDDEN: dict[Need, str] = {
    "view": "You may not see this job",
    "download": "This job is shared with you to view only: its files and export are not",
    "cancel": "Only the job's owner (or an admin) may cancel it; it is shared with you",
    "manage": "Only the job's owner (or an admin) may do this; it is shared with you",
}


def require(granted: Access, need: Need, job_id: str) -> None:
    """Forbidden unless ``granted`` allows what is ``need``ed."""
    if not granted.allows(need):
        raise Forbidden(_FORBIDDEN[need], job_id=job_id)


def _plausible_id(job_id: str) -> bool:
    # No job id holds NUL or other control characters (PostgreSQL cannot even compare
    # text with NUL): such an id is unknown, without asking the store.
    return 0 < len(job_id) <= 64 and job_id.isprintable()
