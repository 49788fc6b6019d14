"""Scale-out: jobwire on Celery workers next to plain Celery, RQ, arq and SAQ on the same
Redis, and one job's live progress fanned out by two ``jobwire serve`` processes, in one run.

Run it from the repository root::

    python bench/scaleout.py                          # 2,000 jobs x 3, 5,000 clients
    python bench/scaleout.py --jobs 300 --clients 200 --updates 10
    python bench/scaleout.py --only throughput --systems celery-reliable,jobwire-celery

1. **throughput** — for each system in turn, on its own Redis database (flushed before its
   workers start and after they stop): start 2 worker processes, warm them up (until both
   have run a job, then 50 no-op jobs), then submit ``--jobs`` no-op jobs one at a time
   from this process while the workers run, and time first submit -> last completion.
   ``jobs/s = jobs / that time``; the best of ``--repeat`` batches (same warm workers) is
   kept. Every task body is the same: one Redis ``INCR`` of a completion counter on the
   system's database, which this process polls every 10 ms. For jobwire + Celery a job
   is complete when the store says so: the counter first, then ``app.store.counts()``.

   - ``celery`` / ``celery-reliable``: Celery with the Redis broker, no result backend,
     two ``celery worker -c 1 -P prefork`` processes; once with Celery's defaults, once
     with the settings jobwire's Celery executor uses (``task_acks_late``,
     ``task_reject_on_worker_lost``, ``worker_prefetch_multiplier=1``).
   - ``rq``: two ``rq worker`` (the default Worker: a forked work horse per job).
   - ``arq``: two ``arq`` workers, default settings (``max_jobs=10`` each).
   - ``saq``: two ``saq --workers 1`` processes, default settings (``concurrency=10``).
   - ``jobwire-celery``: ``App(database_url=<PostgreSQL>, bus_url=<Redis>,
     executor="celery")`` with ``JOBWIRE_CELERY_BROKER_URL=<Redis>``, two
     ``python -m jobwire worker MODULE:app --concurrency 1 --pool prefork`` (with
     ``JOBWIRE_EXECUTOR=celery`` etc.), ``app.submit("noop", {})`` from this process.
     Reported "not available" (no crash) when this jobwire does not accept
     ``executor="celery"``.

   No worker logs a line per job (the peers' at WARNING; ``jobwire worker`` turns Celery's
   per-job lines off itself). Reported: jobs/s, each
   system ÷ celery, jobwire-celery ÷ each system (target: >= 0.8 x plain Celery), the
   workers' CPU per job (every process of each worker's tree) and the exact commands.

2. **fanout** — two ``jobwire serve --no-workers`` processes on one PostgreSQL database and
   one Redis bus, ``--clients`` WebSocket clients split evenly across them, all following
   ``--watch-jobs`` job(s) (default 1) on ``/ws/jobs/{id}``. A ``jobwire worker`` process
   (threads executor) runs the job: it waits for a gate file, then calls
   ``progress.update(i, total=M, message=str(time.time_ns()), step=f"t{i}")`` ``--updates``
   times at ``--rate`` per second. Latency = the client's receive time - the time in the
   message (the task's publish time: store write, Redis bus, hub and fan-out in between).
   Reported: p50/p99 (overall and per server), deliveries, and the clients that received
   the terminal (``completed``) message. The clients are bench/streams.py's asyncio
   clients, in ``--client-procs`` processes (each talks to one server).

Results go to ``bench/results/scaleout.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import math
import os
import resource
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import redis
from common import busy_warning, environment, progress_bar, write_result
from rich.console import Console
from rich.table import Table
from streams import (
    CLK_TCK,
    HOST,
    BenchError,
    ClientPool,
    free_port,
    latency_summary,
    machine_busy,
    per_message_summary,
    raise_nofile,
    split,
)

RESULTS = Path(__file__).resolve().parent / "results"
BIN = Path(sys.executable).parent
POLL = 0.01  # seconds between completion checks
UI_EVERY = 0.1  # seconds between progress display refreshes
WARM_NOOPS = 50  # no-op jobs run after the warm-up, before the measured batches
WARM_SLEEP = 0.05  # seconds each warm-up job sleeps (so that both workers get one)
WORKERS = 2  # worker processes per system
TARGET_RATIO = 0.8  # jobwire-celery jobs/s >= 0.8 x plain Celery's
OTHER_LOAD_WARN = 0.25  # cores used by other processes during a window: figures unreliable
TEST_BROKER_DB = 11  # tests/integration/test_celery.py flushes it: never ours
DONE_KEY = "scaleout:done"
WARMED_KEY = "scaleout:warmed"
WARM_SET = "scaleout:warm"

SYSTEMS = {
    "celery": "Celery, Redis broker, defaults (no result backend)",
    "celery-reliable": "Celery, Redis broker, acks_late + reject_on_worker_lost + prefetch 1",
    "rq": "RQ, default Worker (a forked work horse per job)",
    "arq": "arq, default settings (max_jobs=10 per worker)",
    "saq": "SAQ, Redis queue, default settings (concurrency=10 per worker)",
    "jobwire-celery": "jobwire on Celery workers (PostgreSQL store, Redis broker and bus)",
}
DB_OFFSET = {name: i for i, name in enumerate(SYSTEMS)}  # + --redis-db
FANOUT_DB_OFFSET = len(SYSTEMS)


# -- the task modules the workers import (written to the temp dir) ---------------------------

CELERY_MODULE = """\
import os
import time

import redis
from celery import Celery

URL = {url!r}
app = Celery("scaleout", broker=URL)
if {reliable!r}:
    app.conf.update(
        task_acks_late=True, task_reject_on_worker_lost=True, worker_prefetch_multiplier=1
    )
_redis = redis.Redis.from_url(URL)


@app.task(name="noop")
def noop():
    _redis.incr({done!r})


@app.task(name="warm")
def warm():
    _redis.sadd({warm_set!r}, os.environ.get("SCALEOUT_WORKER", "?"))
    _redis.incr({warmed!r})
    time.sleep({sleep!r})
