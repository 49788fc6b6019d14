"""``GET /api/jobs/{id}/result`` of a 1 MB JSON result, on a cache hit: p50 and p99 latency
on SQLite and on PostgreSQL.

Run it from the repository root::

    python bench/result_latency.py                       # both stores, 2,000 requests each
    python bench/result_latency.py --stores sqlite --requests 500

For each store: a fresh database (SQLite: a file in a temporary directory; PostgreSQL: a
scratch database ``jobwire_bench_<pid>`` created on ``--postgres`` and dropped after), a
task ``bench.result`` with a result cache (``cache_ttl``) whose result is ``--kb`` kB of
JSON (a list of small records), run once to success by an App in this process. Then the
server in its own process: ``create_app(App(that database), workers=False)`` under uvicorn
(``JOBWIRE_SUBMIT_RATE`` raised so that the submits below are not rate limited).

1. **cache hit**: ``--submits`` POSTs of the same arguments, one at a time; each answers 200
   with ``outcome: "cached"`` and the succeeded job (checked).
2. **result**: ``--requests`` GETs of that job's result, from ``--connections`` keep-alive
   connections at once (httpx.AsyncClient), each reading the whole 1 MB body; latency is
   from sending the request to the last byte. One warm-up GET per connection first. The
   same with one connection, for reference (the server's own time, without queueing).

Targets (the result GET, with ``--connections``): p99 under 50 ms (the seed's), p50 and p99
under 5 ms (ours). Results go to ``bench/results/result_latency.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from common import busy_warning, environment, progress_bar, write_result
from rich.console import Console
from rich.table import Table
from serving import percentile, server, verdict

from jobwire import App, Progress

RESULTS = Path(__file__).resolve().parent / "results"
SEED_TARGET_MS = 50.0
TARGET_MS = 5.0
POSTGRES = os.environ.get("JOBWIRE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def big_result(kb: int) -> list[dict[str, Any]]:
    """``kb`` kB of JSON (as stored, compact): records of a file scan."""
    rows: list[dict[str, Any]] = []
    size = 1  # the brackets
    while size < kb * 1000:
        row = {"file": f"src/pkg/module_{len(rows):05}.py", "lines": 1000 + len(rows) % 997}
        row |= {"functions": len(rows) % 61, "ok": len(rows) % 7 != 0}
        rows.append(row)
        size += len(json.dumps(row, separators=(",", ":"))) + 1
    return rows


def register(app: Any) -> None:
    @app.task(name="bench.result", cache_ttl=3600)
    def result(progress: Progress, kb: int = 1000) -> list[dict[str, Any]]:
        return big_result(kb)


# -- the server (`python bench/result_latency.py _serve --db URL --port P`) --------------


def serve(argv: list[str]) -> None:
    import uvicorn

    from jobwire.server import create_app

    parser = argparse.ArgumentParser(prog="result_latency.py _serve")
    parser.add_argument("--db", required=True)
    parser.add_argument("--kb", type=int, required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    from starlette.responses import Response
    from starlette.routing import Route

    app = App(args.db)
    register(app)
    api = create_app(app, workers=False, dashboard=False)
    body = json.dumps(big_result(args.kb), separators=(",", ":")).encode()

    async def floor(request: Any) -> Response:
        return Response(body, media_type="application/json")

    api.router.routes.insert(0, Route("/bench/floor", floor))
    uvicorn.run(api, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)


# -- the databases -----------------------------------------------------------------------


@contextlib.contextmanager
def database(store: str, workdir: Path, postgres: str) -> Iterator[str]:
    if store == "sqlite":
        yield f"sqlite:///{workdir / 'jobwire.db'}"
        return
    import psycopg

    name = f"jobwire_bench_{os.getpid()}"
    admin = postgres.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def make_job(db: str, kb: int) -> tuple[str, int]:
    """The job whose result is read, run here; its id and the result's size in bytes."""
    app = App(db, workers=1)
    register(app)
    with app:
        job = app.submit("bench.result", {"kb": kb})
        app.result(job.id, timeout=120)
        size = len(app.result_text(job.id) or "")
    app.close()
    return job.id, size


# -- measuring ---------------------------------------------------------------------------


def cached_submits(base: str, kb: int, count: int, job_id: str) -> list[float]:
    times = []
    with httpx.Client(base_url=base, timeout=30) as client:
        for _ in range(count):
            start = time.perf_counter()
            answer = client.post("/api/tasks/bench.result/jobs", json={"kb": kb})
            times.append((time.perf_counter() - start) * 1000)
            body = answer.json()
            if answer.status_code != 200 or body.get("outcome") != "cached" or body["id"] != job_id:
                raise RuntimeError(
                    f"expected a cache hit on {job_id}, got {answer.status_code}: {body}"
                )
    return sorted(times)


async def gets(
    base: str, path: str, requests: int, connections: int, size: int, tick: Any
) -> list[float]:
    times: list[float] = []
    left = requests
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as client:

        async def one(record: bool) -> None:
            start = time.perf_counter()
            response = await client.get(path)
            body = await response.aread()
            if record:
                times.append((time.perf_counter() - start) * 1000)
            if response.status_code != 200 or len(body) != size:
                raise RuntimeError(f"GET {path}: {response.status_code}, {len(body)} bytes")

        async def worker() -> None:
            nonlocal left
            await one(record=False)  # warm-up: the connection opens
            while left > 0:
                left -= 1
                await one(record=True)
                tick()

        await asyncio.gather(*(worker() for _ in range(connections)))
    return sorted(times)


