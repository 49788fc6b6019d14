"""Cross-site requests: the host names a server answers to, the pages its streams are served
to, and CORS for front ends on other origins.

Any page open in the user's browser can send requests to a server on 127.0.0.1. Browsers
apply no CORS to WebSockets, and a page whose own name is re-pointed at 127.0.0.1 (DNS
rebinding) even reads the answers as its own. So, without authentication, a request is
served only when its ``Host`` names a loopback address or a name in ``allowed_hosts`` (the
rebinding page's name is neither), and the streams (every WebSocket, the event stream) refuse
pages whose ``Origin`` is neither the server's own nor in ``cors_origins``. Clients that are
not browsers send no ``Origin`` and are not concerned. See docs/http.md, "Cross-site
requests".
"""

from __future__ import annotations

import ipaddress
import logging
import re
from collections.abc import Collection
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from ..errors import BadHost, BadOrigin, JobwireError
from .errors import error_response

if TYPE_CHECKING:
    from fastapi import FastAPI

    from ..settings import Settings

logger = logging.getLogger(__name__)

#: The event stream's path, under whatever prefix the app is mounted at.
EVENTS_PATH = re.compile(r"/api/jobs/[^/]+/events/?$")
#: What CORS allows a front end on another origin: the API's methods and request headers,
#: and the response headers its clients read.
CORS_METHODS = ("GET", "POST", "DELETE")
CORS_HEADERS = (
    "Authorization",
    "Content-Type",
    "If-None-Match",
    "Last-Event-ID",
    "Idempotency-Key",
    "Range",
    "If-Range",
)
CORS_EXPOSE = (
    "ETag",
    "Location",
    "Retry-After",
    "Content-Disposition",
    "Content-Range",
    "Accept-Ranges",
)
DEFAULT_PORTS = {"http": 80, "https": 443}


def install(server: FastAPI, settings: Settings) -> None:
    """Add CORS (when ``cors_origins`` lists origins) and, outside it, the Host and Origin
    checks. Call it last: the middleware added last runs first."""
    if settings.cors_origins:
        server.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=CORS_METHODS,
            allow_headers=CORS_HEADERS,
            expose_headers=CORS_EXPOSE,
        )
    server.add_middleware(
        CrossSiteGuard,
        authenticated=settings.auth != "none",
        allowed_hosts=settings.allowed_hosts,
        allowed_origins=settings.cors_origins,
    )


class CrossSiteGuard:
    """Refuse, before the app sees them, requests whose ``Host`` is not served (400
    ``bad_host``) and stream requests from another site's page (403 ``bad_origin``). A
    refused WebSocket handshake is answered 403, without a body."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        authenticated: bool,
        allowed_hosts: Collection[str] = (),
        allowed_origins: Collection[str] = (),
    ) -> None:
        self.app = app
        self.authenticated = authenticated
        # With credentials required, a rebinding page has none to send: the Host rule is
        # only what the configuration asks for.
        self.check_host = not authenticated or bool(allowed_hosts)
        self.allowed_hosts = tuple(allowed_hosts)
        self.allowed_origins = frozenset(allowed_origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        host = headers.get("host")  # None: not a browser, which always sends one
        if self.check_host and host is not None and not self._host_served(host):
            await _refuse(self._bad_host(host), scope, receive, send)
            return
        origin = headers.get("origin")
        stream = scope["type"] == "websocket" or EVENTS_PATH.search(scope["path"]) is not None
        if stream and origin is not None and not self._origin_allowed(origin, host):
            await _refuse(self._bad_origin(origin), scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _host_served(self, host: str) -> bool:
        split = split_host(host)
        return split is not None and host_allowed(split[0], self.allowed_hosts)

    def _origin_allowed(self, origin: str, host: str | None) -> bool:
        if "*" in self.allowed_origins or origin.lower() in self.allowed_origins:
            return True
        return host is not None and same_origin(origin, host)

    def _bad_host(self, host: str) -> BadHost:
        split = split_host(host)
        name = split[0] if split is not None else host
        add = (
            f"add it to allowed_hosts (JOBWIRE_ALLOWED_HOSTS={name}, `allowed_hosts = "
            f'["{name}"]` in jobwire.toml, or `jobwire serve --allow-host {name}`)'
        )
        if self.authenticated:
            message = f"The host name {name!r} is not in allowed_hosts. To serve it, {add}."
        else:
            message = (
                "This server runs without authentication, so it answers only to loopback "
                "host names (127.0.0.1, localhost, [::1]) and those in allowed_hosts, not "
                f"to {name!r}: another site's page could otherwise reach it under its own "
                f"name (DNS rebinding). To serve {name!r}, {add}, or turn authentication on "
                "(JOBWIRE_AUTH=token)."
            )
        return BadHost(message, host=host)

    def _bad_origin(self, origin: str) -> BadOrigin:
        return BadOrigin(
            "Streams are served to this server's own pages and to the origins in "
            f"cors_origins, not to a page from {origin!r}. To serve that page, add its origin "
            f"to cors_origins (JOBWIRE_CORS_ORIGINS={origin}, or `jobwire serve "
            f"--cors-origin {origin}`).",
            origin=origin,
        )


def split_host(value: str) -> tuple[str, int | None] | None:
    """The name (lower case, IPv6 without brackets) and port of a ``Host`` header:
    ``("::1", 8000)`` for ``[::1]:8000``; None when it is not ``name[:port]``."""
    try:
        parts = urlsplit("//" + value.strip())
        port = parts.port
    except ValueError:
        return None
    name = (parts.hostname or "").removesuffix(".")
    if not name or parts.path or parts.query or parts.fragment or parts.username is not None:
        return None
    return name, port


def is_loopback(name: str) -> bool:
    """``localhost``, 127.x.y.z or ``::1``."""
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def host_allowed(name: str, patterns: Collection[str]) -> bool:
    """Whether the host ``name`` is loopback or matches one of ``patterns``: a name, a
    ``*.example.com`` wildcard for its subdomains (as Starlette's TrustedHostMiddleware), or
    ``*`` for any."""
    return is_loopback(name) or any(
        pattern in ("*", name) or (pattern.startswith("*.") and name.endswith(pattern[1:]))
        for pattern in patterns
    )


def same_origin(origin: str, host: str) -> bool:
    """Whether a page from ``origin`` was served by the server the request's ``host`` names:
    the same host name and port, over http or https (a TLS proxy in front of the server
    passes on the Host it received, while the page's origin is https)."""
    split = split_host(host)
    try:
        parts = urlsplit(origin.strip())
        origin_port = parts.port
    except ValueError:
        return False
    if split is None or parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        return False
    name, port = split
    default = DEFAULT_PORTS[parts.scheme]
    return parts.hostname.removesuffix(".") == name and (origin_port or default) == (
        port or default
    )


async def _refuse(exc: JobwireError, scope: Scope, receive: Receive, send: Send) -> None:
    logger.warning(
        "refused a %s request to %s: %s",
        scope["type"],
        scope["path"],
        exc.message,
        extra={"action": exc.code},
    )
    if scope["type"] == "http":
        await error_response(exc.status, exc.code, exc.message, exc.details)(scope, receive, send)
        return
    # A close before the accept: the server answers the handshake 403. Not the JSON answer
    # through the denial-response extension: uvicorn's default WebSocket implementation then
    # logs an error for every refusal (https://github.com/Kludex/uvicorn/pull/3138), and a
    # browser's WebSocket cannot read the body anyway; the log line above says why.
    await send({"type": "websocket.close", "code": 1008})