"""

RQ_MODULE = """\
import os
import time

import redis

URL = {url!r}
_redis = redis.Redis.from_url(URL)


def noop():
    _redis.incr({done!r})


def warm():
    _redis.sadd({warm_set!r}, os.environ.get("SCALEOUT_WORKER", "?"))
    _redis.incr({warmed!r})
    time.sleep({sleep!r})
"""

ARQ_MODULE = """\
import asyncio
import os

from arq.connections import RedisSettings

URL = {url!r}


async def noop(ctx):
    await ctx["redis"].incr({done!r})


async def warm(ctx):
    await ctx["redis"].sadd({warm_set!r}, os.environ.get("SCALEOUT_WORKER", "?"))
    await ctx["redis"].incr({warmed!r})
    await asyncio.sleep({sleep!r})


class WorkerSettings:
    functions = [noop, warm]
    redis_settings = RedisSettings.from_dsn(URL)


# arq logs a line per job at INFO: WARNING, as every other system's workers here.
LOGGING = {{
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {{"stderr": {{"class": "logging.StreamHandler", "level": "WARNING"}}}},
    "loggers": {{"arq": {{"handlers": ["stderr"], "level": "WARNING"}}}},
}}
"""

SAQ_MODULE = """\
import asyncio
import os

from saq import Queue

URL = {url!r}


async def noop(ctx):
    await ctx["worker"].queue.redis.incr({done!r})


async def warm(ctx):
    r = ctx["worker"].queue.redis
    await r.sadd({warm_set!r}, os.environ.get("SCALEOUT_WORKER", "?"))
    await r.incr({warmed!r})
    await asyncio.sleep({sleep!r})


settings = {{"queue": Queue.from_url(URL), "functions": [noop, warm]}}
"""

JOBWIRE_CELERY_MODULE = """\
import os
import time

import redis

from jobwire import App

URL = {url!r}
os.environ["JOBWIRE_CELERY_BROKER_URL"] = URL  # the broker comes from the settings
app = App(database_url={database!r}, bus_url=URL, executor="celery")
_redis = redis.Redis.from_url(URL)


@app.task(name="noop")
def noop() -> None:
    _redis.incr({done!r})


@app.task(name="warm")
def warm() -> None:
    _redis.sadd({warm_set!r}, os.environ.get("SCALEOUT_WORKER", "?"))
    _redis.incr({warmed!r})
    time.sleep({sleep!r})
"""

FANOUT_MODULE = """\
import os
import time

from jobwire import App, Progress

app = App()  # JOBWIRE_DATABASE_URL, JOBWIRE_BUS_URL from the environment

GATE_WAIT = 600.0


@app.task(name="scaleout.emit")
def emit(progress: Progress, gate: str, count: int, interval: float) -> int:
    \"\"\"Wait for ``gate``, then ``count`` updates ``interval`` s apart, each carrying its
    publish time. A new step always emits: the throttle never merges two updates.\"\"\"
    deadline = time.monotonic() + GATE_WAIT
    while not os.path.exists(gate):
        if time.monotonic() > deadline:
            raise TimeoutError(f"no gate file {{gate}} after {{GATE_WAIT}} s")
        time.sleep(0.005)
    start = time.monotonic()
    for i in range(count):
        pause = start + i * interval - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        progress.update(i + 1, total=count, message=str(time.time_ns()), step=f"t{{i + 1}}")
    return count
