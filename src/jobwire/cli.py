"""The ``jobwire`` command line."""

from __future__ import annotations

import importlib
import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from .app import App
from .client import Client
from .errors import JobwireError
from .snapshot import Snapshot, format_seconds, loads, snapshot

cli = typer.Typer(
    help="jobwire: background jobs with live progress.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
db_cli = typer.Typer(help="The job database.", no_args_is_help=True)
cli.add_typer(db_cli, name="db")
keys_cli = typer.Typer(help="API keys for the HTTP API.", no_args_is_help=True)
cli.add_typer(keys_cli, name="keys")

console = Console()
err = Console(stderr=True)

AppOption = Annotated[
    str | None,
    typer.Option("--app", "-a", help="MODULE:APP whose database to use (else --database)."),
]
DatabaseOption = Annotated[
    str | None,
    typer.Option(
        "--database",
        "-d",
        envvar="JOBWIRE_DATABASE_URL",
        help="Database URL (default sqlite:///jobwire.db).",
    ),
]


def main() -> None:
    cli()


def _setup_logging(level: int = logging.INFO) -> None:
    logging.basicConfig(
        level=level,
        format="%(message)s",
        handlers=[RichHandler(console=err, show_path=False)],
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)


def load_app(target: str) -> App:
    """Import ``module:attribute`` (attribute defaults to ``app``) from the current directory."""
    module_name, _, attr = target.partition(":")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise typer.BadParameter(f"Cannot import {module_name!r}: {exc}") from exc
    app = getattr(module, attr or "app", None)
    if not isinstance(app, App):
        raise typer.BadParameter(f"{target!r} is not a jobwire App (expected MODULE:APP)")
    return app


def _app_for(app_target: str | None, database: str | None) -> App:
    if app_target:
        return load_app(app_target)
    return App(database)


def _fail(exc: JobwireError) -> typer.Exit:
    err.print(f"[red]error[/red] {escape(exc.message)}")
    return typer.Exit(2)


def _parse_args(pairs: list[str], json_args: str | None) -> dict[str, Any]:
    args: dict[str, Any] = {}
    if json_args:
        try:
            loaded = json.loads(json_args)
        except json.JSONDecodeError as exc:
            raise typer.BadParameter(f"--json is not valid JSON: {exc}") from exc
        if not isinstance(loaded, dict):
            raise typer.BadParameter("--json must be a JSON object")
        args.update(loaded)
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"Expected --arg key=value, but got {pair!r}")
        try:
            args[key] = json.loads(raw)
        except json.JSONDecodeError:
            args[key] = raw  # a bare string
    return args


# -- live drawing ---------------------------------------------------------------------------


class LiveBar:
    """Draws a job's snapshots: a Rich bar on a terminal, one line per change otherwise."""

    def __init__(self, out: Console) -> None:
        self.out = out
        self.tty = out.is_terminal
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("[bold]{task.fields[label]}"),
            BarColumn(),
            TextColumn("{task.fields[counts]}"),
            TextColumn("[cyan]{task.fields[step]}"),
            TextColumn("{task.fields[eta]}"),
            TimeElapsedColumn(),
            TextColumn("[dim]{task.fields[message]}"),
            console=out,
            transient=False,
        )
        self._task: TaskID | None = None
        self._last_line = ""
        self._last_step: str | None = None
        self._last_print = 0.0

    def __enter__(self) -> LiveBar:
        if self.tty:
            self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.tty:
            self._progress.stop()

    def draw(self, snap: Snapshot) -> None:
        counts = (
            f"{snap['current']}/{snap['total']} ({snap['percent']:g}%)"
            if snap["total"] is not None and snap["percent"] is not None
            else (str(snap["current"]) if snap["current"] else "")
        )
        eta = snap["eta_seconds"]
        fields: dict[str, Any] = {
            "label": f"{snap['task']} [dim]{snap['status']}[/dim]",
            "counts": counts,
            "step": snap["step"] or "",
            "eta": f"about {format_seconds(eta)} left" if eta is not None else "",
            "message": (snap["message"] or "")[:60],
        }
        if self.tty:
            if self._task is None:
                self._task = self._progress.add_task("", total=snap["total"], **fields)
            self._progress.update(
                self._task, completed=snap["current"], total=snap["total"], **fields
            )
            return
        line = " · ".join(v for v in (snap["status"], counts, fields["step"], fields["eta"]) if v)
        now = time.monotonic()
        terminal = snap["status"] in ("succeeded", "failed", "cancelled")
        step_changed = snap["step"] != self._last_step
        if line != self._last_line and (terminal or step_changed or now - self._last_print >= 0.5):
            self._last_step = snap["step"]
            self.out.print(f"{snap['task']} {line}", highlight=False)
            self._last_line, self._last_print = line, now


