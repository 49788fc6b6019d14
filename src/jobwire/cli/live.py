"""Drawing a job live: a Rich bar on a terminal, one line per change otherwise; Ctrl-C
cancels the job; then the result or the error, with the exit code."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn

from ..errors import JobwireError
from ..snapshot import Snapshot, format_seconds, loads
from .common import console, err

if TYPE_CHECKING:
    from ..app import App
    from ..client import Client


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


def stored_result(app: App) -> Callable[[str], Any]:
    """Reads a job's result from the app's store (for :func:`finish`)."""

    def read(job_id: str) -> Any:
        text = app.store.result(job_id)
        return loads(text) if text is not None else None

    return read


def finish(snap: Snapshot, result: Callable[[str], Any]) -> None:
    """Print how the job ended (the result when it succeeded); exit 1 when it failed, 130
    when it was cancelled."""
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
