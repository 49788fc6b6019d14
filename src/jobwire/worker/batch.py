"""Group commit: the progress reports and outcomes of all running attempts, and the claim of
new jobs, written in one transaction, then published.

A batch the store cannot take *now* (StoreUnavailable) is put back and written later. A batch
it refuses for any other reason holds a write it will never take: it is written again part
by part so that the others go through, and each refused part is dropped and logged with its
job id (a refused outcome is first replaced by a plain failure, so the job still ends)."""

from __future__ import annotations

import logging
import time

from ..errors import StoreUnavailable
from ..executors import Attempt
from ..snapshot import JobRecord
from ..status import JobStatus
from ..storable import storable
from ..store import Claim, Finish, Report
from . import outcomes
from .attempts import Attempts

logger = logging.getLogger(__name__)

#: Prefetch (claim more jobs than slots) only while attempts take less than this on average.
PREFETCH_BELOW = 0.05


class BatchWriter(Attempts):
    """The part of the worker that writes what its attempts report, and claims."""

    def _write_batch(
        self, reports: list[Report], finishes: list[tuple[Attempt, Finish]], claim: Claim | None
    ) -> None:
        try:
            self._flush(reports, finishes, claim)
            return
        except StoreUnavailable:
            self._put_back(reports, finishes)
            raise
        except Exception as exc:
            logger.warning(
                "the store refused a batch of %d write(s) (%s: %s); writing them one by one",
                len(reports) + len(finishes),
                type(exc).__name__,
                storable(str(exc))[:300],
                extra={"action": "isolate"},
            )
        for i, rep in enumerate(reports):
            try:
                self._flush([rep], [], None)
            except StoreUnavailable:
                self._put_back(reports[i:], finishes)
                raise
            except Exception as exc:
                self._dropped(rep.job_id, "a progress report", exc)
        for i, (attempt, fin) in enumerate(finishes):
            try:
                self._flush([], [(attempt, fin)], None)
                continue
            except StoreUnavailable:
                self._put_back([], finishes[i:])
                raise
            except Exception as exc:
                self._dropped(attempt.job_id, f"its {fin.status.value} outcome", exc)
                fallback = outcomes.refused(attempt, fin, exc)
            try:
                self._flush([], [(attempt, fallback)], None)
            except StoreUnavailable:
                self._put_back([], [(attempt, fallback), *finishes[i + 1 :]])
                raise
            except Exception as exc:
                # Not even a plain failure is stored: leave the job to lease recovery.
                self._dropped(attempt.job_id, "its failure", exc)
                attempt.committed.set()
        if claim is not None:
            self._flush([], [], claim)

    def _put_back(self, reports: list[Report], finishes: list[tuple[Attempt, Finish]]) -> None:
        with self._cond:
            self._reports[:0] = reports
            self._finishes[:0] = finishes

    def _dropped(self, job_id: str, what: str, exc: Exception) -> None:
        self.stats["dropped"] += 1
        logger.error(
            "job %s: the store refused %s; dropped (%s: %s)",
            job_id,
            what,
            type(exc).__name__,
            storable(str(exc))[:300],
            extra={"job_id": job_id, "action": "dropped"},
        )

    def _flush(
        self, reports: list[Report], finishes: list[tuple[Attempt, Finish]], claim: Claim | None
    ) -> None:
        result = self.store.write(self.id, reports, [f for _, f in finishes], claim)
        for attempt, fin in finishes:
            if fin.status == JobStatus.SUCCEEDED and fin.steps:  # its steps are history now
                self.typical_steps.forget(attempt.task.name)
        if claim is not None:
            self._claimed(claim, result.claimed)
        rejected = set(result.rejected)
        for attempt, fin in finishes:
            attempt.outcome = None if fin.job_id in rejected else fin
            attempt.committed.set()
        self.bus.publish(result.events)
        if any(fin.status.terminal for _, fin in finishes):
            self.notifier.poke()  # their notifications, if any, go now
        for attempt, _ in finishes:
            if attempt.hard_stopped:  # after its cancelled event left: this may end the process
                self.executor.hard_stop(attempt)
        for job_id in result.cancel_requested:
            self.request_cancel(job_id)
        for job_id in result.rejected:
            self.stats["rejected"] += 1
            logger.warning(
                "job %s: this attempt lost its lease; its writes were dropped",
                job_id,
                extra={"job_id": job_id, "action": "rejected"},
            )
            lost = self._running.get(job_id)
            if lost is not None:  # someone else owns the job now: stop working on it
                lost.ended = True
                lost.progress.request_cancel()
        self.stats["ignored"] += sum(result.ignored.values())
        for event in result.events:
            status = event["job"]["status"]
            if status in self.stats and event["kind"] == "status":
                self.stats[status] += 1

    # -- claims ------------------------------------------------------------------------------

    def _capacity(self) -> int:
        """Attempts to hold: the workers, plus a prefetch while jobs are short.

        Claiming ahead saves a transaction per job when jobs take milliseconds. A prefetched
        job already shows ``running``, so there is none while jobs take longer than
        ``PREFETCH_BELOW`` seconds: a long job never hides queued ones behind it."""
        avg = self._avg_duration
        if avg is None or avg >= PREFETCH_BELOW:
            return self.concurrency
        return self.concurrency * (8 if avg < PREFETCH_BELOW / 10 else 2)

    def _can_claim(self) -> bool:
        return (
            self.claims
            and self._claiming
            and self._more_work
            and len(self._running) < self._capacity()
        )

    def _claim_request(self) -> Claim | None:
        slots = self._capacity() - len(self._running)
        if slots <= 0 or not self._claiming or not self.claims:
            return None
        limits = {
            t.name: t.options.max_concurrency
            for t in self.tasks.values()
            if t.options.max_concurrency
        }
        # Waiting jobs due to go on are looked for at the poll interval, and at once when a
        # webhook came through this process (poke): not at every claim of a busy queue.
        resume = self._resume or time.monotonic() >= self._next_poll
        self._resume = False
        return Claim(slots, list(self.tasks), limits, self.lease_seconds, resume)

    def _claimed(self, claim: Claim, claimed: list[JobRecord]) -> None:
        self._more_work = len(claimed) == claim.slots
        self._next_poll = time.monotonic() + self.poll_interval
        if not claimed or self.pool is None:
            return
        self.stats["claimed"] += len(claimed)
        for record in claimed:
            attempt = self.make_attempt(record)
            self._running[record.id] = attempt
            self.pool.submit(attempt)
