"""Administration: ``keys create|list|revoke`` (API keys, through the store's key part) and
``db upgrade`` (the schema's migrations, with a bar)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn
from rich.table import Table

from ..app import App
from ..snapshot import iso
from .common import DatabaseOption, console, db_cli, err, keys_cli

if TYPE_CHECKING:
    from ..store import Store


def _store(database: str | None) -> Store:
    """The store of ``--database`` (else JOBWIRE_DATABASE_URL, jobwire.toml or the default)."""
    from ..store import open_store

    return open_store(App(database).settings.database_url)


@keys_cli.command("create")
def keys_create(
    user: Annotated[str, typer.Option(help="The user the key acts as")],
    role: Annotated[list[str], typer.Option(help="A role, e.g. admin")] = [],  # noqa: B006
    team: Annotated[list[str], typer.Option(help="A team the user belongs to")] = [],  # noqa: B006
    database: DatabaseOption = None,
) -> None:
    """Create an API key (printed once; only its hash is stored)."""
    store = _store(database)
    try:
        key_id, secret = store.keys.create_key(user, roles=role, teams=team)
    finally:
        store.close()
    err.print(f"key {key_id} for {user!r}" + (f" (roles: {', '.join(role)})" if role else ""))
    console.print(secret, highlight=False)


@keys_cli.command("list")
def keys_list(database: DatabaseOption = None) -> None:
    """List API keys (never their secrets)."""
    store = _store(database)
    try:
        keys = store.keys.list_keys()
    finally:
        store.close()
    table = Table("id", "user", "roles", "teams", "created", "revoked")
    for key, created, revoked in keys:
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
    store = _store(database)
    try:
        revoked = store.keys.revoke_key(key_id)
    finally:
        store.close()
    if not revoked:
        err.print(f"[red]error[/red] no live key {key_id!r}")
        raise typer.Exit(2)
    console.print(f"revoked {key_id}")


@db_cli.command("upgrade")
def db_upgrade(database: DatabaseOption = None) -> None:
    """Create or migrate jobwire's tables."""
    from ..store.sql import SQLStore

    store = SQLStore(App(database).settings.database_url)
    todo = store.pending()
    if not todo:
        console.print("database is up to date")
        store.close()
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