def follow(app: App, job_id: str) -> Snapshot:
    """Draw a job until it ends; Ctrl-C asks to cancel it (twice: stop watching)."""

    def updates(after: int) -> Iterator[tuple[Snapshot, str | None]]:
        for event in app.watch(job_id, after=after):
            yield event["job"], event["log"] if event["kind"] == "log" else None

    return _draw(updates, lambda: app.cancel(job_id))


def follow_remote(client: Client, job_id: str) -> Snapshot:
    """:func:`follow` for a job on a server: its messages, and a cancel through the API."""

    def updates(after: int) -> Iterator[tuple[Snapshot, str | None]]:
        for msg in client.watch(job_id, after=after):
            yield msg["job"], msg.get("log")

    return _draw(updates, lambda: client.cancel(job_id))


def _draw(
    updates: Callable[[int], Iterable[tuple[Snapshot, str | None]]],
    cancel: Callable[[], object],
) -> Snapshot:
    """Draw ``updates(after_seq)`` until they end; the first Ctrl-C calls ``cancel`` and
    goes on drawing from the last seq, the second stops watching."""
    cancelled = False
    last: Snapshot | None = None
    with LiveBar(console) as bar:
        while True:
            try:
                for snap, log in updates(last["seq"] if last else 0):
                    last = snap
                    if log:
                        console.print(f"[dim]{escape(log)}[/dim]", highlight=False)
                    bar.draw(last)
                break
            except KeyboardInterrupt:
                if cancelled:
                    raise
                cancelled = True
                err.print("[yellow]cancelling…[/yellow] (Ctrl-C again to stop watching)")
                try:
                    cancel()
                except JobwireError as exc:
                    err.print(f"[yellow]{escape(exc.message)}[/yellow]")
    assert last is not None
    return last


def _stored_result(app: App) -> Callable[[str], Any]:
    def read(job_id: str) -> Any:
        text = app.store.result(job_id)
        return loads(text) if text is not None else None

    return read


def _finish(snap: Snapshot, result: Callable[[str], Any]) -> None:
    status = snap["status"]
    if status == "succeeded":
        value = result(snap["id"])
        console.print(f"[green]succeeded[/green] job {snap['id']}")
        console.print_json(data=value)
        return
    if status == "failed":
        error = snap["error"] or {"code": "?", "message": ""}
        err.print(
            f"[red]failed[/red] job {snap['id']}: "
            + escape(f"[{error['code']}] {error['message']}")
        )
        raise typer.Exit(1)
    err.print(f"[yellow]{status}[/yellow] job {snap['id']}")
    raise typer.Exit(130 if status == "cancelled" else 1)


def _client(url: str, token: str | None) -> Client:
    try:
        return Client(url, token)
    except JobwireError as exc:
        raise typer.BadParameter(exc.message, param_hint="--url") from None


def _unreachable(url: str, exc: httpx.HTTPError) -> typer.Exit:
    err.print(f"[red]error[/red] cannot reach the jobwire server at {escape(url)}: {exc}")
    return typer.Exit(2)


# -- commands -------------------------------------------------------------------------------


UrlOption = Annotated[
    str | None,
    typer.Option(
        "--url", help="A jobwire server (http://host:port): go through its HTTP API instead."
    ),
]
TokenOption = Annotated[
    str | None,
    typer.Option(
        "--token", envvar="JOBWIRE_TOKEN", help="API key or JWT for --url.", show_default=False
    ),
]


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
    _setup_logging(logging.WARNING)
    if target is None:
        raise typer.BadParameter("Expected MODULE:APP TASK, or --url URL TASK")
    args = _parse_args(arg, json_args)
    if url is not None:
        if task is not None:
            raise typer.BadParameter(
                f"With --url, give only TASK (the server knows its tasks), but got {target!r} "
                f"and {task!r}"
            )
        if owner is not None:
            raise typer.BadParameter("With --url the server sets the owner from --token")
        _run_remote(_client(url, token), target, args)
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
        raise _fail(exc) from None
    finally:
        app.stop(grace=2.0)
    _finish(snap, _stored_result(app))


