"""A worker's batch in one transaction: progress reports, finished attempts, and a claim of
new jobs (:meth:`SQLWrites.write`)."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ... import status as sm
from ...snapshot import Event, JobRecord, dumps, make_event
from ...status import TERMINAL, JobStatus
from ...steps import StepTime, durations, steps_to_json
from ..base import Claim, Finish, Report, WriteResult
from ..common import EVENTS_KEPT, PRUNE_EVERY, pick, room_left, unsuperseded
from ..tables import events, history, hooks, jobs, results
from .deliveries import add_deliveries
from .engine import CLAIM_LOCK, SQLBase
from .rows import event_row, record_from_row
from .statements import (
    CANDIDATES,
    CLAIM_IDS,
    FINISH_RETRY,
    FINISH_STATE,
    FINISH_TERMINAL,
    FINISH_WAIT,
    INSERT_EVENT,
    REPORT_PROGRESS,
    WAKE_CANDIDATES,
)


class SQLWrites(SQLBase):
    """``write``: reports, finishes and a claim in one transaction."""

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
        event_rows: builtins.list[dict[str, Any]] = []
        reports = unsuperseded(reports, finishes)
        with self._write() as conn:
            for rep in reports:
                self._report(conn, worker_id, rep, now, result, event_rows)
            if finishes:
                self._finish(conn, worker_id, finishes, now, result, event_rows)
            if event_rows:
                conn.execute(INSERT_EVENT, event_rows)
            if claim is not None and claim.slots > 0:
                for job, event in self._claim(conn, worker_id, claim, now):
                    result.claimed.append(job)
                    result.events.append(event)
        return result

    @staticmethod
    def _report(
        conn: Connection,
        worker_id: str,
        rep: Report,
        now: float,
        result: WriteResult,
        event_rows: builtins.list[dict[str, Any]],
    ) -> None:
        row = conn.execute(
            REPORT_PROGRESS,
            {
                "b_id": rep.job_id,
                "b_attempt": rep.attempt,
                "b_worker": worker_id,
                "b_status": rep.status.value,
                "b_current": rep.current,
                "b_total": rep.total,
                "b_step": rep.step,
                "b_message": rep.message,
                "b_eta": rep.eta_seconds,
                "b_rate": rep.rate,
                "b_steps": _steps_text(rep.steps),
                "b_now": now,
            },
        ).first()
        if row is None:
            result.rejected.append(rep.job_id)
            return
        job = record_from_row(row)
        if job.cancel_requested:
            result.cancel_requested.add(job.id)
        event = make_event(job, rep.kind, rep.log)
        result.events.append(event)
        event_rows.append(event_row(event, now))
        if job.seq % PRUNE_EVERY == 0:
            conn.execute(
                events.delete().where(
                    events.c.job_id == job.id, events.c.seq <= job.seq - EVENTS_KEPT
                )
            )

    def _finish(
        self,
        conn: Connection,
        worker_id: str,
        finishes: Sequence[Finish],
        now: float,
        result: WriteResult,
        event_rows: builtins.list[dict[str, Any]],
    ) -> None:
        ids = [f.job_id for f in finishes]
        current = {r.id: r for r in conn.execute(FINISH_STATE, {"b_ids": ids}).all()}
        result_rows: builtins.list[dict[str, Any]] = []
        history_rows: builtins.list[dict[str, Any]] = []
        ended: builtins.list[JobRecord] = []
        for fin in finishes:
            row = current.get(fin.job_id)
            if row is None or row.lease_owner != worker_id or row.attempt != fin.attempt:
                result.rejected.append(fin.job_id)
                continue
            state = sm.JobState(JobStatus(row.status), row.attempt, row.seq)
            outcome = sm.apply(state, sm.Transition(fin.status, attempt=fin.attempt))
            if not outcome.applied:
                reason = outcome.ignored or "ignored"
                result.ignored[reason] = result.ignored.get(reason, 0) + 1
                continue
            terminal = fin.status in TERMINAL
            run_after = fin.run_after if fin.run_after is not None else now
            if fin.status == JobStatus.WAITING:
                statement = FINISH_WAIT
                if self._delivered(conn, fin) > (fin.wait_index or 0):
                    run_after = now  # its webhook came while it ran: go on at once
            else:
                statement = FINISH_TERMINAL if terminal else FINISH_RETRY
            up = conn.execute(
                statement,
                {
                    "b_id": fin.job_id,
                    "b_status": fin.status.value,
                    "b_current": fin.current,
                    "b_total": fin.total,
                    "b_step": fin.step,
                    "b_message": fin.message,
                    "b_seq": outcome.state.seq,
                    "b_now": now,
                    "b_error_code": fin.error_code,
                    "b_error_message": fin.error_message,
                    "b_error_details": None
                    if fin.error_details is None
                    else dumps(fin.error_details),
                    "b_run_after": run_after,
                    "b_steps": _steps_text(fin.steps),
                    "b_eta": fin.eta_seconds,
                },
            ).one()
            current[fin.job_id] = up  # a second finish of this job in the batch sees this one
            job = record_from_row(up)
            event = make_event(job, "status")
            result.events.append(event)
            event_rows.append(event_row(event, now))
            if terminal:
                ended.append(job)
            if fin.status == JobStatus.SUCCEEDED:
                result_rows.append(
                    {"job_id": job.id, "value": fin.result or "null", "created_at": now}
                )
                if fin.duration is not None:
                    history_rows.append(
                        {
                            "task": job.task,
                            "duration": fin.duration,
                            "total": job.total,
                            "finished_at": now,
                            "steps": _durations_text(job.steps),
                        }
                    )
        if result_rows:
            conn.execute(results.insert(), result_rows)
        if history_rows:
            conn.execute(history.insert(), history_rows)
        add_deliveries(conn, ended, now)

    @staticmethod
    def _delivered(conn: Connection, fin: Finish) -> int:
        """How many deliveries the finishing attempt has (the job row is locked: a webhook
        recorded after this count finds the job waiting, and wakes it)."""
        return int(
            conn.execute(
                sa.select(sa.func.count()).where(
                    hooks.c.job_id == fin.job_id, hooks.c.attempt == fin.attempt
                )
            ).scalar_one()
        )

    def _claim(
        self, conn: Connection, worker_id: str, claim: Claim, now: float
    ) -> builtins.list[tuple[JobRecord, Event]]:
        slots, tasks, limits = claim.slots, claim.tasks, claim.limits
        if slots <= 0 or not tasks:
            return []
        self._advisory_lock(conn, CLAIM_LOCK)
        room: dict[str, int] = {}
        if limits:
            running: dict[str, int] = dict(
                conn.execute(
                    sa.select(jobs.c.task, sa.func.count())
                    .where(jobs.c.status == "running", jobs.c.task.in_(builtins.list(limits)))
                    .group_by(jobs.c.task)
                ).all()
            )
            room = room_left(limits, running)
        allowed = [t for t in tasks if room.get(t, 1) > 0]
        if not allowed:
            return []
        looked_at = slots * 4 if limits else slots
        wanted = {"b_now": now, "b_tasks": allowed, "b_limit": looked_at}
        # Waiting jobs due to go on first (they started long ago), then the queue.
        candidates = (
            builtins.list(conn.execute(WAKE_CANDIDATES, wanted).all()) if claim.resume else []
        )
        if len(candidates) < looked_at:
            candidates += conn.execute(CANDIDATES, wanted).all()
        chosen = pick([(c.id, c.task) for c in candidates], slots, room)
        if not chosen:
            return []
        rows = conn.execute(
            CLAIM_IDS,
            {
                "b_ids": chosen,
                "b_now": now,
                "b_worker": worker_id,
                "b_until": now + claim.lease_seconds,
            },
        ).all()
        claimed = [record_from_row(r) for r in rows]
        claimed.sort(key=lambda j: (j.created_at, j.id))
        out = [(job, make_event(job, "status")) for job in claimed]
        conn.execute(INSERT_EVENT, [event_row(ev, now) for _, ev in out])
        return out


def _steps_text(steps: builtins.list[StepTime] | None) -> str | None:
    return None if steps is None else dumps(steps_to_json(steps))


def _durations_text(steps: builtins.list[StepTime]) -> str | None:
    took = durations(steps)
    return dumps(took) if took else None
