"""Live streams of a job's messages: Server-Sent Events and WebSockets.

Both start the same way (:func:`open_stream`): listen on the hub *first*, then read the job
from the store, then send either the current snapshot (``connected``) or, when resuming,
the events after the client's last seq. From then on, hub messages newer than the last one
sent go out as they come; the stream ends after the final message. Nothing is sent twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import reprlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response, WebSocket, WebSocketDisconnect
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.concurrency import run_in_threadpool

from ..errors import BadRequest, JobAlreadyFinished, JobNotFound, JobwireError, Unauthorized
from ..snapshot import make_event
from ..wire import PING, encode, error, is_terminal, message
from . import bodies
from .api import errors, principal_of, state_of
from .auth import Principal
from .guards import Guard
from .hub import LISTENER_BUFFER, Listener
from .state import ServerState

logger = logging.getLogger(__name__)

router = APIRouter()

Item = tuple[int, bool, str]  # (seq, final?, encoded message)


@dataclass
class Stream:
    listener: Listener
    backlog: list[Item]
    last: int
    done: bool
    guard: Guard | None = None
    """Ended when the stream's credential is revoked: the stream stops at once."""

    def guarded_by(self, guard: Guard) -> Stream:
        self.guard = guard
        guard.on_end.append(self.listener.wake)
        return self

    @property
    def ended(self) -> bool:
        return self.guard is not None and self.guard.ended.is_set()


async def open_stream(state: ServerState, who: Principal, job_id: str, after: int | None) -> Stream:
    listener = state.hub.listen(job_id)
    try:
        record = await state.avisible(who, job_id)
        backlog: list[Item] = []
        if after is None or after <= 0 or after > record.seq:
            event = make_event(record, "status")
            final = record.terminal
            backlog.append((record.seq, final, encode(message(event, connected=not final))))
        elif record.seq > after:
            events = await run_in_threadpool(state.app.store.events, job_id, after)
            if events and events[0]["seq"] == after + 1:
                backlog = [(e["seq"], is_terminal(e), encode(message(e))) for e in events]
            else:  # pruned: the snapshot says it all
                event = make_event(record, "status")
                backlog.append(
                    (
                        record.seq,
                        record.terminal,
                        encode(message(event, connected=not record.terminal)),
                    )
                )
        # Follow on from the newest seq sent; when the client's seq was beyond the job's (a
        # reset database, another job's id), that is the snapshot's, not the client's.
        last = backlog[-1][0] if backlog else (after or 0)
        # A finished job resumed after its final seq has nothing more to say: end at once
        # (a browser's EventSource reconnects after the final event with that seq).
        done = any(final for _, final, _ in backlog) or (not backlog and record.terminal)
        return Stream(listener, backlog, last, done)
    except BaseException:
        listener.close()
        raise


async def follow(
    state: ServerState, stream: Stream, job_id: str, heartbeat: float
) -> AsyncIterator[Item | None]:
    """Yield the backlog, then live items newer than the last; None when nothing went out
    for a heartbeat. Ends after the final item.

    The stream also reads the store, for what the bus did not bring: every
    :meth:`~ServerState.store_check_interval` without an event (once per heartbeat on a
    connected bus: pub/sub loses what is published while it reconnects, and a lost final
    event must not leave a stream open forever; every poll interval while it is
    disconnected), and at once when the bus loses or regains its connection (the hub wakes
    every listener then), so a stream goes from push to polling and back missing nothing."""
    for item in stream.backlog:
        yield item
    if stream.done:
        return
    hub, listener = state.hub, stream.listener
    loop = asyncio.get_running_loop()
    last = stream.last
    epoch = hub.epoch
    checked = sent = loop.time()
    while not stream.ended:
        every = state.store_check_interval(heartbeat)
        got = await listener.get(max(0.0, min(checked + every, sent + heartbeat) - loop.time()))
        if stream.ended:
            return
        now = loop.time()
        if got is not None:
            checked = now
            seq, final, text, _ = got
            if seq <= last:
                continue
            last, sent = seq, now
            yield seq, final, text
            if final:
                return
            continue
        moved = hub.epoch != epoch
        if moved or now >= checked + every:
            epoch, checked = hub.epoch, now
            # Skip the read when the hub confirmed this job's seq within the interval (an
            # event, or another stream of the same job that just looked) — after a change
            # of the bus's connection, only a confirmation since that change counts.
            recent = hub.confirmed(job_id, hub.since_change() if moved else every)
            if recent is None or recent > last:
                record = await run_in_threadpool(state.app.store.get, job_id)
                if record is None:
                    return  # deleted while watched
                hub.note(record.id, record.seq, record.owner)
                if record.seq <= last:
                    events = []
                else:
                    events = await run_in_threadpool(state.app.store.events, job_id, last)
                    if not events:  # pruned: the snapshot says it all
                        events = [make_event(record, "status")]
                for e in events:
                    last, sent = e["seq"], now
                    final = is_terminal(e)
                    yield last, final, encode(message(e))
                    if final:
                        return
        if now >= sent + heartbeat:
            sent = now
            yield None


