"""Commands on what jobs produce: ``export`` (a succeeded job as JSON, CSV or ZIP) and
``files`` (the files a job saved: a table, or one of them with ``--get``). From the database
(``--app``/``--database``) or from a server (``--url``/``--token``); a large download of
known size draws a Rich bar (bytes, speed, time left) on the terminal."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, BinaryIO, cast

import typer
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from ..errors import JobwireError
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
from .common import fail as fail_with

if TYPE_CHECKING:
    from ..app import App
    from ..client.download import ExportFormat

#: Downloads larger than this (and of known size) draw a progress bar.
BAR_BYTES = 1_000_000
FORMATS = ("json", "csv", "zip")

OutputOption = Annotated[
    str | None,
    typer.Option(
        "--output",
        "-o",
        help="Where to write it: a file, a directory, or - for stdout. Default: its own name "
        "({task}-{id}.{ext}, or the file's name) in the current directory.",
        show_default=False,
    ),
]


@dataclass
class Source:
    """Bytes to save: their name, their size when known, and the chunks (read once)."""

    filename: str
    total: int | None
    chunks: Iterable[bytes]


# -- the commands ------------------------------------------------------------------------


@cli.command()
def export(
    job_id: Annotated[str, typer.Argument(help="The job's id")],
    format: Annotated[
        str, typer.Option("--format", "-f", help="json, csv or zip (the result and its files)")
    ] = "json",
    output: OutputOption = None,
    app_target: AppOption = None,
    database: DatabaseOption = None,
    url: UrlOption = None,
    token: TokenOption = None,
) -> None:
    """Download a succeeded job as JSON, CSV or ZIP: `jobwire export ID --format csv -o
    out.csv`. Prints the path written. Exit codes: 0 saved, 2 not possible (unknown job,
    not succeeded, no CSV for this task, unknown format)."""
    if format not in FORMATS:
        raise typer.BadParameter(f"Expected one of {', '.join(FORMATS)}, but got {format!r}")
    with _failures(url):
        if url is not None:
            _no_app(app_target)
            chosen = cast("ExportFormat", format)
            with remote(url, token) as client, client.open_download(job_id, chosen) as d:
                _save(Source(d.filename, d.total, d.iter_bytes()), output)
        else:
            app = app_for(app_target, database)
            try:
                _save(_local_export(app, job_id, format), output)
            finally:
                app.close()


@cli.command()
def files(
    job_id: Annotated[str, typer.Argument(help="The job's id")],
    get: Annotated[
        str | None,
        typer.Option("--get", metavar="NAME", help="Download this file instead of listing"),
    ] = None,
    output: OutputOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the list as JSON")] = False,
    app_target: AppOption = None,
    database: DatabaseOption = None,
    url: UrlOption = None,
    token: TokenOption = None,
) -> None:
    """List the files a job saved (name, size, type, the start of its SHA-256; --json for
    everything), or download one with `--get NAME [-o PATH]`."""
    with _failures(url):
        if url is not None:
            _no_app(app_target)
            with remote(url, token) as client:
                if get is None:
                    _list(client.files(job_id), as_json)
                    return
                with client.open_download(job_id, file=get) as d:
                    _save(Source(d.filename, d.total, d.iter_bytes()), output)
            return
        app = app_for(app_target, database)
        try:
            if get is None:
                _list([info.entry() for info in app.files(job_id)], as_json)
                return
            info, chunks = app.open_file(job_id, get)
            _save(Source(info.name, info.size, chunks), output)
        finally:
            app.close()


# -- reading -----------------------------------------------------------------------------


def _local_export(app: App, job_id: str, format: str) -> Source:
    made = app.export(job_id, format)
    return Source(made.filename, made.size, made.chunks)


def _no_app(app_target: str | None) -> None:
    if app_target is not None:
        raise typer.BadParameter("Give --url or --app, not both")


@contextlib.contextmanager
def _failures(url: str | None) -> Iterator[None]:
    """A jobwire error, an output that cannot be written, or (with ``--url``) a server
    that cannot be reached ends the command with code 2."""
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
        raise fail_with(exc) from None
    except OSError as exc:
        err.print(f"[red]error[/red] {escape(str(exc))}")
        raise typer.Exit(2) from None


# -- writing -----------------------------------------------------------------------------


def _save(source: Source, output: str | None) -> None:
    """Write ``source`` to ``output`` (see ``--output``), through a bar when it is large."""
    chunks = _with_bar(source)
    if output == "-":
        out = sys.stdout.buffer
        for chunk in chunks:
            out.write(chunk)
        out.flush()
        return
    dest = Path(output) if output else Path.cwd()
    if dest.is_dir():
        dest = dest / source.filename
    size = _write_atomically(dest, chunks)
    err.print(f"saved {escape(str(dest))} ({human_size(size)})", highlight=False)
    console.print(str(dest), highlight=False, soft_wrap=True)


def _write_atomically(dest: Path, chunks: Iterable[bytes]) -> int:
    """Write to a temporary file beside ``dest``, renamed when complete: a failed download
    leaves nothing behind and never half-overwrites a file."""
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    size = 0
    try:
        with os.fdopen(fd, "wb") as out:
            size = _copy(chunks, out)
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return size


def _copy(chunks: Iterable[bytes], out: BinaryIO) -> int:
    size = 0
    for chunk in chunks:
        out.write(chunk)
        size += len(chunk)
    return size


def _with_bar(source: Source) -> Iterator[bytes]:
    """The chunks, drawing a bar on stderr's terminal while they pass when the size is
    known and over :data:`BAR_BYTES`."""
    if source.total is None or source.total <= BAR_BYTES or not err.is_terminal:
        yield from source.chunks
        return
    with transfer_bar() as bar:
        task = bar.add_task(source.filename, total=source.total)
        for chunk in source.chunks:
            bar.advance(task, len(chunk))
            yield chunk


def transfer_bar() -> Progress:
    """Name, bar, bytes done/total, speed and time left, on stderr."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=err,
    )


# -- listing -----------------------------------------------------------------------------


def _list(entries: Sequence[Mapping[str, Any]], as_json: bool) -> None:
    if as_json:
        console.print_json(data={"files": entries})
        return
    if not entries:
        err.print("no files")
        return
    table = Table()
    table.add_column("name", overflow="fold", min_width=12)
    table.add_column("size", justify="right", no_wrap=True)
    table.add_column("type", overflow="ellipsis", no_wrap=True, max_width=28)
    table.add_column("sha256", no_wrap=True)
    for entry in entries:
        table.add_row(
            escape(str(entry["name"])),
            human_size(int(entry["size"])),
            str(entry["content_type"]),
            str(entry["sha256"])[:12],
        )
    console.print(table)


def human_size(size: int) -> str:
    """``512 B``, ``1.5 kB``, ``200 MB``: decimal units, as the dashboard shows them."""
    value, unit = float(size), "B"
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if value < 999.5 or unit == "TB":
            break
        value /= 1000
    if unit == "B":
        return f"{size} B"
    return f"{value:.1f} {unit}".replace(".0 ", " ") if value < 10 else f"{value:.0f} {unit}"
