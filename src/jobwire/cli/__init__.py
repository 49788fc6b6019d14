"""The ``jobwire`` command line: ``python -m jobwire`` or the ``jobwire`` script.

``common`` holds the Typer app, the shared options and helpers; the commands live by
concern in ``jobs`` (run, demo, jobs, show, cancel, tasks), ``files`` (export, files),
``shares`` (share, unshare, shares), ``serve`` (serve, worker) and ``admin`` (keys, db);
``live`` draws a job's progress in the terminal.
"""

from __future__ import annotations

from . import admin, files, jobs, serve, shares  # noqa: F401  (each registers its commands on `cli`)
from .common import cli
from .serve import allow_cross_site as _allow_cross_site  # noqa: F401  (its former home)


def main() -> None:
    cli()


__all__ = ["cli", "main"]