# -- Server-Sent Events -------------------------------------------------------------------


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
        **errors(400, 401, 404, 422),
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
    guard = state.guards.open(who)
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


# -- WebSockets -----------------------------------------------------------------------------


async def _ws_principal(state: ServerState, websocket: WebSocket) -> Principal | None:
    try:
        return await state.auth.aresolve(
            websocket.headers.get("authorization"), websocket.query_params.get("token")
        )
    except Unauthorized as exc:
        await websocket.send_text(error(exc.code, exc.message))
        await websocket.close(4401, "unauthorized")
        return None


def _after(websocket: WebSocket) -> int | None:
    raw = websocket.query_params.get("after")
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        return -1
    return value if value >= 0 else -1


@router.websocket("/ws/jobs/{job_id}")
async def ws_job(websocket: WebSocket, job_id: str) -> None:
    state: ServerState = websocket.app.state.jobwire
    state.ensure_started()
    await websocket.accept()
    who = await _ws_principal(state, websocket)
    if who is None:
        return
    after = _after(websocket)
    if after == -1:
        await websocket.send_text(error("bad_request", "Expected ?after= to be a seq number"))
        await websocket.close(4400, "bad after")
        return
    try:
        stream = await open_stream(state, who, job_id, after)
    except JobNotFound as exc:
        await websocket.send_text(error(exc.code, exc.message))
        await websocket.close(4404, "job not found")
        return
    guard = state.guards.open(who)
    stream.guarded_by(guard)

    async def send() -> None:
        async for item in follow(state, stream, job_id, state.settings.heartbeat_seconds):
            await websocket.send_text(PING if item is None else item[2])
            if item is not None and item[1]:
                break
        if guard.reason is None:
            await websocket.close(1000)  # after the final message (or nothing left to send)
        else:
            await _close_guarded(websocket, guard)

    try:
        await _race(send(), _read(state, websocket, who, {job_id}))
    finally:
        stream.listener.close()
        state.guards.close(guard)


async def _close_guarded(websocket: WebSocket, guard: Guard) -> None:
    """Close a socket whose right to go on ended: an ``error`` message, then a close code
    (4401 for a revoked credential, 4403 for a right withdrawn) with the reason."""
    assert guard.reason is not None
    await websocket.send_text(error(guard.code, guard.reason))
    code = 4401 if guard.code == "unauthorized" else 4403
    await websocket.close(code, guard.reason.encode()[:120].decode(errors="ignore"))


async def _race(*coros: Any) -> None:
    """Run the sender and the reader until either ends (a disconnect ends the reader),
    then stop the other."""
    tasks = [asyncio.ensure_future(c) for c in coros]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            exc = task.exception()
            # Starlette raises a plain RuntimeError to send or receive on a closed socket;
            # anything else (a RecursionError is a RuntimeError too) is a bug to hear of.
            if exc is not None and not (
                isinstance(exc, WebSocketDisconnect) or type(exc) is RuntimeError
            ):
                raise exc
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, RuntimeError):
                await task


async def _read(
    state: ServerState, websocket: WebSocket, who: Principal, jobs: set[str], on_message: Any = None
) -> None:
    """Handle what a client sends: cancel requests (and, on /ws, subscriptions)."""
    limit = state.settings.max_body_bytes
    while True:
        try:
            received = await websocket.receive()
        except RuntimeError:  # closed already
            return
        if received["type"] == "websocket.disconnect":
            return
        text = received.get("text")
        raw = (received.get("bytes") or b"") if text is None else text
        try:
            data = bodies.message(raw, limit)
        except BadRequest as exc:
            await websocket.send_text(error(exc.code, exc.message))
            continue
        if on_message is not None and await on_message(data):
            continue
        if isinstance(data, dict) and data.get("type") == "cancel":
            job_id = data.get("job_id") or (next(iter(jobs)) if len(jobs) == 1 else None)
            await _cancel(state, websocket, who, job_id)
        elif isinstance(data, dict) and data.get("type") == "pong":
            continue
        else:
            unknown = f"Unknown message: {reprlib.repr(data)}"
            await websocket.send_text(error("bad_request", unknown))


