"""The JS client's own logic, under Node's built-in test runner (no npm packages)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_node_suite_passes() -> None:
    node = shutil.which("node")
    if node is None:
        reason = "node is not installed: the JS client's unit tests cannot run"
        if os.environ.get("JOBWIRE_REQUIRE_SERVICES") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    done = subprocess.run(
        [node, "--test", "tests/js/"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "# fail 0" in done.stdout
    assert "# pass" in done.stdout
