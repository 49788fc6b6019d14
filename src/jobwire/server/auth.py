"""Who is asking: API keys, JWT bearer tokens, and per-job stream tokens.

Every request resolves to a :class:`Principal`. What it may do with a job is decided in
:mod:`.access`: its owner and admins do everything, the members of the teams it is shared
with what the share grants, a stream token what its maker could; to anyone else the job
does not exist (404).

Without authentication (``auth = "none"``) a request without credentials is the local
admin; one that brings an API key or a JWT is its user, as with authentication (so that a
loopback server can still tell users apart, as the examples' demo users do).

Revocation: a known API key is served from memory, checked against the set of revoked key
ids. The server refreshes that set from the database every ``REVOCATION_CHECK`` seconds
(:meth:`Authenticator.refresh_revoked`, one indexed read), so a key revoked by any process
(``jobwire keys revoke``) stops working on every server within that time: its requests, the
stream tokens minted with it (they carry its id), and its open streams, which are closed.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jwt
from starlette.concurrency import run_in_threadpool

from ..errors import Unauthorized
from ..storable import MAX_OWNER, problem
from ..store.keys import hash_secret
from ..store.sharing import Share

if TYPE_CHECKING:
    from ..app import App

STREAM_AUDIENCE = "jobwire-stream"
#: Seconds between two reads of the revoked API keys: the longest a revoked key still works.
REVOCATION_CHECK = 0.1
#: Seconds an unknown API key is remembered as unknown (a key made just now works after it).
UNKNOWN_KEY_SECONDS = 1.0
#: API keys remembered at most; past that the memory starts again empty.
KEY_CACHE_SIZE = 10_000


@dataclass(frozen=True, slots=True)
class Principal:
    user: str
    roles: frozenset[str] = field(default_factory=frozenset)
    teams: frozenset[str] = field(default_factory=frozenset)
    job_scope: str | None = None
    """Set for a stream token: the one job it may read and cancel."""
    key_id: str | None = None
    """The API key this principal authenticated with (directly, or through a stream token
    minted with it): revoking the key ends it."""
    team: str | None = None
    """For a stream token made for a member of a team the job is shared with: that team.
    The token is then worth what the share grants, while it lives."""
    shared_since: float | None = None
    """…and when that share was made: a share removed and made again is a new share, which
    the old token does not reach."""

    @property
    def admin(self) -> bool:
        return "admin" in self.roles

    def owns(self, job_id: str, owner: str) -> bool:
        """Whether this principal has the job as its own: its owner, an admin, or a stream
        token made for it by one of them (shares are decided in :mod:`.access`)."""
        if self.job_scope is not None:
            return job_id == self.job_scope and self.team is None
        return self.admin or owner == self.user


class Authenticator:
    def __init__(self, app: App) -> None:
        self.app = app
        settings = app.settings
        self.mode = settings.auth
        # key secret's hash -> the principal, or (for an unknown key) when it was looked up
        self._keys: dict[str, Principal | float] = {}
        self.revoked: set[str] = set()
        """Ids of the revoked API keys, as of the last :meth:`refresh_revoked`."""
        self._revoked_since = 0.0
        self._checked_at = -math.inf
        self._revoke_lock = threading.Lock()
        self.on_revoked: Callable[[set[str]], None] | None = None
        """Told the newly revoked key ids (the server ends their open streams)."""
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

    # -- revocation -----------------------------------------------------------------------

    @property
    def revocations_current(self) -> bool:
        """Whether the revoked set was read less than ``REVOCATION_CHECK`` seconds ago."""
        return time.monotonic() - self._checked_at < REVOCATION_CHECK

    def read_ago(self) -> float:
        """Seconds since the revoked keys were last read."""
        return time.monotonic() - self._checked_at

    def refresh_revoked(self, *, force: bool = False) -> set[str]:
        """Read the keys revoked since the last look (a blocking database read) unless one
        was just made (or ``force``); return the newly revoked ids. The server reads them
        before its copy is ``REVOCATION_CHECK`` seconds old."""
        with self._revoke_lock:  # one look at a time; the others find it current
            if self.revocations_current and not force:
                return set()
            checked = time.monotonic()
            found = self.app.store.keys.revoked_keys(since=self._revoked_since)
            new = {key_id for key_id, _ in found} - self.revoked
            self.revoked = self.revoked | new  # a new set: readers never see it change
            if found:
                self._revoked_since = max(at for _, at in found)
            self._checked_at = checked
        if new and self.on_revoked is not None:
            self.on_revoked(new)
        return new

    def _check_revoked(self, principal: Principal) -> Principal:
        if principal.key_id is not None and principal.key_id in self.revoked:
            raise Unauthorized("This API key was revoked (and the stream tokens made with it)")
        return principal

    # -- resolving credentials ------------------------------------------------------------

    def _credentials(self, authorization: str | None, token: str | None) -> bool:
        """Whether the request is checked (not the local admin of ``auth = "none"``)."""
        return self.mode != "none" or bool(token) or bool(authorization)

    def resolve_cached(self, authorization: str | None, token: str | None) -> Principal | None:
        """:meth:`resolve` when it needs no database (None when it would)."""
        if not token and authorization:
            credential = authorization.partition(" ")[2].strip()
            if credential.startswith("jw_") and not isinstance(
                self._keys.get(hash_secret(credential)), Principal
            ):
                return None
        if self._credentials(authorization, token) and not self.revocations_current:
            return None  # the revoked set is due for a look: the full path reads it
        return self.resolve(authorization, token)

    async def aresolve(self, authorization: str | None, token: str | None) -> Principal:
        """:meth:`resolve` for the event loop: an API key not in memory, or a revoked set
        due for a look, is read from the database on a worker thread, never on the loop."""
        principal = self.resolve_cached(authorization, token)
        if principal is None:
            return await run_in_threadpool(self.resolve, authorization, token)
        return principal

    def resolve(self, authorization: str | None, token: str | None) -> Principal:
        """The principal for an ``Authorization`` header and/or a ``?token=`` parameter."""
        if self._credentials(authorization, token) and not self.revocations_current:
            self.refresh_revoked()
        if token:
            return self._check_revoked(self.stream_principal(token))
        if not authorization:
            if self.mode == "none":
                return self.anonymous
            raise Unauthorized()
        scheme, _, credential = authorization.partition(" ")
        if scheme.lower() != "bearer" or not credential.strip():
            raise Unauthorized("Expected `Authorization: Bearer <API key or JWT>`")
        credential = credential.strip()
        if credential.startswith("jw_"):
            return self._check_revoked(self._api_key(credential))
        return self._jwt(credential)

    def _api_key(self, secret: str) -> Principal:
        digest = hash_secret(secret)
        cached = self._keys.get(digest)
        if isinstance(cached, Principal):
            return cached
        if cached is not None and time.monotonic() - cached < UNKNOWN_KEY_SECONDS:
            raise Unauthorized("Unknown or revoked API key")
        key = self.app.store.keys.find_key(secret)
        if len(self._keys) > KEY_CACHE_SIZE:
            self._keys.clear()
        if key is None:
            self._keys[digest] = time.monotonic()
            raise Unauthorized("Unknown or revoked API key")
        principal = Principal(key.user, frozenset(key.roles), frozenset(key.teams), key_id=key.id)
        self._keys[digest] = principal
        return principal

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

    def stream_token(self, principal: Principal, job_id: str, share: Share | None = None) -> str:
        """A token that follows (and downloads, and cancels) one job as ``principal`` may;
        made through ``share`` for a member of a team the job is shared with, it is worth
        what that share grants, while it lives."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "sub": principal.user,
            "job": job_id,
            "aud": STREAM_AUDIENCE,
            "iat": now,
            "exp": now + self.app.settings.stream_token_seconds,
        }
        if principal.key_id is not None:
            claims["kid"] = principal.key_id  # revoking the key ends the token too
        if share is not None:
            claims["team"], claims["since"] = share.team, share.created_at
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
        kid, team, since = claims.get("kid"), claims.get("team"), claims.get("since")
        shared_since = None
        if team is not None:
            if not isinstance(since, int | float):
                raise Unauthorized("Invalid stream token: a share's token needs its `since`")
            shared_since = float(since)
        return Principal(
            str(claims["sub"]),
            job_scope=str(claims["job"]),
            key_id=str(kid) if kid is not None else None,
            team=str(team) if team is not None else None,
            shared_since=shared_since,
        )
