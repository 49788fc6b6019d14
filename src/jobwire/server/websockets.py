"""WebSockets: ``/ws/jobs/{job_id}`` follows one job, ``/ws`` many (subscribe messages).

Each socket runs a sender (the stream's messages, ``ping`` heartbeats) and a reader (what the
client sends: cancel, subscribe, unsubscribe) until either ends; a disconnect ends the
reader. A socket whose credential is revoked gets an ``error`` message and a close code.
"""

from __future__ import annotations

import asyncio
import contextlib
import reprlib
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from starlette.concurrency import run_in_threadpool

from ..coalesce import LISTENER_BUFFER
from ..errors import (
    BadRequest,
    Forbidden,
    JobAlreadyFinished,
    JobNotFound,
    JobwireError,
    Unauthorized,
)
from ..wire import PING, error
from . import bodies
from .auth import Principal
from .deps import state_of
from .guards import Guard
from .hub import Listener
from .state import ServerState
from .streams import Stream, follow, open_stream

router = APIRouter()


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
    """One job: ``connected`` with its snapshot (with ``?after=SEQ``, what came after that
    seq), then every change until the final one; the client may send ``{"type": "cancel"}``."""
    state = state_of(websocket)
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
    guard = state.guards.open(who, stream.shared)
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
        await state.avisible(who, job_id, "cancel")
        await run_in_threadpool(state.app.cancel, job_id)
    except (JobNotFound, JobAlreadyFinished, Forbidden) as exc:
        await websocket.send_text(error(exc.code, exc.message, job_id))


ALL = "*"
#: Jobs whose last sent seq a `subscribe all` remembers.
SEEN_JOBS = 10_000


@router.websocket("/ws")
async def ws_many(websocket: WebSocket) -> None:
    """One socket, many jobs: subscribe / unsubscribe messages."""
    state = state_of(websocket)
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
        guard = stream.guard
        if guard is not None and guard.reason is not None:
            # The share ended: this subscription ends with the reason, the socket goes on.
            await out.put(error(guard.code, guard.reason, job_id))

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

    def track(
        key: str, task: asyncio.Task[None], listener: Listener, guard: Guard | None = None
    ) -> None:
        forwarders[key] = task

        def done(_: asyncio.Task[None]) -> None:
            # A done callback, not a `finally:` in the task: a task cancelled before it
            # started (a quick unsubscribe) never runs its body, and its listener would stay.
            listener.close()
            if guard is not None:
                state.guards.close(guard)
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
                # Owners', admins' and shared jobs: the shares as of the last look, so a
                # share that ends stops the flow within SHARE_CHECK seconds.
                listener = state.hub.listen_all(
                    lambda job_id, owner: state.may_see_now(who, job_id, owner)
                )
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
        shared = None
        if stream.shared is not None:
            shared = state.guards.open(who, stream.shared)
            stream.guarded_by(shared)
        track(job_id, asyncio.create_task(forward(stream, job_id)), stream.listener, shared)
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
