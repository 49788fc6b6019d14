"""Durable waits through real interfaces: a waiting job holds no worker.

- With 2 workers (threads, in a real server), 200 jobs wait on their webhooks at once; 100
  short jobs submitted meanwhile all finish before any webhook comes; then every webhook
  comes over HTTP and all 200 complete.
- The same with Celery: one worker process with one slot, PostgreSQL, Redis.
- A Celery worker is SIGKILLed while 50 jobs wait; their webhooks come while no worker runs;
  a new worker finishes all 50, and what each did before its wait happened once.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from jobwire import App, Progress, hooks

from .server_fixtures import running_server
from .test_celery import Cluster, broker_url, make_cluster, submit, wait_until

WAITS = 200
SHORT = 100


def counts(base: str) -> dict[str, int]:
    jobs: dict[str, int] = httpx.get(f"{base}/api/stats", timeout=10).json()["jobs"]
    return jobs


def post_webhooks(base: str, secret: str, job_ids: list[str]) -> None:
    with httpx.Client(base_url=base, timeout=30) as client:
        for i, job_id in enumerate(job_ids):
            r = client.post(hooks.path(secret, job_id), json={"frames": i})
            assert r.status_code == 202, r.text


def short_jobs_run_while_jobs_wait(base: str, submit_wait: Any, submit_short: Any) -> list[str]:
    """Submit the waits, see them all waiting, then the short jobs, see them all done while
    the waits still wait; return the waiting jobs' ids."""
    waiting = [submit_wait() for _ in range(WAITS)]
    wait_until(lambda: counts(base).get("waiting", 0) == WAITS, 120, f"{WAITS} jobs waiting")
    short = [submit_short() for _ in range(SHORT)]
    wait_until(lambda: counts(base).get("succeeded", 0) == SHORT, 120, f"{SHORT} short jobs")
    assert counts(base).get("waiting", 0) == WAITS  # no webhook came: none went on
    assert len(set(short)) == SHORT
    return waiting


# -- threads -------------------------------------------------------------------------------


@pytest.fixture
def threads_app(tmp_path: Path) -> Iterator[App]:
    app = App(f"sqlite:///{tmp_path}/waits.db", workers=2, progress_interval=0.05)
    asked: list[str] = []

    @app.task(name="asks")
    def asks(progress: Progress) -> object:
        progress.once("ask", lambda: asked.append(progress.job_id))
        payload = progress.wait_for_callback(timeout=300, step="waiting for the provider")
        return payload

    @app.task(name="tick")
    def tick(progress: Progress) -> int:
        for _ in progress.iter(range(3), step="ticking"):
            pass
        return 3

    app.asked = asked  # type: ignore[attr-defined]
    try:
        yield app
    finally:
        app.close()


def test_two_thread_workers_run_short_jobs_while_200_jobs_wait(threads_app: App) -> None:
    app = threads_app
    with running_server(app, submit_rate=100000, submit_burst=100000) as base:
        waiting = short_jobs_run_while_jobs_wait(
            base,
            lambda: submit(base, "asks", {})["id"],
            lambda: submit(base, "tick", {})["id"],
        )
        post_webhooks(base, app.secret, waiting)
        wait_until(lambda: counts(base).get("succeeded", 0) == WAITS + SHORT, 120, "all done")
        for i, job_id in enumerate(waiting):
            assert app.result(job_id) == {"frames": i}
            assert app.get(job_id).record.attempt == 1
    assert sorted(app.asked) == sorted(waiting)  # type: ignore[attr-defined]


# -- Celery --------------------------------------------------------------------------------


@pytest.fixture
def celery_cluster(postgres_url: str, tmp_path: Path) -> Iterator[Cluster]:
    with make_cluster(
        postgres_url, tmp_path, broker_url("redis"), lease_seconds="3", cancel_grace="1"
    ) as cluster:
        yield cluster


def asked(cluster: Cluster) -> dict[str, int]:
    """How many times each job's side effect before its wait happened."""
    found: dict[str, int] = {}
    for job_id, items in cluster.runs().items():
        n = sum(1 for what, _, _ in items if what == "asked")
        if n:
            found[job_id] = n
    return found


def secret_of(cluster: Cluster) -> str:
    store = cluster.store()
    try:
        return store.keys.meta_value("stream_secret", lambda: "")
    finally:
        store.close()


def test_one_celery_worker_slot_runs_short_jobs_while_200_jobs_wait(
    celery_cluster: Cluster,
) -> None:
    cluster = celery_cluster
    base = cluster.start_server()
    cluster.start_worker()  # one process, one slot
    waiting = short_jobs_run_while_jobs_wait(
        base,
        lambda: submit(base, "asks", {})["id"],
        lambda: submit(base, "tick", {"items": 2})["id"],
    )
    post_webhooks(base, secret_of(cluster), waiting)
    wait_until(lambda: counts(base).get("succeeded", 0) == WAITS + SHORT, 180, "all done")
    assert asked(cluster) == {job_id: 1 for job_id in waiting}


def test_a_killed_worker_loses_no_wait_and_webhooks_wait_for_a_new_one(
    celery_cluster: Cluster,
) -> None:
    cluster = celery_cluster
    base = cluster.start_server()
    worker = cluster.start_worker()
    jobs = [submit(base, "asks", {})["id"] for _ in range(50)]
    wait_until(lambda: counts(base).get("waiting", 0) == 50, 120, "50 jobs waiting")
    with contextlib.suppress(ProcessLookupError):
        os.killpg(worker.popen.pid, signal.SIGKILL)
    worker.popen.wait(10)
    post_webhooks(base, secret_of(cluster), jobs)  # no worker runs now
    time.sleep(0.5)
    assert counts(base).get("waiting", 0) == 50  # nothing ran them: they are kept
    cluster.start_worker()
    wait_until(lambda: counts(base).get("succeeded", 0) == 50, 120, "50 jobs done")
    assert asked(cluster) == {job_id: 1 for job_id in jobs}