def _run_remote(client: Client, task: str, args: dict[str, Any]) -> None:
    with client:
        try:
            job = client.submit(task, args)
            if not job.created:
                err.print(f"[yellow]{job.outcome}[/yellow]: following existing job {job.id}")
            else:
                err.print(f"job {job.id} submitted to {client.url}")
            snap = follow_remote(client, job.id)
            _finish(snap, client.result)
        except JobwireError as exc:
            raise _fail(exc) from None
        except httpx.HTTPError as exc:
            raise _unreachable(client.url, exc) from None


@cli.command()
def demo(
    documents: Annotated[int, typer.Option(help="How many documents to analyse")] = 300,
    database: DatabaseOption = None,
) -> None:
    """Run a built-in example job and draw its live progress bar."""
    from .demo import register

    _setup_logging(logging.WARNING)
    app = App(database)
    register(app)
    console.print(f"[bold]jobwire demo[/bold] · database {app.settings.database_url}")
    with app:
        job = app.submit("demo.analyse", {"documents_count": documents})
        snap = follow(app, job.id)
    _finish(snap, _stored_result(app))
    console.print(
        f"Next: [bold]jobwire jobs[/bold] lists it, [bold]jobwire show {job.id}[/bold] shows it."
    )


@cli.command("worker")
def worker_cmd(
    target: Annotated[str, typer.Argument(help="MODULE:APP")],
    concurrency: Annotated[int | None, typer.Option("--concurrency", "-c")] = None,
    executor: Annotated[str | None, typer.Option(help="threads, processes or celery")] = None,
    grace: Annotated[float, typer.Option(help="Seconds running jobs get at shutdown")] = 10.0,
    pool: Annotated[
        str, typer.Option(help="Celery only: the worker pool (prefork, threads or solo)")
    ] = "prefork",
) -> None:
    """Run workers only, until SIGINT or SIGTERM (running jobs get --grace seconds).

    With executor=celery (JOBWIRE_EXECUTOR=celery) this is a Celery worker that runs the
    app's jobs from JOBWIRE_CELERY_BROKER_URL; SIGTERM lets running jobs finish first."""
    _setup_logging()
    app = load_app(target)
    if executor is not None:
        app.settings.executor = executor  # type: ignore[assignment]
    if app.uses_celery:
        from .executors.celery import run_worker

        if pool not in ("prefork", "threads", "solo"):
            raise typer.BadParameter(f"Expected prefork, threads or solo, but got {pool!r}")
        err.print(
            f"celery worker: {concurrency or app.settings.workers} {pool}, "
            f"queue {app.settings.celery_queue!r}, tasks: {', '.join(sorted(app.tasks))}"
        )
        try:
            run_worker(app, concurrency=concurrency or app.settings.workers, pool=pool)
        except JobwireError as exc:
            raise _fail(exc) from exc
        return
    stop = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        if stop.is_set():
            err.print("[red]second signal: exiting now[/red]")
            os._exit(1)
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    worker = app.start(workers=concurrency, executor=executor)
    err.print(
        f"worker {worker.id}: {worker.concurrency} {worker.executor.kind}, "
        f"tasks: {', '.join(sorted(app.tasks))}"
    )
    while not stop.wait(0.5):
        pass
    err.print(f"stopping (grace {grace:g} s)…")
    app.stop(grace=grace)


