"""Rows to records and back: the one place that knows how a job and an event are stored."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.engine import Row

from ...snapshot import Event, JobRecord, dumps, loads
from ...status import JobStatus
from ...steps import steps_from_json


def record_from_row(row: Row[Any] | Mapping[str, Any]) -> JobRecord:
    m = row._mapping if isinstance(row, Row) else row
    details = m["error_details"]
    steps = m["steps"]
    return JobRecord(
        id=m["id"],
        task=m["task"],
        owner=m["owner"],
        args=loads(m["args"]),
        status=JobStatus(m["status"]),
        step=m["step"],
        current=m["current"],
        total=m["total"],
        message=m["message"],
        eta_seconds=m["eta_seconds"],
        rate=m["rate"],
        estimated_seconds=m["estimated_seconds"],
        created_at=m["created_at"],
        started_at=m["started_at"],
        finished_at=m["finished_at"],
        attempt=m["attempt"],
        max_attempts=m["max_attempts"],
        cancel_requested=bool(m["cancel_requested"]),
        seq=m["seq"],
        error_code=m["error_code"],
        error_message=m["error_message"],
        error_details=loads(details) if details is not None else None,
        dedupe_key=m["dedupe_key"],
        run_after=m["run_after"],
        timeout=m["timeout"],
        lease_owner=m["lease_owner"],
        lease_expires_at=m["lease_expires_at"],
        notify_url=m["notify_url"],
        steps=steps_from_json(loads(steps)) if steps else [],
    )


def row_values(job: JobRecord, now: float) -> dict[str, Any]:
    """The row of a job being submitted: queued, ``seq`` 1, no attempt yet."""
    return {
        "id": job.id,
        "task": job.task,
        "owner": job.owner,
        "args": dumps(job.args),
        "status": job.status.value,
        "step": job.step,
        "current": job.current,
        "total": job.total,
        "message": job.message,
        "eta_seconds": None,
        "rate": None,
        "estimated_seconds": job.estimated_seconds,
        "created_at": job.created_at,
        "started_at": None,
        "finished_at": None,
        "updated_at": now,
        "attempt": 0,
        "max_attempts": job.max_attempts,
        "cancel_requested": False,
        "seq": 1,
        "error_code": None,
        "error_message": None,
        "error_details": None,
        "dedupe_key": job.dedupe_key,
        "live_key": job.dedupe_key,
        "run_after": job.run_after or job.created_at,
        "timeout": job.timeout,
        "lease_owner": None,
        "lease_expires_at": None,
        "notify_url": job.notify_url,
        "steps": None,
    }


def event_row(event: Event, now: float) -> dict[str, Any]:
    return {
        "job_id": event["job"]["id"],
        "seq": event["seq"],
        "kind": event["kind"],
        "payload": dumps(event),
        "created_at": now,
    }
