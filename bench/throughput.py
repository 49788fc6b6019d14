"""Embedded no-op job throughput: jobwire next to Huey's SqliteHuey.

Run it from the repository root::

    python bench/throughput.py                 # 10,000 jobs, 1 repeat
    python bench/throughput.py --jobs 2000 --repeat 3

For each system, in the same process and each repeat on a fresh SQLite file in a temp dir:

1. **submit**: enqueue ``--jobs`` no-op jobs one by one from the main thread (no worker
   running yet);
2. **drain**: start 2 worker threads in-process and wait until every job has a result,
   polling every 50 ms from the main thread; the clock stops at the first poll that sees
   them all.

``overall = jobs / (submit seconds + drain seconds)``. The best repeat (highest overall rate)
of each system is kept.

jobwire: ``App(f"sqlite:///{tmp}/bench.db", workers=2)``, a task that calls
``progress.update(1, total=1)`` (so progress reporting is on) and returns True;
``task.submit()``, then ``app.start()``; completion is polled with ``app.store.counts()``.

Huey: ``SqliteHuey`` with a task that returns True (so that it stores a result);
``task()`` to enqueue, then huey's own ``Consumer(huey, workers=2, worker_type="thread")``
started in-process (``consumer.start()``, the same threads ``huey_consumer -k thread -w 2``
runs, minus a second interpreter); completion is polled with
``huey.storage.result_store_size()``. In-process threads are what jobwire's embedded mode
uses too, so both pay the same GIL and the same polling thread; a ``huey_consumer``
subprocess would get a second GIL that jobwire does not get.

Durability: jobwire opens SQLite with ``journal_mode=WAL, synchronous=NORMAL``. Huey's
default is WAL with SQLite's default ``synchronous=FULL`` (an fsync at every commit), which is
several times slower on a real disk. The benchmark therefore runs Huey twice by default:
``huey`` with ``synchronous=NORMAL`` (the same durability as jobwire: the fair row, used for
the target) and ``huey-default`` as it comes out of the box. ``--huey`` picks one of them.

The project's target: jobwire's overall rate at least 2x Huey's.

The progress display is refreshed by hand (no refresh thread) at most every 0.1 s during the
submit loop and at each 50 ms poll. Results go to ``bench/results/throughput.json``.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import signal
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from common import busy_warning, environment, progress_bar, write_result
from huey import SqliteHuey
from huey.consumer import Consumer
from huey.storage import SqliteStorage
from rich.console import Console
from rich.table import Table

from jobwire import App, Progress

RESULTS = Path(__file__).resolve().parent / "results"
TARGET_RATIO = 2.0  # jobwire overall rate >= 2 x Huey's
POLL = 0.05  # seconds between completion checks
UI_EVERY = 0.1  # seconds between progress display refreshes while submitting


# -- the no-op tasks -----------------------------------------------------------------------


def jobwire_noop(progress: Progress) -> bool:
    progress.update(1, total=1)
    return True


def huey_noop() -> bool:
    return True


# -- Huey with the same durability as jobwire -----------------------------------------------


class NormalSyncSqliteStorage(SqliteStorage):
    """Huey's SQLite storage with ``synchronous=NORMAL``, the setting jobwire uses."""

    def _create_connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection = super()._create_connection()
        conn.execute("pragma synchronous=NORMAL")
        return conn


class NormalSyncSqliteHuey(SqliteHuey):
    storage_class = NormalSyncSqliteStorage


#: SQLite ``synchronous`` setting of each system (all use WAL).
SYNC = {"jobwire": "NORMAL", "huey": "NORMAL", "huey-default": "FULL"}

HUEY_VARIANTS: dict[str, tuple[type[SqliteHuey], str]] = {
    "huey": (NormalSyncSqliteHuey, "SqliteHuey, WAL + synchronous=NORMAL (as jobwire)"),
    "huey-default": (SqliteHuey, "SqliteHuey defaults: WAL + synchronous=FULL"),
}


# -- one run of each system ----------------------------------------------------------------

Phase = Callable[[str, int, int], None]  # ui(description, completed, total)


@contextmanager
def temp_dir(keep: bool) -> Iterator[str]:
    path = tempfile.mkdtemp(prefix="jobwire-bench-")
    try:
        yield path
    finally:
        if not keep:
            shutil.rmtree(path, ignore_errors=True)


