"""Commands on shares: ``share`` (a job with a team), ``unshare``, and ``shares`` (the teams a
job is shared with); ``jobs --shared`` lists the jobs shared with teams (see ``jobs``).

From a server (``--url``/``--token``), as the token's user: sharing needs a sharing role
(``teamlead`` or ``admin`` by default). From the database (``--app``/``--database``), as the
local user (``default_owner``, ``local``), who may share any job, as an admin may.

Exit codes: 0 done, 2 bad input (an ``--expires`` that is not a time or is past, a server
that cannot be reached), 3 not allowed (403), 4 no such job or share (404).
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from ..errors import JobwireError
from ..snapshot import snapshot
from ..storable import check_text
from ..store.sharing import MAX_TEAM
from .common import (
    AppOption,
    DatabaseOption,
    TokenOption,
    UrlOption,
    app_for,
    cli,
    console,
    err,
    remote,
    unreachable,
)

if TYPE_CHECKING:
    from ..app import App

EXIT_BAD_INPUT = 2
EXIT_FORBIDDEN = 3
EXIT_NOT_FOUND = 4

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")

TeamOption = Annotated[
    str, typer.Option("--team", "-t", help="The team", show_default=False, metavar="TEAM")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON")]


def parse_expiry(text: str, *, now: datetime | None = None) -> datetime:
    """When ``--expires TEXT`` ends a share: a duration from ``now`` (``7d``, ``12h``,
    ``30m``, ``90s``, ``2w``, or several, ``1d12h``), or an ISO 8601 date or time
    (``2030-01-31``, ``2030-01-31T18:00``, ``2030-01-31T18:00Z``). A date alone is its
    midnight, and a time without a zone is local time. Raises ValueError for anything else,
    or for a time that is not in the future."""
    now = now or datetime.now(UTC)
    raw = text.strip().lower()
    when: datetime | None = None
    if raw and _DURATION.sub("", raw) == "":
        seconds = sum(float(n) * _UNITS[unit] for n, unit in _DURATION.findall(raw))
        when = now + timedelta(seconds=seconds)
    else:
        with contextlib.suppress(ValueError):
            when = datetime.fromisoformat(text.strip())  # a date alone too, at 00:00
        if when is None:
            raise ValueError(
                "Expected a duration (7d, 12h, 30m, 90s) or an ISO 8601 date or time "
                f"(2030-01-31, 2030-01-31T18:00Z), but got {text!r}"
            )
        when = when.astimezone(UTC)  # a naive time is local time
    if when <= now:
        raise ValueError(f"{text!r} is not in the future: a share must end later than now")
    return when.astimezone(UTC)


def rights(share: dict[str, Any]) -> str:
    return "view, download" if share.get("can_download") else "view only"


def until(share: dict[str, Any]) -> str:
    ends = share.get("expires_at")
    return f"until {_when(ends)} UTC" if ends else "no expiry"


def _when(value: str | None) -> str:
    return (value or "")[:16].replace("T", " ")


def _check_team(team: str) -> None:
    if not team.strip():
        raise typer.BadParameter("Expected a team name, but got an empty one", param_hint="--team")
    try:
        check_text(team, "team", max_length=MAX_TEAM)
    except JobwireError as exc:
        raise typer.BadParameter(exc.message, param_hint="--team") from None


# -- the commands ------------------------------------------------------------------------


@cli.command()
def share(
    job_id: Annotated[str, typer.Argument(help="The job's id")],
    team: TeamOption,
    view_only: Annotated[
        bool,
        typer.Option("--view-only", help="Members see the job but cannot download from it"),
    ] = False,
    expires: Annotated[
        str | None,
        typer.Option(
            "--expires",
            metavar="WHEN",
            help="End the share after a duration (7d, 12h, 30m, 90s) or at an ISO 8601 date "
            "or time (2030-01-31, 2030-01-31T18:00Z; local time without a zone). Default: "
            "until `jobwire unshare`",
            show_default=False,
        ),
    ] = None,
    as_json: JsonOption = False,
    app_target: AppOption = None,
    database: DatabaseOption = None,
    url: UrlOption = None,
    token: TokenOption = None,
) -> None:
    """Share a job with a team: its members see it, live, and download its export and files
    (unless --view-only). Sharing again with the same team replaces that share.

    With --url it needs a sharing role (teamlead or admin by default). Exit codes: 0 shared,
    2 bad input (--expires), 3 not allowed, 4 no such job."""
    _check_team(team)
    try:
        ends = parse_expiry(expires) if expires is not None else None
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--expires") from None
    with failures(url):
        if url is not None:
            _no_app(app_target)
            with remote(url, token) as client:
                info: dict[str, Any] = dict(
                    client.share(job_id, team, can_download=not view_only, expires_at=ends)
                )
        else:
            app = app_for(app_target, database)
            try:
                stored, _ = app.store.share(
                    job_id,
                    team,
                    can_view=True,
                    can_download=not view_only,
                    expires_at=ends.timestamp() if ends else None,
                    shared_by=app.settings.default_owner,
                )
            finally:
                app.close()
            info = stored.to_json()
    if as_json:
        console.print_json(data=info)
        return
    console.print(
        f"job {escape(job_id)} shared with {escape(info['team'])}: {rights(info)}, {until(info)}",
        highlight=False,
    )


@cli.command()
def unshare(
    job_id: Annotated[str, typer.Argument(help="The job's id")],
    team: TeamOption,
    app_target: AppOption = None,
    database: DatabaseOption = None,
    url: UrlOption = None,
    token: TokenOption = None,
) -> None:
    """Stop sharing a job with a team: its members lose it at once, open streams included.

    Exit codes: 0 removed, 3 not allowed, 4 no such job, or the job is not shared with the
    team."""
    _check_team(team)
    with failures(url):
        if url is not None:
            _no_app(app_target)
            with remote(url, token) as client:
                client.unshare(job_id, team)
        else:
            app = app_for(app_target, database)
            try:
                app.record(job_id)  # JobNotFound for an unknown job
                removed = app.store.unshare(job_id, team)
            finally:
                app.close()
            if removed is None:
                err.print(
                    f"[red]error[/red] job {escape(job_id)} is not shared with {escape(team)}"
                )
                raise typer.Exit(EXIT_NOT_FOUND)
    console.print(f"job {escape(job_id)} no longer shared with {escape(team)}", highlight=False)


@cli.command()
def shares(
    job_id: Annotated[str, typer.Argument(help="The job's id")],
    as_json: JsonOption = False,
    app_target: AppOption = None,
    database: DatabaseOption = None,
    url: UrlOption = None,
    token: TokenOption = None,
) -> None:
    """List the teams a job is shared with: rights, expiry, who shared it (expired shares
    included, until they are removed). With --url, for the job's owner or an admin."""
    with failures(url):
        if url is not None:
            _no_app(app_target)
            with remote(url, token) as client:
                found: list[dict[str, Any]] = [dict(s) for s in client.shares(job_id)]
        else:
            app = app_for(app_target, database)
            try:
                app.record(job_id)
                found = [s.to_json() for s in app.store.shares(job_id)]
            finally:
                app.close()
    if as_json:
        console.print_json(data={"shares": found})
        return
    if not found:
        err.print(f"job {escape(job_id)} is not shared")
        return
    table = Table("team", "rights", "expires (UTC)", "shared by", "since (UTC)")
    now = time.time()
    for s in found:
        ends = s["expires_at"]
        ended = ends is not None and datetime.fromisoformat(ends).timestamp() <= now
        table.add_row(
            escape(s["team"]),
            rights(s),
            (_when(ends) + (" (ended)" if ended else "")) if ends else "never",
            escape(s["shared_by"]),
            _when(s["created_at"]),
        )
    console.print(table)


