"""The public surface is deliberate: adding or removing an export is a decision."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import jobwire


def test_all_is_pinned() -> None:
    assert sorted(jobwire.__all__) == [
        "App",
        "BrokerUnavailable",
        "CallbackTimeout",
        "Client",
        "ConfigurationError",
        "DuplicateJob",
        "ExportNotAvailable",
        "FileNotFound",
        "FileTooLarge",
        "IllegalTransition",
        "InvalidArguments",
        "Job",
        "JobAlreadyFinished",
        "JobCancelled",
        "JobFailed",
        "JobNotFinished",
        "JobNotFound",
        "JobStatus",
        "JobwireError",
        "MissingDependency",
        "OwnerLimitReached",
        "Progress",
        "ResultNotAvailable",
        "StoreUnavailable",
        "Task",
        "UnknownTask",
        "UnstorableValue",
        "WaitTimeout",
        "Watch",
        "storable",
    ]


def test_every_export_exists_and_errors_share_one_base() -> None:
    for name in jobwire.__all__:
        obj = getattr(jobwire, name)
        assert obj.__module__.startswith("jobwire"), name
        if isinstance(obj, type) and issubclass(obj, Exception):
            assert issubclass(obj, jobwire.JobwireError), name
            assert obj.__doc__ and obj.__doc__.strip(), f"{name} needs a default message"
            assert obj().message == obj.__doc__.strip()


@pytest.mark.slow
def test_import_jobwire_leaves_the_http_client_for_first_use() -> None:
    # A worker imports jobwire and never the HTTP client: httpx, httpx-sse and websockets
    # wait until `jobwire.Client` is first read.
    code = """
import sys, jobwire
loaded = [m for m in ("httpx", "httpx_sse", "websockets") if m in sys.modules]
assert not loaded, f"import jobwire loaded {loaded}"
from jobwire import Client
assert jobwire.Client is Client and Client.__module__.startswith("jobwire.client.")
assert "httpx" in sys.modules and "websockets" in sys.modules
with Client("http://127.0.0.1:1") as client:
    assert client.url == "http://127.0.0.1:1"
try:
    jobwire.Clients
except AttributeError as exc:
    assert "Clients" in str(exc)
else:
    raise AssertionError("jobwire.Clients should not exist")
"""
    src = str(Path(jobwire.__file__).resolve().parents[1])  # the jobwire this test imports
    env = {**os.environ, "PYTHONPATH": src}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
