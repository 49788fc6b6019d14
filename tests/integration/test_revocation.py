"""Revoking an API key with `jobwire keys revoke` (another process) stops it on every path of
a running server: its requests, the stream tokens made with it, and its open streams, which
are closed with the reason. Other keys are untouched."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from jobwire import App
from jobwire.server.auth import REVOCATION_CHECK

from .server_util import ROOT, make_app, running_server, ws_url

#: Far above REVOCATION_CHECK: the bound within which a revoke must bite.
DEADLINE = 5.0


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[App, str]]:
    app = make_app(tmp_path)
    try:
        with running_server(app, auth="token") as base:
            yield app, base
    finally:
        app.close()


def revoke_with_the_cli(app: App, key_id: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "jobwire", "keys", "revoke", key_id],
        env={"JOBWIRE_DATABASE_URL": app.settings.database_url, "PATH": "/usr/bin:/bin"},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def until(check: Callable[[], bool]) -> None:
    deadline = time.monotonic() + DEADLINE
    while not check():
        assert time.monotonic() < deadline, "the revoke never took effect"
        time.sleep(REVOCATION_CHECK / 4)


async def ws_close(url: str, headers: dict[str, str], opened: threading.Event) -> tuple[int, str]:
    """Open a WebSocket, read until the server closes it; the close code and reason."""
    async with websockets.connect(url, additional_headers=headers) as ws:
        first = json.loads(await ws.recv())
        assert first["type"] == "connected", first
        opened.set()
        try:
            while True:
                await asyncio.wait_for(ws.recv(), DEADLINE + 10)
        except ConnectionClosed as closed:
            assert closed.rcvd is not None, "closed without a close frame"
            return closed.rcvd.code, closed.rcvd.reason


def test_a_revoked_key_stops_on_every_path_and_its_streams_close(
    served: tuple[App, str],
) -> None:
    app, base = served
    key_id, alice = app.store.keys.create_key("alice")
    _, bob = app.store.keys.create_key("bob")
    auth = {"Authorization": f"Bearer {alice}"}
    client = httpx.Client(base_url=base, headers=auth, timeout=10)
    try:
        check_revocation(app, base, client, key_id, auth, bob)
    finally:
        client.close()


def check_revocation(
    app: App, base: str, client: httpx.Client, key_id: str, auth: dict[str, str], bob: str
) -> None:
    running = client.post("/api/tasks/spin/jobs", json={"seconds": 30}).json()
    done = client.post("/api/tasks/count/jobs", json={"n": 2}).json()
    token = client.get(f"/api/jobs/{running['id']}/token").json()["token"]
    until(lambda: client.get(f"/api/jobs/{done['id']}").json()["status"] == "succeeded")

    # Open streams: a WebSocket with the key, one with a stream token, an SSE stream.
    closes: dict[str, tuple[int, str]] = {}
    opened = {name: threading.Event() for name in ("key", "token")}

    def follow(name: str, url: str, headers: dict[str, str]) -> None:
        closes[name] = asyncio.run(ws_close(url, headers, opened[name]))

    ws_path = f"/ws/jobs/{running['id']}"
    threads = [
        threading.Thread(target=follow, args=("key", ws_url(base, ws_path), auth)),
        threading.Thread(
            target=follow, args=("token", ws_url(base, f"{ws_path}?token={token}"), {})
        ),
    ]
    sse_lines: list[str] = []

    def sse() -> None:
        with httpx.stream(
            "GET", f"{base}/api/jobs/{running['id']}/events", headers=auth, timeout=30
        ) as r:
            for line in r.iter_lines():
                sse_lines.append(line)

    threads.append(threading.Thread(target=sse))
    for t in threads:
        t.start()
    for event in opened.values():
        assert event.wait(10)
    until(lambda: any(line.startswith("data:") for line in sse_lines))

    revoke_with_the_cli(app, key_id)
    until(lambda: client.get(f"/api/jobs/{running['id']}").status_code == 401)

    job = running["id"]
    refused = {
        "get": client.get(f"/api/jobs/{job}"),
        "list": client.get("/api/jobs"),
        "result": client.get(f"/api/jobs/{done['id']}/result"),
        "token": client.get(f"/api/jobs/{job}/token"),
        "events": client.get(f"/api/jobs/{job}/events"),
        "submit": client.post("/api/tasks/count/jobs", json={"n": 1}),
        "cancel": client.post(f"/api/jobs/{job}/cancel"),
        "delete": client.delete(f"/api/jobs/{done['id']}"),
        "token get": httpx.get(f"{base}/api/jobs/{job}?token={token}"),
        "token cancel": httpx.post(f"{base}/api/jobs/{job}/cancel?token={token}"),
        "token events": httpx.get(f"{base}/api/jobs/{job}/events?token={token}"),
    }
    for path, response in refused.items():
        assert response.status_code == 401, (path, response.status_code, response.text)
        assert response.json()["error"]["code"] == "unauthorized", path

    for t in threads:
        t.join(DEADLINE + 5)
    for name in ("key", "token"):
        code, reason = closes[name]
        assert code == 4401, (name, code, reason)
        assert "revoked" in reason, (name, reason)
    assert any("revoked" in line for line in sse_lines), sse_lines[-3:]

    # A new WebSocket with the revoked key is refused; another user's key still works.
    async def refused_ws() -> int:
        async with websockets.connect(ws_url(base, ws_path), additional_headers=auth) as ws:
            try:
                while True:
                    await ws.recv()
            except ConnectionClosed as closed:
                return closed.rcvd.code if closed.rcvd else 1006

    assert asyncio.run(refused_ws()) == 4401
    other = httpx.get(f"{base}/api/jobs", headers={"Authorization": f"Bearer {bob}"})
    assert other.status_code == 200
    # The job itself goes on: revoking a key is not cancelling its jobs.
    app_job = app.get(job)
    assert app_job.status.value == "running"
    app.cancel(job)