# -- jobs --shared -----------------------------------------------------------------------


def local_shared(
    app: App,
    teams: Sequence[str],
    *,
    status: Sequence[str] | None,
    task: str | None,
    owner: str | None,
    limit: int,
) -> tuple[list[dict[str, Any]], str | None]:
    """The jobs shared with ``teams`` now, from the database: snapshots with ``shared``, as
    ``GET /api/jobs?shared=true`` lists them, and the next page's cursor."""
    page = app.store.shared_with(
        list(teams), now=time.time(), status=status, task=task, owner=owner, limit=limit
    )
    snaps: list[dict[str, Any]] = []
    for job in page.jobs:
        snap: dict[str, Any] = dict(snapshot(job))
        chosen = page.shares.get(job.id)
        snap["shared"] = chosen.via() if chosen is not None else None
        snaps.append(snap)
    return snaps, page.next_cursor


# -- errors ------------------------------------------------------------------------------


def exit_code(exc: JobwireError) -> int:
    """3 for what the credentials may not do, 4 for a job or share that is not there, else 2."""
    if exc.code == "forbidden" or exc.status == 403:
        return EXIT_FORBIDDEN
    if exc.code.endswith("_not_found") or exc.status == 404:
        return EXIT_NOT_FOUND
    return EXIT_BAD_INPUT


@contextlib.contextmanager
def failures(url: str | None) -> Iterator[None]:
    """A jobwire error ends the command with its message and :func:`exit_code`; a server
    that cannot be reached, with code 2."""
    try:
        if url is None:
            yield
        else:
            import httpx

            try:
                yield
            except httpx.HTTPError as exc:
                raise unreachable(url, exc) from None
    except JobwireError as exc:
        err.print(f"[red]error[/red] {escape(exc.message)}")
        raise typer.Exit(exit_code(exc)) from None


def _no_app(app_target: str | None) -> None:
    if app_target is not None:
        raise typer.BadParameter("Give --url or --app, not both")
