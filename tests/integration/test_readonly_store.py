"""A database that turns read-only: health says so, writes answer 503 with the reason, reads
go on, and everything works again once it is writable, without a restart.

The server runs as a subprocess (`jobwire serve`). File modes do not stop root, so when the
tests run as root the server runs as ``nobody`` (``setpriv``)."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.processes import stop, wait_answering

from .server_util import ROOT, free_port

pytestmark = pytest.mark.slow

NOBODY = 65534


def _as_server_user() -> list[str]:
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: cannot make a file read-only to the server")
    return [setpriv, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]


@pytest.fixture
def workdir() -> Iterator[Path]:
    # A directory the server's user may reach and write (root's pytest temp dirs are private).
    base = Path(tempfile.mkdtemp(prefix="jobwire-readonly-"))
    base.chmod(0o777)
    try:
        yield base
    finally:
        shutil.rmtree(base, ignore_errors=True)


def serve(workdir: Path, port: int) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "JOBWIRE_DATABASE_URL": f"sqlite:///{workdir}/jobs.db",
        "JOBWIRE_POLL_INTERVAL": "0.1",
        "HOME": str(workdir),
    }
    return subprocess.Popen(
        [
            *_as_server_user(),
            *(sys.executable, "-m", "jobwire", "serve", "tests.apps.sample:app"),
            *("--port", str(port), "--log-level", "warning", "--workers", "1"),
        ],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def set_writable(workdir: Path, writable: bool) -> None:
    mode = 0o666 if writable else 0o444
    for path in workdir.glob("jobs.db*"):
        path.chmod(mode)


def submit(base: str) -> httpx.Response:
    return httpx.post(f"{base}/api/tasks/count/jobs", json={"n": 5}, timeout=10)


def finished(base: str, job_id: str, timeout: float = 20) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while True:
        snap = httpx.get(f"{base}/api/jobs/{job_id}", timeout=5).json()
        if snap["status"] in ("succeeded", "failed", "cancelled"):
            return dict(snap)
        assert time.monotonic() < deadline, snap
        time.sleep(0.05)


def test_a_read_only_database_is_reported_and_recovered_from_without_a_restart(
    workdir: Path,
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = serve(workdir, port)
    try:
        wait_answering(proc, f"{base}/api/health")
        first = submit(base)
        assert first.status_code == 202, first.text
        assert finished(base, first.json()["id"])["status"] == "succeeded"
    finally:
        if proc.returncode is None:
            stop(proc)

    set_writable(workdir, False)
    assert not (workdir / "jobs.db").stat().st_mode & stat.S_IWUSR
    proc = serve(workdir, port)
    try:
        wait_answering(proc, f"{base}/api/health", accept=lambda r: r.status_code in (200, 503))
        health = httpx.get(f"{base}/api/health", timeout=5)
        assert health.status_code == 503, health.text
        body = health.json()
        assert body["status"] == "unavailable"
        assert body["store"]["writable"] is False
        assert "readonly" in body["store"]["reason"]

        refused = submit(base)
        assert refused.status_code == 503, refused.text
        error = refused.json()["error"]
        assert error["code"] == "store_unavailable"
        assert "readonly" in error["message"]
        # Reads go on.
        old = httpx.get(f"{base}/api/jobs/{first.json()['id']}", timeout=5)
        assert old.status_code == 200 and old.json()["status"] == "succeeded"

        set_writable(workdir, True)
        deadline = time.monotonic() + 10
        while httpx.get(f"{base}/api/health", timeout=5).status_code != 200:
            assert time.monotonic() < deadline, "health never came back"
            time.sleep(0.1)
        again = submit(base)
        assert again.status_code == 202, again.text
        assert finished(base, again.json()["id"])["status"] == "succeeded"
    finally:
        output = stop(proc) if proc.returncode is None else ""
    assert "Traceback" not in output, output
