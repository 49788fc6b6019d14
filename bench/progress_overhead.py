"""Per-item overhead of ``progress.iter()`` next to tqdm and rich.progress.track.

Run it from the repository root::

    python bench/progress_overhead.py                  # N=5,000,000, best of 5
    python bench/progress_overhead.py -n 1000000 -r 3  # quicker

Every contender loops over ``range(N)`` with an empty body, in the same process, repeats
interleaved (bare, jobwire, tqdm, rich, bare, jobwire, ...) so drift hits all of them alike.
The best (minimum) time of the repeats is kept for each; *overhead per item* is
``(best(contender) - best(bare loop)) / N``. Loops are timed with the process's CPU time by
default (``--clock cpu``: not inflated when other processes take the CPU away; it counts
every thread, so rich's refresh thread and tqdm's monitor are included), or wall time with
``--clock wall``.

- bare:    ``for x in range(N): pass``
- jobwire: ``for x in progress.iter(range(N)): pass`` with a real
  ``Progress("bench", sink=<event counter>)`` and the default 0.1 s interval
- tqdm:    ``for x in tqdm(range(N), file=<devnull>): pass``
- rich:    ``for x in track(range(N), console=Console(file=<devnull>)): pass``

Informational rows (not part of the target): ``progress.iter()`` over an *unsized*
iterator (the per-item generator path), ``progress.advance()`` and
``progress.update(current=i)`` per call, and tqdm's ``bar.update()`` per call for reference.

The project's target: jobwire's iter overhead is at most half of tqdm's.

The Rich progress display of this script is refreshed only *between* timed runs (no refresh
thread), so it does not disturb the measurements. Results go to
``bench/results/progress_overhead.json``.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from common import busy_warning, environment, progress_bar, write_result
from rich.console import Console
from rich.progress import Progress as RichProgress
from rich.progress import track
from rich.table import Table
from tqdm import tqdm

from jobwire import Progress

RESULTS = Path(__file__).resolve().parent / "results"
TARGET_RATIO = 0.5  # jobwire iter overhead <= 0.5 x tqdm's

#: The clock of the timed loops, set by ``--clock``. Process CPU time (all threads, so rich's
#: refresh thread and tqdm's monitor count) is not inflated when other processes preempt
#: this one; on a quiet machine it equals wall time for these single-core loops.
clock = time.process_time
CLOCKS = {"cpu": time.process_time, "wall": time.perf_counter}


class EventCounter:
    """A jobwire sink that only counts the events it receives."""

    def __init__(self) -> None:
        self.events = 0

    def __call__(self, progress: Progress, kind: str, log: str | None) -> None:
        self.events += 1


# -- the timed loops: each returns (seconds, extra info) --------------------------------------
# The loop bodies are identical (``pass``) and each lives in its own function, so every
# contender pays the same for local-variable stores and the loop itself.


def loop_bare(n: int, devnull: Any) -> tuple[float, dict[str, Any]]:
    it = range(n)
    t0 = clock()
    for _x in it:
        pass
    return clock() - t0, {}


def loop_jobwire(n: int, devnull: Any) -> tuple[float, dict[str, Any]]:
    sink = EventCounter()
    progress = Progress("bench", sink=sink)  # default interval: 0.1 s
    t0 = clock()
    for _x in progress.iter(range(n)):
        pass
    elapsed = clock() - t0
    if progress.current != n:
        raise AssertionError(f"jobwire counted {progress.current} items, expected {n}")
    return elapsed, {"events": sink.events}


def loop_jobwire_unsized(n: int, devnull: Any) -> tuple[float, dict[str, Any]]:
    sink = EventCounter()
    progress = Progress("bench", sink=sink)
    t0 = clock()
    for _x in progress.iter(iter(range(n)), total=n):
        pass
    elapsed = clock() - t0
    return elapsed, {"events": sink.events}


def loop_tqdm(n: int, devnull: Any) -> tuple[float, dict[str, Any]]:
    t0 = clock()
    for _x in tqdm(range(n), file=devnull):
        pass
    return clock() - t0, {}


def loop_rich(n: int, devnull: Any) -> tuple[float, dict[str, Any]]:
    console = Console(file=devnull)
    t0 = clock()
    for _x in track(range(n), console=console):
        pass
    return clock() - t0, {}


def calls_jobwire_advance(n: int, devnull: Any) -> tuple[float, dict[str, Any]]:
    sink = EventCounter()
    progress = Progress("bench", sink=sink)
    progress.update(0, total=n)
    t0 = clock()
    for _x in range(n):
        progress.advance()
    elapsed = clock() - t0
    return elapsed, {"events": sink.events}


def calls_jobwire_update(n: int, devnull: Any) -> tuple[float, dict[str, Any]]:
    sink = EventCounter()
    progress = Progress("bench", sink=sink)
    progress.update(0, total=n)
    t0 = clock()
    for i in range(n):
        progress.update(current=i)
    elapsed = clock() - t0
    return elapsed, {"events": sink.events}


def calls_tqdm_update(n: int, devnull: Any) -> tuple[float, dict[str, Any]]:
    bar = tqdm(total=n, file=devnull)
    t0 = clock()
    for _x in range(n):
        bar.update()
    elapsed = clock() - t0
    bar.close()
    return elapsed, {}


def calls_bare(n: int, devnull: Any) -> tuple[float, dict[str, Any]]:
    # Baseline for the per-call rows: the same loop with an empty body.
    t0 = clock()
    for _x in range(n):
        pass
    return clock() - t0, {}


Loop = Callable[[int, Any], tuple[float, dict[str, Any]]]

ITER_CASES: list[tuple[str, str, Loop]] = [
    ("bare", "range(N)", loop_bare),
    ("jobwire", "progress.iter(range(N))", loop_jobwire),
    ("tqdm", "tqdm(range(N))", loop_tqdm),
    ("rich", "rich track(range(N))", loop_rich),
]
INFO_ITER_CASES: list[tuple[str, str, Loop]] = [
    ("jobwire_unsized", "progress.iter(iter(range(N)), total=N) (info)", loop_jobwire_unsized),
]
CALL_CASES: list[tuple[str, str, Loop]] = [
    ("call_bare", "bare loop (baseline)", calls_bare),
    ("jobwire_advance", "progress.advance()", calls_jobwire_advance),
    ("jobwire_update", "progress.update(current=i)", calls_jobwire_update),
    ("tqdm_update", "bar.update()  (tqdm, reference)", calls_tqdm_update),
]


def measure(
    cases: list[tuple[str, str, Loop]],
    n: int,
    repeats: int,
    devnull: Any,
    ui: RichProgress,
    phase: str,
) -> dict[str, dict[str, Any]]:
    """Run each case ``repeats`` times, interleaved; keep every time and the best."""
    out: dict[str, dict[str, Any]] = {
        name: {"label": label, "times": [], "extra": {}} for name, label, _ in cases
    }
    task = ui.add_task(phase, total=repeats * len(cases))
    for r in range(repeats):
        for name, _label, fn in cases:
            ui.update(task, description=f"{phase}: {name} (repeat {r + 1}/{repeats})")
            ui.refresh()
            gc.collect()
            elapsed, extra = fn(n, devnull)
            out[name]["times"].append(elapsed)
            out[name]["extra"] = extra
            ui.advance(task)
    ui.update(task, description=f"{phase}: done")
    ui.refresh()
    for item in out.values():
        item["best_seconds"] = min(item["times"])
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Per-item overhead of jobwire's progress.iter() vs tqdm and rich.track."
    )
    parser.add_argument(
        "-n", "--items", type=int, default=5_000_000, help="items per loop (default: 5,000,000)"
    )
    parser.add_argument(
        "-r",
        "--repeat",
        type=int,
        default=5,
        help="repeats per contender; the best is kept (default: 5)",
    )
    parser.add_argument(
        "-m",
        "--calls",
        type=int,
        default=1_000_000,
        help="calls per run for advance()/update() (default: 1,000,000)",
    )
    parser.add_argument(
        "--clock",
        choices=sorted(CLOCKS),
        default="cpu",
        help="time the loops with process CPU time (default; robust on a busy machine) "
        "or wall time",
    )
    parser.add_argument(
        "--no-info",
        action="store_true",
        help="skip the informational rows (unsized iter, per-call costs)",
    )
    parser.add_argument(
        "-o",
        "--output",
        type=Path,
        default=RESULTS / "progress_overhead.json",
        help="JSON result file (default: bench/results/progress_overhead.json)",
    )
    args = parser.parse_args(argv)
    if args.items < 1 or args.repeat < 1 or args.calls < 1:
        parser.error("--items, --repeat and --calls must be >= 1")

    global clock
    clock = CLOCKS[args.clock]
    console = Console()
    n, repeats, m = args.items, args.repeat, args.calls
    console.print(
        f"[bold]progress_overhead[/]: N={n:,} items, best of {repeats}, "
        f"per-call rows with M={m:,} calls, {args.clock} clock"
    )
    load_before = busy_warning(console)
    started = time.perf_counter()
    with (
        open(os.devnull, "w") as devnull,
        progress_bar(console) as ui,
    ):
        iters = measure(ITER_CASES, n, repeats, devnull, ui, "iter")
        info = (
            {}
            if args.no_info
            else measure(INFO_ITER_CASES, n, repeats, devnull, ui, "iter (unsized)")
        )
        calls = {} if args.no_info else measure(CALL_CASES, m, repeats, devnull, ui, "per call")
    wall = time.perf_counter() - started

    bare = iters["bare"]["best_seconds"]
    for item in (*iters.values(), *info.values()):
        item["ns_per_item"] = item["best_seconds"] / n * 1e9
        item["overhead_ns_per_item"] = (item["best_seconds"] - bare) / n * 1e9
    if calls:
        call_bare = calls["call_bare"]["best_seconds"]
        for item in calls.values():
            item["ns_per_call"] = item["best_seconds"] / m * 1e9
            item["overhead_ns_per_call"] = (item["best_seconds"] - call_bare) / m * 1e9

    jw = iters["jobwire"]["overhead_ns_per_item"]
    tq = iters["tqdm"]["overhead_ns_per_item"]
    ri = iters["rich"]["overhead_ns_per_item"]
    ratio_tqdm = jw / tq if tq > 0 else None
    ratio_rich = jw / ri if ri > 0 else None
    met = ratio_tqdm is not None and ratio_tqdm <= TARGET_RATIO

    table = Table(
        title=f"for x in <loop>: pass  -  N={n:,}, best of {repeats}",
        caption="tqdm and rich write to os.devnull; jobwire's sink counts its events",
    )
    table.add_column("loop")
    table.add_column("best", justify="right")
    table.add_column("ns/item", justify="right")
    table.add_column("overhead ns/item", justify="right")
    table.add_column("events", justify="right")
    for name, item in (*iters.items(), *info.items()):
        table.add_row(
            item["label"],
            f"{item['best_seconds'] * 1000:.1f} ms",
            f"{item['ns_per_item']:.2f}",
            "-" if name == "bare" else f"{item['overhead_ns_per_item']:.2f}",
            str(item["extra"].get("events", "")),
            style="dim" if name in info else None,
        )
    console.print(table)

    if calls:
        ctable = Table(title=f"Per call, for information  -  M={m:,} calls, best of {repeats}")
        ctable.add_column("call")
        ctable.add_column("ns/call", justify="right")
        ctable.add_column("overhead ns/call", justify="right")
        ctable.add_column("events", justify="right")
        for name, item in calls.items():
            ctable.add_row(
                item["label"],
                f"{item['ns_per_call']:.1f}",
                "-" if name == "call_bare" else f"{item['overhead_ns_per_call']:.1f}",
                str(item["extra"].get("events", "")),
            )
        console.print(ctable)

    summary = Table(title="Ratios (overhead per item)", show_header=False)
    summary.add_column()
    summary.add_column(justify="right")
    summary.add_row("jobwire / tqdm", "n/a" if ratio_tqdm is None else f"{ratio_tqdm:.3f}")
    summary.add_row("jobwire / rich", "n/a" if ratio_rich is None else f"{ratio_rich:.3f}")
    summary.add_row(
        f"target: jobwire <= {TARGET_RATIO} x tqdm",
        "[green]MET[/]" if met else "[red]MISSED[/]",
    )
    console.print(summary)

    result = {
        "benchmark": "progress_overhead",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "params": {
            "items": n,
            "repeat": repeats,
            "calls": m,
            "interval": 0.1,
            "clock": args.clock,
            "info_rows": not args.no_info,
        },
        "environment": environment("jobwire", "tqdm", "rich"),
        "iter": iters,
        "iter_info": info,
        "calls": calls,
        "ratios": {"jobwire_over_tqdm": ratio_tqdm, "jobwire_over_rich": ratio_rich},
        "target": {
            "description": "jobwire iter overhead <= 0.5 x tqdm's",
            "max_ratio": TARGET_RATIO,
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
