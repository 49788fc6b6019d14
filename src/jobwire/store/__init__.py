"""Stores: where jobs live. ``open_store(url)`` picks the implementation from the URL."""

from __future__ import annotations

from .base import (
    ApiKey,
    Claim,
    Finish,
    KeyStore,
    Page,
    Report,
    Store,
    SubmitOutcome,
    WriteResult,
)


def open_store(url: str) -> Store:
    """A store for ``sqlite:///file.db`` or ``postgresql://…``."""
    from .sql import SQLStore

    return SQLStore(url)


__all__ = [
    "ApiKey",
    "Claim",
    "Finish",
    "KeyStore",
    "Page",
    "Report",
    "Store",
    "SubmitOutcome",
    "WriteResult",
    "open_store",
]
