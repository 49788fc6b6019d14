"""What `pip install jobwire` brings: the core's dependencies leave out what only the
examples, the benchmarks or the tests use."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def names(requirements: list[str]) -> set[str]:
    return {re.split(r"[\[<>=!~ ;]", r, maxsplit=1)[0].lower() for r in requirements}


def test_the_core_leaves_heavy_and_optional_packages_to_extras() -> None:
    project = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]
    core = names(project["dependencies"])
    extras = project["optional-dependencies"]
    assert not core & {"scikit-learn", "numpy", "scipy", "tqdm", "huey", "rq", "saq", "flask"}
    assert not core & {"s3fs", "fsspec", "moto"}  # files in a bucket or a directory: jobwire[s3]
    assert {"s3fs", "fsspec"} <= names(extras["s3"])
    assert "jobwire[s3]" in extras["dev"] and "moto" in names(extras["dev"])
    assert "scikit-learn" in names(extras["examples"])
    assert "jobwire[postgres,redis,celery,examples]" in extras["dev"]  # the tests run them all
    assert {"tqdm", "huey", "rq", "saq", "flask-socketio"} <= names(extras["bench"])
