"""Buses carry events from workers to watchers."""

from __future__ import annotations

from .base import Bus, Subscription
from .memory import MemoryBus
from .redis import RedisBus  # imports the redis package only when a RedisBus is made


def open_bus(url: str | None) -> Bus:
    """The bus for ``url``: ``None`` or ``memory://`` for one process, ``redis://`` or
    ``rediss://`` (``pip install 'jobwire[redis]'``) for several."""
    if not url or url == "memory://":
        return MemoryBus()
    if url.startswith(("redis://", "rediss://")):
        return RedisBus(url)
    from ..errors import ConfigurationError

    raise ConfigurationError(
        f"Expected memory://, redis:// or rediss:// as the bus URL, but got {url!r}"
    )


__all__ = ["Bus", "MemoryBus", "RedisBus", "Subscription", "open_bus"]
