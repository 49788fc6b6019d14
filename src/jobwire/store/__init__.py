"""Stores: where jobs live. ``open_store(url)`` picks the implementation from the URL.

:class:`Store` joins the parts each caller uses: :class:`JobStore` (the App and the server),
:class:`LeaseStore` (workers), :class:`HookStore` (webhooks), :class:`StatsStore` (history,
counts, the result cache), :class:`FileStore` (the files jobs saved), :class:`ShareStore`
(jobs shared with teams), :class:`DeliveryStore` (notifications of jobs' ends), and, as
``store.keys`` and ``store.blobs``, :class:`KeyStore` (API keys and the shared secret) and
:class:`BlobStore` (file bytes kept in the database).
Implementations: ``store.sql.SQLStore`` (SQLite, PostgreSQL) and
``jobwire.testing.MemoryStore``.
"""

from __future__ import annotations

from .base import (
    ApiKey,
    BlobStore,
    CacheStats,
    Claim,
    FileStore,
    Finish,
    HookStore,
    JobStore,
    KeyStore,
    LeaseStore,
    Page,
    Report,
    StatsStore,
    Store,
    SubmitOutcome,
    WriteResult,
)
from .notifying import Delivery, DeliveryAttempt, DeliveryStore
from .sharing import Share, SharedPage, ShareStore


def open_store(url: str) -> Store:
    """A store for ``sqlite:///file.db`` or ``postgresql://…``."""
    from .sql import SQLStore

    return SQLStore(url)


__all__ = [
    "ApiKey",
    "BlobStore",
    "CacheStats",
    "Claim",
    "Delivery",
    "DeliveryAttempt",
    "DeliveryStore",
    "FileStore",
    "Finish",
    "HookStore",
    "JobStore",
    "KeyStore",
    "LeaseStore",
    "Page",
    "Report",
    "Share",
    "ShareStore",
    "SharedPage",
    "StatsStore",
    "Store",
    "SubmitOutcome",
    "WriteResult",
    "open_store",
]
