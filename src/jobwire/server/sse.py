"""Server-Sent Events: ``GET /api/jobs/{job_id}/events``.

The current snapshot first (or, with ``Last-Event-ID`` or ``?after=``, what came after the
client's last seq), then every change; ``id:`` is the seq, ``event:`` the message type, and
comments (``: ping``) keep an idle connection open. The stream ends after the final message,
or with an ``error`` event when its credential is revoked or the share it was opened
through ends.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response
from sse_starlette import EventSourceResponse, ServerSentEvent

from ..errors import BadRequest
from ..wire import error
from .deps import principal_of, state_of
from .errors import error_responses
from .streams import follow, open_stream

router = APIRouter()


def _last_event_id(header: str | None, after: int | None) -> int | None:
    if header is None or header.strip() == "":
        return after
    try:
        value = int(header.strip())
    except ValueError:
        raise BadRequest(f"Expected Last-Event-ID to be a seq number, but got {header!r}") from None
    if value < 0:
        raise BadRequest(f"Expected Last-Event-ID >= 0, but got {value}")
    return value


@router.get(
    "/api/jobs/{job_id}/events",
    tags=["streams"],
    responses={
        200: {
            "description": "text/event-stream of the job's messages",
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
        },
        204: {"description": "The job has ended and nothing is newer than the client's seq"},
        **error_responses(400, 401, 404, 422),
    },
)
async def sse(
    job_id: str,
    request: Request,
    last_event_id: Annotated[
        str | None,
        Header(
            alias="Last-Event-ID",
            description="Resume after this seq (sent by browsers when they reconnect)",
            # Documented, not enforced here: a bad value answers 400 bad_request below.
            json_schema_extra={"pattern": r"^[0-9]*$"},
        ),
    ] = None,
    after: Annotated[int | None, Query(ge=0, description="Resume after this seq")] = None,
    token: Annotated[str | None, Query(description="A stream token for this job")] = None,
) -> Response:
    """Server-Sent Events: the current snapshot, then every change; `id:` is the seq and
    `Last-Event-ID` resumes."""
    state = state_of(request)
    who = await principal_of(request, token)
    resume = _last_event_id(last_event_id, after)
    stream = await open_stream(state, who, job_id, resume)
    if stream.done and not stream.backlog:
        # Nothing after the client's last seq, and the job has ended: 204 tells an
        # EventSource to stop reconnecting.
        stream.listener.close()
        return Response(status_code=204, headers={"Cache-Control": "no-store"})
    heartbeat = state.settings.heartbeat_seconds
    guard = state.guards.open(who, stream.shared)
    stream.guarded_by(guard)

    async def events() -> AsyncIterator[ServerSentEvent]:
        try:
            async for item in follow(state, stream, job_id, heartbeat):
                if item is None:
                    yield ServerSentEvent(comment="ping")
                    continue
                seq, _, text = item
                yield ServerSentEvent(data=text, id=str(seq), event=_type_of(text))
            if guard.reason is not None:  # the last word, then the end of the stream
                yield ServerSentEvent(data=error(guard.code, guard.reason), event="error")
        finally:
            stream.listener.close()
            state.guards.close(guard)

    return EventSourceResponse(  # ping=0: our heartbeats are the comments above
        events(), ping=0, headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    )


def _type_of(text: str) -> str:
    # Messages are encoded by wire.encode: they start with {"type":"<type>",
    start = text.index(':"', 6) + 2
    return text[start : text.index('"', start)]