@cli.command()
def jobs(
    app_target: AppOption = None,
    database: DatabaseOption = None,
    status: Annotated[list[str], typer.Option(help="Filter by status")] = [],  # noqa: B006
    task: Annotated[str | None, typer.Option(help="Filter by task")] = None,
    owner: Annotated[str | None, typer.Option(help="Filter by owner")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
    url: UrlOption = None,
    token: TokenOption = None,
) -> None:
    """List jobs, newest first: from the database, or from a server with --url (which shows
    the token's own jobs; an admin's token sees all and may filter by --owner)."""
    try:
        if url is not None:
            if app_target is not None:
                raise typer.BadParameter("Give --url or --app, not both")
            with _client(url, token) as client:
                try:
                    found, next_cursor = client.list(
                        status=status or None, task=task, owner=owner, limit=limit
                    )
                except httpx.HTTPError as exc:
                    raise _unreachable(url, exc) from None
            snaps = [j.snapshot for j in found]
        else:
            page = _app_for(app_target, database).list(
                status=status or None, task=task, owner=owner, limit=limit
            )
            snaps, next_cursor = [snapshot(j) for j in page.jobs], page.next_cursor
    except (JobwireError, ValueError) as exc:
        err.print(f"[red]error[/red] {escape(str(exc))}")
        raise typer.Exit(2) from None
    if as_json:
        console.print_json(data={"jobs": snaps, "next_cursor": next_cursor})
        return
    table = Table("task", "status", "progress", "step", "owner", "created", "id")
    for s in snaps:
        counts = f"{s['current']}/{s['total']}" if s["total"] is not None else str(s["current"])
        if s["percent"] is not None:
            counts += f" ({s['percent']:g}%)"
        table.add_row(
            s["task"],
            s["status"],
            counts,
            s["step"] or "",
            s["owner"],
            (s["created_at"] or "")[:19].replace("T", " "),
            s["id"],
        )
    console.print(table)


@cli.command()
def show(
    job_id: str,
    app_target: AppOption = None,
    database: DatabaseOption = None,
) -> None:
    """Show one job's snapshot (and its result when it succeeded)."""
    app = _app_for(app_target, database)
    try:
        job = app.get(job_id)
    except JobwireError as exc:
        raise _fail(exc) from None
    data: dict[str, Any] = dict(job.snapshot)
    if job.status.value == "succeeded":
        text = app.store.result(job.id)
        data["result"] = loads(text) if text is not None else None
    console.print_json(data=data)


@cli.command()
def cancel(
    job_id: str,
    app_target: AppOption = None,
    database: DatabaseOption = None,
) -> None:
    """Cancel a job: a queued one at once, a running one at its next progress call."""
    app = _app_for(app_target, database)
    try:
        job = app.cancel(job_id)
    except JobwireError as exc:
        raise _fail(exc) from None
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


LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")


@cli.command()
def serve(
    target: Annotated[
        str | None, typer.Argument(help="MODULE:APP (optional with --examples)")
    ] = None,
    examples: Annotated[
        bool,
        typer.Option(
            help="Register the example tasks and their pages (tickets classification, demo)"
        ),
    ] = False,
    host: Annotated[str, typer.Option(help="Address to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port")] = 8000,
    workers: Annotated[
        int | None,
        typer.Option(
            min=0,
            help="Worker threads in this process (default: JOBWIRE_WORKERS); 0 serves only, "
            "when `jobwire worker` processes run the jobs",
        ),
    ] = None,
    no_workers: Annotated[
        bool, typer.Option("--no-workers", help="Serve only: the same as --workers 0")
    ] = False,
    insecure: Annotated[
        bool, typer.Option(help="Allow auth=none on a non-loopback address")
    ] = False,
    allow_host: Annotated[
        list[str],
        typer.Option(
            help="Also answer to this Host name (`*.example.com`: its subdomains); repeatable, "
            "added to JOBWIRE_ALLOWED_HOSTS"
        ),
    ] = [],  # noqa: B006
    cors_origin: Annotated[
        list[str],
        typer.Option(
            help="Serve a front end from this origin (https://app.example.com): CORS headers, "
            "and its pages may open the streams; repeatable, added to JOBWIRE_CORS_ORIGINS"
        ),
    ] = [],  # noqa: B006
    log_level: Annotated[str, typer.Option(help="uvicorn log level")] = "info",
) -> None:
    """Serve the HTTP API, the streams and the JS client (with the workers, by default)."""
    import uvicorn

    from .server import create_app

    _setup_logging()
    if target is None and not examples:
        raise typer.BadParameter("Give MODULE:APP, or --examples to run the examples")
    app = load_app(target) if target is not None else App()
    pages: dict[str, Any] = {}
    if examples:
        from .examples import register as register_examples

        pages = register_examples(app)
    if app.settings.auth == "none" and host not in LOOPBACK and not insecure:
        err.print(
            f"[red]refusing to serve without authentication on {host}[/red]: anyone who can "
            "reach it could read and cancel every job. Set JOBWIRE_AUTH=token (and create "
            "keys with `jobwire keys create`), bind to 127.0.0.1, or pass --insecure."
        )
        raise typer.Exit(2)
    _allow_cross_site(app, host, allow_host, cors_origin)
    if no_workers:
        workers = 0
    elif workers:
        app.settings = app.settings.model_copy(update={"workers": workers})
    api = create_app(app, workers=workers != 0, pages=pages)
    shown = f"[{host}]" if ":" in host and not host.startswith("[") else host
    err.print(f"jobwire serving {len(app.tasks)} task(s) · database {app.settings.database_url}")
    console.print(f"Dashboard: [bold]http://{shown}:{port}/[/bold]", highlight=False)
    for path in pages:
        console.print(f"Example:   http://{shown}:{port}{path}", highlight=False)
    console.print(f"API docs:  http://{shown}:{port}/docs", highlight=False)
    uvicorn.run(
        api,
        host=host,
        port=port,
        log_level=log_level,
        ws_ping_interval=None,
        timeout_graceful_shutdown=10,
    )


def _allow_cross_site(app: App, host: str, hosts: list[str], origins: list[str]) -> None:
    """Add ``--allow-host`` and ``--cors-origin`` to the settings' lists. Without
    authentication, a specific address given to ``--host`` is a name the server answers to."""
    from pydantic import ValidationError

    settings = app.settings
    hosts = [*settings.allowed_hosts, *hosts]
    if settings.auth == "none" and host not in (*LOOPBACK, "0.0.0.0", "::", ""):
        hosts.append(host)
    elif settings.auth == "none" and host in ("0.0.0.0", "::"):
        err.print(
            "Without authentication only loopback host names and --allow-host names are "
            "answered: add the names clients use to reach this server with --allow-host."
        )
    if hosts == settings.allowed_hosts and not origins:
        return
    update = {"allowed_hosts": hosts, "cors_origins": [*settings.cors_origins, *origins]}
    try:
        app.settings = type(settings).model_validate({**settings.model_dump(), **update})
    except ValidationError as exc:
        raise typer.BadParameter("; ".join(e["msg"] for e in exc.errors())) from None


@keys_cli.command("create")
def keys_create(
    user: Annotated[str, typer.Option(help="The user the key acts as")],
    role: Annotated[list[str], typer.Option(help="A role, e.g. admin")] = [],  # noqa: B006
    team: Annotated[list[str], typer.Option(help="A team the user belongs to")] = [],  # noqa: B006
    database: DatabaseOption = None,
) -> None:
    """Create an API key (printed once; only its hash is stored)."""
    store = _sql_store(database)
    key_id, secret = store.create_key(user, roles=role, teams=team)
    err.print(f"key {key_id} for {user!r}" + (f" (roles: {', '.join(role)})" if role else ""))
    console.print(secret, highlight=False)


@keys_cli.command("list")
def keys_list(database: DatabaseOption = None) -> None:
    """List API keys (never their secrets)."""
    table = Table("id", "user", "roles", "teams", "created", "revoked")
    from .snapshot import iso

    for key, created, revoked in _sql_store(database).list_keys():
        table.add_row(
            key.id,
            key.user,
            ",".join(key.roles),
            ",".join(key.teams),
            (iso(created) or "")[:19],
            (iso(revoked) or "")[:19],
        )
    console.print(table)


@keys_cli.command("revoke")
def keys_revoke(key_id: str, database: DatabaseOption = None) -> None:
    """Revoke an API key."""
    if not _sql_store(database).revoke_key(key_id):
        err.print(f"[red]error[/red] no live key {key_id!r}")
        raise typer.Exit(2)
    console.print(f"revoked {key_id}")


def _sql_store(database: str | None) -> Any:
    from .store.sql import SQLStore

    return SQLStore(App(database).settings.database_url)


@db_cli.command("upgrade")
def db_upgrade(database: DatabaseOption = None) -> None:
    """Create or migrate jobwire's tables."""
    from .store.migrate import pending
    from .store.sql import SQLStore

    store = SQLStore(App(database).settings.database_url)
    todo = pending(store._writer)
    if not todo:
        console.print("database is up to date")
        return
    with Progress(
        TextColumn("migrating"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} {task.fields[rev]}"),
        console=console,
    ) as bar:
        t = bar.add_task("", total=len(todo), rev="")

        def on_apply(rev: str, doc: str) -> None:
            bar.update(t, advance=1, rev=f"{rev} {doc}")

        applied = store.upgrade(on_apply=on_apply)
    console.print(f"applied {len(applied)} migration(s): {', '.join(applied)}")
    store.close()
