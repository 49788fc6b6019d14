"""Support-ticket auto-classification: the example this package was designed from."""

from __future__ import annotations

from pathlib import Path

from ...app import App


def register(app: App) -> dict[str, Path]:
    """Register ``tickets.classify`` on ``app``; return its page."""
    return {}
