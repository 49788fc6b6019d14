"""What every store does alike, whatever keeps the rows: cursors, limits, the errors it
raises and the decisions that are not storage. Pure: no I/O, no clock.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from ..errors import (
    InvalidCursor,
    JobAlreadyFinished,
    JobNotFinished,
    JobNotFound,
    OwnerLimitReached,
)
from ..retry import retry_delay
from ..snapshot import JobRecord
from .base import Finish, Report

#: Events kept per job for streams to resume from; older ones are pruned as a job runs.
EVENTS_KEPT = 1000
#: The events of a job are pruned when its ``seq`` is a multiple of this.
PRUNE_EVERY = 200
#: Successful runs kept per task for ETA history.
HISTORY_KEPT = 100
#: The retry delay of a task missing from the backoff given to ``recover``.
DEFAULT_BACKOFF = 1.0


def impossible_id(job_id: str) -> bool:
    """An id no job can have: PostgreSQL cannot hold or even compare text with NUL, so such
    an id is not looked up, and it is unknown on every store alike."""
    return "\x00" in job_id


# -- cursors ----------------------------------------------------------------------------

#: A page's ``next_cursor``: ``{created_at!r}~{id}`` of its last job, where the next page
#: starts. Readable, so that ``/openapi.json`` documents exactly what is accepted (any
#: creation time up to 10^16 s, so never Infinity, and an id without NUL).
CURSOR_PATTERN = r"^([0-9]{1,16}(?:\.[0-9]{1,20})?(?:e-[0-9]{1,3})?)~([^\x00]+)$"
_CURSOR = re.compile(CURSOR_PATTERN)


def encode_cursor(created_at: float, job_id: str) -> str:
    return f"{created_at!r}~{job_id}"


def decode_cursor(cursor: str) -> tuple[float, str]:
    match = _CURSOR.fullmatch(cursor)
    if match is None:
        raise InvalidCursor(
            f"Expected a cursor from a previous page, but got {cursor!r}", cursor=cursor
        )
    return float(match[1]), match[2]


# -- errors -----------------------------------------------------------------------------


def not_found(job_id: str) -> JobNotFound:
    return JobNotFound(f"No job has the id {job_id!r}", job_id=job_id)


def cannot_cancel(job_id: str, status: str) -> JobAlreadyFinished:
    return JobAlreadyFinished(
        f"Job {job_id} already {status}; it cannot be cancelled.", job_id=job_id, status=status
    )


def hook_too_late(job_id: str, status: str) -> JobAlreadyFinished:
    return JobAlreadyFinished(
        f"Job {job_id} already {status}; the callback came too late.",
        job_id=job_id,
        status=status,
    )


def cannot_delete(job_id: str, status: str) -> JobNotFinished:
    return JobNotFinished(f"Job {job_id} is {status}; cancel it before deleting it.", job_id=job_id)


def owner_limit_reached(job: JobRecord, live: int, limit: int) -> OwnerLimitReached:
    return OwnerLimitReached(
        f"{job.owner!r} already has {live} live {job.task!r} job(s), the "
        f"limit is {limit}. Wait for one to finish or cancel it.",
        owner=job.owner,
        task=job.task,
        limit=limit,
    )


# -- worker writes ----------------------------------------------------------------------


def unsuperseded(reports: Sequence[Report], finishes: Sequence[Finish]) -> Sequence[Report]:
    """The reports worth writing: a progress report is superseded by its job's finish in
    the same batch, unless it shows a step the finish does not (every step change is kept)
    or is a log."""
    if not finishes or not reports:
        return reports
    final_step = {f.job_id: f.step for f in finishes}
    return [
        r
        for r in reports
        if r.kind != "progress" or r.job_id not in final_step or r.step != final_step[r.job_id]
    ]


def pick(candidates: Sequence[tuple[str, str]], slots: int, room: dict[str, int]) -> list[str]:
    """The ids to claim among ``(id, task)`` candidates, oldest first: at most ``slots``,
    and no more of a task than its ``room`` (tasks without a limit are not in it)."""
    chosen: list[str] = []
    for job_id, task in candidates:
        if task in room:
            if room[task] <= 0:
                continue
            room[task] -= 1
        chosen.append(job_id)
        if len(chosen) == slots:
            break
    return chosen


def room_left(limits: Mapping[str, int], running: Mapping[str, int]) -> dict[str, int]:
    """How many more jobs of each limited task may run, given how many run now."""
    return {t: lim - running.get(t, 0) for t, lim in limits.items()}


# -- recovery ---------------------------------------------------------------------------


def worker_lost_message(attempt: int) -> str:
    return f"The worker running attempt {attempt} stopped renewing its lease (killed or hung)."


def recovery_delay(backoff: Mapping[str, float], job: JobRecord) -> float:
    """Seconds before a job whose worker was lost runs again."""
    return retry_delay(backoff.get(job.task, DEFAULT_BACKOFF), job.attempt)