async def _cancel(state: ServerState, websocket: WebSocket, who: Principal, job_id: Any) -> None:
    try:
        if not isinstance(job_id, str):
            raise JobNotFound('Say which job to cancel: {"type": "cancel", "job_id": …}')
        await state.avisible(who, job_id)
        await run_in_threadpool(state.app.cancel, job_id)
    except (JobNotFound, JobAlreadyFinished) as exc:
        await websocket.send_text(error(exc.code, exc.message, job_id))


ALL = "*"
#: Jobs whose last sent seq a `subscribe all` remembers.
SEEN_JOBS = 10_000


@router.websocket("/ws")
async def ws_many(websocket: WebSocket) -> None:
    """One socket, many jobs: subscribe / unsubscribe messages."""
    state: ServerState = websocket.app.state.jobwire
    state.ensure_started()
    await websocket.accept()
    who = await _ws_principal(state, websocket)
    if who is None:
        return
    # Bounded: a slow client blocks its forwarders, whose hub listeners then skip to the
    # newest snapshots (as on /ws/jobs/{id}) instead of this queue growing without end.
    out: asyncio.Queue[str] = asyncio.Queue(maxsize=LISTENER_BUFFER)
    forwarders: dict[str, asyncio.Task[None]] = {}

    heartbeat = state.settings.heartbeat_seconds

    async def forward(stream: Stream, job_id: str) -> None:
        # The real heartbeat, so an idle subscription re-checks the store as streams do;
        # its pings (None) are dropped: send() pings the socket itself.
        async for item in follow(state, stream, job_id, heartbeat):
            if item is not None:
                await out.put(item[2])

    async def forward_all(listener: Listener) -> None:
        # Events of one job can reach the bus out of order when different processes publish
        # them (the server that took the submit, the worker that claimed it): send each job's
        # seq only once and only growing, as the per-job streams do.
        last: dict[str, int] = {}
        while True:
            item = await listener.get()
            if item is None:
                continue
            seq, _, text, event = item
            job_id = event["job"]["id"]
            if seq <= last.get(job_id, 0):
                continue
            last[job_id] = seq
            if len(last) > SEEN_JOBS:  # forget the oldest half
                for key in list(last)[: SEEN_JOBS // 2]:
                    del last[key]
            await out.put(text)

    def track(key: str, task: asyncio.Task[None], listener: Listener) -> None:
        forwarders[key] = task

        def done(_: asyncio.Task[None]) -> None:
            # A done callback, not a `finally:` in the task: a task cancelled before it
            # started (a quick unsubscribe) never runs its body, and its listener would stay.
            listener.close()
            if forwarders.get(key) is task:  # a new subscription may own the key by now
                del forwarders[key]

        task.add_done_callback(done)

    async def on_message(data: Any) -> bool:
        if not isinstance(data, dict) or data.get("type") not in ("subscribe", "unsubscribe"):
            return False
        if data.get("all") is True:
            if data["type"] == "unsubscribe":
                task = forwarders.pop(ALL, None)
                if task is not None:
                    task.cancel()
            elif who.job_scope is not None:
                await out.put(error("forbidden", "A stream token follows its own job only"))
            elif ALL not in forwarders:
                listener = state.hub.listen_all(who.can_see)
                track(ALL, asyncio.create_task(forward_all(listener)), listener)
            return True
        job_id = data.get("job_id")
        if not isinstance(job_id, str):
            await out.put(error("bad_request", "Expected a job_id string"))
            return True
        if data["type"] == "unsubscribe":
            task = forwarders.pop(job_id, None)
            if task is not None:
                task.cancel()
            return True
        if job_id in forwarders:
            return True
        after = data.get("after")
        try:
            stream = await open_stream(
                state, who, job_id, after if isinstance(after, int) else None
            )
        except JobwireError as exc:
            await out.put(error(exc.code, exc.message, job_id))
            return True
        track(job_id, asyncio.create_task(forward(stream, job_id)), stream.listener)
        return True

    async def send() -> None:
        while True:
            try:
                text = await asyncio.wait_for(out.get(), heartbeat)
            except TimeoutError:
                text = PING
            await websocket.send_text(text)

    guard = state.guards.open(who)
    try:
        await _race(send(), _read(state, websocket, who, set(), on_message), guard.ended.wait())
        if guard.reason is not None:
            await _close_guarded(websocket, guard)
    finally:
        state.guards.close(guard)
        for task in list(forwarders.values()):
            task.cancel()
