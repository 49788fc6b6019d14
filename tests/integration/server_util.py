"""Helpers for the server tests: an app with their tasks, and WebSocket URLs. The server
itself is :func:`tests.integration.server_fixtures.running_server` (uvicorn on a free port in
a background thread).

```python
app = make_app(tmp_path)
with running_server(app, heartbeat_seconds=0.2) as base:   # "http://127.0.0.1:PORT"
    httpx.get(f"{base}/api/health")
```
"""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from jobwire import App, Progress

from .server_fixtures import running_server

ROOT = Path(__file__).resolve().parents[2]


def migrate(env: dict[str, str]) -> None:
    """`jobwire db upgrade` with ``env``, once, before several processes race to."""
    done = subprocess.run(
        [sys.executable, "-m", "jobwire", "db", "upgrade"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def start_serve(env: dict[str, str], port: int, *extra: str) -> subprocess.Popen[str]:
    """`jobwire serve tests.apps.sample:app` on ``port`` with ``env``."""
    return subprocess.Popen(
        [
            *(sys.executable, "-m", "jobwire", "serve", "tests.apps.sample:app"),
            *("--port", str(port), "--log-level", "warning", *extra),
        ],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def make_app(tmp_path: Path, database_url: str | None = None, **options: Any) -> App:
    """An App on a fresh SQLite file with the tasks the server tests use."""
    app = App(
        database_url or f"sqlite:///{tmp_path}/server.db",
        progress_interval=options.pop("progress_interval", 0.05),
        poll_interval=options.pop("poll_interval", 0.1),
        **options,
    )

    @app.task(name="count")
    def count(progress: Progress, n: int = 100, delay: float = 0.0) -> int:
        """Counts to n, sleeping delay seconds per item."""
        for _ in progress.iter(range(n), step="counting"):
            if delay:
                time.sleep(delay)
        return n

    @app.task(name="spin")
    def spin(progress: Progress, seconds: float = 20.0) -> str:
        """Runs until cancelled or seconds pass."""
        end = time.monotonic() + seconds
        progress.update(0, total=None, step="spinning")
        while time.monotonic() < end:
            progress.advance()
            time.sleep(0.01)
        return "finished"

    @app.task(name="nap")
    def nap(progress: Progress, seconds: float = 1.0) -> str:
        """Sleeps without reporting progress (an idle stream), then ends."""
        progress.update(0, total=1, step="napping")
        time.sleep(seconds)
        progress.update(1)
        return "rested"

    @app.task(name="report", dedupe_key="{dataset}", cache_ttl=600)
    def report(progress: Progress, dataset: str, seconds: float = 1.0) -> dict[str, str]:
        """One live job per dataset and owner; its result is cached."""
        return _report(progress, dataset, seconds)

    @app.task(name="shared_report", dedupe_key="{dataset}", dedupe_scope="shared")
    def shared_report(progress: Progress, dataset: str, seconds: float = 1.0) -> dict[str, str]:
        """One live job per dataset, whoever asks."""
        return _report(progress, dataset, seconds)

    @app.task(name="chatty")
    def chatty(progress: Progress, lines: int = 3) -> int:
        """Logs a few lines."""
        for i in range(lines):
            progress.log(f"line {i}")
        return lines

    return app


def ws_url(base: str, path: str) -> str:
    return "ws" + base.removeprefix("http") + path


__all__ = ["free_port", "make_app", "running_server", "ws_url"]


def _report(progress: Progress, dataset: str, seconds: float) -> dict[str, str]:
    end = time.monotonic() + seconds
    progress.update(0, total=None, step="reporting")
    while time.monotonic() < end:
        progress.advance()
        time.sleep(0.02)
    return {"dataset": dataset}


async def until_closed(ws: ClientConnection, *, keep_pings: bool = False) -> list[dict[str, Any]]:
    """Every message of ``ws`` (but pings) until the server closes it."""
    out: list[dict[str, Any]] = []
    try:
        async for raw in ws:
            msg = json.loads(raw)
            if keep_pings or msg["type"] != "ping":
                out.append(msg)
    except ConnectionClosed:
        pass
    return out


async def ws_messages(url: str, *, keep_pings: bool = False) -> tuple[list[dict[str, Any]], int]:
    """Every message of a /ws/jobs/{id} socket until the server closes it, and the close code."""
    async with websockets.connect(url) as ws:
        out = await until_closed(ws, keep_pings=keep_pings)
        await ws.wait_closed()
        assert ws.close_code is not None
        return out, ws.close_code


async def drain(ws: ClientConnection, seconds: float) -> list[dict[str, Any]]:
    """The messages (but pings) ``ws`` receives within ``seconds``."""
    out: list[dict[str, Any]] = []
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        try:
            msg = json.loads(await asyncio.wait_for(ws.recv(), left))
        except TimeoutError:
            break
        if msg["type"] != "ping":
            out.append(msg)
    return out
