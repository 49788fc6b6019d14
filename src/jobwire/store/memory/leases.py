"""What workers do, in memory: claims, progress and outcomes, leases, recovery, release."""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence

from ... import status as sm
from ...snapshot import Event, JobRecord
from ...status import TERMINAL, JobStatus
from ...steps import durations
from ..base import Claim, Finish, LeaseStore, Report, WriteResult
from ..common import (
    EVENTS_KEPT,
    PRUNE_EVERY,
    pick,
    recovery_delay,
    room_left,
    unsuperseded,
    worker_lost_message,
)
from ..moves import CLAIM, RECOVER, RELEASE, REPORT, RESUME, START
from .state import MemoryBase, Run, as_stored

S = JobStatus


class MemoryLeaseStore(MemoryBase, LeaseStore):
    """The LeaseStore part of MemoryStore."""

    def write(
        self,
        worker_id: str,
        reports: Sequence[Report],
        finishes: Sequence[Finish],
        claim: Claim | None = None,
    ) -> WriteResult:
        result = WriteResult()
        if not reports and not finishes and (claim is None or claim.slots <= 0):
            return result
        now = self.clock()
        with self._lock:
            for rep in unsuperseded(reports, finishes):
                self._report(worker_id, rep, result)
            for fin in finishes:
                self._finish(worker_id, fin, now, result)
            if claim is not None and claim.slots > 0:
                for job, event in self._claim(worker_id, claim, now):
                    result.claimed.append(job)
                    result.events.append(event)
        return result

    def _report(self, worker_id: str, rep: Report, result: WriteResult) -> None:
        job = self._held(worker_id, rep.job_id, rep.attempt)
        if job is None or job.status not in REPORT.sources:
            result.rejected.append(rep.job_id)
            return
        job.status, job.current, job.total = rep.status, rep.current, rep.total
        job.step, job.message = rep.step, rep.message
        job.eta_seconds, job.rate = rep.eta_seconds, rep.rate
        if rep.steps is not None:
            job.steps = builtins.list(rep.steps)
        job.seq += 1
        if job.cancel_requested:
            result.cancel_requested.add(job.id)
        result.events.append(self._event(job, rep.kind, rep.log))
        if job.seq % PRUNE_EVERY == 0:
            self._events[job.id] = [
                (seq, text) for seq, text in self._events[job.id] if seq > job.seq - EVENTS_KEPT
            ]

    def _finish(self, worker_id: str, fin: Finish, now: float, result: WriteResult) -> None:
        job = self._held(worker_id, fin.job_id, fin.attempt)
        if job is None:
            result.rejected.append(fin.job_id)
            return
        state = sm.JobState(job.status, job.attempt, job.seq)
        outcome = sm.apply(state, sm.Transition(fin.status, attempt=fin.attempt))
        if not outcome.applied:
            reason = outcome.ignored or "ignored"
            result.ignored[reason] = result.ignored.get(reason, 0) + 1
            return
        job.current, job.total = fin.current, fin.total
        job.step, job.message = fin.step, fin.message
        job.seq = outcome.state.seq
        job.lease_owner = job.lease_expires_at = job.eta_seconds = None
        if fin.steps is not None:
            job.steps = builtins.list(fin.steps)
        if fin.status == S.WAITING:
            job.status, job.rate, job.eta_seconds = fin.status, None, fin.eta_seconds
            job.run_after = fin.run_after if fin.run_after is not None else now
            if len(self._delivered(job.id, job.attempt)) > (fin.wait_index or 0):
                job.run_after = now  # its webhook came while it ran: go on at once
            result.events.append(self._event(job))
            return
        job.error_code, job.error_message = fin.error_code, fin.error_message
        job.error_details = as_stored(fin.error_details)
        if fin.status in TERMINAL:
            self._end(job, fin.status, now)
        else:
            job.status = fin.status
            job.run_after = fin.run_after if fin.run_after is not None else now
        result.events.append(self._event(job))
        if fin.status == S.SUCCEEDED:
            self._results[job.id] = fin.result or "null"
            if fin.duration is not None:
                took = durations(job.steps) or None
                self._history.append(Run(job.task, fin.duration, job.total, now, took))

    def _start(self, job: JobRecord, worker_id: str, now: float, lease: float) -> Event:
        if job.status in RESUME.sources:  # the same attempt goes on, as it was shown
            job.status, job.seq = S.RUNNING, job.seq + 1
        else:
            job.status, job.attempt, job.seq = S.RUNNING, job.attempt + 1, job.seq + 1
            job.started_at, job.current = now, 0
            job.message, job.steps = None, []
        job.eta_seconds = job.rate = None
        job.lease_owner, job.lease_expires_at = worker_id, now + lease
        return self._event(job)

    def _running(self, task: str | None) -> int:
        return sum(1 for j in self._jobs.values() if j.status == S.RUNNING and j.task == task)

    def _due(
        self, now: float, looked_at: int, tasks: set[str], *, resume: bool = True
    ) -> builtins.list[JobRecord]:
        """Waiting jobs due to go on (soonest first), then queued ones (oldest first), at
        most ``looked_at`` of each, as the SQL stores read them."""
        due = [j for j in self._jobs.values() if j.run_after <= now and j.task in tasks]
        woken = sorted(
            (j for j in due if resume and j.status in RESUME.sources),
            key=lambda j: (j.run_after, j.id),
        )[:looked_at]
        if len(woken) >= looked_at:
            return woken
        queued = sorted(
            (j for j in due if j.status in START.sources), key=lambda j: (j.created_at, j.id)
        )
        return woken + queued[:looked_at]

    def _claim(
        self, worker_id: str, claim: Claim, now: float
    ) -> builtins.list[tuple[JobRecord, Event]]:
        if claim.slots <= 0 or not claim.tasks:
            return []
        room = room_left(claim.limits, {t: self._running(t) for t in claim.limits})
        allowed = {t for t in claim.tasks if room.get(t, 1) > 0}
        looked_at = claim.slots * 4 if claim.limits else claim.slots  # as the SQL stores
        candidates = [
            (j.id, j.task) for j in self._due(now, looked_at, allowed, resume=claim.resume)
        ]
        chosen = pick(candidates, claim.slots, room)
        out = []
        for job_id in chosen:
            job = self._jobs[job_id]
            event = self._start(job, worker_id, now, claim.lease_seconds)
            out.append((self._out(job), event))
        return out

    def claim_one(
        self, worker_id: str, job_id: str, *, limit: int | None, lease_seconds: float
    ) -> tuple[JobRecord | None, Event | None]:
        now = self.clock()
        with self._lock:
            job = self._jobs.get(job_id)
            if limit is not None and self._running(job.task if job else None) >= limit:
                return (self._out(job) if job else None), None
            if job is None or job.status not in CLAIM.sources or job.run_after > now:
                return (self._out(job) if job else None), None
            event = self._start(job, worker_id, now, lease_seconds)
            return self._out(job), event

    def renew(self, worker_id: str, job_ids: Sequence[str], lease_seconds: float) -> set[str]:
        now = self.clock()
        flagged: set[str] = set()
        with self._lock:
            for job_id in job_ids:
                job = self._held(worker_id, job_id)
                if job is None or job.status not in REPORT.sources:
                    continue
                job.lease_expires_at = now + lease_seconds
                if job.cancel_requested:
                    flagged.add(job_id)
        return flagged

    def cancel_requests(self, worker_id: str) -> set[str]:
        with self._lock:
            return {
                j.id
                for j in self._jobs.values()
                if j.status in REPORT.sources and j.lease_owner == worker_id and j.cancel_requested
            }

    def stale_queued(self, due_before: float, limit: int = 500) -> builtins.list[tuple[str, str]]:
        with self._lock:
            stale = [
                j
                for j in self._jobs.values()
                if j.status in CLAIM.sources and j.run_after < due_before
            ]
        stale.sort(key=lambda j: (j.created_at, j.id))
        return [(j.id, j.task) for j in stale[: max(limit, 0)]]

    def due_waits(self, now: float, limit: int = 500) -> builtins.list[tuple[str, str]]:
        with self._lock:
            due = [
                j for j in self._jobs.values() if j.status in RESUME.sources and j.run_after <= now
            ]
        due.sort(key=lambda j: (j.run_after, j.id))
        return [(j.id, j.task) for j in due[: max(limit, 0)]]

    def recover(self, backoff: Mapping[str, float]) -> builtins.list[Event]:
        now = self.clock()
        out: builtins.list[Event] = []
        with self._lock:
            for job in builtins.list(self._jobs.values()):
                expires = job.lease_expires_at
                if job.status not in RECOVER.sources or expires is None or expires >= now:
                    continue
                retry = job.attempt < job.max_attempts and not job.cancel_requested
                job.seq += 1
                job.lease_owner = job.lease_expires_at = job.eta_seconds = None
                job.error_code = "worker_lost"
                job.error_message = worker_lost_message(job.attempt)
                if job.cancel_requested:
                    self._end(job, S.CANCELLED, now)
                    job.error_code = job.error_message = None
                elif retry:
                    job.status = S.QUEUED
                    job.run_after = now + recovery_delay(backoff, job)
                else:
                    self._end(job, S.FAILED, now)
                out.append(self._event(job))
        return out

    def release(self, worker_id: str, job_ids: Sequence[str]) -> builtins.list[Event]:
        now = self.clock()
        wanted = set(job_ids)
        with self._lock:
            mine = [
                j
                for j in self._jobs.values()
                if j.id in wanted and j.lease_owner == worker_id and j.status in RELEASE.sources
            ]
            out: builtins.list[Event] = []
            # A job whose cancel was requested ends cancelled: requeued, it would run again.
            for job in [j for j in mine if j.cancel_requested] + [
                j for j in mine if not j.cancel_requested
            ]:
                job.seq += 1
                job.lease_owner = job.lease_expires_at = job.eta_seconds = None
                if job.cancel_requested:
                    self._end(job, S.CANCELLED, now)
                else:
                    job.status, job.run_after = S.QUEUED, now
                    job.max_attempts += 1  # a shutdown does not use a retry
                    job.message = "requeued: its worker shut down"
                out.append(self._event(job))
        return out
