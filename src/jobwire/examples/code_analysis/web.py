"""The example's routes beside its page: the trees it can analyse, and three demo users so
that sharing can be tried in one browser.

- ``GET /examples/code-analysis/trees``: every tree, and whether this Python has it.
- ``GET /examples/code-analysis/demo-users``: a team lead of team ``platform``, a member of
  ``platform`` and an outsider (team ``sales``), each with an API key the page sends as
  ``Authorization: Bearer``. Offered only to a browser on the server's own machine, on a
  server bound to a loopback address without authentication (``auth=none``), where anyone
  who can reach it is the local admin already; anywhere else it answers 404, and the page
  asks for an API key instead.

The demo keys are made on the first request that may have them (so a server that never
offers them never makes them), as keys of the users ``demo-lead``, ``demo-member`` and
``demo-outsider``, and their secrets are kept in the database's meta table beside the
server's own secret, so that a restart finds the same keys. ``jobwire keys revoke ID`` ends
one; the next request makes a new one.
"""

from __future__ import annotations

import ipaddress
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from .sources import availability
from .task import PATH

if TYPE_CHECKING:
    from ...app import App
    from ...store.base import ApiKey

#: Where a demo key's secret is kept in the meta table, after its key id.
META_PREFIX = "examples.code_analysis.demo_key."
#: Headers a reverse proxy adds: a request through one did not come from this machine.
PROXY_HEADERS = ("forwarded", "x-forwarded-for", "x-forwarded-host", "x-real-ip")


@dataclass(frozen=True)
class DemoUser:
    id: str
    """What the page calls it: ``lead``, ``member``, ``outsider``."""
    user: str
    label: str
    roles: tuple[str, ...]
    teams: tuple[str, ...]
    description: str


DEMO_USERS = (
    DemoUser(
        "lead",
        "demo-lead",
        "Team lead",
        ("teamlead",),
        ("platform",),
        "leads team platform: may share analyses",
    ),
    DemoUser("member", "demo-member", "Member", (), ("platform",), "a member of team platform"),
    DemoUser(
        "outsider", "demo-outsider", "Outsider", (), ("sales",), "in team sales, not platform"
    ),
)


class DemoKeys:
    """The demo users' API keys in ``app.store.keys``: found again by their user, or made."""

    def __init__(self, app: App) -> None:
        self.app = app
        self._lock = threading.Lock()

    def secrets(self) -> dict[str, str]:
        """The secret of each demo user's live key, by :attr:`DemoUser.id`."""
        keys = self.app.store.keys
        with self._lock:  # one process makes one key per user, not one per request
            live: dict[str, list[ApiKey]] = {}
            for key, _created, revoked in keys.list_keys():
                if revoked is None:
                    live.setdefault(key.user, []).append(key)
            return {demo.id: self._secret(demo, live.get(demo.user, [])) for demo in DEMO_USERS}

    def _secret(self, demo: DemoUser, live: list[ApiKey]) -> str:
        keys = self.app.store.keys
        for key in reversed(live):  # newest first
            if set(key.roles) == set(demo.roles) and set(key.teams) == set(demo.teams):
                # "" for a key of that user made by someone else: not ours to hand out.
                secret = keys.meta_value(META_PREFIX + key.id, lambda: "")
                if secret:
                    return secret
        key_id, secret = keys.create_key(demo.user, roles=demo.roles, teams=demo.teams)
        return keys.meta_value(META_PREFIX + key_id, lambda: secret)


def is_loopback(host: str | None) -> bool:
    """Whether ``host`` (an address, or a host name from a URL) is this machine."""
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def offers_demo_users(request: Request, app: App) -> bool:
    """Whether this request may have the demo users: the server runs without authentication
    on a loopback address, and the request comes from this machine, to a loopback host
    name, not through a proxy."""
    server = request.scope.get("server")
    return (
        app.settings.auth == "none"
        and is_loopback(server[0] if server else None)
        and is_loopback(request.client.host if request.client else None)
        and is_loopback(request.url.hostname)
        and not any(header in request.headers for header in PROXY_HEADERS)
    )


def routes(app: App) -> list[BaseRoute]:
    """The example's routes (``/examples/code-analysis/trees`` and ``…/demo-users``), to
    add beside the server's: ``api.router.routes.extend(routes(app))``."""
    demo_keys = DemoKeys(app)

    def trees(request: Request) -> JSONResponse:
        found = [{k: v for k, v in t.items() if k != "path"} for t in availability()]
        return JSONResponse({"trees": found}, headers={"Cache-Control": "no-cache"})

    def demo_users(request: Request) -> JSONResponse:
        if not offers_demo_users(request, app):
            message = (
                "Demo users are offered only to a browser on this machine, by a server "
                "bound to a loopback address without authentication: sign in with an API key"
            )
            return JSONResponse({"error": {"code": "not_found", "message": message}}, 404)
        secrets = demo_keys.secrets()
        users = [
            {
                "id": d.id,
                "user": d.user,
                "label": d.label,
                "roles": list(d.roles),
                "teams": list(d.teams),
                "description": d.description,
                "token": secrets[d.id],
            }
            for d in DEMO_USERS
        ]
        return JSONResponse({"users": users}, headers={"Cache-Control": "no-store"})

    return [
        Route(f"{PATH}/trees", trees, methods=["GET"], include_in_schema=False),
        Route(f"{PATH}/demo-users", demo_users, methods=["GET"], include_in_schema=False),
    ]
