"""The embedding recipes run as real servers: jobwire mounted in FastAPI, and beside Flask."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from httpx_sse import connect_sse
from websockets.sync.client import connect as ws_connect

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
