"""Profile jobwire's half of ``throughput.py``: where the submit loop and the worker engine
spend their time.

    pip install pyinstrument          # optional; cProfile is used without it
    python bench/profile_throughput.py --jobs 3000

The submit loop runs on the main thread; draining is done by the worker's *engine* thread
(all store I/O) while the task threads mostly wait for it, so those two threads are
profiled. Profiling slows everything down: use the figures for proportions, not rates.
Writes ``bench/results/profile_submit.txt`` and ``bench/results/profile_engine.txt``.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from rich.console import Console

from jobwire import App

sys.path.insert(0, str(Path(__file__).resolve().parent))
from throughput import POLL, RESULTS, jobwire_noop

try:
    from pyinstrument import Profiler
except ImportError:  # pragma: no cover - optional
    Profiler = None


class ThreadProfile:
    """A pyinstrument profiler when available, else cProfile; started in its thread."""

    def __init__(self) -> None:
        self.prof: Any = Profiler(interval=0.0005) if Profiler else cProfile.Profile()

    def start(self) -> None:
        if Profiler:
            self.prof.start()
        else:
            self.prof.enable()

    def stop(self) -> None:
        if Profiler:
            self.prof.stop()
        else:
            self.prof.disable()

    def text(self) -> str:
        if Profiler:
            return str(self.prof.output_text(color=False, show_all=False))
        out = io.StringIO()
        pstats.Stats(self.prof, stream=out).sort_stats("cumulative").print_stats(60)
        return out.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-j", "--jobs", type=int, default=3000, help="jobs (default: 3,000)")
    parser.add_argument("-w", "--workers", type=int, default=2, help="worker threads")
    args = parser.parse_args(argv)
    console = Console()

    engine = ThreadProfile()
    original_run = threading.Thread.run

    def run(self: threading.Thread) -> None:  # profile the engine thread from its start
        if not self.name.startswith("jobwire-engine"):
            original_run(self)
            return
        engine.start()
        try:
            original_run(self)
        finally:
            engine.stop()

    threading.Thread.run = run  # type: ignore[method-assign]
    tmp = tempfile.mkdtemp(prefix="jobwire-profile-")
    app = App(f"sqlite:///{tmp}/bench.db", workers=args.workers)
    try:
        noop = app.task(name="noop")(jobwire_noop)
        app.store.upgrade()
        submit = ThreadProfile()
        with console.status(f"submitting {args.jobs:,} jobs (profiled)"):
            submit.start()
            t0 = time.perf_counter()
            for _ in range(args.jobs):
                noop.submit()
            submit_s = time.perf_counter() - t0
            submit.stop()
        with console.status("draining (engine thread profiled)") as status:
            t1 = time.perf_counter()
            app.start()
            while (done := app.store.counts()["succeeded"]) < args.jobs:
                status.update(f"draining (engine thread profiled): {done:,}/{args.jobs:,}")
                time.sleep(POLL)
            drain_s = time.perf_counter() - t1
        app.stop()
    finally:
        threading.Thread.run = original_run  # type: ignore[method-assign]
        app.close()
        shutil.rmtree(tmp, ignore_errors=True)

    RESULTS.mkdir(parents=True, exist_ok=True)
    for name, prof in (("submit", submit), ("engine", engine)):
        path = RESULTS / f"profile_{name}.txt"
        text = prof.text()
        path.write_text(text)
        console.rule(f"{name} ({path})")
        console.print(text, markup=False, highlight=False)
    console.print(
        f"profiled: submit {args.jobs / submit_s:,.0f} jobs/s, drain {args.jobs / drain_s:,.0f} "
        f"jobs/s (slowed down by the profiler); profiler: "
        f"{'pyinstrument' if Profiler else 'cProfile'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
