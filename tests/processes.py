"""Subprocesses the tests start (servers, workers): wait until one answers, stop one."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable

import httpx


def wait_answering(
    proc: subprocess.Popen[str],
    url: str,
    *,
    timeout: float = 30,
    accept: Callable[[httpx.Response], bool] = lambda response: response.is_success,
    output: Callable[[], str] | None = None,
) -> None:
    """Return once ``url`` answers as ``accept`` wants; raise with the process's output if
    it exits or ``timeout`` passes first (``output`` reads it when something else already
    consumes the process's stdout)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if accept(httpx.get(url, timeout=1)):
                return
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            if output is None:
                proc.kill()
                text = proc.communicate()[0] or ""
            else:
                text = output()
            raise AssertionError(f"{url} did not answer within {timeout} s:\n{text}")
        time.sleep(0.1)


def stop(proc: subprocess.Popen[str], timeout: float = 20) -> str:
    """SIGTERM, then SIGKILL after ``timeout`` seconds; the process's output."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    out, _ = proc.communicate()
    return out or ""