def cases(connections: int) -> list[tuple[str, int]]:
    """What each store's server is asked: the result with ``connections`` at once (the row
    the targets check), then with one; the floor the same two ways."""
    counts = list(dict.fromkeys((connections, 1)))
    return [("result", c) for c in counts] + [("floor", c) for c in counts]


def summary(times: list[float]) -> dict[str, Any]:
    return {
        "count": len(times),
        "p50_ms": percentile(times, 50),
        "p90_ms": percentile(times, 90),
        "p99_ms": percentile(times, 99),
        "max_ms": times[-1],
    }


def measure(store: str, args: argparse.Namespace, bar: Any, workdir: Path) -> dict[str, Any]:
    with database(store, workdir, args.postgres) as db:
        setup = bar.add_task(f"{store}: a job with a {args.kb} kB result", total=None)
        bar.refresh()
        job_id, size = make_job(db, args.kb)
        bar.update(setup, visible=False)
        env = {"JOBWIRE_SUBMIT_RATE": "1000000", "JOBWIRE_SUBMIT_BURST": "1000000"}
        serve_args = [__file__, "_serve", "--db", db, "--kb", str(args.kb)]
        with server(serve_args, env, workdir / f"server-{store}.log") as (base, _pid):
            submits = cached_submits(base, args.kb, args.submits, job_id)
            rows = []
            paths = {"result": f"/api/jobs/{job_id}/result", "floor": "/bench/floor"}
            for what, connections in cases(args.connections):
                label = f"{store}: GET {what}, {connections} conn."
                task = bar.add_task(label, total=args.requests)

                def tick(task: Any = task) -> None:
                    bar.advance(task)
                    if bar.tasks[task].completed % 50 == 0:
                        bar.refresh()

                times = asyncio.run(gets(base, paths[what], args.requests, connections, size, tick))
                bar.update(task, visible=False)
                rows.append(
                    {"what": what, "connections": connections, **summary(times), "raw_ms": times}
                )
    main_row = rows[0]
    met = {
        "seed_p99_under_50ms": main_row["p99_ms"] < SEED_TARGET_MS,
        "p50_under_5ms": main_row["p50_ms"] < TARGET_MS,
        "p99_under_5ms": main_row["p99_ms"] < TARGET_MS,
    }
    return {
        "store": store,
        "result_bytes": size,
        "cached_submit": summary(submits),
        "rows": rows,
        "met": met,
    }


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["_serve"]:
        serve(argv[1:])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stores", default="sqlite,postgresql", help="sqlite,postgresql")
    parser.add_argument("--postgres", default=POSTGRES, help="where to make the scratch db")
    parser.add_argument("--requests", type=int, default=2000, help="GETs per row (2,000)")
    parser.add_argument("--connections", type=int, default=4, help="at once (default 4)")
    parser.add_argument("--submits", type=int, default=200, help="cached submits (200)")
    parser.add_argument("--kb", type=int, default=1000, help="result size in kB (1,000)")
    parser.add_argument("-o", "--output", type=Path, default=RESULTS / "result_latency.json")
    args = parser.parse_args(argv)
    console = Console()
    load = busy_warning(console)
    stores = [s.strip() for s in args.stores.split(",") if s.strip()]
    results = []
    with (
        tempfile.TemporaryDirectory(prefix="jobwire-bench-result-") as tmp,
        progress_bar(console) as bar,
    ):
        for store in stores:
            results.append(measure(store, args, bar, Path(tmp)))

    table = Table(title=f"GET /api/jobs/{{id}}/result, {args.kb} kB JSON, on a cache hit")
    columns = ("store", "GET", "conns", "requests", "p50", "p90", "p99", "max", "p99<50ms", "<5ms")
    for column in columns:
        table.add_column(column, justify="left" if column in ("store", "GET") else "right")
    for result in results:
        met = result["met"]
        for i, row in enumerate(result["rows"]):
            table.add_row(
                result["store"],
                row["what"],
                str(row["connections"]),
                f"{row['count']:,}",
                *(f"{row[k]:.2f}" for k in ("p50_ms", "p90_ms", "p99_ms", "max_ms")),
                verdict(met["seed_p99_under_50ms"]) if i == 0 else "",
                verdict(met["p50_under_5ms"] and met["p99_under_5ms"]) if i == 0 else "",
            )
    console.print(table)
    console.print(
        "times in ms, from sending the request to the body's last byte. Targets on the first "
        "row of each store: p99 < 50 ms (seed), p50 and p99 < 5 ms (ours). The floor: a bare "
        "Starlette Response of the same bytes, in the same server."
    )
    for result in results:
        s = result["cached_submit"]
        console.print(
            f"{result['store']}: cached submit (200, outcome cached) p50 {s['p50_ms']:.2f} ms, "
            f"p99 {s['p99_ms']:.2f} ms over {s['count']}; result {result['result_bytes']:,} bytes"
        )
    write_result(
        args.output,
        {
            "bench": "result_latency",
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
                loadavg_start=load,
            ),
            "results": results,
            "targets_ms": {"seed_p99": SEED_TARGET_MS, "p50_and_p99": TARGET_MS},
        },
    )
    console.print(f"results: {args.output}")
    return 0 if all(r["met"]["seed_p99_under_50ms"] for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
