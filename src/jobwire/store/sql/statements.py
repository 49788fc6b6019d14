"""The hot statements, built once: building a statement with ``.values(...)`` on every call
costs more than executing it. Parameters are named ``b_*`` (SQLAlchemy reserves column
names). The statuses in their ``WHERE`` come from :mod:`jobwire.store.moves`.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from ..moves import CLAIM, REPORT, RESUME, START, Move
from ..tables import events, jobs

_B = sa.bindparam


def status_in(move: Move) -> sa.ColumnElement[bool]:
    """``status = a OR status = b``: the statuses ``move`` starts from, as static SQL (no
    ``IN`` list expanded again at every execution)."""
    return sa.or_(*(jobs.c.status == s for s in move.values))


def held(
    worker_id: str, job_ids: list[str], move: Move = REPORT
) -> tuple[sa.ColumnElement[bool], ...]:
    """Jobs among ``job_ids`` whose lease this worker holds, in a status ``move`` starts
    from (by default: those its attempt may report from, running or waiting)."""
    return (jobs.c.id.in_(job_ids), jobs.c.lease_owner == worker_id, status_in(move))


INSERT_JOB = jobs.insert()
INSERT_EVENT = events.insert()
LIVE_BY_KEY = sa.select(jobs).where(jobs.c.live_key == _B("b_key"))

CANDIDATES = (
    sa.select(jobs.c.id, jobs.c.task)
    .where(
        status_in(START),
        jobs.c.run_after <= _B("b_now"),
        jobs.c.task.in_(_B("b_tasks", expanding=True)),
    )
    .order_by(jobs.c.created_at, jobs.c.id)
    .limit(_B("b_limit"))
)
#: Waiting jobs due to go on (their webhook came, their poll or timeout is due), soonest
#: first: by the jobwire_jobs_wake index, never reading the jobs still waiting.
WAKE_CANDIDATES = (
    sa.select(jobs.c.id, jobs.c.task)
    .where(
        status_in(RESUME),
        jobs.c.run_after <= _B("b_now"),
        jobs.c.task.in_(_B("b_tasks", expanding=True)),
    )
    .order_by(jobs.c.run_after, jobs.c.id)
    .limit(_B("b_limit"))
)
_RESUMING = jobs.c.status == RESUME.values[0]


def _unless_resumed(fresh: Any, column: sa.Column[Any]) -> Any:
    """A new attempt starts from ``fresh``; a waiting one that goes on keeps ``column``."""
    return sa.case((_RESUMING, column), else_=fresh)


_CLAIM_VALUES: dict[str, Any] = {
    "status": "running",
    "attempt": _unless_resumed(jobs.c.attempt + 1, jobs.c.attempt),
    "seq": jobs.c.seq + 1,
    "started_at": _unless_resumed(_B("b_now"), jobs.c.started_at),
    "updated_at": _B("b_now"),
    "current": _unless_resumed(0, jobs.c.current),
    "eta_seconds": None,
    "rate": None,
    "message": _unless_resumed(None, jobs.c.message),
    "steps": _unless_resumed(None, jobs.c.steps),
    "lease_owner": _B("b_worker"),
    "lease_expires_at": _B("b_until"),
}
CLAIM_IDS = (
    sa.update(jobs)
    .where(jobs.c.id.in_(_B("b_ids", expanding=True)), status_in(CLAIM))
    .values(_CLAIM_VALUES)
    .returning(*jobs.c)
)
CLAIM_ONE = (
    sa.update(jobs)
    .where(jobs.c.id == _B("b_id"), status_in(CLAIM), jobs.c.run_after <= _B("b_now"))
    .values(_CLAIM_VALUES)
    .returning(*jobs.c)
)

#: Steps are written when they changed (``b_steps`` not NULL): most reports keep them.
_STEPS = sa.func.coalesce(_B("b_steps", type_=sa.Text), jobs.c.steps)

REPORT_PROGRESS = (
    sa.update(jobs)
    .where(
        jobs.c.id == _B("b_id"),
        jobs.c.attempt == _B("b_attempt"),
        jobs.c.lease_owner == _B("b_worker"),
        status_in(REPORT),
    )
    .values(
        status=_B("b_status"),
        current=_B("b_current"),
        total=_B("b_total"),
        step=_B("b_step"),
        message=_B("b_message"),
        eta_seconds=_B("b_eta"),
        rate=_B("b_rate"),
        steps=_STEPS,
        seq=jobs.c.seq + 1,
        updated_at=_B("b_now"),
    )
    .returning(*jobs.c)
)

FINISH_STATE = (
    sa.select(jobs.c.id, jobs.c.status, jobs.c.attempt, jobs.c.seq, jobs.c.lease_owner)
    .where(jobs.c.id.in_(_B("b_ids", expanding=True)))
    .with_for_update()
)
_FINISH_VALUES: dict[str, Any] = {
    "status": _B("b_status"),
    "current": _B("b_current"),
    "total": _B("b_total"),
    "step": _B("b_step"),
    "message": _B("b_message"),
    "seq": _B("b_seq"),
    "updated_at": _B("b_now"),
    "lease_owner": None,
    "lease_expires_at": None,
    "error_code": _B("b_error_code"),
    "error_message": _B("b_error_message"),
    "error_details": _B("b_error_details"),
    "eta_seconds": None,
    "steps": _STEPS,
}
FINISH_TERMINAL = (
    sa.update(jobs)
    .where(jobs.c.id == _B("b_id"))
    .values(**_FINISH_VALUES, finished_at=_B("b_now"), live_key=None)
    .returning(*jobs.c)
)
FINISH_RETRY = (
    sa.update(jobs)
    .where(jobs.c.id == _B("b_id"))
    .values(**_FINISH_VALUES, run_after=_B("b_run_after"))
    .returning(*jobs.c)
)
#: An attempt stops at a wait: no lease, its counts, step and message kept on display, and
#: due to go on at ``run_after`` (now, when its delivery is already there).
FINISH_WAIT = (
    sa.update(jobs)
    .where(jobs.c.id == _B("b_id"))
    .values(
        status=_B("b_status"),
        current=_B("b_current"),
        total=_B("b_total"),
        step=_B("b_step"),
        message=_B("b_message"),
        seq=_B("b_seq"),
        updated_at=_B("b_now"),
        lease_owner=None,
        lease_expires_at=None,
        eta_seconds=_B("b_eta", type_=sa.Double),
        rate=None,
        steps=_STEPS,
        run_after=_B("b_run_after"),
    )
    .returning(*jobs.c)
)
