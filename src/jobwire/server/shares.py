"""Shares: a job's owner lets the members of a team see it, and download its files and
export when the share says so, until it expires or is removed (``/api/jobs/{id}/shares``);
and what the caller may do with a job (``/api/jobs/{id}/access``). Who may what is decided
in :mod:`.access`; see docs/http.md for the whole matrix."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import pydantic
from fastapi import APIRouter, Path, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from ..errors import Forbidden, ShareNotFound
from ..snapshot import iso
from ..storable import problem
from ..store.sharing import MAX_TEAM
from . import bodies
from .access import Access
from .auth import Principal
from .deps import State, Who, refuse_stream_token
from .errors import error_responses
from .models import AccessModel, ShareList, ShareModel
from .state import ServerState

router = APIRouter()


class ShareRequest(pydantic.BaseModel):
    """What ``POST /api/jobs/{id}/shares`` takes."""

    model_config = pydantic.ConfigDict(extra="forbid", strict=True)

    team: str = pydantic.Field(min_length=1, max_length=MAX_TEAM, pattern=r"^[^\x00]*$")
    can_view: bool = True
    can_download: bool = True
    expires_at: datetime | None = pydantic.Field(
        None,
        description="ISO 8601 (a time without a zone is UTC); null: until it is removed",
        json_schema_extra={"format": "date-time"},
    )

    @pydantic.field_validator("expires_at", mode="before")
    @classmethod
    def _parse_time(cls, value: Any) -> Any:
        if isinstance(value, str):  # strict mode takes no text for a datetime: parse it here
            try:
                return datetime.fromisoformat(value)
            except ValueError:
                raise ValueError(
                    f"Expected an ISO 8601 time such as 2026-12-01T12:00:00Z, but got {value!r}"
                ) from None
        return value

    @pydantic.model_validator(mode="after")
    def _download_needs_view(self) -> ShareRequest:
        if self.can_download and not self.can_view:
            raise ValueError(
                "can_download needs can_view: a team cannot download what it cannot see"
            )
        if problem(self.team) is not None or not self.team.isprintable():
            raise ValueError("A team name is printable text without NUL or surrogates")
        return self


def may_share(state: ServerState, who: Principal) -> bool:
    """Whether ``who`` holds a sharing role (``share_roles``; admins always do)."""
    return who.admin or not who.roles.isdisjoint(state.settings.share_roles)


def access_json(state: ServerState, who: Principal, granted: Access) -> dict[str, Any]:
    share = granted.share
    return {
        "view": granted.view,
        "download": granted.download,
        "cancel": granted.cancel,
        "manage": granted.manage and who.job_scope is None,
        "share": granted.manage and who.job_scope is None and may_share(state, who),
        "via": granted.via,
        "team": share.team if share is not None else None,
        "expires_at": iso(share.expires_at) if share is not None else None,
    }


SHARE_BODY = {
    "required": True,
    "content": {"application/json": {"schema": ShareRequest.model_json_schema()}},
}


@router.post(
    "/api/jobs/{job_id}/shares",
    status_code=201,
    response_model=ShareModel,
    tags=["shares"],
    responses={
        200: {"model": ShareModel, "description": "That team's share, changed"},
        **error_responses(400, 401, 403, 404, 413, 415, 422),
    },
    openapi_extra={"requestBody": SHARE_BODY},
)
async def share_job(job_id: str, request: Request, state: State, who: Who) -> JSONResponse:
    """Share the job with a team: its members see it (`can_view`) and download its files and
    export (`can_download`) until `expires_at`. 201 for a new share, 200 when it changes that
    team's share. The job's owner may, when they hold a sharing role (`share_roles`:
    `teamlead` or `admin` by default), and admins."""
    _, granted = await state.aaccess(who, job_id)
    refuse_stream_token(who, "sharing a job")
    if not granted.manage:
        raise Forbidden("Only the job's owner (or an admin) may share it", job_id=job_id)
    if not may_share(state, who):
        roles = ", ".join(sorted(state.settings.share_roles))
        raise Forbidden(
            f"Sharing a job needs one of the roles {roles}; your credentials hold "
            + (", ".join(sorted(who.roles)) or "none"),
            job_id=job_id,
        )
    body = await bodies.arguments(request)
    try:
        wanted = ShareRequest.model_validate(body if body is not None else {})
    except pydantic.ValidationError as exc:
        raise RequestValidationError(exc.errors(include_url=False)) from None
    expires_at = None
    if wanted.expires_at is not None:
        when = wanted.expires_at
        expires_at = (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()
        if expires_at <= state.app.store.clock():
            raise RequestValidationError(
                [
                    {
                        "loc": ("body", "expires_at"),
                        "msg": "The expiry is in the past: a share must end later than now",
                        "type": "value_error",
                        "input": body.get("expires_at") if body else None,
                    }
                ]
            )
    share, created = await run_in_threadpool(
        state.app.store.share,
        job_id,
        wanted.team,
        can_view=wanted.can_view,
        can_download=wanted.can_download,
        expires_at=expires_at,
        shared_by=who.user,
    )
    state.shares.note(share)
    return JSONResponse(share.to_json(), status_code=201 if created else 200)


@router.delete(
    "/api/jobs/{job_id}/shares/{team:path}",
    status_code=204,
    tags=["shares"],
    responses=error_responses(401, 403, 404, 422),
)
async def unshare_job(
    job_id: str,
    team: Annotated[str, Path(description="The team's name (percent-encoded)")],
    state: State,
    who: Who,
) -> Response:
    """Stop sharing the job with a team: its members lose it at once, their open streams
    included. The job's owner may, admins, and a member of that team who holds a sharing
    role (its team lead). 404 `share_not_found` when it is not shared with that team."""
    _, granted = await state.aaccess(who, job_id)
    refuse_stream_token(who, "removing a share")
    lead = team in who.teams and may_share(state, who)
    if not (granted.manage or lead):
        raise Forbidden(
            "Only the job's owner, an admin or a team lead of that team may remove its share",
            job_id=job_id,
        )
    revoked = await run_in_threadpool(state.app.store.unshare, job_id, team)
    if revoked is None:
        raise ShareNotFound(f"Job {job_id} is not shared with {team!r}", job_id=job_id, team=team)
    state.shares.note(revoked)
    state.guards.end_shared(state.may_see_now)  # this server's streams end now
    return Response(status_code=204)


@router.get(
    "/api/jobs/{job_id}/shares",
    response_model=ShareList,
    tags=["shares"],
    responses=error_responses(401, 403, 404, 422),
)
async def list_shares(job_id: str, state: State, who: Who) -> dict[str, Any]:
    """The teams the job is shared with (expired shares included, until retention), for its
    owner and admins; a member it is shared with gets 403 (they see their own share in
    `GET /api/jobs/{id}/access`)."""
    _, granted = await state.aaccess(who, job_id)
    refuse_stream_token(who, "the shares of a job")
    if not granted.manage:
        raise Forbidden("Only the job's owner (or an admin) sees its shares", job_id=job_id)
    found = await run_in_threadpool(state.app.store.shares, job_id)
    return {"shares": [s.to_json() for s in found]}


@router.get(
    "/api/jobs/{job_id}/access",
    response_model=AccessModel,
    tags=["shares"],
    responses=error_responses(401, 404, 422),
)
async def job_access(job_id: str, state: State, who: Who) -> dict[str, Any]:
    """What you may do with the job: `view`, `download` (its files and export), `cancel`,
    `manage` (delete it, see its shares), `share` (share it), `via` what (`owner`, `admin`,
    `share`, `stream_token`), and the share's `team` and `expires_at` when through one."""
    _, granted = await state.aaccess(who, job_id)
    return access_json(state, who, granted)
