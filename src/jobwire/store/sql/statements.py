"""The hot statements, built once: building a statement with ``.values(...)`` on every call
costs more than executing it. Parameters are named ``b_*`` (SQLAlchemy reserves column
names). The statuses in their ``WHERE`` come from :mod:`jobwire.store.moves`.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from ..moves import CLAIM, REPORT, Move
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
        status_in(CLAIM),
        jobs.c.run_after <= _B("b_now"),
        jobs.c.task.in_(_B("b_tasks", expanding=True)),
    )
    .order_by(jobs.c.created_at, jobs.c.id)
    .limit(_B("b_limit"))
)
_CLAIM_VALUES: dict[str, Any] = {
    "status": "running",
    "attempt": jobs.c.attempt + 1,
    "seq": jobs.c.seq + 1,
    "started_at": _B("b_now"),
    "updated_at": _B("b_now"),
    "current": 0,
    "eta_seconds": None,
    "rate": None,
    "message": None,
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
