"""Live streams of a job's messages: what Server-Sent Events (:mod:`.sse`) and WebSockets
(:mod:`.websockets`) share.

Both start the same way (:func:`open_stream`): listen on the hub *first*, then read the job
from the store, then send either the current snapshot (``connected``) or, when resuming,
the events after the client's last seq. From then on, hub messages newer than the last one
sent go out as they come; the stream ends after the final message. Nothing is sent twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool

from ..snapshot import make_event
from ..wire import encode, is_terminal, message
from .auth import Principal
from .guards import Guard
from .hub import Listener
from .state import ServerState

Outgoing = tuple[int, bool, str]
"""What a stream sends: ``(seq, final, encoded message)`` (a hub item without its event)."""


@dataclass
class Stream:
    """One open stream of a job: what to send first, and where live messages come from."""

    listener: Listener
    backlog: list[Outgoing]
    last: int
    done: bool
    shared: tuple[str, str] | None = None
    """``(job id, owner)`` when the job is seen through a share (its end ends the stream)."""
    guard: Guard | None = None
    """Ended when the stream's credential is revoked (or its share ends): the stream stops
    at once."""

    def guarded_by(self, guard: Guard) -> Stream:
        self.guard = guard
        guard.on_end.append(self.listener.wake)
        return self

    @property
    def ended(self) -> bool:
        return self.guard is not None and self.guard.ended.is_set()


async def open_stream(state: ServerState, who: Principal, job_id: str, after: int | None) -> Stream:
    """Start a stream of ``job_id`` for ``who`` (JobNotFound when they may not see it),
    resuming after seq ``after`` when given."""
    listener = state.hub.listen(job_id)
    try:
        record, access = await state.aaccess(who, job_id)
        shared = (record.id, record.owner) if access.share is not None else None
        backlog: list[Outgoing] = []
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
        return Stream(listener, backlog, last, done, shared)
    except BaseException:
        listener.close()
        raise


async def follow(
    state: ServerState, stream: Stream, job_id: str, heartbeat: float
) -> AsyncIterator[Outgoing | None]:
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
