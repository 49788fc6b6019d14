"""What every request handler needs first: the server's state and who is asking.

Handlers take them as parameters, ``state: State, who: Who``; FastAPI resolves them (and
documents the ``?token=`` parameter) before the handler runs.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Request
from starlette.requests import HTTPConnection

from ..errors import BadRequest, Forbidden
from .auth import Principal
from .state import ServerState


def state_of(connection: HTTPConnection) -> ServerState:
    """The server's state, started (a mounted app gets no lifespan: the first request or
    socket starts it)."""
    state: ServerState = connection.app.state.jobwire
    state.ensure_started()
    return state


async def principal_of(
    request: Request,
    token: Annotated[str | None, Query(description="A stream token for one job")] = None,
) -> Principal:
    """Who sends ``request``: its ``Authorization`` header or its stream ``token``."""
    state = state_of(request)
    who = await state.auth.aresolve(request.headers.get("authorization"), token)
    no_nul(request)  # after the credentials: a bad one is 401, whatever else is wrong
    return who


def no_nul(request: Request) -> None:
    """Refuse query parameters holding NUL (``%00``): no job, task or owner has one, and
    PostgreSQL cannot even compare text with it."""
    if b"%00" in request.scope.get("query_string", b""):
        raise BadRequest("Query parameters cannot contain NUL characters (%00)")


def refuse_stream_token(who: Principal, what: str) -> None:
    """A stream token reads, downloads (files, export) and cancels its one job, and does
    nothing else: 403. Routes that take one call :meth:`ServerState.visible`, which answers
    404 for any other job."""
    if who.job_scope is not None:
        raise Forbidden(
            f"A stream token only reads its own job; {what} needs an API key or a JWT "
            "(`Authorization: Bearer …`)"
        )


async def _state(request: Request) -> ServerState:
    # async, so FastAPI does not hop to a worker thread to resolve it on every request
    return state_of(request)


State = Annotated[ServerState, Depends(_state)]
Who = Annotated[Principal, Depends(principal_of)]
