"""The engine: one thread per worker that does all its store I/O.

It batches the progress reports and finished attempts of all running jobs into one
transaction (group commit), publishes the resulting events after the commit, claims new jobs
when slots are free, and, on timers: sends held-back progress and enforces timeouts and
cancel grace periods, renews leases, picks up cancels requested elsewhere, recovers jobs whose
worker died, re-sends lost messages (Celery) and purges old jobs. Tasks run on the
executor's threads (or processes) and never touch the database themselves.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..errors import StoreUnavailable
from ..executors import Queued
from ..files.access import drain_trash
from ..snapshot import Event
from .batch import BatchWriter

if TYPE_CHECKING:
    from ..store import Store

logger = logging.getLogger(__name__)

#: Seconds between two looks for cancels requested through another process.
CANCEL_CHECK = 1.0
#: Seconds between two purges of old jobs.
PURGE_EVERY = 300.0
#: Seconds between two looks at the trash of files whose bytes are to be deleted.
TRASH_EVERY = 60.0
#: Seconds the engine waits after the store failed it.
BACKOFF = 0.5


def purge_old(store: Store, retention_days: float) -> int:
    """Delete the jobs that ended more than ``retention_days`` ago; return how many."""
    deleted = store.purge(time.time() - retention_days * 86400)
    if deleted:
        logger.info("retention: deleted %d old job(s)", deleted, extra={"action": "purge"})
    return deleted


class Engine(BatchWriter):
    """The worker's engine thread and its timers."""

    def _loop(self) -> None:
        interval = max(self.settings.progress_interval, 0.01)
        next_tick = next_renew = next_sweep = next_purge = next_cancels = next_trash = 0.0
        store_down: str | None = None  # why the store could not be used, while it cannot
        while True:
            with self._cond:
                if not (self._reports or self._finishes or self._stopping or self._can_claim()):
                    now = time.monotonic()
                    poll = self._next_poll if self.claims else next_tick
                    wake = min(next_tick, next_renew, next_sweep, poll)
                    self._cond.wait(max(wake - now, 0.0))
                reports, self._reports = self._reports, []
                finishes, self._finishes = self._finishes, []
                stopping = self._stopping
            try:
                now = time.monotonic()
                claim = None
                if self.claims and not stopping and (self._can_claim() or now >= self._next_poll):
                    claim = self._claim_request()
                if reports or finishes or claim is not None:
                    self._write_batch(reports, finishes, claim)
                if stopping:
                    return
                if now >= next_tick:
                    next_tick = now + interval
                    self._tick()
                if now >= next_renew:
                    next_renew = now + self.lease_seconds / 3
                    self._renew()
                if now >= next_cancels:
                    next_cancels = now + CANCEL_CHECK
                    self._check_cancels()
                if now >= next_sweep:
                    next_sweep = now + max(self.lease_seconds / 2, 0.2)
                    self._sweep()
                if now >= next_purge:
                    next_purge = now + PURGE_EVERY
                    if purge_old(self.store, self.settings.retention_days):
                        next_trash = now  # their files' bytes go now
                if now >= next_trash:
                    next_trash = now + TRASH_EVERY
                    self._drain_trash()
            except StoreUnavailable as exc:
                # The database is away (unreachable, locked, read-only): back off and go on.
                # The writes not stored yet were put back by _write_batch: nothing is lost.
                if exc.message != store_down:  # said once, not twice a second
                    logger.warning("worker engine: %s", exc.message, extra={"action": "engine"})
                store_down = exc.message
                time.sleep(BACKOFF)
                continue
            except Exception:
                # The engine must outlive anything else too: log it, back off, go on.
                logger.exception("worker engine error; retrying", extra={"action": "engine"})
                time.sleep(BACKOFF)
                continue
            if store_down is not None:
                logger.warning("worker engine: the store is back", extra={"action": "engine"})
                store_down = None

    def _tick(self) -> None:
        """Every progress interval: send held-back progress, enforce timeouts, stop for good
        the attempts that ignored a cancel for longer than the grace period."""
        now = time.monotonic()
        for attempt in list(self._running.values()):
            if attempt.ended:
                continue
            if attempt.deadline is not None and now >= attempt.deadline:
                self._time_out(attempt)
                continue
            if attempt.cancel_seen is not None and now - attempt.cancel_seen >= self.cancel_grace:
                self._hard_stop(attempt)
                continue
            attempt.progress.flush()

    def _drain_trash(self) -> None:
        """Delete the bytes of files whose job was deleted or purged, or that were replaced
        (their keys wait in the store's trash, so a crash here leaves nothing for good)."""
        try:
            drain_trash(self.store, self.file_storage)
        except StoreUnavailable:
            raise
        except Exception as exc:
            # The file storage is away (a bucket unreachable): the keys stay in the trash
            # and the next look, a minute later, deletes them.
            logger.warning(
                "could not delete the bytes of trashed files: %s",
                exc,
                extra={"action": "file_trash"},
            )

    def _check_cancels(self) -> None:
        """Cancels requested through another process reach this one here (and with each
        progress write), not only at the next lease renewal."""
        if self._running:
            for job_id in self.store.cancel_requests(self.id):
                self.request_cancel(job_id)

    def _renew(self) -> None:
        """Extend the leases of the attempts this worker still runs or has an outcome of to
        write; a job it gave up on (its outcome refused by the store) is left to recovery."""
        with self._cond:
            held = {*self._running, *(attempt.job_id for attempt, _ in self._finishes)}
        if not held:
            return
        for job_id in self.store.renew(self.id, sorted(held), self.lease_seconds):
            self.request_cancel(job_id)

    def _sweep(self) -> None:
        self._recover()
        if not self.claims:
            self._wake_due()
            self._resend_stale()

    def _wake_due(self) -> None:
        """Waiting jobs whose poll or timeout is due need a message to go on (a webhook's
        own message is sent by the server that took it); sent again each sweep while the
        job still waits."""
        due = self.store.due_waits(time.time(), limit=500)
        self._notify([Queued(job_id, task, 0.0) for job_id, task in due])

    def _recover(self) -> None:
        backoff = {t.name: t.options.retry_backoff for t in self.tasks.values()}
        events = self.store.recover(backoff)
        if events:
            self.stats["recovered"] += len(events)
            self.bus.publish(events)
            self._more_work = True
            self._requeued(events)

    def _requeued(self, events: Sequence[Event]) -> None:
        """Jobs these events put back in the queue need a worker (a message, with Celery)."""
        self._notify(
            [
                Queued(ev["job"]["id"], ev["job"]["task"], 0.0)
                for ev in events
                if ev["job"]["status"] == "queued"
            ]
        )

    def _notify(self, jobs: list[Queued]) -> None:
        if jobs:
            self.executor.notify_queued(jobs)

    def _resend_stale(self) -> None:
        """Jobs due for longer than ``celery_resend_after`` and still queued may have lost
        their message (a broker that restarted without persistence): send it again, at most
        once per that period from this process. A spare message is harmless: the job is
        claimed once, other deliveries find it taken."""
        after = self.settings.celery_resend_after
        now = time.time()
        self._resent = {k: t for k, t in self._resent.items() if now - t < after}
        stale = [
            Queued(job_id, task, 0.0)
            for job_id, task in self.store.stale_queued(now - after, limit=500)
            if job_id not in self._resent
        ]
        if stale:
            logger.warning(
                "%d job(s) queued for over %g s: sending their messages again",
                len(stale),
                after,
                extra={"action": "resend"},
            )
            self._notify(stale)
            self._resent.update((job.job_id, now) for job in stale)
