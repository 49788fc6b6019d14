"""The embedding recipes run as real servers: jobwire mounted in FastAPI, and beside Flask;
and `jobwire serve --examples` on an install without the examples' extra."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from httpx_sse import connect_sse
from websockets.sync.client import connect as ws_connect

from tests.e2e.browser import serve_examples
from tests.processes import stop, wait_answering

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def uvicorn_server(target: str, cwd: Path) -> Iterator[str]:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", target, "--port", str(port), "--log-level", "warning"],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_answering(proc, base + "/", timeout=20, accept=lambda response: True)
        yield base
    finally:
        stop(proc)


def test_fastapi_mount(tmp_path) -> None:
    with uvicorn_server("examples.fastapi_mount:api", tmp_path) as base:
        assert httpx.get(base + "/").json()["hello"] == "world"
        tasks = httpx.get(base + "/jobs/api/tasks").json()["tasks"]
        assert [t["name"] for t in tasks] == ["resize"]
        started = httpx.post(base + "/albums/a1/resize").json()
        ws_url = base.replace("http", "ws") + started["watch"]
        with ws_connect(ws_url) as ws:
            messages = [json.loads(m) for m in ws]
        assert messages[-1]["type"] == "completed"
        assert messages[-1]["job"]["current"] == 40
        submitted = httpx.post(base + "/jobs/api/tasks/resize/jobs", json={"images": 2})
        assert submitted.status_code == 202
        assert submitted.headers["location"].startswith("/jobs/api/jobs/")
        assert submitted.json()["links"]["ws"].startswith("/jobs/ws/jobs/")


def test_flask_beside(tmp_path) -> None:
    with uvicorn_server("examples.flask_beside:asgi", tmp_path) as base:
        page = httpx.get(base + "/")
        assert "jobwire-progress" in page.text
        assert httpx.get(base + "/jobwire/static/jobwire.js").status_code == 200
        started = httpx.post(base + "/reports")
        assert started.status_code == 202
        with (
            httpx.Client(base_url=base) as client,
            connect_sse(client, "GET", started.json()["events"]) as source,
        ):
            events = [(e.event, json.loads(e.data)) for e in source.iter_sse()]
        assert events[-1][0] == "completed"
        assert events[-1][1]["job"]["current"] == 50


def classify(base: str, engine: str) -> dict:
    """Run the tickets example on sample-500 with ``engine``; the job's final snapshot."""
    submitted = httpx.post(
        f"{base}/api/tasks/tickets.classify/jobs", json={"file_id": "sample-500", "engine": engine}
    )
    assert submitted.status_code == 202, submitted.text
    snap = submitted.json()
    deadline = time.monotonic() + 60
    while snap["status"] not in ("succeeded", "failed", "cancelled"):
        assert time.monotonic() < deadline, f"the {engine} job never ended: {snap}"
        time.sleep(0.1)
        snap = httpx.get(f"{base}/api/jobs/{snap['id']}").json()
    return snap


def test_serve_examples_without_scikit_learn(tmp_path) -> None:
    # An install without `jobwire[examples]`: a `sklearn` that cannot be imported comes first
    # on the path. The page and the rule engine work; the ai engine's job fails with a message
    # that says what to install, not a traceback.
    hidden = tmp_path / "no-sklearn"
    (hidden / "sklearn").mkdir(parents=True)
    (hidden / "sklearn" / "__init__.py").write_text(
        'raise ImportError("scikit-learn is hidden by the test")\n'
    )
    path = os.pathsep.join([str(hidden), str(ROOT)])
    with serve_examples(tmp_path, JOBWIRE_AUTH="none", PYTHONPATH=path) as base:
        assert httpx.get(base + "/examples/tickets").status_code == 200
        assert classify(base, "rule")["status"] == "succeeded"
        failed = classify(base, "ai")
    assert failed["status"] == "failed", failed
    message = failed["error"]["message"]
    assert "scikit-learn" in message and "pip install 'jobwire[examples]'" in message, message
    assert "Traceback" not in message
