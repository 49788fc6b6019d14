"""The long-running commands: ``serve`` (the HTTP API, streams and dashboard, with workers
by default) and ``worker`` (workers only: threads, processes or a Celery worker)."""

from __future__ import annotations

import os
import signal
import threading
from typing import Annotated, Any

import typer

from ..app import App
from ..errors import JobwireError
from .common import cli, console, err, fail, load_app, setup_logging

LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")


@cli.command()
def serve(
    target: Annotated[
        str | None, typer.Argument(help="MODULE:APP (optional with --examples)")
    ] = None,
    examples: Annotated[
        bool,
        typer.Option(
            help="Register the example tasks and their pages (tickets classification, code "
            "analysis, video generation with a simulated provider, demo)"
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

    from ..server import create_app

    setup_logging()
    if target is None and not examples:
        raise typer.BadParameter("Give MODULE:APP, or --examples to run the examples")
    app = load_app(target) if target is not None else App()
    pages: dict[str, Any] = {}
    if examples:
        from ..examples import register as register_examples

        # The video example's provider calls back here (0.0.0.0 and :: listen on loopback too).
        reach = "127.0.0.1" if host in ("0.0.0.0", "::", "") else shown_host(host)
        pages = register_examples(app, public_url=f"http://{reach}:{port}")
    if app.settings.auth == "none" and host not in LOOPBACK and not insecure:
        err.print(
            f"[red]refusing to serve without authentication on {host}[/red]: anyone who can "
            "reach it could read and cancel every job. Set JOBWIRE_AUTH=token (and create "
            "keys with `jobwire keys create`), bind to 127.0.0.1, or pass --insecure."
        )
        raise typer.Exit(2)
    allow_cross_site(app, host, allow_host, cors_origin)
    if no_workers:
        workers = 0
    elif workers:
        app.settings = app.settings.model_copy(update={"workers": workers})
    api = create_app(app, workers=workers != 0, pages=pages)
    if examples:
        from ..examples import routes as example_routes

        api.router.routes.extend(example_routes(app))
    shown = shown_host(host)
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


def shown_host(host: str) -> str:
    """``host`` as written in a URL (an IPv6 address in brackets)."""
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def allow_cross_site(app: App, host: str, hosts: list[str], origins: list[str]) -> None:
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
    setup_logging()
    app = load_app(target)
    if executor is not None:
        app.settings.executor = executor  # type: ignore[assignment]
    if app.settings.executor == "celery":
        from ..executors.celery import CeleryExecutor

        if pool not in ("prefork", "threads", "solo"):
            raise typer.BadParameter(f"Expected prefork, threads or solo, but got {pool!r}")
        if concurrency:
            app.settings.workers = concurrency
        err.print(
            f"celery worker: {app.settings.workers} {pool}, "
            f"queue {app.settings.celery_queue!r}, tasks: {', '.join(sorted(app.tasks))}"
        )
        try:
            celery = app.executor
            assert isinstance(celery, CeleryExecutor)
            celery.run_worker(pool=pool)
        except JobwireError as exc:
            raise fail(exc) from exc
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
