"""ETags of job snapshots, and the 304 a poll gets without reading the store.

A job's ETag is ``"{id}.{seq}"``: its seq grows with every change, so the tag changes when
the snapshot does. :func:`unchanged` is the shortcut both the ASGI fast path
(:mod:`.fastpath`) and ``GET /api/jobs/{id}`` take: when the hub confirmed the job's seq
recently enough to trust it, a matching ``If-None-Match`` is answered 304 from memory.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .auth import Principal
    from .state import ServerState


def etag(job_id: str, seq: int) -> str:
    return f'"{job_id}.{seq}"'


def etag_matches(header: str | None, tag: str) -> bool:
    """``If-None-Match`` (RFC 9110): ``*``, or a comma-separated list of (weak) tags."""
    if not header:
        return False
    for part in header.split(","):
        candidate = part.strip().removeprefix("W/")
        if candidate == "*" or candidate == tag:
            return True
    return False


def unchanged(
    state: ServerState,
    job_id: str,
    if_none_match: str,
    who: Callable[[], Principal | None],
) -> str | None:
    """The job's current ETag when ``if_none_match`` names it and ``who()`` may see the
    job, as far as the hub knows without the store (a seq it saw within
    :attr:`~.state.ServerState.seq_trust` seconds); None when the store must say.

    ``who`` is asked last, and only when the tag matches: resolving credentials costs more
    than the rest. It returns None when it cannot tell without the database."""
    known = state.hub.known(job_id, state.seq_trust)
    if known is None:
        return None
    tag = etag(job_id, known[0])
    if not etag_matches(if_none_match, tag):
        return None
    principal = who()
    if principal is None or state.may_see_cached(principal, job_id, known[1]) is not True:
        return None
    return tag
