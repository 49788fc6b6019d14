"""What every command shares: the Typer apps, the consoles, the common options, and loading
the user's App."""

from __future__ import annotations

import importlib
import json
import logging
import os
import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.markup import escape

from ..app import App
from ..errors import JobwireError

if TYPE_CHECKING:
    import httpx

    from ..client import Client

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


def setup_logging(level: int = logging.INFO) -> None:
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


def app_for(app_target: str | None, database: str | None) -> App:
    """The App of ``--app``, else one on ``--database`` (or the configured database)."""
    if app_target:
        return load_app(app_target)
    return App(database)


def remote(url: str, token: str | None) -> Client:
    """The client of ``--url``/``--token`` (imported only then); a bad URL is bad input."""
    from ..client import Client

    try:
        return Client(url, token)
    except JobwireError as exc:
        raise typer.BadParameter(exc.message, param_hint="--url") from None


def unreachable(url: str, exc: httpx.HTTPError) -> typer.Exit:
    """Say that the server of ``--url`` cannot be reached; the exit (code 2) to raise."""
    err.print(f"[red]error[/red] cannot reach the jobwire server at {escape(url)}: {exc}")
    return typer.Exit(2)


def fail(exc: JobwireError) -> typer.Exit:
    """Print a jobwire error; the exit (code 2) to raise."""
    err.print(f"[red]error[/red] {escape(exc.message)}")
    return typer.Exit(2)


def parse_args(pairs: list[str], json_args: str | None) -> dict[str, Any]:
    """A task's arguments from ``--json`` and the ``--arg key=value`` pairs."""
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
