"""Who is asking: API keys, JWT bearer tokens, and per-job stream tokens.

Every request resolves to a :class:`Principal`. A job is visible to its owner, to admins, and
to a stream token made for that job; to anyone else it does not exist (404).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jwt
from starlette.concurrency import run_in_threadpool

from ..errors import Unauthorized
from ..storable import MAX_OWNER, problem

if TYPE_CHECKING:
    from ..app import App
    from ..store.sql import SQLStore

STREAM_AUDIENCE = "jobwire-stream"
KEY_CACHE_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class Principal:
    user: str
    roles: frozenset[str] = field(default_factory=frozenset)
    teams: frozenset[str] = field(default_factory=frozenset)
    job_scope: str | None = None
    """Set for a stream token: the one job it may read and cancel."""

    @property
    def admin(self) -> bool:
        return "admin" in self.roles

    def can_see(self, job_id: str, owner: str) -> bool:
        if self.job_scope is not None:
            return job_id == self.job_scope
        return self.admin or owner == self.user


class Authenticator:
    def __init__(self, app: App) -> None:
        self.app = app
        settings = app.settings
        self.mode = settings.auth
        self._keys: dict[str, tuple[float, Principal | None]] = {}
        self._jwt_key: Any = None
        self._jwt_algorithms: list[str] = []
        if settings.jwt_public_key:
            text = settings.jwt_public_key
            if not text.lstrip().startswith("-----BEGIN"):
                text = Path(text).read_text()
            self._jwt_key, self._jwt_algorithms = text, ["RS256"]
        elif settings.jwt_secret:
            self._jwt_key, self._jwt_algorithms = settings.jwt_secret, ["HS256"]
        self.anonymous = Principal(settings.default_owner, frozenset({"admin"}))

    @property
    def secret(self) -> str:
        """The stream-token secret (see :attr:`App.secret <jobwire.App.secret>`)."""
        return self.app.secret

    # -- resolving credentials ------------------------------------------------------------

    def resolve_cached(self, authorization: str | None, token: str | None) -> Principal | None:
        """:meth:`resolve` when it needs no database (None when it would)."""
        if not token and self.mode != "none" and authorization:
            credential = authorization.partition(" ")[2].strip()
            cached = self._keys.get(credential)
            if credential.startswith("jw_") and (
                cached is None or time.monotonic() - cached[0] > KEY_CACHE_SECONDS
            ):
                return None
        return self.resolve(authorization, token)

    async def aresolve(self, authorization: str | None, token: str | None) -> Principal:
        """:meth:`resolve` for the event loop: an API key not in the cache is looked up in
        the database on a worker thread, never on the loop."""
        principal = self.resolve_cached(authorization, token)
        if principal is None:
            return await run_in_threadpool(self.resolve, authorization, token)
        return principal

    def resolve(self, authorization: str | None, token: str | None) -> Principal:
        """The principal for an ``Authorization`` header and/or a ``?token=`` parameter."""
        if token:
            return self.stream_principal(token)
        if self.mode == "none":
            return self.anonymous
        if not authorization:
            raise Unauthorized()
        scheme, _, credential = authorization.partition(" ")
        if scheme.lower() != "bearer" or not credential.strip():
            raise Unauthorized("Expected `Authorization: Bearer <API key or JWT>`")
        credential = credential.strip()
        if credential.startswith("jw_"):
            return self._api_key(credential)
        return self._jwt(credential)

    def _api_key(self, secret: str) -> Principal:
        now = time.monotonic()
        cached = self._keys.get(secret)
        if cached is None or now - cached[0] > KEY_CACHE_SECONDS:
            store: SQLStore = self.app.store  # type: ignore[assignment]
            key = store.find_key(secret)
            principal = (
                None
                if key is None
                else Principal(key.user, frozenset(key.roles), frozenset(key.teams))
            )
            if len(self._keys) > 10_000:
                self._keys.clear()
            self._keys[secret] = cached = (now, principal)
        if cached[1] is None:
            raise Unauthorized("Unknown or revoked API key")
        return cached[1]

    def _jwt(self, token: str) -> Principal:
        if self._jwt_key is None:
            raise Unauthorized("This server accepts API keys only (no JWT key is configured)")
        try:
            claims = jwt.decode(
                token,
                self._jwt_key,
                algorithms=self._jwt_algorithms,
                audience=self.app.settings.jwt_audience,
                options={"require": ["sub"], "verify_aud": bool(self.app.settings.jwt_audience)},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthorized("The token has expired") from None
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"Invalid token: {exc}") from None
        roles = claims.get("roles") or []
        teams = claims.get("teams") or []
        if not isinstance(roles, list) or not isinstance(teams, list):
            raise Unauthorized("Invalid token: `roles` and `teams` must be lists")
        user = str(claims["sub"])
        if problem(user) is not None or not 0 < len(user) <= MAX_OWNER:
            raise Unauthorized(f"Invalid token: `sub` must be 1 to {MAX_OWNER} characters of text")
        return Principal(user, frozenset(map(str, roles)), frozenset(map(str, teams)))

    # -- stream tokens --------------------------------------------------------------------

    def stream_token(self, principal: Principal, job_id: str) -> str:
        now = int(time.time())
        claims = {
            "sub": principal.user,
            "job": job_id,
            "aud": STREAM_AUDIENCE,
            "iat": now,
            "exp": now + self.app.settings.stream_token_seconds,
        }
        return jwt.encode(claims, self.secret, algorithm="HS256")

    def stream_principal(self, token: str) -> Principal:
        try:
            claims = jwt.decode(
                token,
                self.secret,
                algorithms=["HS256"],
                audience=STREAM_AUDIENCE,
                options={"require": ["sub", "job", "exp"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthorized("The stream token has expired") from None
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"Invalid stream token: {exc}") from None
        return Principal(str(claims["sub"]), job_scope=str(claims["job"]))
