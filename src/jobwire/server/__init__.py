"""The HTTP server: REST, Server-Sent Events, WebSockets, the JS client.

```python
from jobwire.server import create_app
api = create_app(app)                  # an ASGI app: uvicorn module:api
fastapi_app.mount("/jobs", api)        # or inside your own FastAPI app
```

One concept per module: ``api`` (the REST routes), ``webhooks`` (callbacks from
external systems), ``downloads`` and ``ranges`` (files
and exports, byte ranges), ``sse`` and ``websockets`` (the live
streams, on what ``streams`` shares: opening a stream and following it), ``hub`` (the one
bus subscription, fanned out to the streams), ``deps`` (the state and the caller a handler
gets), ``auth`` and ``guards`` (credentials, and ending the streams of revoked ones),
``access`` and ``shares`` (who may do what with a job; jobs shared with teams),
``deliveries`` (the notifications of a job's end),
``etag`` and ``fastpath`` (304 without the store), ``bodies`` and ``bodylimit`` (strict
request bodies), ``crosssite``, ``errors``, ``models`` and ``openapi`` (what the API answers
and says about itself), ``metrics``, ``ratelimit``, ``state``.
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, Response
from starlette.exceptions import HTTPException
from starlette.staticfiles import StaticFiles

from . import (
    api,
    crosssite,
    deliveries,
    downloads,
    errors,
    metrics,
    openapi,
    shares,
    sse,
    webhooks,
    websockets,
)
from .bodylimit import BodyLimit
from .fastpath import NotModified
from .state import ServerState

if TYPE_CHECKING:
    from ..app import App

STATIC = Path(__file__).resolve().parent.parent / "static"
DASHBOARD = STATIC / "dashboard" / "index.html"


def create_app(
    app: App,
    settings: Any = None,
    *,
    workers: bool = True,
    dashboard: bool = True,
    pages: Mapping[str, Path] | None = None,
) -> FastAPI:
    """The ASGI application serving ``app``'s jobs. ``workers=False`` when separate
    ``jobwire worker`` processes run the jobs (they then need a shared bus: ``redis://``).
    ``settings`` (a :class:`jobwire.settings.Settings`) replaces the app's settings.
    ``dashboard`` serves the dashboard at ``/``; ``pages`` maps more paths to HTML files
    (the examples' pages)."""
    if settings is not None:
        app.settings = settings
    state = ServerState(app, workers=workers)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        state.ensure_started()
        # Everything loaded so far lives as long as the server: keep it out of the garbage
        # collector's full passes, whose pauses otherwise show in the streams' p99.
        gc.freeze()
        try:
            yield
        finally:
            state.stop()

    server = FastAPI(
        title="jobwire",
        version=_version(),
        description="Background jobs with live progress. See docs/http.md.",
        lifespan=lifespan,
    )
    server.state.jobwire = state
    errors.install(server)
    openapi.install(server, app)  # one submit operation per task, exact schemas
    server.include_router(api.router)
    server.include_router(webhooks.router)
    server.include_router(shares.router)
    server.include_router(downloads.router)
    server.include_router(deliveries.router)
    server.include_router(sse.router)
    server.include_router(websockets.router)
    server.include_router(metrics.router)
    for path, file in {**({"/": DASHBOARD} if dashboard else {}), **(pages or {})}.items():
        server.add_api_route(path, _page(file), methods=["GET"], include_in_schema=False)
    if STATIC.is_dir():
        server.mount("/static", StaticFiles(directory=STATIC), name="static")
    server.add_middleware(BodyLimit, max_bytes=app.settings.max_body_bytes)
    server.add_middleware(NotModified, state=state)
    crosssite.install(server, app.settings)  # outermost: Host and Origin checks, CORS
    return server


def _page(file: Path) -> Callable[[], Response]:
    def page() -> Response:
        if not file.is_file():
            raise HTTPException(404, f"{file.name} is not installed")
        return HTMLResponse(file.read_text(encoding="utf-8"), headers={"Cache-Control": "no-cache"})

    return page


def lifespan(api: FastAPI) -> Callable[[Any], AbstractAsyncContextManager[Any]]:
    """The lifespan of a jobwire ASGI app, for the app that mounts it (a mounted app's own
    lifespan does not run): starts the workers and the stream hub with the server, stops
    them with it.

    ```python
    api = create_app(app)
    outer = Starlette(routes=[Mount("/jobwire", api)], lifespan=lifespan(api))
    ```
    """
    return lambda _outer: api.router.lifespan_context(api)


def _version() -> str:
    from .. import __version__

    return __version__


__all__ = ["ServerState", "create_app", "lifespan"]
