"""Jobs shared with teams: the CPU a 304 poll costs when the job is seen through a share
(against its owner's), and the latency of ``GET /api/jobs?shared=true`` over 10,000 jobs.

Run it from the repository root::

    python bench/sharing.py                           # both parts; about two minutes
    python bench/sharing.py --poll-stores sqlite,postgresql --rounds 5
    python bench/sharing.py --only list --requests 300

Every server runs in its own process: ``create_app(App(database), workers=False)`` under
uvicorn with ``JOBWIRE_AUTH=token``; its CPU time is read from ``/proc/<pid>/stat`` (utime +
stime of every thread, 10 ms ticks) just before and just after each measured round.

1. **poll** (SQLite by default; ``--poll-stores`` adds PostgreSQL): two API keys made in the
   store before the server starts, the owner's (roles ``teamlead``, team ``platform``) and a
   member's (team ``platform``), and one finished job of the owner, which the owner then
   shares with ``platform`` through ``POST /api/jobs/{id}/shares``. Both read it once
   (200, the same ETag). Then ``--rounds`` rounds, each ``--polls`` conditional GETs
   ``GET /api/jobs/{id}`` with ``If-None-Match: <the ETag>`` by the owner, then as many by
   the member (the order swapped every other round, so that drift hits both alike), from
   ``--connections`` keep-alive connections at once (minimal asyncio HTTP/1.1 clients in
   this process, uvloop when installed; a few warm-up polls per connection first). Every
   answer must be 304. CPU per poll = server CPU seconds over a principal's rounds / its
   polls. The server's idle CPU (its reads of revoked keys and shares every 0.1 s) is
   measured first; *net* figures subtract it over each round's wall time. Then one more
   round each, not timed, counts how many polls the server's 304 fast path handed on to
   the full API (and which of the memories it relies on could not answer: the hub's seq,
   the credentials, the access) by wrapping those functions in the server process.
   Target: member CPU per poll <= 1.10 x the owner's.

2. **list** (PostgreSQL, a scratch database ``jobwire_bench_<pid>`` created on ``--postgres``
   and dropped after): ``--jobs`` finished jobs (10,000) of 20 owners over the last 30
   days, inserted in bulk against jobwire's tables; ``--shares`` shares (1,000) made with
   ``store.share`` by each job's owner over ``--teams`` teams (100), team *k* drawing
   shares in proportion to 1/(k+1) (a few big teams, many small ones), 10 % of them
   already expired and 5 % removed again (``store.unshare``); then ``ANALYZE``, as
   autovacuum would on a live database. Two members, each holding 3
   teams and owning some of the jobs: a *typical* one (teams ranked 21, 51 and 81) and a
   *busy* one (the 3 biggest teams). ``--requests`` sequential GETs per case over one
   keep-alive connection (after 20 warm-up GETs), each checked (200, the expected number
   of jobs): the first page (``limit=50``) for both, the page after ``--deep`` pages (page 4,
   reached through ``next_cursor``) for the busy member, and, for reference, the owner's own
   ``GET /api/jobs`` first page. The jobs each member sees (walked page by page) are
   checked against those the seed shared with them.

Results go to ``bench/results/sharing.json``. ``--profile DIR`` also runs one owner and one
member round under cProfile in the server (on CPU time, in its event loop thread: where the
fast path answers) and writes the top functions to ``DIR/poll-<store>-<who>.txt``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import resource
import sys
import tempfile
import time
import uuid
from array import array
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from common import busy_warning, environment, progress_bar, write_result
from result_latency import POSTGRES, database
from rich.console import Console
from rich.table import Table
from serving import percentile, server, verdict

from jobwire import App
from jobwire.snapshot import JobRecord
from jobwire.store.sql.engine import normalize_url
from jobwire.store.sql.rows import row_values
from jobwire.store.tables import jobs as jobs_table

RESULTS = Path(__file__).resolve().parent / "results"
HOST = "127.0.0.1"
CLK_TCK = os.sysconf("SC_CLK_TCK")
TARGET_RATIO = 1.10
OWNER, MEMBER, TEAM = "olivia", "mira", "platform"
OWNERS = 20  # part 2: owners of the seeded jobs (the two members among them)
WARMUP = 20  # part 2: GETs before each case's measured ones


# -- the server (`python bench/sharing.py _serve --db URL --port P`) ---------------------


def serve(argv: list[str]) -> None:
    import uvicorn

    from jobwire.server import create_app

    parser = argparse.ArgumentParser(prog="sharing.py _serve")
    parser.add_argument("--db", required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    api = create_app(App(args.db), workers=False)
    add_diagnostics(api)
    uvicorn.run(api, host=HOST, port=args.port, log_level="warning", access_log=False)


def add_diagnostics(api: Any) -> None:
    """``POST /bench/diagnose/start[?profile=1]`` and ``POST /bench/diagnose/stop[?out=PATH]``:
    between the two, count how often the 304 fast path and the memory it relies on could not
    answer (returned None: the poll then goes through the full API), and optionally run
    cProfile (on CPU time) in the event loop's thread, where the fast path answers. The
    counting wrappers are in place only between the two calls; ``stop`` answers the counts
    and writes the profile's top functions to ``out``."""
    import cProfile
    import pstats
    from collections import Counter

    from starlette.requests import Request
    from starlette.responses import JSONResponse, PlainTextResponse
    from starlette.routing import Route

    from jobwire.server.auth import Authenticator
    from jobwire.server.fastpath import NotModified
    from jobwire.server.hub import Hub
    from jobwire.server.state import ServerState

    watched = (
        (NotModified, "_current", "fast path 304"),
        (Hub, "known", "hub knows the seq"),
        (Authenticator, "resolve_cached", "credentials from memory"),
        (ServerState, "may_see_cached", "access from memory"),
    )
    profiler = cProfile.Profile(time.thread_time)
    counts: Counter[str] = Counter()
    originals: dict[tuple[type, str], Any] = {}

    def counting(original: Any, label: str) -> Any:
        def wrapper(*a: Any, **k: Any) -> Any:
            answer = original(*a, **k)
            counts[f"{label}: {'none' if answer is None else 'answered'}"] += 1
            return answer

        return wrapper

    async def start(request: Request) -> PlainTextResponse:
        counts.clear()
        for cls, name, label in watched:
            originals[cls, name] = cls.__dict__[name]
            setattr(cls, name, counting(cls.__dict__[name], label))
        if request.query_params.get("profile") == "1":
            profiler.enable()
        return PlainTextResponse("started")

    async def stop(request: Request) -> JSONResponse:
        profiler.disable()
        for (cls, name), original in originals.items():
            setattr(cls, name, original)
        originals.clear()
        if "out" in request.query_params:
            with open(request.query_params["out"], "w") as out:
                stats = pstats.Stats(profiler, stream=out)
                stats.sort_stats("tottime").print_stats(40)
                stats.sort_stats("cumulative").print_stats(60)
            profiler.clear()
        return JSONResponse(dict(sorted(counts.items())))

    api.router.routes.insert(0, Route("/bench/diagnose/start", start, methods=["POST"]))
    api.router.routes.insert(0, Route("/bench/diagnose/stop", stop, methods=["POST"]))


