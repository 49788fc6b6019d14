"""Two `jobwire serve` processes sharing PostgreSQL and the Redis bus: one without workers
serves the watchers, the other runs the jobs. A watcher of the first follows, live, a job
that runs on the second."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from httpx_sse import aconnect_sse

from tests.conftest import require_service
from tests.processes import stop, wait_answering

from .server_util import ROOT, free_port, migrate, start_serve, ws_messages, ws_url

REDIS_URL = os.environ.get("JOBWIRE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")

pytestmark = pytest.mark.slow


@pytest.fixture
def redis_url() -> str:
    def check() -> str:
        import redis

        client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3)
        try:
            client.ping()
        finally:
            client.close()
        from jobwire.bus import open_bus

        open_bus(REDIS_URL).close()  # the Redis bus is importable and builds
        return REDIS_URL

    return require_service(f"Redis at {REDIS_URL}", check)


@pytest.fixture
def two_servers(postgres_url: str, redis_url: str) -> Iterator[tuple[str, str]]:
    """(watch-only server, worker server), both on the same PostgreSQL and Redis."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOBWIRE_")}
    env.update(
        JOBWIRE_DATABASE_URL=postgres_url,
        JOBWIRE_BUS_URL=redis_url,
        JOBWIRE_HEARTBEAT_SECONDS="1",
        JOBWIRE_POLL_INTERVAL="0.2",
        PYTHONPATH=str(ROOT),
        COLUMNS="200",
    )
    migrate(env)
    port1, port2 = free_port(), free_port()
    watcher = start_serve(env, port1, "--no-workers")
    worker = start_serve(env, port2)
    base1, base2 = f"http://127.0.0.1:{port1}", f"http://127.0.0.1:{port2}"
    try:
        wait_answering(watcher, f"{base1}/api/health")
        wait_answering(worker, f"{base2}/api/health")
        yield base1, base2
    finally:
        outputs = [stop(watcher), stop(worker)]
        for out in outputs:
            assert "Traceback" not in out, out


def test_a_watcher_on_one_process_follows_a_job_running_on_another(
    two_servers: tuple[str, str],
) -> None:
    base1, base2 = two_servers
    assert httpx.get(f"{base1}/api/stats").json()["worker"] is None  # --no-workers

    r = httpx.post(f"{base1}/api/tasks/count/jobs", json={"n": 60, "delay": 0.03})
    assert r.status_code == 202, r.text
    job_id = r.json()["id"]

    async def follow_ws() -> tuple[list[dict[str, Any]], int | None]:
        return await ws_messages(ws_url(base1, f"/ws/jobs/{job_id}"))

    async def follow_sse() -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        async with (
            httpx.AsyncClient(timeout=30) as client,
            aconnect_sse(client, "GET", f"{base1}/api/jobs/{job_id}/events") as source,
        ):
            async for sse in source.aiter_sse():
                out.append(json.loads(sse.data))
        return out

    async def both() -> Any:
        return await asyncio.gather(follow_ws(), follow_sse())

    (messages, code), sse = asyncio.run(asyncio.wait_for(both(), 60))

    assert code == 1000
    assert messages[0]["type"] == "connected"
    assert messages[-1]["type"] == "completed"
    seqs = [m["seq"] for m in messages]
    assert seqs == sorted(set(seqs))
    progress = [m for m in messages if m["type"] == "progress"]
    assert len(progress) >= 3, "progress should arrive live, through Redis"
    assert messages[-1]["job"]["current"] == 60
    assert sse[-1]["type"] == "completed"
    assert sse[-1]["job"] == messages[-1]["job"]

    final = httpx.get(f"{base1}/api/jobs/{job_id}").json()
    assert final == messages[-1]["job"]
    assert httpx.get(f"{base1}/api/jobs/{job_id}/result").json() == 60
    worker_stats = httpx.get(f"{base2}/api/stats").json()["worker"]
    assert worker_stats is not None
    assert sum(worker_stats.values()) > 0, worker_stats
