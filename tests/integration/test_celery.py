"""The scaled mode, for real: `jobwire serve` processes and Celery worker processes (`jobwire
worker` with JOBWIRE_EXECUTOR=celery) on one PostgreSQL, a Redis bus, and a Redis or RabbitMQ
broker. Tasks (tests/apps/scale.py) log every attempt's start and end to files, so the tests
count how often each job really ran and check that no two attempts overlapped."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from jobwire.store.sql import SQLStore
from tests.conftest import require_service
from tests.processes import wait_answering

from .server_util import free_port, migrate

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("JOBWIRE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
AMQP_URL = os.environ.get("JOBWIRE_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//")
BROKER_DB = 11  # the Redis broker's database: flushed by these tests

pytestmark = pytest.mark.slow


def _redis_broker() -> str:
    import redis

    base = REDIS_URL.rsplit("/", 1)[0]
    client = redis.Redis.from_url(f"{base}/{BROKER_DB}", socket_connect_timeout=3)
    try:
        client.ping()
        client.flushdb()
    finally:
        client.close()
    return f"{base}/{BROKER_DB}"


def _amqp_broker() -> str:
    from kombu import Connection

    with Connection(AMQP_URL, connect_timeout=3) as conn:
        conn.ensure_connection(max_retries=1)
    return AMQP_URL


BROKERS: dict[str, Callable[[], str]] = {"redis": _redis_broker, "amqp": _amqp_broker}


def broker_url(kind: str) -> str:
    name = {"redis": f"Redis at {REDIS_URL}", "amqp": f"RabbitMQ at {AMQP_URL}"}[kind]
    return require_service(name, BROKERS[kind])


@dataclass
class Proc:
    popen: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)

    def start_reader(self) -> None:
        def read() -> None:
            assert self.popen.stdout is not None
            for line in self.popen.stdout:
                self.lines.append(line)

        threading.Thread(target=read, daemon=True).start()

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_for(self, text: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.output:
            if self.popen.poll() is not None:
                time.sleep(0.2)
                raise AssertionError(f"process exited ({self.popen.returncode}):\n{self.output}")
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} not seen within {timeout} s:\n{self.output}")
            time.sleep(0.05)


@dataclass
class Cluster:
    env: dict[str, str]
    database_url: str
    side_effects: Path
    servers: list[str] = field(default_factory=list)
    procs: list[Proc] = field(default_factory=list)
    workers: list[Proc] = field(default_factory=list)

    def spawn(self, *args: str) -> Proc:
        popen = subprocess.Popen(
            [sys.executable, "-m", "jobwire", *args],
            env=self.env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # its own process group: a kill takes its pool children
        )
        proc = Proc(popen)
        proc.start_reader()
        self.procs.append(proc)
        return proc

    def start_worker(self) -> Proc:
        proc = self.spawn("worker", "tests.apps.scale:app", "--concurrency", "1")
        proc.wait_for("ready")
        self.workers.append(proc)
        return proc

    def start_server(self) -> str:
        port = free_port()
        proc = self.spawn(
            *("serve", "tests.apps.scale:app", "--port", str(port), "--log-level", "warning")
        )
        base = f"http://127.0.0.1:{port}"
        wait_answering(proc.popen, f"{base}/api/health", output=lambda: proc.output)
        self.servers.append(base)
        return base

    def store(self) -> SQLStore:
        return SQLStore(self.database_url)

    def runs(self) -> dict[str, list[tuple[str, int, float]]]:
        """Side effects by job: (start|end, pid, time), in time order."""
        out: dict[str, list[tuple[str, int, float]]] = defaultdict(list)
        for path in self.side_effects.glob("*.log"):
            for line in path.read_text().splitlines():
                job_id, what, pid, at = line.split()
                out[job_id].append((what, int(pid), float(at)))
        for items in out.values():
            items.sort(key=lambda item: item[2])
        return out

    def stop(self) -> None:
        for proc in self.procs:
            if proc.popen.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.popen.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.popen.wait(15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.popen.pid, signal.SIGKILL)
                proc.popen.wait(5)
            time.sleep(0.05)  # the reader thread drains the pipe to its end
            if proc.popen.stdout is not None:
                proc.popen.stdout.close()


@contextlib.contextmanager
def make_cluster(
    postgres_url: str, tmp_path: Path, broker: str, **settings: str
) -> Iterator[Cluster]:
    bus = require_service(f"Redis at {REDIS_URL}", _redis_broker).rsplit("/", 1)[0] + "/0"
    queue = f"jobwire-test-{uuid.uuid4().hex[:8]}"
    side_effects = tmp_path / "runs"
    side_effects.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOBWIRE_")}
    env.update(
        JOBWIRE_DATABASE_URL=postgres_url,
        JOBWIRE_BUS_URL=bus,
        JOBWIRE_EXECUTOR="celery",
        JOBWIRE_CELERY_BROKER_URL=broker,
        JOBWIRE_CELERY_QUEUE=queue,
        JOBWIRE_SUBMIT_RATE="100000",
        JOBWIRE_SUBMIT_BURST="100000",
        JOBWIRE_HEARTBEAT_SECONDS="1",
        JOBWIRE_TEST_SIDE_EFFECTS=str(side_effects),
        PYTHONPATH=str(ROOT),
        COLUMNS="200",
    )
    env.update({f"JOBWIRE_{k.upper()}": v for k, v in settings.items()})
    migrate(env)
    cluster = Cluster(env, postgres_url, side_effects)
    try:
        yield cluster
    finally:
        cluster.stop()
        if broker.startswith("amqp"):
            from kombu import Connection

            with Connection(broker) as conn, contextlib.suppress(Exception):
                conn.default_channel.queue_delete(queue)


@pytest.fixture
def cluster(postgres_url: str, tmp_path: Path) -> Iterator[Cluster]:
    with make_cluster(
        postgres_url, tmp_path, broker_url("redis"), lease_seconds="3", cancel_grace="1"
    ) as cluster:
        yield cluster


def wait_until(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(0.1)


def snapshot(base: str, job_id: str) -> dict[str, Any]:
    response = httpx.get(f"{base}/api/jobs/{job_id}", timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def submit(base: str, task: str, args: dict[str, Any]) -> dict[str, Any]:
    response = httpx.post(f"{base}/api/tasks/{task}/jobs", json=args, timeout=10)
    assert response.status_code in (200, 202), response.text
    return response.json()


def wait_terminal(base: str, job_id: str, timeout: float = 60) -> dict[str, Any]:
    return wait_until(
        lambda: (
            (snap := snapshot(base, job_id))["status"] in ("succeeded", "failed", "cancelled")
            and snap
        ),
        timeout,
        f"job {job_id} ending",
    )


# -- 1,000 jobs through two servers and two Celery workers ------------------------------


async def _watch_all(base: str, seen: dict[str, list[int]], stop: asyncio.Event) -> None:
    url = base.replace("http", "ws", 1) + "/ws"
    async with websockets.connect(url, max_queue=None) as ws:
        await ws.send(json.dumps({"type": "subscribe", "all": True}))
        while not stop.is_set():
            try:
                raw = await asyncio.wait_for(ws.recv(), 0.5)
            except TimeoutError:
                continue
            message = json.loads(raw)
            if "job" in message and "seq" in message:
                seen[message["job"]["id"]].append(message["seq"])


async def _thousand(cluster: Cluster, n: int) -> tuple[list[str], list[dict[str, list[int]]]]:
    stop = asyncio.Event()
    seen: list[dict[str, list[int]]] = [defaultdict(list) for _ in cluster.servers]
    watchers = [
        asyncio.create_task(_watch_all(base, s, stop))
        for base, s in zip(cluster.servers, seen, strict=True)
    ]
    await asyncio.sleep(0.5)  # the watchers are subscribed
    ids: list[str] = []
    async with httpx.AsyncClient(timeout=30) as client:
        sem = asyncio.Semaphore(16)

        async def one(i: int) -> None:
            base = cluster.servers[i % 2]
            async with sem:
                response = await client.post(f"{base}/api/tasks/tick/jobs", json={"items": 3})
            assert response.status_code == 202, response.text
            ids.append(response.json()["id"])

        await asyncio.gather(*(one(i) for i in range(n)))
    store = cluster.store()
    try:
        deadline = time.monotonic() + 120
        while store.counts().get("succeeded", 0) < n:
            assert time.monotonic() < deadline, f"not all ran: {store.counts()}"
            await asyncio.sleep(0.25)
    finally:
        store.close()
    await asyncio.sleep(1.0)  # the last events reach the watchers
    stop.set()
    await asyncio.gather(*watchers)
    return ids, seen


@pytest.mark.timeout(300)
def test_a_thousand_jobs_through_two_servers_run_once_each_on_two_celery_workers(
    cluster: Cluster,
) -> None:
    n = 1000
    cluster.start_server()
    cluster.start_server()
    cluster.start_worker()
    cluster.start_worker()

    ids, seen = asyncio.run(_thousand(cluster, n))

    assert len(set(ids)) == n
    store = cluster.store()
    try:
        assert {k: v for k, v in store.counts().items() if v} == {"succeeded": n}
        for job_id in ids:
            seqs = [event["seq"] for event in store.events(job_id)]
            assert seqs == sorted(set(seqs)), (job_id, seqs)
            assert store.get(job_id).attempt == 1  # type: ignore[union-attr]
    finally:
        store.close()
    # Each job's side effect happened exactly once: one start, one end.
    runs = cluster.runs()
    assert set(runs) == set(ids)
    assert all([what for what, _, _ in items] == ["start", "end"] for items in runs.values())
    pids = {pid for items in runs.values() for _, pid, _ in items}
    assert len(pids) == 2, f"expected both workers' pool processes to run jobs, got {pids}"
    # Both servers pushed every job's events, each job's seq strictly growing, ending with
    # the terminal event.
    for per_job in seen:
        assert set(per_job) == set(ids)
        for job_id, seqs in per_job.items():
            assert seqs == sorted(set(seqs)), (job_id, seqs)
        final = {job_id: seqs[-1] for job_id, seqs in per_job.items()}
        store = cluster.store()
        try:
            stored = {job_id: store.get(job_id).seq for job_id in ids}  # type: ignore[union-attr]
        finally:
            store.close()
        assert final == stored


# -- a killed worker ----------------------------------------------------------------------


@pytest.mark.parametrize("broker", ["redis", "amqp"])
@pytest.mark.parametrize(("task", "expected"), [("long", "succeeded"), ("long_once", "failed")])
def test_a_sigkilled_celery_worker_s_job_is_redelivered_or_fails_worker_lost(
    postgres_url: str, tmp_path: Path, broker: str, task: str, expected: str
) -> None:
    url = broker_url(broker)
    with make_cluster(
        postgres_url, tmp_path, url, lease_seconds="2", celery_visibility_timeout="4"
    ) as cluster:
        base = cluster.start_server()
        cluster.start_worker()
        cluster.start_worker()
        job = submit(base, task, {"seconds": 3, "items": 30})
        first = wait_until(lambda: cluster.runs().get(job["id"]), 30, "the first attempt")
        _, pid, _ = first[0]
        victim = next(w for w in cluster.workers if os.getpgid(pid) == w.popen.pid)
        time.sleep(0.5)  # mid-job
        killed_at = time.time()
        os.killpg(victim.popen.pid, signal.SIGKILL)
        victim.popen.wait(10)

        final = wait_terminal(base, job["id"], timeout=60)

        runs = cluster.runs()[job["id"]]
        if expected == "succeeded":
            assert final["status"] == "succeeded", final
            assert final["attempt"] == 2
            assert [what for what, _, _ in runs] == ["start", "start", "end"], runs
            # The second attempt started after the first one's process died.
            assert runs[1][2] > killed_at
            assert runs[1][1] != pid
        else:
            assert final["status"] == "failed", final
            assert final["error"]["code"] == "worker_lost"
            assert final["attempt"] == 1
            assert [what for what, _, _ in runs] == ["start"], runs


# -- limits and dedupe hold across servers ---------------------------------------------


async def _race(bases: list[str], task: str, args: dict[str, Any], n: int) -> list[httpx.Response]:
    async with httpx.AsyncClient(timeout=30) as client:
        return await asyncio.gather(
            *(client.post(f"{bases[i % 2]}/api/tasks/{task}/jobs", json=args) for i in range(n))
        )


def test_per_owner_limit_dedupe_and_max_concurrency_hold_across_servers_and_workers(
    cluster: Cluster,
) -> None:
    bases = [cluster.start_server(), cluster.start_server()]
    cluster.start_worker()
    cluster.start_worker()

    limited = asyncio.run(_race(bases, "limited", {"seconds": 3}, 20))
    codes = sorted(r.status_code for r in limited)
    assert codes == [202] * 2 + [409] * 18, codes
    assert {r.json()["error"]["code"] for r in limited if r.status_code == 409} == {
        "owner_limit_reached"
    }

    keyed = asyncio.run(_race(bases, "keyed", {"key": "k1", "seconds": 3}, 20))
    assert sorted(r.status_code for r in keyed) == [200] * 19 + [202]
    assert len({r.json()["id"] for r in keyed}) == 1

    solos = [submit(bases[i % 2], "solo", {"seconds": 0.4}) for i in range(4)]
    for job in solos:
        assert wait_terminal(bases[0], job["id"])["status"] == "succeeded"
    runs = cluster.runs()
    spans = sorted((items[0][2], items[-1][2]) for job in solos for items in [runs[job["id"]]])
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert start >= end, f"two `solo` jobs overlapped: {spans}"


# -- cancel ------------------------------------------------------------------------------


def test_cancel_revokes_a_queued_job_stops_a_running_one_and_kills_a_stubborn_one(
    cluster: Cluster,
) -> None:
    base = cluster.start_server()
    worker = cluster.start_worker()

    # Running, cooperative: ends cancelled at its next Progress call.
    running = submit(base, "long", {"seconds": 30, "items": 300})
    wait_until(lambda: snapshot(base, running["id"])["status"] == "running", 30, "running")
    # Queued behind it (one worker, one slot): cancelled at once, its message revoked.
    queued = submit(base, "tick", {})
    assert snapshot(base, queued["id"])["status"] == "queued"
    response = httpx.post(f"{base}/api/jobs/{queued['id']}/cancel", timeout=10)
    assert response.status_code == 202
    assert snapshot(base, queued["id"])["status"] == "cancelled"
    response = httpx.post(f"{base}/api/jobs/{running['id']}/cancel", timeout=10)
    assert response.status_code == 202
    final = wait_terminal(base, running["id"], timeout=20)
    assert final["status"] == "cancelled"
    assert final["error"] is None
    assert 0 < final["current"] < 300

    # Ignores the cancel: after the grace period (1 s here) it is recorded cancelled and its
    # pool process is killed; Celery starts another, which runs the next job.
    stubborn = submit(base, "stubborn", {"seconds": 60})
    first = wait_until(lambda: cluster.runs().get(stubborn["id"]), 30, "stubborn started")
    pool_pid = first[0][1]
    httpx.post(f"{base}/api/jobs/{stubborn['id']}/cancel", timeout=10).raise_for_status()
    final = wait_terminal(base, stubborn["id"], timeout=20)
    assert final["status"] == "cancelled"
    assert final["error"]["code"] == "cancel_grace_exceeded"

    def gone() -> bool:
        try:
            os.kill(pool_pid, 0)
        except ProcessLookupError:
            return True
        return False

    wait_until(gone, 20, "the stubborn job's pool process exiting")
    after = submit(base, "tick", {})
    assert wait_terminal(base, after["id"])["status"] == "succeeded"
    assert worker.popen.poll() is None

    # The revoked job never ran anywhere.
    assert queued["id"] not in cluster.runs()
    assert snapshot(base, queued["id"])["status"] == "cancelled"


# -- the broker is down ------------------------------------------------------------------


def test_a_submit_while_the_broker_is_unreachable_answers_503_and_queues_nothing(
    postgres_url: str, tmp_path: Path
) -> None:
    broker_url("redis")  # the bus (Redis) is needed; the broker below is a closed port
    dead = f"redis://127.0.0.1:{free_port()}/0"
    with make_cluster(postgres_url, tmp_path, dead) as cluster:
        base = cluster.start_server()
        response = httpx.post(f"{base}/api/tasks/tick/jobs", json={}, timeout=30)
        assert response.status_code == 503, response.text
        error = response.json()["error"]
        assert error["code"] == "broker_unavailable"
        job_id = error["details"]["job_id"]
        assert snapshot(base, job_id)["status"] == "cancelled"
        listed = httpx.get(f"{base}/api/jobs", params={"status": "queued"}, timeout=10).json()
        assert listed["jobs"] == []


# -- duplicates and stale attempts --------------------------------------------------------


def test_duplicate_messages_never_run_a_job_twice(cluster: Cluster) -> None:
    from jobwire.executors.celery import TASK_NAME

    base = cluster.start_server()
    cluster.start_worker()
    cluster.start_worker()
    job = submit(base, "long", {"seconds": 3, "items": 30})
    wait_until(lambda: cluster.runs().get(job["id"]), 30, "the job starting")
    # What a broker's redelivery or visibility timeout would do: the same message again,
    # while the job runs on the other worker, and once more after it ended.
    from celery import Celery

    celery = Celery(broker=cluster.env["JOBWIRE_CELERY_BROKER_URL"], set_as_current=False)
    queue = cluster.env["JOBWIRE_CELERY_QUEUE"]
    try:
        for _ in range(3):
            celery.send_task(TASK_NAME, args=[job["id"], "long"], task_id=job["id"], queue=queue)
        final = wait_terminal(base, job["id"], timeout=30)
        celery.send_task(TASK_NAME, args=[job["id"], "long"], task_id=job["id"], queue=queue)
        time.sleep(2.0)
    finally:
        celery.close()
    assert final["status"] == "succeeded" and final["attempt"] == 1
    assert snapshot(base, job["id"])["seq"] == final["seq"]  # nothing moved it after
    assert [what for what, _, _ in cluster.runs()[job["id"]]] == ["start", "end"]


def test_a_paused_worker_s_stale_attempt_is_rejected_when_it_wakes(
    postgres_url: str, tmp_path: Path
) -> None:
    with make_cluster(postgres_url, tmp_path, broker_url("redis"), lease_seconds="2") as cluster:
        base = cluster.start_server()
        cluster.start_worker()
        cluster.start_worker()
        job = submit(base, "long", {"seconds": 4, "items": 40})
        first = wait_until(lambda: cluster.runs().get(job["id"]), 30, "the first attempt")
        paused = first[0][1]
        os.kill(paused, signal.SIGSTOP)  # a hung pool process: its lease stops renewing
        try:
            wait_until(
                lambda: len(cluster.runs()[job["id"]]) >= 2, 30, "a second attempt elsewhere"
            )
        finally:
            os.kill(paused, signal.SIGCONT)
        final = wait_terminal(base, job["id"], timeout=30)
        time.sleep(1.0)  # the woken attempt has had time to try its writes

        assert final["status"] == "succeeded" and final["attempt"] == 2, final
        runs = cluster.runs()[job["id"]]
        # The woken first attempt stopped at its next Progress call: it never ended.
        assert [(what, pid == paused) for what, pid, _ in runs] == [
            ("start", True),
            ("start", False),
            ("end", False),
        ], runs
        store = cluster.store()
        try:
            events = store.events(job["id"])
        finally:
            store.close()
        seqs = [event["seq"] for event in events]
        assert seqs == sorted(set(seqs))
        assert events[-1]["job"]["status"] == "succeeded" and events[-1]["job"]["attempt"] == 2
        assert snapshot(base, job["id"])["seq"] == final["seq"]


def test_a_job_whose_message_the_broker_lost_is_sent_again(
    postgres_url: str, tmp_path: Path
) -> None:
    url = broker_url("redis")
    with make_cluster(
        postgres_url, tmp_path, url, lease_seconds="2", celery_resend_after="3"
    ) as cluster:
        base = cluster.start_server()
        job = submit(base, "tick", {})
        import redis

        client = redis.Redis.from_url(url)
        try:
            client.flushdb()  # a broker restarted without persistence: the message is gone
        finally:
            client.close()
        cluster.start_worker()
        time.sleep(1.0)
        assert snapshot(base, job["id"])["status"] == "queued"  # nothing to deliver it

        final = wait_terminal(base, job["id"], timeout=30)

        assert final["status"] == "succeeded" and final["attempt"] == 1
        assert [what for what, _, _ in cluster.runs()[job["id"]]] == ["start", "end"]


def test_a_job_on_a_celery_worker_waits_for_its_webhook(cluster: Cluster) -> None:
    base = cluster.start_server()
    cluster.start_worker()
    job = submit(base, "awaits", {})
    waiting = wait_until(
        lambda: (snap := snapshot(base, job["id"]))["status"] == "waiting" and snap,
        30,
        "the job waiting",
    )
    url = waiting["message"]
    assert url.startswith(f"/api/hooks/{job['id']}?sig=")
    response = httpx.post(f"{base}{url}", json={"frames": 24}, timeout=10)
    assert response.status_code == 202, response.text
    final = wait_terminal(base, job["id"], timeout=30)
    assert final["status"] == "succeeded"
    assert httpx.get(f"{base}/api/jobs/{job['id']}/result").json() == {"frames": 24}


def test_a_message_that_meets_an_unreachable_database_is_delivered_again(
    postgres_url: str, tmp_path: Path
) -> None:
    from sqlalchemy.engine import make_url

    from .server_fixtures import TcpProxy

    direct = make_url(postgres_url)
    with (
        TcpProxy(f"{direct.host}:{direct.port or 5432}") as proxy,
        make_cluster(postgres_url, tmp_path, broker_url("redis")) as cluster,
    ):
        base = cluster.start_server()
        # The worker reaches PostgreSQL through the proxy; the server does not.
        proxied = direct.set(port=int(proxy.url.rsplit(":", 1)[1]))
        cluster.env["JOBWIRE_DATABASE_URL"] = proxied.render_as_string(hide_password=False)
        worker = cluster.start_worker()
        warm = submit(base, "tick", {})
        assert wait_terminal(base, warm["id"])["status"] == "succeeded"

        proxy.refuse = True
        proxy.drop()
        job = submit(base, "tick", {})
        time.sleep(3.0)  # its message arrives, the claim fails, it is delivered again later
        assert snapshot(base, job["id"])["status"] == "queued"
        proxy.refuse = False

        final = wait_terminal(base, job["id"], timeout=60)
        assert final["status"] == "succeeded" and final["attempt"] == 1
        assert [what for what, _, _ in cluster.runs()[job["id"]]] == ["start", "end"]
        assert f"job {job['id']}: StoreUnavailable" in worker.output.replace("\n", " ")
        assert "delivering it again" in worker.output