# -- seeding ---------------------------------------------------------------------------------


def finished_row(job_id: str, owner: str, created: float, status: str) -> dict[str, Any]:
    """A stored job that ran once and ended (seq 3: queued, running, then its end)."""
    record = JobRecord(id=job_id, task="bench.report", owner=owner, args={"n": 1})
    row = row_values(record.copy(created_at=created), created)
    row |= {
        "status": status,
        "seq": 3,
        "attempt": 1,
        "current": 1,
        "total": 1,
        "started_at": created + 0.5,
        "finished_at": created + 2.0,
        "updated_at": created + 2.0,
        "live_key": None,
    }
    if status == "failed":
        row |= {"error_code": "task_error", "error_message": "ValueError: bench"}
    return row


def insert_jobs(db: str, rows: list[dict[str, Any]], tick: Callable[[int], None]) -> None:
    """Insert finished jobs in bulk, 1,000 per statement, in one transaction."""
    engine = sa.create_engine(normalize_url(db))
    try:
        with engine.begin() as conn:
            for i in range(0, len(rows), 1000):
                chunk = rows[i : i + 1000]
                conn.execute(jobs_table.insert(), chunk)
                tick(len(chunk))
    finally:
        engine.dispose()


def analyze(db: str) -> None:
    """``ANALYZE`` the tables just filled, as autovacuum does on a live database: the
    planner then works from their real sizes, not from the defaults of a new table."""
    engine = sa.create_engine(normalize_url(db), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")
    finally:
        engine.dispose()


def cpu_seconds(pid: int) -> float:
    """CPU seconds of a process so far (all threads, user + system)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def machine_busy() -> float:
    """Busy CPU seconds of the whole machine so far, from /proc/stat."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    return (sum(values[:8]) - values[3] - values[4]) / CLK_TCK


def own_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


# -- part 1: 304 polls -----------------------------------------------------------------------


class Round:
    """What the connections of one round share: the polls left, the answers' statuses, the
    latencies (ns) and a callback every 500 answers."""

    def __init__(self, polls: int, tick: Callable[[int], None]) -> None:
        self.left = polls
        self.answered = 0
        self.status: dict[int, int] = {}
        self.latencies = array("q")
        self.tick = tick


class PollConnection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection sending the same conditional GET, one after the
    other, while its round has polls left."""

    def __init__(self, request: bytes) -> None:
        self.request = request
        self.buf = bytearray()
        self.transport: asyncio.Transport | None = None
        self.round: Round | None = None
        self.done: asyncio.Future[None] | None = None
        self.need = -1  # body bytes still expected; -1 while reading a head
        self.sent_at = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def start(self, round_: Round) -> asyncio.Future[None]:
        self.round = round_
        self.done = asyncio.get_running_loop().create_future()
        self.send()
        return self.done

    def send(self) -> None:
        assert self.round is not None and self.done is not None and self.transport is not None
        if self.round.left <= 0:
            self.done.set_result(None)
            return
        self.round.left -= 1
        self.sent_at = time.perf_counter_ns()
        self.transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        while True:
            if self.need < 0:
                end = buf.find(b"\r\n\r\n")
                if end < 0:
                    return
                head = bytes(buf[:end]).lower()
                status = int(head[9:12])
                at = head.find(b"content-length:")
                length = 0
                if at >= 0:
                    eol = head.find(b"\r\n", at)
                    length = int(head[at + 15 : eol if eol >= 0 else None])
                del buf[: end + 4]
                self.need = 0 if status == 304 else length
                r = self.round
                assert r is not None
                r.status[status] = r.status.get(status, 0) + 1
            if len(buf) < self.need:
                return
            del buf[: self.need]
            self.need = -1
            r = self.round
            assert r is not None
            r.latencies.append(time.perf_counter_ns() - self.sent_at)
            r.answered += 1
            if r.answered % 500 == 0:
                r.tick(500)
            self.send()
            if not buf:
                return

    def connection_lost(self, exc: Exception | None) -> None:
        if self.done is not None and not self.done.done():
            self.done.set_exception(ConnectionError(f"poll connection lost: {exc!r}"))


async def poll_round(
    port: int, request: bytes, polls: int, connections: int, pid: int, tick: Callable[[int], None]
) -> dict[str, Any]:
    """``polls`` conditional GETs from ``connections`` connections; the server's CPU over
    them (the connections are opened and warmed up before)."""
    loop = asyncio.get_running_loop()
    conns: list[PollConnection] = []
    for _ in range(connections):
        conn = PollConnection(request)
        await loop.create_connection(lambda conn=conn: conn, HOST, port)  # type: ignore[misc]
        conns.append(conn)
    try:
        warm = Round(5 * connections, lambda n: None)
        await asyncio.gather(*(c.start(warm) for c in conns))
        measured = Round(polls, tick)
        cpu0, busy0, own0, t0 = cpu_seconds(pid), machine_busy(), own_cpu(), time.perf_counter()
        await asyncio.wait_for(asyncio.gather(*(c.start(measured) for c in conns)), 600)
        wall = time.perf_counter() - t0
        cpu, busy, own = cpu_seconds(pid) - cpu0, machine_busy() - busy0, own_cpu() - own0
    finally:
        for c in conns:
            if c.transport is not None:
                c.transport.close()
    bad = {s: k for s, k in (warm.status | measured.status).items() if s != 304}
    if bad or measured.answered != polls:
        raise RuntimeError(f"expected {polls} answers 304, got {measured.status} (warm-up {bad})")
    times = sorted(t / 1e6 for t in measured.latencies)
    return {
        "polls": polls,
        "status": {str(k): v for k, v in measured.status.items()},
        "seconds": wall,
        "server_cpu_seconds": cpu,
        "cpu_us_per_poll": cpu / polls * 1e6,
        "p50_ms": percentile(times, 50),
        "p99_ms": percentile(times, 99),
        "client_cores": own / wall,
        "other_cores": max(0.0, (busy - cpu - own) / wall),
    }


def run_round(
    port: int, request: bytes, polls: int, connections: int, pid: int, tick: Callable[[int], None]
) -> dict[str, Any]:
    try:
        import uvloop

        factory: Callable[[], asyncio.AbstractEventLoop] | None = uvloop.new_event_loop
    except ImportError:
        factory = None
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(poll_round(port, request, polls, connections, pid, tick))


def left_fast_path(counts: dict[str, int]) -> float:
    """The share of polls the fast path handed on to the full API."""
    none, answered = counts.get("fast path 304: none", 0), counts.get("fast path 304: answered", 0)
    return none / max(1, none + answered)


def post(base: str, what: str, **params: Any) -> Any:
    """Start or stop the server's diagnostics (see :func:`add_diagnostics`)."""
    answer = httpx.post(f"{base}/bench/diagnose/{what}", params=params, timeout=60)
    return answer.raise_for_status().json() if what == "stop" else None


def seed_poll(db: str) -> tuple[str, dict[str, str]]:
    """The two keys and the owner's finished job; its id and each one's secret."""
    app = App(db)
    try:
        app.store.upgrade()
        keys = app.store.keys
        _, owner = keys.create_key(OWNER, roles=["teamlead"], teams=[TEAM])
        _, member = keys.create_key(MEMBER, teams=[TEAM])
    finally:
        app.close()
    job_id = uuid.uuid4().hex
    insert_jobs(db, [finished_row(job_id, OWNER, time.time() - 60, "succeeded")], lambda n: None)
    return job_id, {"owner": owner, "member": member}


def measure_poll(store: str, args: argparse.Namespace, bar: Any, workdir: Path) -> dict[str, Any]:
    with database(store, workdir, args.postgres) as db:
        job_id, secrets = seed_poll(db)
        env = {"JOBWIRE_AUTH": "token"}
        serve_args = [__file__, "_serve", "--db", db]
        with server(serve_args, env, workdir / f"server-poll-{store}.log") as (base, pid):
            port = int(base.rsplit(":", 1)[1])
            auth = {who: {"Authorization": f"Bearer {s}"} for who, s in secrets.items()}
            with httpx.Client(base_url=base, timeout=30) as http:
                made = http.post(
                    f"/api/jobs/{job_id}/shares", json={"team": TEAM}, headers=auth["owner"]
                )
                if made.status_code != 201:
                    raise RuntimeError(f"sharing the job: {made.status_code} {made.text}")
                tags = {}
                for who in ("owner", "member"):
                    first = http.get(f"/api/jobs/{job_id}", headers=auth[who])
                    if first.status_code != 200:
                        raise RuntimeError(f"{who} GET: {first.status_code} {first.text}")
                    tags[who] = first.headers["etag"]
                    via = http.get(f"/api/jobs/{job_id}/access", headers=auth[who]).json()
                    if via.get("via") != {"owner": "owner", "member": "share"}[who]:
                        raise RuntimeError(f"{who}: GET /api/jobs/{job_id}/access gave {via}")
            if tags["owner"] != tags["member"]:
                raise RuntimeError(f"the owner and the member got different ETags: {tags}")
            requests = {
                who: (
                    f"GET /api/jobs/{job_id} HTTP/1.1\r\nHost: {HOST}:{port}\r\n"
                    f"Authorization: Bearer {secrets[who]}\r\nIf-None-Match: {tags[who]}\r\n\r\n"
                ).encode()
                for who in ("owner", "member")
            }

            idle_task = bar.add_task(f"{store}: the idle server's CPU", total=None)
            bar.refresh()
            cpu0, t0 = cpu_seconds(pid), time.perf_counter()
            time.sleep(args.idle)
            idle_rate = (cpu_seconds(pid) - cpu0) / (time.perf_counter() - t0)
            bar.update(idle_task, visible=False)

            rounds: dict[str, list[dict[str, Any]]] = {"owner": [], "member": []}
            total = (args.rounds + 2 + (1 if args.profile else 0)) * 2 * args.polls
            task = bar.add_task(f"{store}: 304 polls, owner and member", total=total)

            def tick(n: int) -> None:
                bar.advance(task, n)
                bar.refresh()

            for r in range(-1, args.rounds):  # round -1: a warm-up of each, not kept
                order = ("owner", "member") if r % 2 == 0 else ("member", "owner")
                for who in order:
                    row = run_round(port, requests[who], args.polls, args.connections, pid, tick)
                    row["net_cpu_us_per_poll"] = (
                        (row["server_cpu_seconds"] - idle_rate * row["seconds"]) / args.polls * 1e6
                    )
                    if r >= 0:
                        rounds[who].append(row)

            # Why polls leave the fast path: one more round each, counted (not timed).
            fast_path = {}
            for who in ("owner", "member"):
                post(base, "start")
                run_round(port, requests[who], args.polls, args.connections, pid, tick)
                fast_path[who] = post(base, "stop")
            profiles = {}
            if args.profile:
                args.profile.mkdir(parents=True, exist_ok=True)
                for who in ("owner", "member"):
                    out = args.profile.resolve() / f"poll-{store}-{who}.txt"
                    post(base, "start", profile=1)
                    run_round(port, requests[who], args.polls, args.connections, pid, tick)
                    post(base, "stop", out=str(out))
                    profiles[who] = str(out)
            bar.update(task, visible=False)

    summary = {}
    for who, rows in rounds.items():
        polls = sum(r["polls"] for r in rows)
        cpu = sum(r["server_cpu_seconds"] for r in rows)
        wall = sum(r["seconds"] for r in rows)
        times = [r["cpu_us_per_poll"] for r in rows]
        summary[who] = {
            "polls": polls,
            "server_cpu_seconds": cpu,
            "cpu_us_per_poll": cpu / polls * 1e6,
            "net_cpu_us_per_poll": (cpu - idle_rate * wall) / polls * 1e6,
            "rounds_cpu_us_per_poll": times,
            "polls_per_second": polls / wall,
            "p50_ms_median_round": sorted(r["p50_ms"] for r in rows)[len(rows) // 2],
            "p99_ms_median_round": sorted(r["p99_ms"] for r in rows)[len(rows) // 2],
        }
    ratio = summary["member"]["cpu_us_per_poll"] / summary["owner"]["cpu_us_per_poll"]
    net_ratio = summary["member"]["net_cpu_us_per_poll"] / summary["owner"]["net_cpu_us_per_poll"]
    per_round = [
        m["cpu_us_per_poll"] / o["cpu_us_per_poll"]
        for o, m in zip(rounds["owner"], rounds["member"], strict=True)
    ]
    others = [r["other_cores"] for rows in rounds.values() for r in rows]
    return {
        "store": store,
        "job_id": job_id,
        "etag": tags["owner"],
        "idle_server_cpu_us_per_second": idle_rate * 1e6,
        "summary": summary,
        "ratio_member_over_owner": ratio,
        "ratio_net": net_ratio,
        "ratio_per_round": per_round,
        "ratio_median_round": sorted(per_round)[len(per_round) // 2],
        "other_processes_cores": sum(others) / len(others),
        "met": ratio <= TARGET_RATIO,
        "rounds": rounds,
        "fast_path_counts": fast_path,
        "left_fast_path": {who: left_fast_path(counts) for who, counts in fast_path.items()},
        "profiles": profiles,
    }


# -- part 2: GET /api/jobs?shared=true -------------------------------------------------------


def zipf_teams(teams: int) -> tuple[list[str], list[float]]:
    names = [f"team-{k:03}" for k in range(teams)]
    return names, [1 / (k + 1) for k in range(teams)]


def seed_list(
    db: str, args: argparse.Namespace, bar: Any
) -> tuple[dict[str, str], dict[str, set[str]], dict[str, list[str]], int]:
    """The jobs, the shares and the keys; each key's secret, the ids each member must see,
    each member's teams, and how many jobs the owner has."""
    rng = random.Random(1234)
    now = time.time()
    names, weights = zipf_teams(args.teams)
    member_teams = {
        "typical": [names[k] for k in (20, 50, 80) if k < args.teams] or names[-3:],
        "busy": names[:3],
    }
    members = {"typical": MEMBER, "busy": "hugo"}
    owners = [OWNER, *members.values(), *(f"user-{i:02}" for i in range(OWNERS - 3))]
    app = App(db)
    try:
        app.store.upgrade()
        keys = app.store.keys
        secrets = {"owner": keys.create_key(OWNER, roles=["teamlead"], teams=[TEAM])[1]}
        for which, user in members.items():
            secrets[which] = keys.create_key(user, teams=member_teams[which])[1]

        statuses = ["succeeded"] * 17 + ["failed", "failed", "cancelled"]
        start = now - 30 * 86400
        step = 30 * 86400 / args.jobs
        rows = [
            finished_row(
                uuid.uuid4().hex,
                owners[i % len(owners)],
                start + i * step + rng.random() * step,
                rng.choice(statuses),
            )
            for i in range(args.jobs)
        ]
        task = bar.add_task(f"postgresql: {args.jobs:,} jobs", total=args.jobs)

        def tick(n: int) -> None:
            bar.advance(task, n)
            bar.refresh()

        insert_jobs(db, rows, tick)
        bar.update(task, visible=False)

        pairs: set[tuple[int, str]] = set()
        while len(pairs) < args.shares:
            team = rng.choices(names, weights)[0]
            pairs.add((rng.randrange(args.jobs), team))
        task = bar.add_task(f"postgresql: {args.shares:,} shares", total=args.shares)
        visible: dict[str, set[str]] = {which: set() for which in members}
        order = sorted(pairs)
        rng.shuffle(order)  # which share is expired or removed: not tied to the team
        for i, (index, team) in enumerate(order):
            row = rows[index]
            kind = i % 20  # 2 in 20 expired, 1 in 20 removed, the rest live
            expires = now - 3600 if kind in (0, 1) else (now + 7 * 86400 if kind < 10 else None)
            app.store.share(
                row["id"],
                team,
                can_download=kind % 3 == 0,
                expires_at=expires,
                shared_by=row["owner"],
            )
            if kind == 2:
                app.store.unshare(row["id"], team)
            elif kind > 2:
                for which, user in members.items():
                    if team in member_teams[which] and row["owner"] != user:
                        visible[which].add(row["id"])
            bar.advance(task)
            if i % 20 == 0:
                bar.refresh()
        bar.update(task, visible=False)
    finally:
        app.close()
    analyze(db)
    owned = sum(1 for r in rows if r["owner"] == OWNER)
    return secrets, visible, member_teams, owned


def timed_gets(
    http: httpx.Client, params: dict[str, Any], count: int, expect: int, tick: Any
) -> list[float]:
    """``count`` GETs of ``/api/jobs`` with ``params`` (after ``WARMUP`` more), each checked
    to hold ``expect`` jobs; their times in ms, sorted."""
    times = []
    for i in range(WARMUP + count):
        start = time.perf_counter()
        answer = http.get("/api/jobs", params=params)
        elapsed = (time.perf_counter() - start) * 1000
        got = len(answer.json()["jobs"]) if answer.status_code == 200 else -1
        if got != expect:
            raise RuntimeError(f"GET /api/jobs {params}: {answer.status_code}, {got} jobs")
        if i >= WARMUP:
            times.append(elapsed)
            tick()
    return sorted(times)


def walk(http: httpx.Client, limit: int) -> list[tuple[str | None, list[str]]]:
    """Every page of the caller's shared jobs: the cursor that reaches it, and its ids."""
    pages: list[tuple[str | None, list[str]]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"shared": "true", "limit": limit}
        if cursor:
            params["cursor"] = cursor
        body = http.get("/api/jobs", params=params).raise_for_status().json()
        pages.append((cursor, [j["id"] for j in body["jobs"]]))
        cursor = body["next_cursor"]
        if not cursor:
            return pages


def measure_list(args: argparse.Namespace, bar: Any, workdir: Path) -> dict[str, Any]:
    with database("postgresql", workdir, args.postgres) as db:
        secrets, visible, member_teams, owned = seed_list(db, args, bar)
        env = {"JOBWIRE_AUTH": "token"}
        serve_args = [__file__, "_serve", "--db", db]
        with server(serve_args, env, workdir / "server-list.log") as (base, _pid):
            clients = {
                who: httpx.Client(
                    base_url=base, timeout=30, headers={"Authorization": f"Bearer {secret}"}
                )
                for who, secret in secrets.items()
            }
            try:
                seen = {}
                pages = {}
                for which in ("typical", "busy"):
                    pages[which] = walk(clients[which], args.limit)
                    ids = [i for _, page in pages[which] for i in page]
                    seen[which] = len(ids)
                    if len(set(ids)) != len(ids) or set(ids) != visible[which]:
                        raise RuntimeError(
                            f"{which} member: {len(set(ids))} jobs listed, "
                            f"{len(visible[which])} shared with their teams"
                        )
                deep = min(args.deep, len(pages["busy"]) - 1)
                cases = [
                    ("typical", "member (typical), page 1", 0),
                    ("busy", "member (busy), page 1", 0),
                    ("busy", f"member (busy), page {deep + 1}", deep),
                    ("owner", "owner's own jobs, page 1", 0),
                ]
                rows = []
                for who, label, page in cases:
                    params: dict[str, Any] = {"limit": args.limit}
                    if who == "owner":
                        expect = min(args.limit, owned)
                    else:
                        params["shared"] = "true"
                        cursor, ids = pages[who][page]
                        if cursor:
                            params["cursor"] = cursor
                        expect = len(ids)
                    task = bar.add_task(f"postgresql: {label}", total=args.requests)

                    def tick(task: Any = task) -> None:
                        bar.advance(task)
                        if bar.tasks[task].completed % 25 == 0:
                            bar.refresh()

                    times = timed_gets(clients[who], params, args.requests, expect, tick)
                    bar.update(task, visible=False)
                    rows.append(
                        {
                            "case": label,
                            "who": who,
                            "teams": member_teams.get(who, [TEAM]),
                            "visible_shared_jobs": seen.get(who),
                            "page": page + 1,
                            "jobs_in_page": expect,
                            "count": len(times),
                            "p50_ms": percentile(times, 50),
                            "p90_ms": percentile(times, 90),
                            "p99_ms": percentile(times, 99),
                            "max_ms": times[-1],
                            "raw_ms": times,
                        }
                    )
            finally:
                for client in clients.values():
                    client.close()
    return {
        "store": "postgresql",
        "jobs": args.jobs,
        "teams": args.teams,
        "shares": args.shares,
        "owner_jobs": owned,
        "visible_shared_jobs": seen,
        "rows": rows,
    }


# -- reporting -------------------------------------------------------------------------------


def poll_table(console: Console, results: list[dict[str, Any]], args: argparse.Namespace) -> None:
    table = Table(
        title=f"304 polls of one job: {args.rounds} rounds x {args.polls:,} polls per "
        f"principal, {args.connections} connections"
    )
    columns = ("store, who", "polls", "CPU µs/poll", "net µs/poll", "polls/s", "p99 ms")
    for column in (*columns, "member/owner", "<= 1.10"):
        table.add_column(column, justify="left" if column == "store, who" else "right")
    for result in results:
        for who in ("owner", "member"):
            s = result["summary"][who]
            last = who == "member"
            table.add_row(
                f"{result['store']}, {who}",
                f"{s['polls']:,}",
                f"{s['cpu_us_per_poll']:.1f}",
                f"{s['net_cpu_us_per_poll']:.1f}",
                f"{s['polls_per_second']:,.0f}",
                f"{s['p99_ms_median_round']:.2f}",
                f"{result['ratio_member_over_owner']:.3f}" if last else "",
                verdict(result["met"]) if last else "",
            )
    console.print(table)
    console.print(
        "CPU: the server process's, over each principal's rounds; net: less its idle CPU over "
        "the same time; p99: the median round's, from sending a poll to its answer."
    )
    for result in results:
        summary = result["summary"]
        console.print(
            f"{result['store']}: idle server {result['idle_server_cpu_us_per_second']:,.0f} µs "
            f"CPU/s; net ratio {result['ratio_net']:.3f}; µs/poll by round, owner "
            + " ".join(f"{v:.0f}" for v in summary["owner"]["rounds_cpu_us_per_poll"])
            + ", member "
            + " ".join(f"{v:.0f}" for v in summary["member"]["rounds_cpu_us_per_poll"])
            + "; ratio by round "
            + " ".join(f"{v:.2f}" for v in result["ratio_per_round"])
            + f"; other processes used {result['other_processes_cores']:.2f} cores meanwhile"
        )
        left = result["left_fast_path"]
        console.print(
            f"  polls answered by the full API instead of the fast path: owner "
            f"{left['owner']:.2%}, member {left['member']:.2%}"
        )
        for who, path in result["profiles"].items():
            console.print(f"  profile of the {who}'s polls: {path}")


def list_table(console: Console, result: dict[str, Any]) -> None:
    table = Table(
        title=f"GET /api/jobs?shared=true on PostgreSQL: {result['jobs']:,} jobs, "
        f"{result['shares']:,} shares over {result['teams']} teams"
    )
    for column in ("case", "visible", "in page", "p50", "p90", "p99", "max"):
        table.add_column(column, justify="left" if column == "case" else "right")
    for row in result["rows"]:
        visible = row["visible_shared_jobs"]
        table.add_row(
            row["case"],
            "-" if visible is None else f"{visible:,}",
            str(row["jobs_in_page"]),
            *(f"{row[k]:.2f}" for k in ("p50_ms", "p90_ms", "p99_ms", "max_ms")),
        )
    console.print(table)
    teams = {row["who"]: ",".join(row["teams"]) for row in result["rows"]}
    console.print(
        "times in ms, one keep-alive connection, one request at a time; visible: the shared "
        f"jobs the member sees in all (the owner has {result['owner_jobs']:,} jobs of their "
        f"own); teams: typical {teams.get('typical')}, busy {teams.get('busy')}"
    )


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["_serve"]:
        serve(argv[1:])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default="poll,list", help="poll,list (default both)")
    parser.add_argument("--poll-stores", default="sqlite", help="sqlite,postgresql (sqlite)")
    parser.add_argument("--postgres", default=POSTGRES, help="where to make the scratch db")
    parser.add_argument("--rounds", type=int, default=10, help="poll rounds per principal (10)")
    parser.add_argument("--polls", type=int, default=5000, help="304 polls per round (5,000)")
    parser.add_argument("--connections", type=int, default=8, help="poll connections (8)")
    parser.add_argument("--idle", type=float, default=3.0, help="seconds of idle CPU (3)")
    parser.add_argument("--jobs", type=int, default=10_000, help="jobs seeded (10,000)")
    parser.add_argument("--teams", type=int, default=100, help="teams (100)")
    parser.add_argument("--shares", type=int, default=1000, help="shares (1,000)")
    parser.add_argument("--limit", type=int, default=50, help="page size (50)")
    parser.add_argument("--deep", type=int, default=3, help="pages skipped for the deep case")
    parser.add_argument("--requests", type=int, default=1000, help="GETs per list case")
    parser.add_argument("--profile", type=Path, help="cProfile the poll rounds into DIR")
    parser.add_argument("-o", "--output", type=Path, default=RESULTS / "sharing.json")
    args = parser.parse_args(argv)
    only = {s.strip() for s in args.only.split(",") if s.strip()}
    if only - {"poll", "list"} or args.shares > args.jobs * args.teams or args.teams < 3:
        parser.error("--only takes poll,list; --teams >= 3; --shares <= jobs x teams")
    console = Console()
    load = busy_warning(console)
    polls: list[dict[str, Any]] = []
    listing = None
    started = time.perf_counter()
    with (
        tempfile.TemporaryDirectory(prefix="jobwire-bench-sharing-") as tmp,
        progress_bar(console) as bar,
    ):
        if "poll" in only:
            for store in (s.strip() for s in args.poll_stores.split(",") if s.strip()):
                polls.append(measure_poll(store, args, bar, Path(tmp)))
        if "list" in only:
            listing = measure_list(args, bar, Path(tmp))
    if polls:
        poll_table(console, polls, args)
    if listing:
        list_table(console, listing)
    write_result(
        args.output,
        {
            "bench": "sharing",
            "parameters": {
                k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()
            },
            "environment": environment(
                "fastapi",
                "starlette",
                "uvicorn",
                "sqlalchemy",
                "psycopg",
                "httpx",
                "uvloop",
                loadavg_start=load,
                loadavg_end=list(os.getloadavg()),
                clk_tck=CLK_TCK,
                seconds=time.perf_counter() - started,
            ),
            "poll": polls,
            "list": listing,
            "targets": {"poll_cpu_member_over_owner": TARGET_RATIO},
        },
    )
    console.print(f"results: {args.output}")
    return 0 if all(p["met"] for p in polls) else 1


if __name__ == "__main__":
    raise SystemExit(main())