"""


def module_source(template: str, url: str, **extra: Any) -> str:
    return template.format(
        url=url,
        done=DONE_KEY,
        warmed=WARMED_KEY,
        warm_set=WARM_SET,
        sleep=WARM_SLEEP,
        **extra,
    )


# -- processes -------------------------------------------------------------------------------


def proc_cpu(pid: int) -> float:
    """CPU seconds of ``pid`` and every descendant still alive (children already reaped
    are in their parent's cutime/cstime)."""
    ticks = 0
    stack = [pid]
    while stack:
        p = stack.pop()
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            ticks += sum(int(v) for v in fields[11:15])  # utime stime cutime cstime
            for tid in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{tid}/children") as f:
                    stack.extend(int(c) for c in f.read().split())
        except (OSError, ValueError):
            continue
    return ticks / CLK_TCK


class Proc:
    """A process this bench starts (in its own session: its children can be found and
    stopped with it), its log in the work dir."""

    def __init__(self, name: str, command: list[str], cwd: Path, env: dict[str, str]) -> None:
        self.name = name
        self.command = command
        self.cwd = cwd
        self.env = env
        self.log = cwd / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Proc:
        env = {k: v for k, v in os.environ.items() if not k.startswith("JOBWIRE_")}
        env.update(self.env, PYTHONUNBUFFERED="1")
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                self.command,
                cwd=self.cwd,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def check(self) -> None:
        if self.proc is not None and self.proc.poll() is not None:
            raise BenchError(f"{self.name} exited with code {self.proc.returncode}:\n{self.tail()}")

    def cpu(self) -> float:
        return proc_cpu(self.pid)

    def status(self) -> dict[str, int]:
        out: dict[str, int] = {}
        with contextlib.suppress(OSError), open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("Threads:"):
                    out["threads"] = int(line.split()[1])
                elif line.startswith("VmRSS:"):
                    out["rss_mib"] = int(line.split()[1]) // 1024
        return out

    def stop(self, grace: float = 15.0) -> None:
        """SIGTERM to the process, then SIGKILL to its process group (its pool children)."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(grace)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)  # our session: leftovers only
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(5)

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def describe(self) -> dict[str, Any]:
        return {"command": shlex.join(self.command), "cwd": str(self.cwd), "env": self.env}


def postgres_url(base: str, name: str) -> str:
    return f"{base.rstrip('/')}/{name}"


def fresh_database(base: str, name: str) -> str:
    """Drop and create the database ``name`` on the server of ``base``; its URL."""
    import psycopg

    with psycopg.connect(postgres_url(base, "postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return postgres_url(base, name)


def drop_database(base: str, name: str) -> None:
    import psycopg

    with (
        contextlib.suppress(psycopg.Error),
        psycopg.connect(postgres_url(base, "postgres"), autocommit=True) as conn,
    ):
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# -- progress display ------------------------------------------------------------------------


class Ui:
    """Two bars, refreshed by hand: the whole run, and the current phase."""

    def __init__(self, progress: Any, steps: int) -> None:
        self.progress = progress
        self.overall = progress.add_task("scaleout", total=steps)
        self.phase_bar = progress.add_task("starting", total=1)
        self.next = 0.0

    def phase(self, text: str, done: int = 0, total: int = 1, force: bool = True) -> None:
        now = time.perf_counter()
        if not force and now < self.next:
            return
        self.next = now + UI_EVERY
        self.progress.update(self.phase_bar, description=text, completed=done, total=total)
        self.progress.refresh()

    def step(self) -> None:
        self.progress.advance(self.overall)
        self.progress.refresh()


# -- the systems, seen from this process -----------------------------------------------------


class Unavailable(Exception):
    """The system cannot run here (a missing package, or jobwire without executor=celery)."""


class System:
    """A queue system: its task module, its worker commands, submit and completion."""

    name = ""
    module = ""
    template = ""

    def __init__(self, redis_url: str, workdir: Path, args: argparse.Namespace) -> None:
        self.url = redis_url
        self.workdir = workdir
        self.args = args
        self.redis = redis.Redis.from_url(redis_url)

    def source(self) -> str:
        return module_source(self.template, self.url)

    def prepare(self) -> None:
        """Write the task module and import it here; raise Unavailable."""
        (self.workdir / f"{self.module}.py").write_text(self.source())
        if str(self.workdir) not in sys.path:
            sys.path.insert(0, str(self.workdir))
        try:
            self.mod = importlib.import_module(self.module)
        except ImportError as exc:
            raise Unavailable(f"cannot import {self.module}: {exc}") from exc

    def worker_command(self, i: int) -> list[str]:
        raise NotImplementedError

    def worker_env(self) -> dict[str, str]:
        return {}

    def submit(self, task: str) -> None:
        raise NotImplementedError

    def submit_many(self, task: str, n: int, tick: Callable[[int], None]) -> None:
        submit = self.submit
        for i in range(n):
            submit(task)
            tick(i + 1)

    def completed(self, n: int) -> int:
        """No-op jobs completed since the counter was reset."""
        return int(self.redis.get(DONE_KEY) or 0)

    def settle(self, warm_jobs: int, deadline: float) -> None:
        """Wait until the warm-up jobs are recorded as finished (where that is separate)."""

    def reset(self) -> None:
        self.redis.delete(DONE_KEY)

    def close(self) -> None:
        self.redis.close()


class CelerySystem(System):
    name = "celery"
    module = "scaleout_celery_default"
    template = CELERY_MODULE
    reliable = False

    def source(self) -> str:
        return module_source(self.template, self.url, reliable=self.reliable)

    def worker_command(self, i: int) -> list[str]:
        return [
            sys.executable,
            "-m",
            "celery",
            "-A",
            self.module,
            "worker",
            "-c",
            "1",
            "-P",
            "prefork",
            "-n",
            f"w{i}@%h",
            "--loglevel",
            "WARNING",
        ]

    def submit(self, task: str) -> None:
        self.mod.app.send_task(task)


class CeleryReliableSystem(CelerySystem):
    name = "celery-reliable"
    module = "scaleout_celery_reliable"
    reliable = True


class RqSystem(System):
    name = "rq"
    module = "scaleout_rq"
    template = RQ_MODULE

    def prepare(self) -> None:
        super().prepare()
        from rq import Queue

        self.queue = Queue("default", connection=self.redis)

    def worker_command(self, i: int) -> list[str]:
        return [
            str(BIN / "rq"),
            "worker",
            "--url",
            self.url,
            "--name",
            f"w{i}",
            "--logging_level",
            "WARNING",
            "default",
        ]

    def submit(self, task: str) -> None:
        self.queue.enqueue(f"{self.module}.{task}")


class AsyncSystem(System):
    """arq and SAQ: their clients are asyncio; one event loop runs every submit loop."""

    def prepare(self) -> None:
        super().prepare()
        self.runner = asyncio.Runner()
        self.runner.run(self.open())

    async def open(self) -> None:
        raise NotImplementedError

    async def asubmit(self, task: str) -> None:
        raise NotImplementedError

    def submit(self, task: str) -> None:
        self.runner.run(self.asubmit(task))

    def submit_many(self, task: str, n: int, tick: Callable[[int], None]) -> None:
        async def many() -> None:
            asubmit = self.asubmit
            for i in range(n):
                await asubmit(task)
                tick(i + 1)

        self.runner.run(many())

    async def aclose(self) -> None:
        pass

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.runner.run(self.aclose())
        self.runner.close()
        super().close()


class ArqSystem(AsyncSystem):
    name = "arq"
    module = "scaleout_arq"
    template = ARQ_MODULE

    async def open(self) -> None:
        from arq import create_pool
        from arq.connections import RedisSettings

        self.pool = await create_pool(RedisSettings.from_dsn(self.url))

    async def asubmit(self, task: str) -> None:
        await self.pool.enqueue_job(task)

    async def aclose(self) -> None:
        await self.pool.aclose()

    def worker_command(self, i: int) -> list[str]:
        return [
            str(BIN / "arq"),
            f"{self.module}.WorkerSettings",
            "--custom-log-dict",
            f"{self.module}.LOGGING",
        ]


class SaqSystem(AsyncSystem):
    name = "saq"
    module = "scaleout_saq"
    template = SAQ_MODULE

    async def open(self) -> None:
        from saq import Queue

        self.queue = Queue.from_url(self.url)
        await self.queue.connect()

    async def asubmit(self, task: str) -> None:
        await self.queue.enqueue(task)

    async def aclose(self) -> None:
        await self.queue.disconnect()

    def worker_command(self, i: int) -> list[str]:
        return [str(BIN / "saq"), f"{self.module}.settings", "--workers", "1"]


class JobwireCelerySystem(System):
    name = "jobwire-celery"
    module = "scaleout_jobwire_celery"
    template = JOBWIRE_CELERY_MODULE

    def source(self) -> str:
        return module_source(self.template, self.url, database=self.database)

    def prepare(self) -> None:
        try:
            import celery  # noqa: F401
        except ImportError as exc:
            raise Unavailable(f"cannot import: {exc}") from exc
        self.database = "sqlite:///:memory:"  # for the check only
        probe = module_source(self.template, self.url, database=self.database)
        try:  # the interface being built: refuse cleanly until it is there
            exec(compile(probe, "<jobwire-celery probe>", "exec"), {"__name__": "probe"})
        except Exception as exc:
            raise Unavailable(
                'this jobwire does not accept App(executor="celery") '
                f"yet: {type(exc).__name__}: {str(exc)[:300]}"
            ) from exc
        self.database = fresh_database(self.args.postgres, self.args.database)
        super().prepare()
        self.app = self.mod.app
        self.base = self.app.store.counts()  # opens (and migrates) the store before the clock

    def worker_env(self) -> dict[str, str]:
        return {
            "JOBWIRE_DATABASE_URL": self.database,
            "JOBWIRE_BUS_URL": self.url,
            "JOBWIRE_EXECUTOR": "celery",
            "JOBWIRE_CELERY_BROKER_URL": self.url,
        }

    def worker_command(self, i: int) -> list[str]:
        return [
            sys.executable,
            "-m",
            "jobwire",
            "worker",
            f"{self.module}:app",
            "--concurrency",
            "1",
            "--pool",
            "prefork",
        ]

    def submit(self, task: str) -> None:
        self.app.submit(task, {})

    def _store_done(self) -> int:
        counts = self.app.store.counts()
        failed = counts.get("failed", 0) - self.base.get("failed", 0)
        if failed:
            raise BenchError(f"{failed} jobwire job(s) failed: {counts}")
        return int(counts.get("succeeded", 0) - self.base.get("succeeded", 0))

    def completed(self, n: int) -> int:
        ran = super().completed(n)
        return ran if ran < n else min(ran, self._store_done())

    def settle(self, warm_jobs: int, deadline: float) -> None:
        while self._store_done() < warm_jobs:
            if time.monotonic() > deadline:
                raise BenchError(f"the {warm_jobs} warm-up jobs are not all recorded as done")
            time.sleep(POLL)

    def reset(self) -> None:
        super().reset()
        self.base = self.app.store.counts()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.app.close()
        super().close()
        drop_database(self.args.postgres, self.args.database)


SYSTEM_CLASSES: dict[str, type[System]] = {
    "celery": CelerySystem,
    "celery-reliable": CeleryReliableSystem,
    "rq": RqSystem,
    "arq": ArqSystem,
    "saq": SaqSystem,
    "jobwire-celery": JobwireCelerySystem,
}


# -- throughput ------------------------------------------------------------------------------


def wait_for(
    what: str, check: Callable[[], bool], deadline: float, procs: list[Proc], ui: Callable[[], None]
) -> None:
    while not check():
        for p in procs:
            p.check()
        if time.monotonic() > deadline:
            raise BenchError(f"timed out waiting for {what}")
        ui()
        time.sleep(POLL)


def warm_up(system: System, procs: list[Proc], ui: Ui) -> dict[str, Any]:
    """Until both workers have run a warm-up job; then WARM_NOOPS no-op jobs."""
    t0 = time.monotonic()
    deadline = t0 + 90
    r = system.redis
    sent = 0
    while r.scard(WARM_SET) < len(procs):
        for p in procs:
            p.check()
        if time.monotonic() > deadline:
            seen = sorted(x.decode() for x in r.smembers(WARM_SET))
            raise BenchError(
                f"only workers {seen} ran a warm-up job within 90 s:\n"
                + "\n".join(f"{p.name}: {p.tail(10)}" for p in procs)
            )
        system.submit("warm")
        sent += 1
        ui.phase(f"{system.name}: waiting for {len(procs)} workers", int(r.scard(WARM_SET)), 2)
        time.sleep(0.05)
    wait_for(
        "the warm-up jobs",
        lambda: int(r.get(WARMED_KEY) or 0) >= sent,
        deadline,
        procs,
        lambda: ui.phase(f"{system.name}: warm-up", force=False),
    )
    system.settle(sent, deadline)
    system.reset()
    system.submit_many("noop", WARM_NOOPS, lambda i: None)
    wait_for(
        "the warm-up no-op jobs",
        lambda: system.completed(WARM_NOOPS) >= WARM_NOOPS,
        deadline,
        procs,
        lambda: ui.phase(f"{system.name}: warm-up no-ops", force=False),
    )
    return {"warm_jobs": sent, "warm_noops": WARM_NOOPS, "seconds": time.monotonic() - t0}


def measure(system: System, n: int, procs: list[Proc], ui: Ui, label: str) -> dict[str, Any]:
    system.reset()
    cpu0 = [p.cpu() for p in procs]
    self0 = resource.getrusage(resource.RUSAGE_SELF)
    busy0, _ = machine_busy()
    t0 = time.perf_counter()
    system.submit_many("noop", n, lambda i: ui.phase(f"{label}: submit", i, n, force=False))
    t_submit = time.perf_counter()
    deadline = time.monotonic() + 60 + n * 0.05
    done = 0
    while True:
        done = system.completed(n)
        if done >= n:
            break
        for p in procs:
            p.check()
        if time.monotonic() > deadline:
            raise BenchError(f"only {done:,} of {n:,} jobs completed in time")
        ui.phase(f"{label}: drain", done, n, force=False)
        time.sleep(POLL)
    t_end = time.perf_counter()
    busy1, _ = machine_busy()
    self1 = resource.getrusage(resource.RUSAGE_SELF)
    worker_cpu = sum(p.cpu() - c for p, c in zip(procs, cpu0, strict=True))
    bench_cpu = (self1.ru_utime + self1.ru_stime) - (self0.ru_utime + self0.ru_stime)
    wall = t_end - t0
    return {
        "jobs": n,
        "completed": done,
        "submit_seconds": t_submit - t0,
        "seconds": wall,
        "after_last_submit_seconds": t_end - t_submit,
        "jobs_per_s": n / wall,
        "submits_per_s": n / (t_submit - t0),
        "worker_cpu_seconds": worker_cpu,
        "worker_cpu_ms_per_job": worker_cpu / n * 1000,
        "bench_cpu_seconds": bench_cpu,
        "machine_busy_cores": (busy1 - busy0) / wall,
        # Neither the workers nor this process: Redis, PostgreSQL, and other users' load.
        "other_cores": max(0.0, (busy1 - busy0 - worker_cpu - bench_cpu) / wall),
    }


def run_throughput_system(
    name: str, args: argparse.Namespace, workdir: Path, ui: Ui
) -> dict[str, Any]:
    db = args.redis_db + DB_OFFSET[name]
    redis_url = f"{args.redis.rstrip('/')}/{db}"
    out: dict[str, Any] = {
        "system": name,
        "description": SYSTEMS[name],
        "redis_url": redis_url,
        "available": True,
        "runs": [],
    }
    ui.phase(f"{name}: preparing")
    system = SYSTEM_CLASSES[name](redis_url, workdir, args)
    procs: list[Proc] = []
    try:
        try:
            system.prepare()
        except Unavailable as exc:
            out.update(available=False, error=f"not available: {exc}")
            return out
        out["task_module"] = system.source()
        system.redis.flushdb()
        for i in range(1, WORKERS + 1):
            env = {**system.worker_env(), "SCALEOUT_WORKER": f"w{i}"}
            procs.append(Proc(f"{name}-w{i}", system.worker_command(i), workdir, env))
        out["workers"] = [p.describe() for p in procs]
        for p in procs:
            p.start()
        out["warm_up"] = warm_up(system, procs, ui)
        for r in range(args.repeat):
            label = f"{name} {r + 1}/{args.repeat}"
            out["runs"].append(measure(system, args.jobs, procs, ui, label))
        out["best"] = max(out["runs"], key=lambda run: run["jobs_per_s"])
    except (BenchError, redis.RedisError, OSError) as exc:
        out["error"] = str(exc)[:3000]
    except Exception as exc:  # a system's own failure must not end the whole run
        out["error"] = f"{type(exc).__name__}: {exc}"[:3000]
    finally:
        for p in procs:
            p.stop()
        if procs:
            out["worker_log_tails"] = {p.name: p.tail(15) for p in procs}
        with contextlib.suppress(Exception):
            system.close()
        with contextlib.suppress(redis.RedisError), redis.Redis.from_url(redis_url) as r:
            r.flushdb()
    return out


def throughput_ratios(rows: dict[str, dict[str, Any]]) -> dict[str, Any]:
    rate = {k: v["best"]["jobs_per_s"] for k, v in rows.items() if v.get("best")}
    jw = rate.get("jobwire-celery")
    return {
        "jobwire_celery_over": {
            k: (jw / v if jw is not None else None)
            for k, v in rate.items()
            if k != "jobwire-celery"
        },
        "over_celery": {k: v / rate["celery"] for k, v in rate.items()} if "celery" in rate else {},
    }


def throughput_targets(ratios: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for peer, label in (("celery-reliable", "same reliability settings"), ("celery", "defaults")):
        value = ratios["jobwire_celery_over"].get(peer)
        out[f"jobwire_celery_over_{peer.replace('-', '_')}"] = {
            "description": f"jobwire-celery jobs/s >= {TARGET_RATIO} x plain Celery's ({label})",
            "value": value,
            "limit": TARGET_RATIO,
            "met": None if value is None else value >= TARGET_RATIO,
        }
    return out


# -- fan-out ---------------------------------------------------------------------------------


def run_fanout(args: argparse.Namespace, workdir: Path, ui: Ui) -> dict[str, Any]:
    n, procs_n, k = args.clients, args.client_procs, args.watch_jobs
    interval = 1.0 / args.rate
    bus = f"{args.redis.rstrip('/')}/{args.redis_db + FANOUT_DB_OFFSET}"
    out: dict[str, Any] = {
        "clients": n,
        "client_processes": procs_n,
        "jobs": k,
        "updates": args.updates,
        "interval_seconds": interval,
        "bus_url": bus,
    }
    ok, why = raise_nofile(n + 1024)  # inherited by the servers and the client processes
    out["rlimit"] = why
    if not ok:
        out["error"] = why
        return out
    ui.phase("fanout: database")
    database = fresh_database(args.postgres, args.database)
    (workdir / "scaleout_fanout.py").write_text(FANOUT_MODULE.format())
    env = {
        "JOBWIRE_DATABASE_URL": database,
        "JOBWIRE_BUS_URL": bus,
        "JOBWIRE_AUTH": "none",
        "JOBWIRE_SUBMIT_RATE": "1000000",
        "JOBWIRE_SUBMIT_BURST": "1000000",
    }
    out["env"] = env
    procs: list[Proc] = []
    pool: ClientPool | None = None
    try:
        upgrade = subprocess.run(
            [sys.executable, "-m", "jobwire", "db", "upgrade"],
            cwd=workdir,
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=120,
        )
        if upgrade.returncode:
            raise BenchError(f"jobwire db upgrade failed:\n{upgrade.stdout}{upgrade.stderr}")
        ports = [free_port(), free_port()]
        servers = [
            Proc(
                f"server{i}",
                [
                    sys.executable,
                    "-m",
                    "jobwire",
                    "serve",
                    "scaleout_fanout:app",
                    "--no-workers",
                    "--host",
                    HOST,
                    "--port",
                    str(port),
                    "--log-level",
                    "warning",
                ],
                workdir,
                env,
            )
            for i, port in enumerate(ports)
        ]
        worker = Proc(
            "fanout-worker",
            [
                sys.executable,
                "-m",
                "jobwire",
                "worker",
                "scaleout_fanout:app",
                "--concurrency",
                str(max(2, k)),
            ],
            workdir,
            env,
        )
        procs = [*servers, worker]
        out["servers"] = [
            {"port": port, **s.describe()} for s, port in zip(servers, ports, strict=True)
        ]
        out["worker"] = worker.describe()
        for p in procs:
            p.start()
        pool = ClientPool(procs_n)  # starts meanwhile
        ui.phase("fanout: starting servers")
        deadline = time.monotonic() + 60
        for port in ports:
            wait_for(
                f"the server on port {port}",
                lambda port=port: _healthy(port),
                deadline,
                procs,
                lambda: None,
            )
        gate = workdir / "fanout.gate"
        with httpx.Client(base_url=f"http://{HOST}:{ports[0]}", timeout=30.0) as http:
            job_ids = []
            for _ in range(k):
                r = http.post(
                    "/api/tasks/scaleout.emit/jobs",
                    json={"gate": str(gate), "count": args.updates, "interval": interval},
                )
                r.raise_for_status()
                job_ids.append(r.json()["id"])
            wait_for(
                "the jobs to start",
                lambda: all(
                    http.get(f"/api/jobs/{j}").json()["status"] == "running" for j in job_ids
                ),
                time.monotonic() + 30,
                procs,
                lambda: ui.phase("fanout: waiting for the worker", force=False),
            )
        out["job_ids"] = job_ids

        # Client process i talks to server i % 2; a server's processes share its clients,
        # and follow the jobs in turn.
        server_of = [i % 2 for i in range(procs_n)]
        share = split(n, 2)
        specs: list[Any] = [None] * procs_n
        per_proc_job: list[str] = [""] * procs_n
        for s in (0, 1):
            mine = [i for i in range(procs_n) if server_of[i] == s]
            for j, (i, count) in enumerate(zip(mine, split(share[s], len(mine)), strict=True)):
                per_proc_job[i] = job_ids[j % k]
                specs[i] = (
                    "streams",
                    {
                        "kind": "jobwire",
                        "port": ports[s],
                        "path": f"/ws/jobs/{per_proc_job[i]}",
                        "n": count,
                        "expect": args.updates,
                        "timeout": 30 + n * 0.02,
                    },
                )
        out["client_plan"] = [
            {"server": server_of[i], "job": per_proc_job[i], "clients": specs[i][1]["n"]}
            for i in range(procs_n)
        ]
        pool.send(specs)
        connected_so_far = [0]

        def connecting(c: int) -> None:
            connected_so_far[0] = c
            ui.phase(f"fanout: connecting {c:,}/{n:,}", c, n)

        ready, missing = pool.collect("ready", 30 + n * 0.02 + 60, on_progress=connecting)
        if missing:
            raise BenchError(
                f"only about {connected_so_far[0]:,} of {n:,} clients connected "
                f"(client processes {sorted(missing)} still busy)"
            )
        connected = sum(r["ready"] for r in ready.values())
        out["connected"] = connected
        out["connect_errors"] = sum(r["errors"] for r in ready.values())
        out["first_connect_error"] = next(
            (r["first_error"] for r in ready.values() if r["first_error"]), []
        )
        out["servers_at_peak"] = [s.status() for s in servers]

        cpu0 = [p.cpu() for p in procs]
        busy0, _ = machine_busy()
        t0 = time.perf_counter()
        if connected == n:
            ui.phase(f"fanout: {args.updates} updates at {args.rate:g}/s to {n:,} clients")
            gate.touch()
            _, late = pool.collect("done", args.updates * interval + 30 + n * 0.005)
        else:
            late = set(range(procs_n))
        if late:
            pool.broadcast(("stop",), only=late)
            pool.collect("done", 15, only=late)
        wall = time.perf_counter() - t0
        busy1, _ = machine_busy()
        cpu = [p.cpu() - c for p, c in zip(procs, cpu0, strict=True)]
        ui.phase("fanout: closing")
        pool.broadcast(("close",))
        results, missing = pool.collect("result", 60)
        if missing:
            raise BenchError(f"client processes {sorted(missing)} sent no result")
    except (BenchError, httpx.HTTPError, OSError) as exc:
        out["error"] = str(exc)[:3000]
        return out
    finally:
        if pool is not None:
            pool.close()
        for p in procs:
            p.stop()
        if procs:
            out["log_tails"] = {p.name: p.tail(15) for p in procs}
        drop_database(args.postgres, args.database)

    client_cpu = sum(r["cpu_seconds"] for r in results.values())
    deliveries = sum(r["deliveries"] for r in results.values())
    got = sum(r["got"] for r in results.values())
    errors = sum(r["errors"] for r in results.values())
    # A client that lost its connection early also counts as "done": take it back out.
    terminal = sum(r["done"] for r in results.values()) - errors
    per_server = []
    for s in (0, 1):
        mine = [i for i in results if server_of[i] == s]
        per_server.append(
            {
                "port": ports[s],
                "clients": sum(results[i]["ready"] for i in mine),
                "timestamped": sum(results[i]["got"] for i in mine),
                "cpu_seconds": cpu[s],
                "cpu_us_per_delivery": cpu[s]
                / max(1, sum(results[i]["deliveries"] for i in mine))
                * 1e6,
                "latency": latency_summary([results[i]["latencies"] for i in mine]),
            }
        )
    out.update(
        complete=connected == n and not late,
        expected=n * args.updates,
        timestamped=got,
        deliveries=deliveries,
        terminal_clients=terminal,
        stream_errors=errors,
        first_stream_errors=[e for r in results.values() for e in r["client_errors"]][:3],
        seconds=wall,
        latency=latency_summary([r["latencies"] for r in results.values()]),
        per_message=per_message_summary([r["per_message"] for r in results.values()]),
        per_server=per_server,
        worker_cpu_seconds=cpu[2],
        client_cpu_max_util=max(
            (r["cpu_seconds"] / r["wall_seconds"] for r in results.values() if r["wall_seconds"]),
            default=math.nan,
        ),
        load={
            "machine_busy_cores": (busy1 - busy0) / wall,
            "servers_cores": (cpu[0] + cpu[1]) / wall,
            "worker_cores": cpu[2] / wall,
            "client_cores": client_cpu / wall,
            # Redis, PostgreSQL, and other users of the machine.
            "other_cores": max(0.0, (busy1 - busy0 - sum(cpu) - client_cpu) / wall),
        },
    )
    if connected != n:
        out["error"] = (
            f"only {connected:,} of {n:,} clients connected: {out['first_connect_error']}"
        )
    elif late:
        out["error"] = f"client processes {sorted(late)} were still waiting at the deadline"
    return out


def _healthy(port: int) -> bool:
    try:
        return httpx.get(f"http://{HOST}:{port}/api/health", timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


# -- report ----------------------------------------------------------------------------------


def fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:,.{digits}f}"


def verdict(ok: bool | None) -> str:
    return "[dim]n/a[/]" if ok is None else ("[green]MET[/]" if ok else "[red]MISSED[/]")


def throughput_table(console: Console, result: dict[str, Any], args: argparse.Namespace) -> None:
    rows, ratios = result["systems"], result["ratios"]
    table = Table(
        title=f"throughput: {args.jobs:,} no-op jobs, {WORKERS} worker processes per system, "
        f"best of {args.repeat}",
        caption="jobs/s = jobs / (first submit -> last completion); worker CPU = every process "
        "of both workers; jw ÷ = jobwire-celery jobs/s ÷ this row's",
    )
    for col in (
        "system",
        "jobs/s",
        "submit/s",
        "÷ celery",
        "jw ÷",
        "worker CPU ms/job",
        "other cores",
    ):
        table.add_column(col, justify="left" if col == "system" else "right", no_wrap=True)
    notes: list[str] = []
    for name, row in rows.items():
        best = row.get("best")
        if best is None:
            table.add_row(name, "[yellow]n/a[/]", *["-"] * 5)
            notes.append(f"  [yellow]{name}: {(row.get('error') or '?')[:500]}[/]")
            continue
        jw = ratios["jobwire_celery_over"].get(name)
        over = ratios["over_celery"].get(name)
        table.add_row(
            name,
            fmt(best["jobs_per_s"], 0),
            fmt(best["submits_per_s"], 0),
            "-" if over is None else f"{over:.2f}x",
            "-" if jw is None else f"{jw:.2f}x",
            fmt(best["worker_cpu_ms_per_job"], 2),
            fmt(best["other_cores"], 2),
        )
    console.print(table)
    for note in notes:
        console.print(note, highlight=False)


def fanout_report(console: Console, f: dict[str, Any]) -> None:
    if "latency" not in f:
        console.print(f"[red]fanout: {f.get('error', '?')}[/]")
        return
    table = Table(
        title=f"fan-out: {f['clients']:,} WebSocket clients on 2 jobwire servers, "
        f"{f['updates']} updates at {1 / f['interval_seconds']:g}/s, {f['jobs']} job(s)",
        caption="latency = client receive time - the task's time.time_ns() in the message; "
        "CPU = server CPU µs per delivery",
    )
    for col in ("server", "clients", "received", "p50 ms", "p99 ms", "max ms", "CPU µs"):
        table.add_column(col, justify="left" if col == "server" else "right", no_wrap=True)
    for i, s in enumerate(f["per_server"]):
        lat = s["latency"]
        table.add_row(
            f"server{i}",
            f"{s['clients']:,}",
            f"{s['timestamped']:,}",
            fmt(lat["p50_ms"]),
            fmt(lat["p99_ms"]),
            fmt(lat["max_ms"]),
            fmt(s["cpu_us_per_delivery"], 1),
        )
    lat = f["latency"]
    table.add_row(
        "all",
        f"{f['connected']:,}",
        f"{f['timestamped']:,}/{f['expected']:,}",
        fmt(lat["p50_ms"]),
        fmt(lat["p99_ms"]),
        fmt(lat["max_ms"]),
        "",
    )
    console.print(table)
    console.print(
        f"  terminal message received by {f['terminal_clients']:,}/{f['clients']:,} clients; "
        f"{f['deliveries']:,} deliveries; stream errors {f['stream_errors']}; first client "
        f"p50 {fmt(f['per_message']['first_p50_ms'])} ms, fan-out spread p50 "
        f"{fmt(f['per_message']['spread_p50_ms'])} ms; other load "
        f"{f['load']['other_cores']:.2f} cores"
        + (f" [red]{f['error'][:300]}[/]" if f.get("error") else ""),
        highlight=False,
    )


# -- main ------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Scale-out: jobwire on Celery vs Celery, RQ, arq and SAQ (no-op jobs/s), "
        "and live progress fanned out by two jobwire servers."
    )
    parser.add_argument("--only", default="throughput,fanout", help="throughput, fanout or both")
    parser.add_argument("-j", "--jobs", type=int, default=2000, help="no-op jobs per batch")
    parser.add_argument("-r", "--repeat", type=int, default=3, help="batches per system (3)")
    parser.add_argument(
        "--systems",
        default=",".join(SYSTEMS),
        help=f"throughput systems (default: {','.join(SYSTEMS)})",
    )
    parser.add_argument("--clients", type=int, default=5000, help="fan-out WebSocket clients")
    parser.add_argument("--client-procs", type=int, default=4, help="client processes (4)")
    parser.add_argument("--watch-jobs", type=int, default=1, help="jobs the clients follow (1)")
    parser.add_argument("--updates", type=int, default=40, help="progress updates per job (40)")
    parser.add_argument("--rate", type=float, default=2.0, help="updates per second (2)")
    parser.add_argument(
        "--redis", default="redis://127.0.0.1:6379", help="Redis server (no database number)"
    )
    parser.add_argument(
        "--redis-db",
        type=int,
        default=1,
        help=f"first Redis database number: it and the next {len(SYSTEMS)} are used and "
        "flushed (default 1-7; the tests use 0 and flush 11)",
    )
    parser.add_argument(
        "--postgres", default="postgresql://postgres@127.0.0.1:5432", help="PostgreSQL server"
    )
    parser.add_argument(
        "--database",
        default="jobwire_bench_scaleout",
        help="PostgreSQL database to (re)create and drop (jobwire_bench_scaleout)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (logs, modules)")
    parser.add_argument(
        "-o", "--output", type=Path, default=RESULTS / "scaleout.json", help="JSON result file"
    )
    args = parser.parse_args(argv)
    only = {s.strip() for s in args.only.split(",") if s.strip()}
    systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    unknown = (set(systems) - set(SYSTEMS)) | (only - {"throughput", "fanout"})
    if unknown:
        parser.error(f"unknown system or measurement: {', '.join(sorted(unknown))}")
    if min(args.jobs, args.repeat, args.clients, args.updates, args.watch_jobs) < 1:
        parser.error("--jobs, --repeat, --clients, --updates and --watch-jobs must be >= 1")
    if args.client_procs < 2 or args.rate <= 0 or args.clients < args.client_procs:
        parser.error("--client-procs >= 2 (one per server at least), --rate > 0")
    if args.client_procs < 2 * args.watch_jobs:
        parser.error("--client-procs >= 2 x --watch-jobs (every job watched on both servers)")
    if not 0 <= args.redis_db <= 15 - len(SYSTEMS):
        parser.error(f"--redis-db must leave {len(SYSTEMS) + 1} databases (0..{15 - len(SYSTEMS)})")
    if TEST_BROKER_DB in range(args.redis_db, args.redis_db + len(SYSTEMS) + 1):
        parser.error(f"--redis-db: database {TEST_BROKER_DB} is the test suite's Celery broker")

    console = Console()
    load_before = busy_warning(console)
    plan = [*(systems if "throughput" in only else []), *(["fanout"] if "fanout" in only else [])]
    console.print(
        "[bold]scaleout[/]: "
        + (
            f"throughput of {', '.join(systems)} ({args.jobs:,} jobs x {args.repeat}); "
            if "throughput" in only
            else ""
        )
        + (
            f"fan-out of {args.updates} updates at {args.rate:g}/s to {args.clients:,} clients "
            f"on 2 servers"
            if "fanout" in only
            else ""
        ),
        highlight=False,
    )
    workdir = Path(tempfile.mkdtemp(prefix="jobwire-scaleout-"))
    result: dict[str, Any] = {}
    started = time.perf_counter()
    try:
        with progress_bar(console) as progress_ui:
            ui = Ui(progress_ui, len(plan))
            if "throughput" in only:
                rows: dict[str, Any] = {}
                for name in systems:
                    row = run_throughput_system(name, args, workdir, ui)
                    rows[name] = row
                    best = row.get("best")
                    console.print(
                        f"  {name:<16} "
                        + (
                            f"{best['jobs_per_s']:>8,.0f} jobs/s, submit "
                            f"{best['submits_per_s']:,.0f}/s, workers "
                            f"{best['worker_cpu_ms_per_job']:.2f} ms CPU/job"
                            if best
                            else f"[yellow]{(row.get('error') or '?')[:300]}[/]"
                        ),
                        highlight=False,
                    )
                    ui.step()
                ratios = throughput_ratios(rows)
                result["throughput"] = {
                    "systems": rows,
                    "ratios": ratios,
                    "targets": throughput_targets(ratios),
                }
            if "fanout" in only:
                result["fanout"] = run_fanout(args, workdir, ui)
                ui.step()
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    wall = time.perf_counter() - started

    if "throughput" in result:
        throughput_table(console, result["throughput"], args)
        for t in result["throughput"]["targets"].values():
            value = "not measured" if t["value"] is None else f"{t['value']:.2f}"
            console.print(f"target: {t['description']}: {value}  {verdict(t['met'])}")
    if "fanout" in result:
        fanout_report(console, result["fanout"])
    busy = [
        name
        for name, row in result.get("throughput", {}).get("systems", {}).items()
        if row.get("best") and row["best"]["other_cores"] > 1.0
    ]
    if busy:
        console.print(
            f"[yellow]besides the workers and this process, more than 1 core was busy during "
            f"{', '.join(busy)} (Redis/PostgreSQL, or other users): rerun on a quiet machine[/]"
        )

    out = {
        "benchmark": "scaleout",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "params": {
            "only": sorted(only),
            "systems": systems,
            "jobs": args.jobs,
            "repeat": args.repeat,
            "workers_per_system": WORKERS,
            "warm_noops": WARM_NOOPS,
            "poll_seconds": POLL,
            "clients": args.clients,
            "client_processes": args.client_procs,
            "watch_jobs": args.watch_jobs,
            "updates": args.updates,
            "rate_per_s": args.rate,
            "redis": args.redis,
            "redis_db_first": args.redis_db,
            "postgres": postgres_url(args.postgres, args.database),
        },
        "environment": environment(
            "jobwire",
            "celery",
            "kombu",
            "redis",
            "rq",
            "arq",
            "saq",
            "psycopg",
            "uvicorn",
            "fastapi",
            "uvloop",
            rlimit_nofile=resource.getrlimit(resource.RLIMIT_NOFILE),
        ),
        "loadavg_before": load_before,
        "systems": SYSTEMS,
        **result,
        "wall_seconds": wall,
    }
    write_result(args.output, out)
    console.print(
        f"wrote {args.output} ({wall:.0f} s)" + (f"; logs in {workdir}" if args.keep else "")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
