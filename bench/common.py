"""What every benchmark records and checks: the machine, the commit, and whether the machine
is quiet enough for the figures to mean something."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
from rich.progress import Progress as RichProgress


def environment(*packages: str, **extra: Any) -> dict[str, Any]:
    """The machine, Python, the commit and the versions of ``packages``, plus ``extra``."""
    return {
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "loadavg": list(os.getloadavg()),
        "git": git_state(),
        **extra,
        "versions": {p: _version(p) for p in packages},
    }


def _version(package: str) -> str | None:
    try:
        return version(package)
    except PackageNotFoundError:
        return None


def git_state() -> str | None:
    """The commit measured, with ``-dirty`` when the working tree has changes."""
    try:
        out = subprocess.run(
            ["git", "describe", "--always", "--dirty"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def busy_warning(console: Console) -> list[float]:
    """Warn when other processes keep the CPUs busy: the figures would be unreliable."""
    load = list(os.getloadavg())
    cpus = os.cpu_count() or 1
    if load[0] > 0.5 * cpus:
        console.print(
            f"[yellow]warning: load average {load[0]:.1f} on {cpus} CPU(s): other processes "
            "are running; the figures will be noisy. Run on a quiet machine.[/]"
        )
    return load


def progress_bar(console: Console) -> RichProgress:
    """The bar every benchmark shows while it runs. Refreshed by hand (no refresh thread
    competing for the CPUs being measured); gone when done."""
    return RichProgress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        auto_refresh=False,
        transient=True,
    )


def write_result(path: Path, result: dict[str, Any]) -> None:
    """Write ``result`` as JSON atomically: never a half-written result file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(result, indent=2, default=str) + "\n")
    tmp.replace(path)
