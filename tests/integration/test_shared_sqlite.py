"""Two `jobwire serve` processes, each with workers, on one SQLite file and no shared bus.

Each process's memory bus carries only its own events, so a stream or a long poll on one
server must learn from the store what the other server's workers did: it reads the store
every poll interval, not once per heartbeat. The heartbeat here is a minute, so a stream that
waited for it would miss the bound below by far."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.processes import stop, wait_answering

from .server_util import free_port, start_serve

pytestmark = pytest.mark.slow

JOBS = 10
#: Far below the heartbeat (60 s) and far above the poll interval (0.2 s).
BOUND = 15.0


def sse_final(base: str, job_id: str, out: dict[str, float]) -> None:
    with httpx.stream("GET", f"{base}/api/jobs/{job_id}/events", timeout=BOUND + 5) as r:
        for line in r.iter_lines():
            if line.startswith("data:"):
                message = json.loads(line[5:])
                if message["type"] in ("completed", "failed", "cancelled"):
                    out[job_id] = time.monotonic()
                    return


def long_poll_final(base: str, job_id: str, out: dict[str, float]) -> None:
    tag = None
    while True:
        headers = {"If-None-Match": tag} if tag else {}
        r = httpx.get(f"{base}/api/jobs/{job_id}?wait=20", headers=headers, timeout=30)
        if r.status_code == 200:
            tag = r.headers["etag"]
            if r.json()["status"] in ("succeeded", "failed", "cancelled"):
                out[job_id] = time.monotonic()
                return
        elif r.status_code != 304:
            return


def test_streams_and_long_polls_see_what_the_other_server_ran(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "JOBWIRE_DATABASE_URL": f"sqlite:///{tmp_path}/shared.db",
        "JOBWIRE_POLL_INTERVAL": "0.2",
        "JOBWIRE_HEARTBEAT_SECONDS": "60",
    }
    ports = free_port(), free_port()
    watcher, runner = (f"http://127.0.0.1:{p}" for p in ports)
    procs = [start_serve(env, port, "--workers", "2") for port in ports]
    try:
        for proc, base in zip(procs, (watcher, runner), strict=True):
            wait_answering(proc, f"{base}/api/health")
        ids = []
        for _ in range(JOBS):
            # Submitted to the runner, whose own workers it wakes: most run there.
            r = httpx.post(f"{runner}/api/tasks/count/jobs", json={"n": 20, "delay": 0.05})
            assert r.status_code == 202, r.text
            ids.append(r.json()["id"])
        streamed: dict[str, float] = {}
        polled: dict[str, float] = {}
        threads = [
            threading.Thread(target=fn, args=(watcher, job_id, out), daemon=True)
            for job_id in ids
            for fn, out in ((sse_final, streamed), (long_poll_final, polled))
        ]
        started = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join(BOUND + 10)
        assert sorted(streamed) == sorted(ids), "a stream on the watcher missed a final event"
        assert sorted(polled) == sorted(ids), "a long poll on the watcher missed the end"
        last = max(*streamed.values(), *polled.values()) - started
        assert last < BOUND, f"the watcher saw the last end after {last:.1f} s: at a heartbeat?"
    finally:
        for proc in procs:
            stop(proc)
