"""A real jobwire server for the server tests: uvicorn on a free port in a background thread.

```python
app = make_app(tmp_path)
with running_server(app, heartbeat_seconds=0.2) as base:   # "http://127.0.0.1:PORT"
    httpx.get(f"{base}/api/health")
```
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import uvicorn

from jobwire import App, Progress
from jobwire.server import create_app
from jobwire.settings import Settings


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

    @app.task(name="chatty")
    def chatty(progress: Progress, lines: int = 3) -> int:
        """Logs a few lines."""
        for i in range(lines):
            progress.log(f"line {i}")
        return lines

    return app


@contextmanager
def running_server(app: App, *, workers: bool = True, **settings: Any) -> Iterator[str]:
    """Serve ``app`` with uvicorn on a free port in a thread; yield the base URL. Keyword
    arguments are :class:`~jobwire.settings.Settings` fields (``auth="token"``,
    ``heartbeat_seconds=0.2``…) on top of the app's own settings."""
    merged = Settings.model_validate({**app.settings.model_dump(), **settings})
    api = create_app(app, merged, workers=workers)
    port = free_port()
    config = uvicorn.Config(
        api,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        ws_ping_interval=None,
        lifespan="on",
        timeout_graceful_shutdown=3,
    )
    server = uvicorn.Server(config)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(server.serve())
        except BaseException as exc:  # reported to the test below
            errors.append(exc)

    thread = threading.Thread(target=run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if errors or not thread.is_alive():
            raise RuntimeError(f"the server did not start: {errors!r}")
        if time.monotonic() > deadline:
            raise RuntimeError("the server did not start within 15 s")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(15)
        app.close()
    if errors:
        raise errors[0]


def ws_url(base: str, path: str) -> str:
    return "ws" + base.removeprefix("http") + path
