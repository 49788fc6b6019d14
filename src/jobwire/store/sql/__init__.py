"""The store on SQLAlchemy 2 Core: SQLite (embedded default) and PostgreSQL.

One module per concern: :mod:`.engine` (engines, transactions, StoreUnavailable),
:mod:`.statements` (the prebuilt hot statements), :mod:`.rows` (rows to records),
:mod:`.jobs`, :mod:`.writes` and :mod:`.leases` (what workers do), :mod:`.hooks`,
:mod:`.stats` (history, counts, the result cache), :mod:`.files` (the files jobs saved),
:mod:`.shares` (jobs shared with teams), :mod:`.deliveries` (notifications of jobs' ends),
:mod:`.blobs` (their bytes, by default) and :mod:`.keys`. :class:`SQLStore` joins them.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from ...snapshot import EventKind
from ..base import Store
from ..common import CURSOR_PATTERN, EVENTS_KEPT, HISTORY_KEPT
from .blobs import SQLBlobStore
from .deliveries import SQLDeliveryStore
from .engine import SQLBase, normalize_url
from .files import SQLFileStore
from .hooks import SQLHookStore
from .jobs import SQLJobStore
from .keys import SQLKeyStore
from .leases import SQLLeaseStore
from .rows import record_from_row
from .shares import SQLShareStore
from .stats import SQLStatsStore


class SQLStore(
    SQLJobStore,
    SQLLeaseStore,
    SQLHookStore,
    SQLStatsStore,
    SQLFileStore,
    SQLShareStore,
    SQLDeliveryStore,
    Store,
):
    """Jobs in an SQL database. ``SQLStore("sqlite:///jobwire.db")`` or
    ``SQLStore("postgresql://user@host/db")`` (needs ``pip install jobwire[postgres]``).

    ``clock`` gives "now" in UNIX seconds, for leases, delays, the result cache and every
    timestamp the store writes; tests pass a fake one to move time without sleeping.
    """

    def __init__(
        self, url: str, *, echo: bool = False, clock: Callable[[], float] = time.time
    ) -> None:
        SQLBase.__init__(self, url, echo=echo, clock=clock)
        self._keys = SQLKeyStore(self)
        self._blobs = SQLBlobStore(self)

    @property
    def keys(self) -> SQLKeyStore:
        """API keys and the shared secret."""
        return self._keys

    @property
    def blobs(self) -> SQLBlobStore:
        """File bytes kept in the database (the default file storage)."""
        return self._blobs


__all__ = [
    "CURSOR_PATTERN",
    "EVENTS_KEPT",
    "HISTORY_KEPT",
    "EventKind",
    "SQLStore",
    "normalize_url",
    "record_from_row",
]
