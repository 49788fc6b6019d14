"""Open streams, by who opened them, so that losing the right to watch ends them.

A stream checks its credentials when it opens. Each then holds a :class:`Guard` for as long
as it runs: when the credential is revoked, the server ends every guard opened with it, and
the stream closes (a WebSocket with a close code and the reason, an event stream with a last
``error`` event). A stream of a job seen through a share ends too when that share expires
or is removed. Guards live on the event loop; ends come from it too.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from .auth import Principal


@dataclass(eq=False)
class Guard:
    """One open stream's right to go on."""

    who: Principal
    shared: tuple[str, str] | None = None
    """``(job id, owner)`` of a job the stream sees through a share: the share's end (an
    expiry, a revoke) ends the stream."""
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    reason: str | None = None
    """Why the stream must end (set with ``ended``)."""
    code: str = "unauthorized"
    """The error code the stream is closed with."""
    on_end: list[Callable[[], None]] = field(default_factory=list)
    """Called when the guard ends: wakes whatever the stream waits on."""

    def end(self, reason: str, code: str = "unauthorized") -> None:
        if self.ended.is_set():
            return
        self.reason, self.code = reason, code
        self.ended.set()
        for wake in self.on_end:
            wake()


class Guards:
    """Every open stream's guard, to end them by credential."""

    def __init__(self) -> None:
        self._open: set[Guard] = set()

    def open(self, who: Principal, shared: tuple[str, str] | None = None) -> Guard:
        guard = Guard(who, shared)
        self._open.add(guard)
        return guard

    def close(self, guard: Guard) -> None:
        self._open.discard(guard)

    def __len__(self) -> int:
        return len(self._open)

    def revoke_keys(self, key_ids: Iterable[str]) -> int:
        """End the streams opened with these API keys (or with stream tokens made with
        them); return how many."""
        revoked = set(key_ids)
        ended = 0
        for guard in list(self._open):
            if guard.who.key_id is not None and guard.who.key_id in revoked:
                guard.end("The API key this stream was opened with was revoked.")
                ended += 1
        return ended

    def end_shared(self, allowed: Callable[[Principal, str, str], bool]) -> int:
        """End the streams of jobs seen through a share that no longer lets ``allowed(who,
        job_id, owner)``; return how many."""
        ended = 0
        for guard in list(self._open):
            if guard.shared is not None and not guard.ended.is_set():
                job_id, owner = guard.shared
                if not allowed(guard.who, job_id, owner):
                    reason = f"The share of job {job_id} ended (it expired or was removed)."
                    guard.end(reason, "share_ended")
                    ended += 1
        return ended
