"""A job shared with a team, as :class:`~jobwire.Client` manages it: share, unshare, the
shares of a job, and what the caller may do with a job."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Literal, TypedDict, cast
from urllib.parse import quote

from .. import errors as e
from .http import Session


class ShareInfo(TypedDict):
    """A job shared with a team, as the server describes it."""

    job_id: str
    team: str
    can_view: bool
    can_download: bool
    expires_at: str | None
    shared_by: str
    created_at: str
    updated_at: str


class SharedVia(TypedDict):
    """How a job listed with ``shared=True`` reached the caller (its ``shared`` field)."""

    team: str
    shared_by: str
    can_view: bool
    can_download: bool
    expires_at: str | None


class AccessInfo(TypedDict):
    """What the caller may do with a job (``GET /api/jobs/{id}/access``): ``view`` it,
    ``download`` its export and files, ``cancel`` it, ``manage`` its shares (list and remove
    them), ``share`` it with a team (``manage`` and a sharing role)."""

    view: bool
    download: bool
    cancel: bool
    manage: bool
    share: bool
    via: Literal["owner", "admin", "share", "stream_token"]
    team: str | None
    expires_at: str | None


Expiry = datetime | timedelta | None


def expiry_iso(expires_at: Expiry, *, now: datetime | None = None) -> str | None:
    """``expires_at`` as the server takes it: ISO 8601 in UTC, or None for no expiry. A
    timedelta counts from ``now`` (default: the current time); a datetime without a time
    zone is local time, as :meth:`datetime.astimezone` reads it."""
    if expires_at is None:
        return None
    if isinstance(expires_at, timedelta):
        if expires_at <= timedelta(0):
            raise e.ConfigurationError(f"Expected a positive duration, but got {expires_at}")
        return ((now or datetime.now(UTC)) + expires_at).astimezone(UTC).isoformat()
    if isinstance(expires_at, datetime):
        return expires_at.astimezone(UTC).isoformat()
    raise e.ConfigurationError(
        f"Expected expires_at as a datetime, a timedelta or None, but got {expires_at!r}"
    )


class JobShares(Session):
    """The part of :class:`~jobwire.Client` that shares jobs with teams."""

    def share(
        self,
        job_id: str,
        team: str,
        *,
        can_view: bool = True,
        can_download: bool = True,
        expires_at: Expiry = None,
    ) -> ShareInfo:
        """Share a job with a team, or change the share it has with that team; returns the
        share. ``can_download=False`` shares it to view only; ``expires_at`` ends it at a
        time (a datetime, or a timedelta from now; None: until :meth:`unshare`).

        Raises Forbidden without a sharing role (``teamlead`` or ``admin`` by default),
        JobNotFound, ConfigurationError for an expiry that is not a time.

        ```python
        client.share(job.id, "platform", can_download=False, expires_at=timedelta(days=7))
        ```
        """
        if not team:
            raise e.ConfigurationError(f"Expected a team name, but got {team!r}")
        body = {
            "team": team,
            "can_view": can_view,
            "can_download": can_download,
            "expires_at": expiry_iso(expires_at),
        }
        answer = self._request("POST", self._job_path(job_id, "/shares"), json=body)
        return cast("ShareInfo", answer.json())

    def unshare(self, job_id: str, team: str) -> None:
        """Stop sharing a job with a team: its members lose it at once, open streams
        included. Raises Forbidden, JobNotFound, or a JobwireError with the code
        ``share_not_found`` when the job is not shared with that team."""
        self._request("DELETE", self._job_path(job_id, f"/shares/{quote(team, safe='')}"))

    def shares(self, job_id: str) -> list[ShareInfo]:
        """The teams a job is shared with, for its owner or an admin."""
        body: dict[str, Any] = self._request("GET", self._job_path(job_id, "/shares")).json()
        return cast("list[ShareInfo]", body["shares"])

    def access(self, job_id: str) -> AccessInfo:
        """What the caller may do with a job: ``view``, ``download`` (its export and files),
        ``cancel``, ``manage`` (list and remove its shares), ``share`` (with a team), ``via``
        what, and the share's ``team`` and ``expires_at`` when the access comes through one.
        Raises JobNotFound when it may not see it."""
        return cast("AccessInfo", self._request("GET", self._job_path(job_id, "/access")).json())