def run_jobwire(n: int, workers: int, ui: Phase, keep: bool) -> dict[str, Any]:
    with temp_dir(keep) as tmp:
        app = App(f"sqlite:///{tmp}/bench.db", workers=workers)
        noop = app.task(name="noop")(jobwire_noop)
        app.store.upgrade()  # create the schema before the clock starts
        try:
            next_ui = 0.0
            t0 = time.perf_counter()
            for i in range(n):
                noop.submit()
                now = time.perf_counter()
                if now >= next_ui:
                    next_ui = now + UI_EVERY
                    ui("submit", i + 1, n)
            submit_s = time.perf_counter() - t0
            ui("submit", n, n)

            t1 = time.perf_counter()
            app.start()
            counts = app.store.counts()
            while True:
                done = counts["succeeded"] + counts["failed"] + counts["cancelled"]
                if done >= n:
                    break
                ui("drain", done, n)
                time.sleep(POLL)
                counts = app.store.counts()
            drain_s = time.perf_counter() - t1
            ui("drain", n, n)
        finally:
            app.stop()
            app.close()
    if counts["succeeded"] != n:
        raise RuntimeError(f"jobwire: expected {n} succeeded jobs, got {counts}")
    return {"submit_seconds": submit_s, "drain_seconds": drain_s, "final_counts": counts}


def run_huey(
    n: int, workers: int, ui: Phase, keep: bool, huey_cls: type[SqliteHuey]
) -> dict[str, Any]:
    with temp_dir(keep) as tmp:
        huey = huey_cls(name="bench", filename=f"{tmp}/huey.db")
        noop = huey.task()(huey_noop)
        next_ui = 0.0
        t0 = time.perf_counter()
        for i in range(n):
            noop()
            now = time.perf_counter()
            if now >= next_ui:
                next_ui = now + UI_EVERY
                ui("submit", i + 1, n)
        submit_s = time.perf_counter() - t0
        ui("submit", n, n)

        # Consumer.start() installs signal handlers; put ours back afterwards.
        saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
        t1 = time.perf_counter()
        consumer = Consumer(huey, workers=workers, worker_type="thread", periodic=False)
        consumer.start()
        try:
            done = huey.storage.result_store_size()
            while done < n:
                ui("drain", done, n)
                time.sleep(POLL)
                done = huey.storage.result_store_size()
            drain_s = time.perf_counter() - t1
            ui("drain", n, n)
        finally:
            consumer.stop(graceful=True)
            for s, handler in saved.items():
                signal.signal(s, handler)
        left = huey.storage.queue_size()
        huey.storage.close()
    if done != n or left:
        raise RuntimeError(f"huey: expected {n} results and an empty queue, got {done}, {left}")
    return {"submit_seconds": submit_s, "drain_seconds": drain_s, "results": done}


def rates(n: int, run: dict[str, Any]) -> dict[str, Any]:
    s, d = run["submit_seconds"], run["drain_seconds"]
    return {
        **run,
        "submit_rate": n / s,
        "drain_rate": n / d,
        "overall_rate": n / (s + d),
    }


