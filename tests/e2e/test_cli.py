"""The jobwire CLI as a subprocess, against a real SQLite file (and workers it starts)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from jobwire import App, JobStatus
from tests.processes import stop

ROOT = Path(__file__).resolve().parents[2]
JOBWIRE = [sys.executable, "-m", "jobwire"]
pytestmark = pytest.mark.slow


@pytest.fixture
def env(tmp_path) -> dict[str, str]:
    return {
        **os.environ,
        "JOBWIRE_DATABASE_URL": f"sqlite:///{tmp_path}/cli.db",
        "JOBWIRE_LEASE_SECONDS": "1",
        "JOBWIRE_POLL_INTERVAL": "0.1",
        "PYTHONPATH": str(ROOT),
        "COLUMNS": "200",
    }


@pytest.fixture
def db(env) -> Iterator[App]:
    app = App(env["JOBWIRE_DATABASE_URL"], poll_interval=0.1)
    from tests.apps import sample

    for task in sample.app.tasks.values():  # same names, so submits validate here
        app.task(name=task.name, retries=task.options.retries, retry_backoff=0.0)(task.fn)
    app.store.upgrade()
    yield app
    app.close()


def cli(env, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*JOBWIRE, *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )


def start_worker(env) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*JOBWIRE, "worker", "tests.apps.sample:app"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_for(predicate, timeout: float = 30.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.parametrize(
    ("task", "expected_status", "expected_attempt"),
    [("slow", JobStatus.SUCCEEDED, 2), ("slow_once", JobStatus.FAILED, 1)],
)
def test_killed_worker_job_is_recovered(env, db, task, expected_status, expected_attempt) -> None:
    first = start_worker(env)
    second = None
    try:
        job = db.submit(task, {"seconds": 2.0, "items": 20})
        running = wait_for(
            lambda: (
                (j := db.get(job.id)).status == JobStatus.RUNNING and j.record.current > 2 and j
            ),
            what="the job to run on the first worker",
        )
        assert running.record.attempt == 1
        first.send_signal(signal.SIGKILL)
        first.communicate(timeout=10)
        second = start_worker(env)
        done = db.get(job.id).wait(timeout=60)
    finally:
        stop(first)
        if second is not None:
            stop(second)
    assert done.status == expected_status
    assert done.record.attempt == expected_attempt
    if expected_status == JobStatus.FAILED:
        assert done.snapshot["error"]["code"] == "worker_lost"
    else:
        assert db.result(job.id) == {"items": 20}
    assert db.store.counts()["running"] == 0


def test_run_draws_progress_and_prints_the_result(env) -> None:
    out = cli(env, "run", "tests.apps.sample:app", "count", "--arg", "n=50", "--arg", "delay=0.01")
    assert out.returncode == 0, out.stderr
    assert "succeeded" in out.stdout
    assert "50/50 (100%)" in out.stdout
    assert "counting" in out.stdout
    assert out.stdout.strip().splitlines()[-1] == "50"


def test_run_reports_failures_and_bad_arguments(env) -> None:
    failed = cli(env, "run", "tests.apps.sample:app", "boom", "--arg", "message=kaput")
    assert failed.returncode == 1
    assert "task_error" in failed.stderr and "kaput" in failed.stderr
    bad = cli(env, "run", "tests.apps.sample:app", "count", "--arg", "n=lots")
    assert bad.returncode == 2
    assert "n:" in bad.stderr and "integer" in bad.stderr
    unknown = cli(env, "run", "tests.apps.sample:app", "nope")
    assert unknown.returncode == 2 and "No task is named 'nope'" in unknown.stderr


def test_ctrl_c_cancels_the_job(env, db) -> None:
    proc = subprocess.Popen(
        [
            *JOBWIRE,
            "run",
            "tests.apps.sample:app",
            "slow_once",
            "--arg",
            "seconds=20",
            "--arg",
            "items=200",
        ],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        job = wait_for(
            lambda: next(iter(db.list(status="running").jobs), None), what="the job to start"
        )
        wait_for(lambda: db.get(job.id).record.current > 2, what="progress")
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, stderr
    assert "cancelling" in stderr
    assert db.get(job.id).status == JobStatus.CANCELLED


def test_jobs_show_cancel(env, db) -> None:
    queued = db.submit("count", {"n": 3})  # no worker runs: it stays queued
    listed = cli(env, "jobs", "--json")
    assert listed.returncode == 0, listed.stderr
    data = json.loads(listed.stdout)
    assert [j["id"] for j in data["jobs"]] == [queued.id]
    shown = cli(env, "show", queued.id)
    assert json.loads(shown.stdout)["status"] == "queued"
    cancelled = cli(env, "cancel", queued.id)
    assert cancelled.returncode == 0 and "cancelled" in cancelled.stdout
    again = cli(env, "cancel", queued.id)
    assert again.returncode == 2 and "cannot be cancelled" in again.stderr
    missing = cli(env, "show", "f" * 32)
    assert missing.returncode == 2 and "No job has the id" in missing.stderr
    table = cli(env, "jobs")
    assert "count" in table.stdout and "cancelled" in table.stdout


def test_demo_and_db_upgrade(env, tmp_path) -> None:
    fresh = {**env, "JOBWIRE_DATABASE_URL": f"sqlite:///{tmp_path}/fresh.db"}
    upgraded = cli(fresh, "db", "upgrade")
    assert upgraded.returncode == 0 and "0001" in upgraded.stdout
    assert "up to date" in cli(fresh, "db", "upgrade").stdout
    demo = cli(fresh, "demo", "--documents", "20")
    assert demo.returncode == 0, demo.stderr
    for step in ("init", "processing", "aggregating", "saving", "succeeded"):
        assert step in demo.stdout
    assert '"documents": 20' in demo.stdout
