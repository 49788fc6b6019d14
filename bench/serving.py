"""What the HTTP benchmarks of one server share: the server as a subprocess on a free port,
its memory read from /proc (psutil elsewhere), and percentiles."""

from __future__ import annotations

import contextlib
import math
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
MB = 1_000_000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def server(args: Sequence[str], env: dict[str, str], log: Path) -> Iterator[tuple[str, int]]:
    """``python <args> --port P`` (a benchmark's own ``_serve`` mode) until it answers
    ``/api/health``; its base URL and pid. Stopped (SIGTERM, then SIGKILL) on exit; its
    output goes to ``log``."""
    port = free_port()
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, *args, "--port", str(port)],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}", **env},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(base + "/api/health", timeout=1).is_success:
                    break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start; see {log}")
            time.sleep(0.1)
        yield base, proc.pid
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


class Memory:
    """The resident memory of a process: ``rss()`` now, and its peak since ``reset()``.

    On Linux the peak is the kernel's own high-water mark (``VmHWM`` in
    ``/proc/PID/status``, reset by writing 5 to ``/proc/PID/clear_refs``): every page
    counts, however briefly it was resident. Elsewhere (or when the reset is refused),
    ``sample()`` keeps the highest RSS it saw; call it often."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.status = Path(f"/proc/{pid}/status")
        self.exact = self.status.exists()
        self._highest = 0
        self._process = None
        if not self.exact:
            import psutil  # only where /proc is missing

            self._process = psutil.Process(pid)

    def _field(self, name: str) -> int:
        for line in self.status.read_text().splitlines():
            if line.startswith(name + ":"):
                return int(line.split()[1]) * 1024  # kB
        raise KeyError(name)

    def rss(self) -> int:
        if self._process is not None:
            return int(self._process.memory_info().rss)
        return self._field("VmRSS")

    def reset(self) -> None:
        """Start a new peak from now."""
        if self.exact:
            try:
                Path(f"/proc/{self.pid}/clear_refs").write_text("5")
            except OSError:
                self.exact = False  # e.g. a kernel without it: sampled peaks only
        self._highest = self.rss()

    def sample(self) -> None:
        self._highest = max(self._highest, self.rss())

    def peak(self) -> int:
        """The highest RSS since :meth:`reset`: the kernel's when exact, else sampled."""
        self.sample()
        return max(self._highest, self._field("VmHWM")) if self.exact else self._highest


def percentile(sorted_values: Sequence[float], p: float) -> float:
    """The ``p``-th percentile (0-100) of sorted values, nearest rank."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return float(sorted_values[rank - 1])


def verdict(met: bool) -> str:
    return "[green]MET[/]" if met else "[red]MISSED[/]"
