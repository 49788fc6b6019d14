"""What the browser tests share: `jobwire serve --examples` as a subprocess, and headless
Chromium through Playwright (Debian's chromium; Playwright's own download is not used)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.conftest import require_service
from tests.processes import stop, wait_answering

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("JOBWIRE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve_examples(directory: Path, target: str | None = None, **env: str) -> Iterator[str]:
    """`jobwire serve [target] --examples` on a free port with its own SQLite file; its base
    URL. ``target`` (MODULE:APP) adds that app's tasks to the examples."""
    port = free_port()
    full_env = {
        **os.environ,
        "JOBWIRE_DATABASE_URL": f"sqlite:///{directory / 'jobwire.db'}",
        "PYTHONPATH": str(ROOT),
        **env,
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "jobwire", "serve", *([target] if target else []), "--examples",
         "--port", str(port), "--log-level", "warning"],
        cwd=directory, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        wait_answering(proc, base + "/api/health")
        yield base
    finally:
        stop(proc)


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium; skipped with the reason when it is missing (failed under
    JOBWIRE_REQUIRE_SERVICES=1)."""

    def launch() -> tuple[Any, Any]:
        from playwright.sync_api import sync_playwright

        if not Path(CHROMIUM).is_file():
            raise FileNotFoundError(f"no browser at {CHROMIUM} (set JOBWIRE_CHROMIUM)")
        playwright = sync_playwright().start()
        try:
            return playwright, playwright.chromium.launch(
                executable_path=CHROMIUM, args=CHROMIUM_ARGS
            )
        except Exception:
            playwright.stop()
            raise

    playwright, browser = require_service("Chromium through Playwright", launch)
    try:
        yield browser
    finally:
        browser.close()
        playwright.stop()
