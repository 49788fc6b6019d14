"""What a running server keeps: the App, the authenticator, the hub, the rate limiter."""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import TYPE_CHECKING

from starlette.concurrency import run_in_threadpool

from ..errors import JobNotFound
from ..snapshot import JobRecord
from .auth import Authenticator, Principal
from .hub import Hub
from .ratelimit import RateLimiter

if TYPE_CHECKING:
    from ..app import App

logger = logging.getLogger(__name__)


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

    @property
    def trust_bus(self) -> bool:
        """True when every change reaches this process's bus: workers run here (memory bus)
        or the bus is shared (Redis) and connected right now. Then an ETag the hub knows is
        current is answered without the database, and idle streams need not poll the store."""
        local = self.app.worker is not None and self.app.worker.claims  # jobs run here
        shared = local or not self.settings.bus_url.startswith("memory")
        return shared and self.app.bus.connected

    def store_check_interval(self, heartbeat: float) -> float:
        """How often an idle stream reads the store: once per heartbeat when the bus is
        trusted (a pub/sub bus can still lose an event), every poll interval while the bus is
        disconnected, and every four when changes made elsewhere never reach it (workers in
        another process on a memory bus)."""
        if self.trust_bus:
            return heartbeat
        if not self.app.bus.connected:
            return min(heartbeat, self.settings.poll_interval)
        return min(heartbeat, self.settings.poll_interval * 4)

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
            if self.run_workers or self.app.uses_celery:
                # With Celery the worker here runs no jobs: it recovers those of killed workers.
                self.app.start()
            self.hub.start(asyncio.get_running_loop())
            self._started = True
            logger.info(
                "jobwire server ready: %d task(s), auth=%s", len(self.app.tasks), self.settings.auth
            )

    def stop(self) -> None:
        self.hub.stop()
        if self.run_workers:
            self.app.stop(grace=5.0)
        self._started = False

    # -- visibility -----------------------------------------------------------------------

    def visible(self, principal: Principal, job_id: str) -> JobRecord:
        """The job, if this principal may see it; JobNotFound otherwise (never 403)."""
        record = self.app.store.get(job_id) if _plausible_id(job_id) else None
        if record is None or not principal.can_see(record.id, record.owner):
            raise JobNotFound(f"No job has the id {job_id!r}", job_id=job_id)
        self.hub.note(record.id, record.seq, record.owner)
        return record

    async def avisible(self, principal: Principal, job_id: str) -> JobRecord:
        return await run_in_threadpool(self.visible, principal, job_id)


def _plausible_id(job_id: str) -> bool:
    # No job id holds NUL or other control characters (PostgreSQL cannot even compare
    # text with NUL): such an id is unknown, without asking the store.
    return 0 < len(job_id) <= 64 and job_id.isprintable()