# -- reporting -----------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Embedded no-op job throughput: jobwire vs Huey (SqliteHuey)."
    )
    parser.add_argument(
        "-j", "--jobs", type=int, default=10_000, help="jobs per run (default: 10,000)"
    )
    parser.add_argument(
        "-r",
        "--repeat",
        type=int,
        default=1,
        help="runs per system; the best overall rate is kept (default: 1)",
    )
    parser.add_argument(
        "-w", "--workers", type=int, default=2, help="worker threads per system (default: 2)"
    )
    parser.add_argument(
        "--huey",
        choices=["both", "normal", "default"],
        default="both",
        help="Huey durability: 'normal' = synchronous=NORMAL like jobwire (the target's "
        "baseline), 'default' = out of the box (synchronous=FULL), 'both' (default)",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the temp databases (for inspection)"
    )
    parser.add_argument(
        "-o",
        "--output",
        type=Path,
        default=RESULTS / "throughput.json",
        help="JSON result file (default: bench/results/throughput.json)",
    )
    args = parser.parse_args(argv)
    if args.jobs < 1 or args.repeat < 1 or args.workers < 1:
        parser.error("--jobs, --repeat and --workers must be >= 1")
    logging.getLogger("huey").setLevel(logging.WARNING)

    n, repeats, workers = args.jobs, args.repeat, args.workers
    hueys = {"both": ["huey", "huey-default"], "normal": ["huey"], "default": ["huey-default"]}
    systems: list[tuple[str, str, Callable[[Phase], dict[str, Any]]]] = [
        (
            "jobwire",
            "App(sqlite, workers=2): WAL + synchronous=NORMAL",
            lambda ui: run_jobwire(n, workers, ui, args.keep),
        )
    ]
    for name in hueys[args.huey]:
        cls, label = HUEY_VARIANTS[name]
        systems.append((name, label, lambda ui, cls=cls: run_huey(n, workers, ui, args.keep, cls)))

    console = Console()
    console.print(
        f"[bold]throughput[/]: {n:,} no-op jobs, {workers} worker threads, "
        f"{repeats} repeat(s), temp dir {tempfile.gettempdir()}"
    )
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name, _, _ in systems}
    load_before = busy_warning(console)
    started = time.perf_counter()
    with progress_bar(console) as progress_ui:
        for r in range(repeats):
            for name, _label, run in systems:
                prefix = f"{name} (run {r + 1}/{repeats})"
                task = progress_ui.add_task(f"{prefix} submit", total=n)

                def ui(
                    phase: str, completed: int, total: int, task: Any = task, prefix: str = prefix
                ) -> None:
                    progress_ui.update(
                        task, description=f"{prefix} {phase}", completed=completed, total=total
                    )
                    progress_ui.refresh()

                runs[name].append(rates(n, run(ui)))
                progress_ui.remove_task(task)
                best = runs[name][-1]
                console.print(
                    f"  {prefix}: submit {best['submit_seconds']:.2f} s, "
                    f"drain {best['drain_seconds']:.2f} s, "
                    f"overall {best['overall_rate']:,.0f} jobs/s"
                )
    wall = time.perf_counter() - started

    best = {name: max(rs, key=lambda x: x["overall_rate"]) for name, rs in runs.items()}
    table = Table(
        title=f"{n:,} no-op jobs, {workers} worker threads, best of {repeats}",
        caption="overall = jobs / (submit s + drain s); each system's best run",
    )
    table.add_column("system", no_wrap=True)
    table.add_column("sqlite sync")
    for col in ("submit jobs/s", "drain jobs/s", "overall jobs/s", "jobwire / this"):
        table.add_column(col, justify="right")
    jw = best["jobwire"]["overall_rate"]
    for name, _label, _ in systems:
        b = best[name]
        table.add_row(
            name,
            SYNC[name],
            f"{b['submit_rate']:,.0f}",
            f"{b['drain_rate']:,.0f}",
            f"{b['overall_rate']:,.0f}",
            "-" if name == "jobwire" else f"{jw / b['overall_rate']:.2f}x",
        )
    console.print(table)

    ratios = {
        f"jobwire_over_{name.replace('-', '_')}": jw / best[name]["overall_rate"]
        for name, _, _ in systems
        if name != "jobwire"
    }
    baseline = "huey" if "huey" in best else "huey-default"
    ratio = jw / best[baseline]["overall_rate"]
    met = ratio >= TARGET_RATIO
    console.print(
        f"target: jobwire >= {TARGET_RATIO:g}x {baseline} overall: {ratio:.2f}x  "
        + ("[green]MET[/]" if met else "[red]MISSED[/]")
    )

    result = {
        "benchmark": "throughput",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "params": {
            "jobs": n,
            "repeat": repeats,
            "workers": workers,
            "poll_seconds": POLL,
            "huey": args.huey,
            "huey_consumer": "in-process huey.consumer.Consumer(worker_type='thread')",
        },
        "environment": environment(
            "jobwire",
            "huey",
            "sqlalchemy",
            "rich",
            sqlite=sqlite3.sqlite_version,
            tmpdir=tempfile.gettempdir(),
        ),
        "systems": {
            name: {"setup": label, "sqlite_synchronous": SYNC[name]} for name, label, _ in systems
        },
        "runs": runs,
        "best": best,
        "ratios": ratios,
        "target": {
            "description": f"jobwire overall rate >= {TARGET_RATIO:g} x Huey's",
            "baseline": baseline,
            "min_ratio": TARGET_RATIO,
            "ratio": ratio,
            "met": met,
        },
        "wall_seconds": wall,
        "loadavg_before": load_before,
    }
    write_result(args.output, result)
    console.print(f"wrote {args.output} ({wall:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
