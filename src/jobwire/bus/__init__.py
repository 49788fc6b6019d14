"""Buses carry events from workers to watchers."""

from __future__ import annotations

from .base import Bus, Subscription
from .memory import MemoryBus


def open_bus(url: str | None) -> Bus:
    """``None`` or ``memory://`` for one process."""
    if url in (None, "", "memory://"):
        return MemoryBus()
    from ..errors import ConfigurationError

    raise ConfigurationError(f"Expected memory:// as the bus URL, but got {url!r}")


__all__ = ["Bus", "MemoryBus", "Subscription", "open_bus"]
