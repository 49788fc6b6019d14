"""Example tasks and pages shipped with jobwire: ``jobwire serve --examples`` registers them.

Each example module has ``register(app) -> {path: html_file}``.
"""

from __future__ import annotations

from pathlib import Path

from ..app import App


def register(app: App) -> dict[str, Path]:
    """Register every example's tasks on ``app``; return the pages to serve."""
    from .. import demo

    pages: dict[str, Path] = {}
    demo.register(app)
    from . import tickets

    pages.update(tickets.register(app))
    return pages
