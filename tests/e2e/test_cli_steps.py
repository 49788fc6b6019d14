"""``jobwire show ID`` as a subprocess prints a job's steps: when each started, how long it
took (the open one: so far), how long it usually takes; ``--json`` prints the snapshot only."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from jobwire import App, JobStatus, Progress

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def show(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "JOBWIRE_DATABASE_URL": url, "COLUMNS": "120"}
    return subprocess.run(
        [sys.executable, "-m", "jobwire", "show", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_show_prints_the_steps_table(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/steps.db"
    app = App(url, workers=1, progress_interval=0.02, poll_interval=0.05)

    @app.task(name="render", steps=("load", "render", "upload"))
    def render(progress: Progress) -> Any:
        progress.step("load")
        time.sleep(0.05)
        progress.step("render")
        return progress.wait_for_callback(timeout=300)

    app.start()
    try:
        first = app.submit("render", {})
        deadline = time.monotonic() + 20
        while app.get(first.id).status != JobStatus.WAITING:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        app.deliver(first.id, "k", "{}")
        assert first.result(timeout=20) == {}
        second = app.submit("render", {})
        while app.get(second.id).status != JobStatus.WAITING:
            assert time.monotonic() < deadline
            time.sleep(0.02)
    finally:
        app.stop(grace=2.0)
        app.close()

    out = show(url, second.id)
    assert out.returncode == 0, out.stderr
    table = out.stdout[out.stdout.index("┃ step") :]
    rows = {line.split("│")[1].strip(): line for line in table.splitlines() if "│" in line}
    assert list(rows) == ["load", "render", "upload"]
    assert "<1 s" in rows["load"]  # took, and usually
    assert "so far" in rows["render"]  # open: the job waits in it
    assert rows["upload"].count("—") == 3  # not reached, and no run went that far

    only = show(url, second.id, "--json")
    data = json.loads(only.stdout)
    assert [s["name"] for s in data["steps"]] == ["load", "render", "upload"]
