"""The cheapest answer a server gives: 304 to a poll whose ETag is still current.

A browser polling an idle job sends ``GET /api/jobs/{id}`` with ``If-None-Match`` again and
again. When the hub knows the job's current seq and owner, this layer answers 304 before
routing, validation and dependency injection, which otherwise cost several times more than
the answer itself. Anything it is not sure about (unknown job, a long poll, credentials that
need the database, a tag that does not match) goes on to the full API unchanged. The check
itself is :func:`.etag.unchanged`, the one ``GET /api/jobs/{id}`` makes too.
"""

from __future__ import annotations

from urllib.parse import parse_qs

from starlette.types import ASGIApp, Receive, Scope, Send

from ..errors import JobwireError
from .auth import Principal
from .etag import unchanged
from .state import ServerState

PREFIX = "/api/jobs/"


class NotModified:
    def __init__(self, app: ASGIApp, state: ServerState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            tag = self._current(scope)
            if tag is not None:
                await send(
                    {"type": "http.response.start", "status": 304, "headers": [(b"etag", tag)]}
                )
                await send({"type": "http.response.body", "body": b""})
                return
        await self.app(scope, receive, send)

    def _current(self, scope: Scope) -> bytes | None:
        """The current ETag when the request's matches it and may see the job, else None."""
        state = self.state
        if state.seq_trust <= 0:
            return None  # nothing the hub knows is trusted now: not worth parsing
        path: str = scope["path"]
        root: str = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :]
        if not path.startswith(PREFIX) or "/" in path[len(PREFIX) :]:
            return None
        job_id = path[len(PREFIX) :]
        query: bytes = scope.get("query_string", b"")
        if b"wait=" in query:
            return None  # a long poll: the full handler waits for a change
        inm = authorization = None
        for name, value in scope["headers"]:
            if name == b"if-none-match":
                inm = value.decode("latin-1")
            elif name == b"authorization":
                authorization = value.decode("latin-1")
        if inm is None:
            return None

        def who() -> Principal | None:
            token = None
            if b"token=" in query:
                tokens = parse_qs(query.decode("latin-1")).get("token")
                token = tokens[0] if tokens else None
            try:
                return state.auth.resolve_cached(authorization, token)
            except JobwireError:
                return None  # the full API answers 401 with the JSON error

        tag = unchanged(state, job_id, inm, who)
        return None if tag is None else tag.encode()
