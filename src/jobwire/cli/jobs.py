"""Commands on jobs: ``run``, ``demo``, ``jobs``, ``show``, ``cancel``, ``tasks``. With
``--url`` they go through a server's HTTP API (the client is imported only then)."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from ..app import App
from ..errors import JobwireError
from ..snapshot import format_seconds, loads, snapshot
from ..status import JobStatus
from .common import (
    AppOption,
    DatabaseOption,
    TokenOption,
    UrlOption,
    app_for,
    cli,
    console,
    err,
    fail,
    load_app,
    parse_args,
    remote,
    setup_logging,
    unreachable,
)
from .live import finish, follow, follow_remote, stored_result

if TYPE_CHECKING:
    from ..client import Client


@cli.command()
def run(
    target: Annotated[
        str | None,
        typer.Argument(
            metavar="MODULE:APP",
            help="The app whose task to run. Left out with --url: then the one argument is TASK",
            show_default=False,
        ),
    ] = None,
    task: Annotated[
        str | None, typer.Argument(metavar="TASK", help="Task name", show_default=False)
    ] = None,
    arg: Annotated[
        list[str],
        typer.Option(
            "--arg", help="key=value (value read as JSON when it parses, else as a string)"
        ),
    ] = [],  # noqa: B006
    json_args: Annotated[
        str | None, typer.Option("--json", help="Arguments as a JSON object")
    ] = None,
    owner: Annotated[str | None, typer.Option(help="Owner of the job (not with --url)")] = None,
    worker: Annotated[
        bool,
        typer.Option(
            help="Run workers in this process (--no-worker when `jobwire worker` runs them)"
        ),
    ] = True,
    url: UrlOption = None,
    token: TokenOption = None,
) -> None:
    """Submit a job and draw its progress until it ends. Ctrl-C cancels it.

    `jobwire run MODULE:APP TASK` runs the job here (with workers in this process, unless
    --no-worker). `jobwire run --url http://host:port [--token T] TASK` submits it to a
    jobwire server instead, which owns its tasks: no MODULE:APP, and the owner comes from the
    token (JOBWIRE_TOKEN also works). Exit codes: 0 succeeded, 1 failed, 130 cancelled, 2 bad
    input.
    """
    setup_logging(logging.WARNING)
    if target is None:
        raise typer.BadParameter("Expected MODULE:APP TASK, or --url URL TASK")
    args = parse_args(arg, json_args)
    if url is not None:
        if task is not None:
            raise typer.BadParameter(
                f"With --url, give only TASK (the server knows its tasks), but got {target!r} "
                f"and {task!r}"
            )
        if owner is not None:
            raise typer.BadParameter("With --url the server sets the owner from --token")
        _run_remote(remote(url, token), target, args)
        return
    if task is None:
        raise typer.BadParameter("Expected MODULE:APP TASK, or --url URL TASK")
    app = load_app(target)
    try:
        if worker:
            app.start()
        job = app.submit(task, args, owner=owner)
        if not job.created:
            err.print(f"[yellow]{job.outcome}[/yellow]: following existing job {job.id}")
        else:
            err.print(f"job {job.id} submitted")
        snap = follow(app, job.id)
    except JobwireError as exc:
        raise fail(exc) from None
    finally:
        app.stop(grace=2.0)
    finish(snap, stored_result(app))


def _run_remote(client: Client, task: str, args: dict[str, Any]) -> None:
    import httpx

    with client:
        try:
            job = client.submit(task, args)
            if not job.created:
                err.print(f"[yellow]{job.outcome}[/yellow]: following existing job {job.id}")
            else:
                err.print(f"job {job.id} submitted to {client.url}")
            snap = follow_remote(client, job.id)
            finish(snap, client.result)
        except JobwireError as exc:
            raise fail(exc) from None
        except httpx.HTTPError as exc:
            raise unreachable(client.url, exc) from None


@cli.command()
def demo(
    documents: Annotated[int, typer.Option(help="How many documents to analyse")] = 300,
    database: DatabaseOption = None,
) -> None:
    """Run a built-in example job and draw its live progress bar."""
    from ..demo import register

    setup_logging(logging.WARNING)
    app = App(database)
    register(app)
    console.print(f"[bold]jobwire demo[/bold] · database {app.settings.database_url}")
    with app:
        job = app.submit("demo.analyse", {"documents_count": documents})
        snap = follow(app, job.id)
    finish(snap, stored_result(app))
    console.print(
        f"Next: [bold]jobwire jobs[/bold] lists it, [bold]jobwire show {job.id}[/bold] shows it."
    )


@cli.command()
def jobs(
    app_target: AppOption = None,
    database: DatabaseOption = None,
    status: Annotated[list[str], typer.Option(help="Filter by status")] = [],  # noqa: B006
    task: Annotated[str | None, typer.Option(help="Filter by task")] = None,
    owner: Annotated[str | None, typer.Option(help="Filter by owner")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
    shared: Annotated[
        bool,
        typer.Option(
            "--shared",
            help="The jobs shared with teams instead: the token's teams with --url (its own "
            "jobs left out), else those of --team",
        ),
    ] = False,
    team: Annotated[
        list[str],
        typer.Option("--team", help="With --shared, from the database: whose shares to list"),
    ] = [],  # noqa: B006
    url: UrlOption = None,
    token: TokenOption = None,
) -> None:
    """List jobs, newest first: from the database, or from a server with --url (which shows
    the token's own jobs; an admin's token sees all and may filter by --owner).

    --shared lists the jobs shared with teams, with the team, who shared them, the rights
    and the expiry."""
    if team and not shared:
        raise typer.BadParameter("--team goes with --shared", param_hint="--team")
    if shared and url is not None and team:
        raise typer.BadParameter(
            "With --url the server lists the jobs shared with the token's teams: leave out --team",
            param_hint="--team",
        )
    if shared and url is None and not team:
        raise typer.BadParameter(
            "The database has no users: say whose shares to list with --team TEAM "
            "(or ask a server with --url)",
            param_hint="--team",
        )
    try:
        if url is not None:
            import httpx

            if app_target is not None:
                raise typer.BadParameter("Give --url or --app, not both")
            with remote(url, token) as client:
                try:
                    found, next_cursor = client.list(
                        status=status or None, task=task, owner=owner, limit=limit, shared=shared
                    )
                except httpx.HTTPError as exc:
                    raise unreachable(url, exc) from None
            snaps: list[dict[str, Any]] = [dict(j.snapshot) for j in found]
        elif shared:
            from .shares import local_shared

            statuses = [JobStatus(s).value for s in status] or None
            app = app_for(app_target, database)
            try:
                snaps, next_cursor = local_shared(
                    app, team, status=statuses, task=task, owner=owner, limit=limit
                )
            finally:
                app.close()
        else:
            page = app_for(app_target, database).list(
                status=status or None, task=task, owner=owner, limit=limit
            )
            snaps, next_cursor = [dict(snapshot(j)) for j in page.jobs], page.next_cursor
    except (JobwireError, ValueError) as exc:
        err.print(f"[red]error[/red] {escape(str(exc))}")
        raise typer.Exit(2) from None
    if as_json:
        console.print_json(data={"jobs": snaps, "next_cursor": next_cursor})
        return
    console.print(_shared_table(snaps) if shared else _table(snaps))


def _counts(s: dict[str, Any]) -> str:
    counts = f"{s['current']}/{s['total']}" if s["total"] is not None else str(s["current"])
    if s["percent"] is not None:
        counts += f" ({s['percent']:g}%)"
    return counts


def _table(snaps: list[dict[str, Any]]) -> Table:
    table = Table("task", "status", "progress", "step", "owner", "created", "id")
    for s in snaps:
        table.add_row(
            s["task"],
            s["status"],
            _counts(s),
            s["step"] or "",
            s["owner"],
            (s["created_at"] or "")[:19].replace("T", " "),
            s["id"],
        )
    return table


def _shared_table(snaps: list[dict[str, Any]]) -> Table:
    """The jobs shared with teams: which team each reached, who shared it, what it allows."""
    from .shares import rights

    table = Table("task", "status", "progress", "owner", "team", "shared by", "rights")
    table.add_column("until (UTC)")
    table.add_column("id")
    for s in snaps:
        via = s.get("shared") or {}
        ends = via.get("expires_at")
        table.add_row(
            escape(s["task"]),
            s["status"],
            _counts(s),
            escape(s["owner"]),
            escape(via.get("team", "")),
            escape(via.get("shared_by", "")),
            rights(via),
            (ends or "")[:16].replace("T", " ") or "—",
            s["id"],
        )
    return table


@cli.command()
def show(
    job_id: str,
    app_target: AppOption = None,
    database: DatabaseOption = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Only the snapshot as JSON (no steps table)")
    ] = False,
) -> None:
    """Show one job's snapshot (and its result when it succeeded), then its steps: when
    each started, how long it took (the open one: so far) and how long it usually takes."""
    app = app_for(app_target, database)
    try:
        job = app.get(job_id)
    except JobwireError as exc:
        raise fail(exc) from None
    data: dict[str, Any] = dict(job.snapshot)
    if job.status.value == "succeeded":
        text = app.store.result(job.id)
        data["result"] = loads(text) if text is not None else None
    console.print_json(data=data)
    if data["steps"] and not as_json:
        console.print(steps_table(data["steps"], app.store.clock()))


def steps_table(steps: list[dict[str, Any]], now: float) -> Table:
    """A job's steps: started (UTC), took (an open step: so far), usually."""
    table = Table("step", "started (UTC)", "took", "usually")
    for s in steps:
        took = "—"
        if s["seconds"] is not None:
            took = format_seconds(s["seconds"])
        elif s["started_at"] is not None:
            began = datetime.fromisoformat(s["started_at"]).timestamp()
            took = f"{format_seconds(max(now - began, 0.0))} so far"
        usually = s["typical_seconds"]
        table.add_row(
            escape(s["name"]),
            (s["started_at"] or "")[11:19] or "—",
            took,
            format_seconds(usually) if usually is not None else "—",
        )
    return table


@cli.command()
def cancel(
    job_id: str,
    app_target: AppOption = None,
    database: DatabaseOption = None,
) -> None:
    """Cancel a job: a queued one at once, a running one at its next progress call."""
    app = app_for(app_target, database)
    try:
        job = app.cancel(job_id)
    except JobwireError as exc:
        raise fail(exc) from None
    console.print(
        f"job {job.id}: {job.status.value}"
        + (" (cancel requested)" if job.status.value != "cancelled" else "")
    )


@cli.command()
def tasks(target: Annotated[str, typer.Argument(help="MODULE:APP")]) -> None:
    """List an app's tasks and their arguments' JSON Schema."""
    app = load_app(target)
    for name, task in sorted(app.tasks.items()):
        console.print(f"[bold]{name}[/bold] {task.options.description}")
        console.print_json(data=task.schema())
