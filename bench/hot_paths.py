"""The speed of three hot paths whose ceilings used to be asserted by tests.

Run it from the repository root::

    python bench/hot_paths.py              # best of 5
    python bench/hot_paths.py -r 20        # steadier

Each case runs ``--repeat`` times in this process; the best (minimum) wall time is kept and
compared with its ceiling, the bound the test suite used to assert (a test asserts what
happens, not how fast; a loaded machine made those bounds flaky):

- ``bus_fanout``: one ``MemoryBus``, 500 subscriptions to one job and 500 to every job;
  100 single-event publishes (100,000 deliveries). Ceiling 2 s.
- ``coalesce_wide``: one ``Subscription(maxlen=16)`` that is never read, 5,000 events of
  5,000 different live jobs: nothing can be coalesced away, so the bound doubles instead of
  rescanning the queue on every put. Ceiling 2 s.
- ``rule_engine``: the tickets example's keyword rules over ``sample-500`` (tickets loaded
  before the clock starts). Ceiling 1 s.

Results go to ``bench/results/hot_paths.json``.
"""

from __future__ import annotations

import argparse
import gc
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from common import busy_warning, environment, progress_bar, write_result
from rich.console import Console
from rich.table import Table

from jobwire.bus import MemoryBus, Subscription
from jobwire.examples.tickets import engines
from jobwire.examples.tickets.generator import load
from jobwire.snapshot import Event, JobRecord, make_event
from jobwire.status import JobStatus

RESULTS = Path(__file__).resolve().parent / "results"


def event(job_id: str, seq: int) -> Event:
    record = JobRecord(id=job_id, task="t", owner="o", status=JobStatus.RUNNING, seq=seq)
    return make_event(record, "progress")


def bus_fanout() -> tuple[Callable[[], None], int, str]:
    bus = MemoryBus()
    subs = [bus.subscribe("a") for _ in range(500)] + [bus.subscribe() for _ in range(500)]
    ev = event("a", 1)

    def run() -> None:
        for _ in range(100):
            bus.publish([ev])

    def check() -> None:
        assert all(sub.qsize() == 100 for sub in subs)
        for sub in subs:
            sub.close()

    return _checked(run, check), 100 * len(subs), "delivery"


def coalesce_wide() -> tuple[Callable[[], None], int, str]:
    sub = Subscription(MemoryBus(), None, maxlen=16)
    events = [event(f"job{i}", 1) for i in range(5_000)]

    def run() -> None:
        for ev in events:
            sub.put(ev)

    def check() -> None:
        assert sub.qsize() == len(events) and sub.coalesced == 0

    return _checked(run, check), len(events), "put"


def rule_engine() -> tuple[Callable[[], None], int, str]:
    tickets = load("sample-500")
    texts = [t.text for t in tickets]
    rule = engines.get_engine("rule")

    def run() -> None:
        predicted = list(engines.predictions(rule, texts))
        assert len(predicted) == len(texts)

    return run, len(texts), "ticket"


def _checked(run: Callable[[], None], check: Callable[[], None]) -> Callable[[], None]:
    def both() -> None:
        run()
        check()

    return both


#: name -> (set-up returning (timed call, items, unit), ceiling in seconds). The set-up runs
#: before each repeat, outside the clock; the check after ``run`` is inside it, and cheap.
CASES: dict[str, tuple[Callable[[], tuple[Callable[[], None], int, str]], float]] = {
    "bus_fanout": (bus_fanout, 2.0),
    "coalesce_wide": (coalesce_wide, 2.0),
    "rule_engine": (rule_engine, 1.0),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-r", "--repeat", type=int, default=5, help="repeats (default: 5)")
    parser.add_argument(
        "-o", "--output", type=Path, default=RESULTS / "hot_paths.json", help="JSON result file"
    )
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be >= 1")
    console = Console()
    console.print(f"[bold]hot_paths[/]: best of {args.repeat}")
    load_before = busy_warning(console)
    cases: dict[str, dict[str, Any]] = {}
    with progress_bar(console) as ui:
        task = ui.add_task("hot paths", total=args.repeat * len(CASES))
        for name, (setup, ceiling) in CASES.items():
            times: list[float] = []
            for _ in range(args.repeat):
                ui.update(task, description=name)
                ui.refresh()
                call, items, unit = setup()
                gc.collect()
                started = time.perf_counter()
                call()
                times.append(time.perf_counter() - started)
                ui.advance(task)
            best = min(times)
            cases[name] = {
                "times": times,
                "best_seconds": best,
                "items": items,
                "unit": unit,
                "us_per_item": best / items * 1e6,
                "ceiling_seconds": ceiling,
                "met": best < ceiling,
            }

    table = Table(title=f"Hot paths, best of {args.repeat}")
    for column in ("case", "best", "per item", "ceiling", "met"):
        table.add_column(column, justify="left" if column == "case" else "right")
    for name, case in cases.items():
        table.add_row(
            name,
            f"{case['best_seconds'] * 1000:.1f} ms",
            f"{case['us_per_item']:.2f} µs/{case['unit']}",
            f"{case['ceiling_seconds']:g} s",
            "yes" if case["met"] else "[red]NO[/]",
        )
    console.print(table)
    write_result(
        args.output,
        {
            "benchmark": "hot_paths",
            "finished_at": datetime.now(UTC).isoformat(),
            "parameters": {"repeat": args.repeat},
            "environment": environment("jobwire", load_before=load_before),
            "cases": cases,
            "met": all(case["met"] for case in cases.values()),
        },
    )
    console.print(f"written to {args.output}")
    return 0 if all(case["met"] for case in cases.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
