"""Scaled-out serving under faults: two `jobwire serve --workers 0` processes and one Celery
worker (`jobwire worker` with JOBWIRE_EXECUTOR=celery, RabbitMQ as its broker) on one
PostgreSQL and one private Redis bus (started here, on a free port, so it can be killed and
started again without touching the machine's Redis).

- Redis goes away mid-job: REST and long polls still answer from the database, WebSocket and
  SSE streams read the store every poll interval, then go back to push when the bus
  reconnects by itself; every stream ends with the final event, nothing repeated.
- A server is SIGKILLed: raw WebSocket (``?after=``) and SSE (``Last-Event-ID``) clients and
  the Python ``Client`` with two URLs resume on the other server after their last seq.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from httpx_sse import aconnect_sse
from websockets.exceptions import ConnectionClosedError

from jobwire import Client
from tests.conftest import require_service, reset_postgres
from tests.processes import stop, wait_answering

from .server_util import ROOT, free_port, migrate, start_serve, ws_url

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

FINAL = {"completed", "failed", "cancelled"}
POLL_INTERVAL = 0.2
# Long enough that a stream that read the store only once per heartbeat would show nothing
# during the outage: what arrives then comes from polling at POLL_INTERVAL.
HEARTBEAT = 20


# -- a private Redis -------------------------------------------------------------------------


class PrivateRedis:
    """A redis-server on a free port, in a temporary directory, killed and started at will."""

    def __init__(self, binary: str, directory: Path) -> None:
        self.binary = binary
        self.directory = directory
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                self.binary,
                *("--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.directory)),
                *("--save", "", "--appendonly", "no", "--protected-mode", "no"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        import redis

        client = redis.Redis(port=self.port, socket_connect_timeout=0.5)
        deadline = time.monotonic() + 10
        try:
            while True:
                try:
                    client.ping()
                    return
                except redis.ConnectionError:
                    if self.proc.poll() is not None or time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
        finally:
            client.close()

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None


@pytest.fixture(scope="module")
def private_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateRedis]:
    def check() -> str:
        binary = shutil.which("redis-server")
        if binary is None:
            raise FileNotFoundError("no redis-server on PATH")
        import redis  # noqa: F401 - the bus needs the package

        return binary

    binary = require_service("the redis-server binary", check)
    server = PrivateRedis(binary, tmp_path_factory.mktemp("redis"))
    server.start()
    try:
        yield server
    finally:
        server.kill()


# -- the deployment: two serving processes and one worker --------------------------------------


@dataclass
class Deployment:
    env: dict[str, str]
    redis: PrivateRedis
    ports: dict[str, int]
    procs: dict[str, subprocess.Popen[str]] = field(default_factory=dict)

    @property
    def a(self) -> str:
        return f"http://127.0.0.1:{self.ports['a']}"

    @property
    def b(self) -> str:
        return f"http://127.0.0.1:{self.ports['b']}"

    def start(self, name: str) -> None:
        if name == "worker":
            self.procs[name] = subprocess.Popen(
                [sys.executable, "-m", "jobwire", "worker", "tests.apps.sample:app", "-c", "2"],
                env=self.env,
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
        else:  # serving only: the worker process runs the jobs
            self.procs[name] = start_serve(self.env, self.ports[name], "--workers", "0")

    def stop(self, name: str) -> None:
        proc = self.procs.pop(name)
        killed = proc.poll() == -signal.SIGKILL
        out = stop(proc)
        if not killed:
            assert "Traceback" not in out, f"{name}: {out}"

    def revive(self) -> None:
        """Start again whatever a test before killed: each test starts with all running."""
        if self.redis.proc is None:
            self.redis.start()
        dead = [name for name, proc in self.procs.items() if proc.poll() is not None]
        for name in dead:
            self.stop(name)
            self.start(name)
        for name in ("a", "b"):
            wait_answering(self.procs[name], f"{getattr(self, name)}/api/health")


@pytest.fixture(scope="module")
def amqp_broker() -> str:
    url = os.environ.get("JOBWIRE_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//")

    def check() -> str:
        from kombu import Connection

        with Connection(url, connect_timeout=3) as conn:
            conn.ensure_connection(max_retries=1)
        return url

    return require_service(f"RabbitMQ at {url}", check)


@pytest.fixture(scope="module")
def cluster(
    _postgres_database: str, private_redis: PrivateRedis, amqp_broker: str
) -> Iterator[Deployment]:
    """Two `serve --workers 0` and one Celery worker, for the whole module: starting
    three processes costs more than the tests themselves."""
    reset_postgres(_postgres_database)
    queue = f"jobwire-test-{os.getpid()}-{free_port()}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOBWIRE_")}
    env.update(
        JOBWIRE_EXECUTOR="celery",
        JOBWIRE_CELERY_BROKER_URL=amqp_broker,
        JOBWIRE_CELERY_QUEUE=queue,
        JOBWIRE_DATABASE_URL=_postgres_database,
        JOBWIRE_BUS_URL=private_redis.url,
        JOBWIRE_HEARTBEAT_SECONDS=str(HEARTBEAT),
        JOBWIRE_POLL_INTERVAL=str(POLL_INTERVAL),
        PYTHONPATH=str(ROOT),
        COLUMNS="200",
    )
    migrate(env)
    deployment = Deployment(env, private_redis, {"a": free_port(), "b": free_port()})
    try:
        for name in ("a", "b", "worker"):
            deployment.start(name)
        deployment.revive()
        yield deployment
    finally:
        for name in list(deployment.procs):
            deployment.stop(name)
        from kombu import Connection

        with Connection(amqp_broker) as conn, contextlib.suppress(Exception):
            conn.default_channel.queue_delete(queue)


@pytest.fixture
def deployment(cluster: Deployment) -> Deployment:
    cluster.revive()
    return cluster


def stats(base: str) -> dict[str, Any]:
    body: dict[str, Any] = httpx.get(f"{base}/api/stats", timeout=5).json()
    return body


def submit_count(base: str, n: int, delay: float) -> str:
    r = httpx.post(f"{base}/api/tasks/count/jobs", json={"n": n, "delay": delay}, timeout=10)
    assert r.status_code == 202, r.text
    job_id: str = r.json()["id"]
    return job_id


# -- clients that record what they receive ----------------------------------------------------


@dataclass
class Seen:
    """What one client received, in order, with when, and each resume: (last seq before,
    first seq after)."""

    name: str
    messages: list[dict[str, Any]] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    resumed: list[tuple[int, int]] = field(default_factory=list)
    servers: list[str] = field(default_factory=list)

    @property
    def last(self) -> int:
        return int(self.messages[-1]["seq"]) if self.messages else 0

    def add(self, msg: dict[str, Any], resuming: bool) -> None:
        if resuming and self.messages:
            self.resumed.append((self.last, msg["seq"]))
        self.messages.append(msg)
        self.times.append(time.monotonic())

    def between(self, start: float, end: float) -> list[int]:
        return [m["seq"] for m, t in zip(self.messages, self.times, strict=True) if start < t < end]

    def check(self) -> None:
        """Strictly growing seqs (nothing repeated or out of order), ending with the final one."""
        seqs = [m["seq"] for m in self.messages]
        assert seqs, self.name
        assert all(x < y for x, y in itertools.pairwise(seqs)), (self.name, seqs)
        assert self.messages[-1]["type"] == "completed", (self.name, self.messages[-1])
        for before, after in self.resumed:
            assert after > before, (self.name, self.resumed)


async def ws_follow(seen: Seen, job_id: str, bases: list[str]) -> None:
    """A raw WebSocket client: on a dropped connection, the next server with ?after=."""
    index = 0
    while True:
        base = bases[index]
        path = f"/ws/jobs/{job_id}" + (f"?after={seen.last}" if seen.messages else "")
        seen.servers.append(base)
        try:
            async with websockets.connect(ws_url(base, path), open_timeout=5) as ws:
                resuming = bool(seen.messages)
                async for raw in ws:
                    msg = json.loads(raw)
                    if msg["type"] == "ping":
                        continue
                    seen.add(msg, resuming)
                    resuming = False
                    if msg["type"] in FINAL:
                        return
                return  # closed cleanly before the final message: check() says so
        except (ConnectionClosedError, OSError):
            index = min(index + 1, len(bases) - 1)
            await asyncio.sleep(0.1)


async def sse_follow(seen: Seen, job_id: str, bases: list[str]) -> None:
    """A raw SSE client: on a dropped connection, the next server with Last-Event-ID."""
    index = 0
    async with httpx.AsyncClient(timeout=HEARTBEAT + 10) as client:
        while True:
            base = bases[index]
            headers = {"Last-Event-ID": str(seen.last)} if seen.messages else {}
            seen.servers.append(base)
            try:
                async with aconnect_sse(
                    client, "GET", f"{base}/api/jobs/{job_id}/events", headers=headers
                ) as source:
                    assert source.response.status_code == 200
                    resuming = bool(seen.messages)
                    async for sse in source.aiter_sse():
                        if not sse.data:
                            continue  # a heartbeat comment
                        msg = json.loads(sse.data)
                        assert int(sse.id) == msg["seq"]
                        seen.add(msg, resuming)
                        resuming = False
                        if msg["type"] in FINAL:
                            return
                    return
            except httpx.TransportError:
                index = min(index + 1, len(bases) - 1)
                await asyncio.sleep(0.1)


def client_follow(seen: Seen, job_id: str, urls: list[str]) -> tuple[str, int, str]:
    """The Python Client: (the server it ended on, how often it resumed, its transport)."""
    with Client(urls, backoff=0.1) as client:
        watch = client.watch(job_id)
        reconnects = 0
        for msg in watch:
            seen.add(dict(msg), watch.reconnects != reconnects)
            reconnects = watch.reconnects
        return watch.url, watch.reconnects, watch.transport


async def until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


def progressed(seens: list[Seen], count: int) -> Callable[[], bool]:
    return lambda: all(sum(m["type"] == "progress" for m in s.messages) >= count for s in seens)


# -- Redis goes away ----------------------------------------------------------------------------


def test_streams_and_polls_survive_a_redis_restart(deployment: Deployment) -> None:
    a, b = deployment.a, deployment.b
    job_id = submit_count(a, n=120, delay=0.1)  # about 12 s, one event per item
    seens = [Seen("ws@a"), Seen("sse@b"), Seen("ws@b"), Seen("sse@a")]

    async def scenario() -> dict[str, float]:
        followers = [
            asyncio.create_task(ws_follow(seens[0], job_id, [a])),
            asyncio.create_task(sse_follow(seens[1], job_id, [b])),
            asyncio.create_task(ws_follow(seens[2], job_id, [b])),
            asyncio.create_task(sse_follow(seens[3], job_id, [a])),
        ]
        await until(progressed(seens, 3), 15, "live progress before the outage")

        deployment.redis.kill()
        down = time.monotonic()
        await asyncio.sleep(0.5)  # the servers notice (their listeners get EOF at once)
        delivered = {base: stats(base)["streams"]["delivered"] for base in (a, b)}
        async with httpx.AsyncClient(timeout=10) as http:
            for base in (a, b):
                url = f"{base}/api/jobs/{job_id}"
                first = await http.get(url)
                assert first.status_code == 200
                try:  # held to its end, the poll would outlast the client's 10 s timeout
                    polled = await http.get(
                        url, params={"wait": 30}, headers={"If-None-Match": first.headers["etag"]}
                    )
                except httpx.ReadTimeout:
                    pytest.fail(f"{base}: the long poll did not wake on a change in the database")
                assert polled.status_code == 200, base  # a change, read from the database
                assert polled.json()["seq"] > first.json()["seq"]
                assert polled.json()["current"] >= first.json()["current"]
                await asyncio.sleep(0.3)
                again = await http.get(url)
                assert again.status_code == 200 and again.json()["seq"] > polled.json()["seq"]
        await asyncio.sleep(max(0.0, down + 2.5 - time.monotonic()))
        # Nothing came through the bus while Redis was down: streams were served by polling.
        assert {base: stats(base)["streams"]["delivered"] for base in (a, b)} == delivered
        # Publishing to a Redis that is not there did not hold the worker up: the job went on.
        late = httpx.get(f"{a}/api/jobs/{job_id}").json()
        assert late["status"] == "succeeded" or late["current"] > again.json()["current"], late
        deployment.redis.start()
        up = time.monotonic()
        # The buses reconnect by themselves, and events are pushed through them again.
        await until(
            lambda: all(stats(base)["streams"]["delivered"] > delivered[base] for base in (a, b)),
            10,
            "push through the reconnected bus",
        )
        pushed = time.monotonic()
        await asyncio.wait_for(asyncio.gather(*followers), 30)
        return {"down": down, "up": up, "pushed": pushed}

    times = asyncio.run(asyncio.wait_for(scenario(), 60))

    final = httpx.get(f"{a}/api/jobs/{job_id}").json()
    assert final["status"] == "succeeded" and final["current"] == 120
    for seen in seens:
        seen.check()
        assert seen.messages[0]["type"] == "connected", seen.name
        assert seen.messages[-1]["job"] == final, seen.name
        # While Redis was down, each stream read the store every poll interval.
        during = seen.between(times["down"] + 0.6, times["up"])
        assert len(during) >= 3, (seen.name, during)
        # And it went on after push was back, to the final event.
        assert seen.between(times["pushed"], time.monotonic()), seen.name


# -- a server dies --------------------------------------------------------------------------------


def test_clients_resume_on_the_other_server_when_one_is_killed(deployment: Deployment) -> None:
    a, b = deployment.a, deployment.b
    job_id = submit_count(a, n=70, delay=0.1)  # about 7 s
    ws, sse, py = Seen("ws"), Seen("sse"), Seen("client")

    async def scenario() -> tuple[str, int, str]:
        followers = [
            asyncio.create_task(ws_follow(ws, job_id, [a, b])),
            asyncio.create_task(sse_follow(sse, job_id, [a, b])),
        ]
        client = asyncio.create_task(asyncio.to_thread(client_follow, py, job_id, [a, b]))
        await until(progressed([ws, sse, py], 3), 15, "live progress from server a")
        deployment.procs["a"].send_signal(signal.SIGKILL)
        deployment.procs["a"].wait(10)
        await asyncio.wait_for(asyncio.gather(*followers), 30)
        return await asyncio.wait_for(client, 30)

    url, reconnects, transport = asyncio.run(asyncio.wait_for(scenario(), 60))

    final = httpx.get(f"{b}/api/jobs/{job_id}").json()
    assert final["status"] == "succeeded"
    for seen in (ws, sse, py):
        seen.check()
        assert len(seen.resumed) == 1, (seen.name, seen.resumed)
        assert seen.messages[-1]["job"] == final
        # The resumed stream went on from the store: no seq after the drop is missing.
        before, after = seen.resumed[0]
        assert after == before + 1, (seen.name, seen.resumed)
    assert ws.servers[0] == a and ws.servers[-1] == b
    assert sse.servers[0] == a and sse.servers[-1] == b
    assert (url, reconnects, transport) == (b, 1, "ws")
    # A new client whose first server is down moves on to the next for plain calls too.
    with Client([a, b]) as client:
        assert client.get(job_id).status.value == "succeeded"
        assert client.url == b
