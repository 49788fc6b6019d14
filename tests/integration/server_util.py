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

import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

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
