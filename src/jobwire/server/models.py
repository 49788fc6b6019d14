"""Response models: they document the API (OpenAPI) and are checked by schemathesis."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict


class ErrorInfoModel(BaseModel):
    code: str
    message: str
    details: Any = None


class SnapshotModel(BaseModel):
    """A job's snapshot: everything needed to draw it."""

    model_config = ConfigDict(extra="forbid")

    id: str
    task: str
    status: Literal["queued", "running", "waiting", "succeeded", "failed", "cancelled"]
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
    error: ErrorInfoModel | None
    result_url: str | None


class Links(BaseModel):
    self: str
    events: str
    ws: str
    cancel: str
    result: str


class SubmitAnswer(SnapshotModel):
    outcome: Literal["created", "deduplicated", "cached"]
    links: Links
    stream_token: str


class JobPage(BaseModel):
    jobs: list[SnapshotModel]
    next_cursor: str | None


class TaskOptionsModel(BaseModel):
    max_concurrency: int | None
    per_owner_limit: int | None
    cache_ttl: float | None
    retries: int
    timeout: float | None
    dedupe: bool


class TaskList(BaseModel):
    tasks: list[dict[str, Any]]


class StatsModel(BaseModel):
    jobs: dict[str, int]
    worker: dict[str, int] | None
    streams: dict[str, int] | None


class HookAnswer(BaseModel):
    job_id: str
    accepted: bool
    """True when this delivery was recorded; False for a repeat or a job that already ended."""
    reason: Literal["duplicate", "job_finished"] | None = None


class StreamMessage(BaseModel):
    """One message of a job's stream: the `data:` of a Server-Sent Event, or a WebSocket
    frame (which may also be `{"type": "ping"}` or an `error`)."""

    type: Literal["connected", "progress", "status", "log", "completed", "failed", "cancelled"]
    seq: int
    job: SnapshotModel
    log: str | None = None
    """The text of a `log` message."""


class StoreHealth(BaseModel):
    writable: bool
    reason: str | None


class BusHealth(BaseModel):
    connected: bool


class HealthModel(BaseModel):
    status: Literal["ok", "unavailable"]
    store: StoreHealth
    bus: BusHealth
