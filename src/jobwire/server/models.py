"""Response models: they document the API (OpenAPI) and are checked by schemathesis."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, get_type_hints

from pydantic import BaseModel, ConfigDict, create_model

from ..files import FileEntry
from ..snapshot import ErrorInfo, Snapshot, StepInfo
from ..wire import Message


def model_of(
    typed: type[Any],
    name: str,
    doc: str | None,
    *,
    extra: Literal["forbid", "ignore"] = "forbid",
    **fields: Any,
) -> type[BaseModel]:
    """The pydantic model of the TypedDict ``typed``, named ``name``: its keys in order, each
    required and of its annotated type, except where ``fields`` gives ``(type, default)``.
    The code builds the TypedDicts; their models say the same in the OpenAPI description."""
    hints = get_type_hints(typed)
    unknown = fields.keys() - hints.keys()
    if unknown:
        raise TypeError(f"{typed.__name__} has no {', '.join(sorted(unknown))}")
    spec: dict[str, Any] = {key: fields.get(key, (hint, ...)) for key, hint in hints.items()}
    return create_model(
        name, __config__=ConfigDict(extra=extra), __doc__=doc, __module__=__name__, **spec
    )


if TYPE_CHECKING:  # to mypy, create_model makes values; these are models, used as types below
    ErrorInfoModel = BaseModel
    StepInfoModel = BaseModel
    SnapshotModel = BaseModel
    FileEntryModel = BaseModel
else:
    FileEntryModel = model_of(FileEntry, "FileEntryModel", "A file a job saved.")
    ErrorInfoModel = model_of(
        ErrorInfo, "ErrorInfoModel", None, extra="ignore", details=(Any, None)
    )
    StepInfoModel = model_of(
        StepInfo, "StepInfoModel", "A step of the job's attempt, with its times."
    )
    SnapshotModel = model_of(
        Snapshot,
        "SnapshotModel",
        "A job's snapshot: everything needed to draw it.",
        error=(ErrorInfoModel | None, ...),
        steps=(list[StepInfoModel], ...),
    )


class Links(BaseModel):
    self: str
    events: str
    ws: str
    cancel: str
    result: str
    files: str
    export: str
    deliveries: str


class SubmitAnswer(SnapshotModel):
    outcome: Literal["created", "deduplicated", "cached"]
    links: Links
    stream_token: str


class SharedVia(BaseModel):
    """How a job shared with you reached you: the team, who shared it, and what it grants."""

    team: str
    shared_by: str
    can_view: bool
    can_download: bool
    expires_at: str | None


class ListedJob(SnapshotModel):
    shared: SharedVia | None = None
    """In ``GET /api/jobs?shared=true`` only."""


class JobPage(BaseModel):
    jobs: list[ListedJob]
    next_cursor: str | None


class ShareModel(BaseModel):
    """A job shared with a team. Times are ISO 8601 (UTC)."""

    job_id: str
    team: str
    can_view: bool
    can_download: bool
    expires_at: str | None
    """null: until it is removed."""
    shared_by: str
    created_at: str
    updated_at: str


class ShareList(BaseModel):
    shares: list[ShareModel]


class AccessModel(BaseModel):
    """What you may do with a job."""

    view: bool
    download: bool
    cancel: bool
    manage: bool
    share: bool
    via: Literal["owner", "admin", "share", "stream_token"]
    team: str | None
    expires_at: str | None


class DeliveryAttemptModel(BaseModel):
    """One attempt to deliver a notification. Times are ISO 8601 (UTC)."""

    n: int
    at: str
    duration_ms: float
    status_code: int | None
    """The HTTP status answered; null when there was no answer."""
    error: str | None
    outcome: Literal["delivered", "retry", "gone", "refused", "failed"]


class DeliveryModel(BaseModel):
    """A notification of the job's end, and its attempts. Times are ISO 8601 (UTC)."""

    id: str
    """Its `webhook-id`, the same at every attempt."""
    event: Literal["job.succeeded", "job.failed", "job.cancelled"]
    url: str
    """Where it goes, without its user, password, query or fragment."""
    status: Literal["pending", "delivered", "gone", "refused", "failed"]
    attempts: int
    created_at: str
    updated_at: str
    next_attempt_at: str | None
    history: list[DeliveryAttemptModel]


class DeliveryList(BaseModel):
    deliveries: list[DeliveryModel]


class TaskList(BaseModel):
    tasks: list[dict[str, Any]]


class FileList(BaseModel):
    files: list[FileEntryModel]


class CacheModel(BaseModel):
    """A task's result cache: submits it answered with a cached job (hits), and submits
    that ran a new job (misses)."""

    hits: int
    misses: int
    hit_rate: float | None
    """hits / (hits + misses), rounded to 4 digits; null before any submit."""


class StatsModel(BaseModel):
    jobs: dict[str, int]
    worker: dict[str, int] | None
    streams: dict[str, int] | None
    cache: dict[str, CacheModel]
    """Per task with a ``cache_ttl``, everyone's submits counted together."""


class HookAnswer(BaseModel):
    job_id: str
    accepted: bool
    """True when this delivery was recorded; False for a repeat or a job that already ended."""
    reason: Literal["duplicate", "job_finished"] | None = None


StreamMessage = model_of(
    Message,
    "StreamMessage",
    "One message of a job's stream: the `data:` of a Server-Sent Event, or a WebSocket "
    'frame (which may also be `{"type": "ping"}` or an `error`).',
    extra="ignore",
    job=(SnapshotModel, ...),
    log=(str | None, None),  # the text of a `log` message
)


class StoreHealth(BaseModel):
    writable: bool
    reason: str | None


class BusHealth(BaseModel):
    connected: bool


class HealthModel(BaseModel):
    status: Literal["ok", "unavailable"]
    store: StoreHealth
    bus: BusHealth
