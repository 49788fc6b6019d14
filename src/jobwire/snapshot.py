"""Job records, snapshots and events. Pure: no I/O.

A *record* is everything the store keeps about a job. A *snapshot* is the small,
self-contained JSON view of it that every client draws from; an *event* is a snapshot with the
kind of change that produced it. WebSocket, SSE and polling all send :func:`snapshot` output.
"""

from __future__ import annotations

import json
import math
import secrets
import time
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any, Literal, TypedDict

from .status import TERMINAL, JobStatus
from .steps import StepTime

EventKind = Literal["status", "progress", "log"]
StatusName = Literal["queued", "running", "waiting", "succeeded", "failed", "cancelled"]
"""The values of :class:`~jobwire.status.JobStatus`, as a snapshot spells them."""


class ErrorInfo(TypedDict):
    code: str
    message: str
    details: Any


class StepInfo(TypedDict):
    """One step of the job's attempt: when it started and ended (None: not yet), its
    ``seconds`` once it ended, and how long it usually takes (None: unknown)."""

    name: str
    started_at: str | None
    finished_at: str | None
    seconds: float | None
    typical_seconds: float | None


class Snapshot(TypedDict):
    id: str
    task: str
    status: StatusName
    step: str | None
    current: int
    total: int | None
    percent: float | None
    message: str | None
    eta_seconds: float | None
    rate: float | None
    estimated_seconds: float | None
    owner: str
    created_at: str | None
    started_at: str | None
    finished_at: str | None
    attempt: int
    max_attempts: int
    cancel_requested: bool
    seq: int
    error: ErrorInfo | None
    result_url: str | None
    files_url: str
    steps: list[StepInfo]


class Event(TypedDict):
    kind: EventKind
    seq: int
    job: Snapshot
    log: str | None


@dataclass(slots=True)
class JobRecord:
    """One job as the store keeps it. Times are UNIX seconds (UTC)."""

    id: str
    task: str
    owner: str
    args: dict[str, Any] = field(default_factory=dict)
    status: JobStatus = JobStatus.QUEUED
    step: str | None = None
    current: int = 0
    total: int | None = None
    message: str | None = None
    eta_seconds: float | None = None
    rate: float | None = None
    estimated_seconds: float | None = None
    created_at: float = 0.0
    started_at: float | None = None
    finished_at: float | None = None
    attempt: int = 0
    max_attempts: int = 1
    cancel_requested: bool = False
    seq: int = 0
    error_code: str | None = None
    error_message: str | None = None
    error_details: Any = None
    dedupe_key: str | None = None
    run_after: float = 0.0
    timeout: float | None = None
    lease_owner: str | None = None
    lease_expires_at: float | None = None
    notify_url: str | None = None
    """Where its end is notified (a signed ``job.*`` event); never in its snapshot."""
    steps: list[StepTime] = field(default_factory=list)
    """The steps of its attempt with their times (:mod:`jobwire.steps`)."""

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    @property
    def percent(self) -> float | None:
        return percent(self.current, self.total)

    def copy(self, **changes: Any) -> JobRecord:
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values.update(changes)
        return JobRecord(**values)


def new_job_id() -> str:
    """32 hex digits: the milliseconds since the epoch, then 80 random bits. Ids sort by
    creation time, so inserts append to the primary-key index instead of landing on random
    pages (which makes every commit write more)."""
    return f"{time.time_ns() // 1_000_000:012x}{secrets.token_hex(10)}"


def short_id(job_id: str) -> str:
    """Eight characters that tell jobs apart: the end of the id (its random part). The start
    is the creation time, which jobs made within a minute share."""
    return job_id[-8:]


def percent(current: int, total: int | None) -> float | None:
    if total is None or total <= 0:
        return None
    return round(min(max(current / total, 0.0), 1.0) * 100, 1)


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _round(value: float | None, digits: int = 2) -> float | None:
    if value is None or not math.isfinite(value):
        return None  # JSON has no NaN or Infinity
    return round(value, digits)


def step_infos(job: JobRecord) -> list[StepInfo]:
    """The job's steps as a snapshot shows them. A step still open when the job ended (it
    was cancelled while it waited) ends with the job."""
    out: list[StepInfo] = []
    for s in job.steps:
        ended = s.finished_at
        if ended is None and s.started_at is not None and job.terminal:
            ended = job.finished_at
        took = None if s.started_at is None or ended is None else max(ended - s.started_at, 0.0)
        out.append(
            {
                "name": s.name,
                "started_at": iso(s.started_at),
                "finished_at": iso(ended),
                "seconds": _round(took, 3),
                "typical_seconds": _round(s.typical, 1),
            }
        )
    return out


def snapshot(job: JobRecord) -> Snapshot:
    """The public JSON view of a job: the one payload every channel sends."""
    error: ErrorInfo | None = None
    if job.error_code is not None:
        error = {
            "code": job.error_code,
            "message": job.error_message or "",
            "details": job.error_details,
        }
    return {
        "id": job.id,
        "task": job.task,
        "status": job.status.value,
        "step": job.step,
        "current": job.current,
        "total": job.total,
        "percent": job.percent,
        "message": job.message,
        "eta_seconds": _round(job.eta_seconds, 1),
        "rate": _round(job.rate, 3),
        "estimated_seconds": _round(job.estimated_seconds, 1),
        "owner": job.owner,
        "created_at": iso(job.created_at),
        "started_at": iso(job.started_at),
        "finished_at": iso(job.finished_at),
        "attempt": job.attempt,
        "max_attempts": job.max_attempts,
        "cancel_requested": job.cancel_requested,
        "seq": job.seq,
        "error": error,
        "result_url": f"/api/jobs/{job.id}/result" if job.status == JobStatus.SUCCEEDED else None,
        "files_url": f"/api/jobs/{job.id}/files",
        "steps": step_infos(job),
    }


def make_event(job: JobRecord, kind: EventKind, log: str | None = None) -> Event:
    return {"kind": kind, "seq": job.seq, "job": snapshot(job), "log": log}


def dumps(value: Any) -> str:
    """Compact JSON, the one encoding used for stored and sent payloads. Strict: NaN and
    Infinity raise ValueError (``JSON.parse`` would refuse them)."""
    return json.dumps(
        value, separators=(",", ":"), ensure_ascii=False, default=str, allow_nan=False
    )


def loads(text: str | bytes) -> Any:
    return json.loads(text)


def format_line(snap: Snapshot) -> str:
    """`150/500 (30%) · processing · about 20 s left` — the one-line summary of a snapshot."""
    parts: list[str] = []
    if snap["total"] is not None:
        pct = snap["percent"]
        parts.append(f"{snap['current']}/{snap['total']} ({pct:g}%)" if pct is not None else "")
    elif snap["current"]:
        parts.append(str(snap["current"]))
    if snap["step"]:
        parts.append(snap["step"])
    if snap["status"] not in ("running",):
        parts.append(snap["status"])
    eta = snap["eta_seconds"]
    if eta is not None and snap["status"] == "running":
        parts.append(f"about {format_seconds(eta)} left")
    return " · ".join(p for p in parts if p)


def format_seconds(seconds: float) -> str:
    if seconds < 1:
        return "<1 s"
    s = round(seconds)
    if s < 60:
        return f"{s} s"
    m, s = divmod(s, 60)
    if m < 60:
        return f"{m} min {s} s" if s else f"{m} min"
    h, m = divmod(m, 60)
    return f"{h} h {m} min"
