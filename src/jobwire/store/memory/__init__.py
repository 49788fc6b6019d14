"""The store in memory, for tests: the same contract as SQLStore, no database.

Public as :class:`jobwire.testing.MemoryStore`. One lock guards everything, so it holds
under threads as the SQL stores do under transactions; it is not shared between processes.
Parts as in :mod:`jobwire.store.sql`: :mod:`.state`, :mod:`.jobs`, :mod:`.leases`,
:mod:`.hooks`, :mod:`.stats`, :mod:`.files`, :mod:`.shares`, :mod:`.deliveries`,
:mod:`.blobs`, :mod:`.keys`.
"""

from __future__ import annotations

import builtins
import time
from collections.abc import Callable

from ..base import Store
from .blobs import MemoryBlobStore
from .deliveries import MemoryDeliveryStore
from .files import MemoryFileStore
from .hooks import MemoryHookStore
from .jobs import MemoryJobStore
from .keys import MemoryKeyStore
from .leases import MemoryLeaseStore
from .shares import MemoryShareStore
from .state import MemoryBase
from .stats import MemoryStatsStore


class MemoryStore(
    MemoryJobStore,
    MemoryLeaseStore,
    MemoryHookStore,
    MemoryStatsStore,
    MemoryFileStore,
    MemoryShareStore,
    MemoryDeliveryStore,
    Store,
):
    """Jobs, events and results in dicts: ``App(store=MemoryStore())`` runs tasks with no
    database file, for the tests of your own tasks.

    ```python
    from jobwire import App, Progress
    from jobwire.testing import MemoryBus, MemoryStore

    app = App(store=MemoryStore(), bus=MemoryBus())

    @app.task()
    def square(progress: Progress, n: int) -> int:
        return n * n

    with app:
        assert square.submit(n=3).result(timeout=5) == 9
    ```

    ``clock`` gives "now" in UNIX seconds; pass a fake one to move leases, retry delays and
    the result cache on without sleeping. Everything lives in this object: it is not shared
    between processes (use an SQLite file for the ``processes`` executor).
    """

    url = "memory:"

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        MemoryBase.__init__(self, clock=clock)
        self._keys = MemoryKeyStore(self._lock, clock)
        self._blobs = MemoryBlobStore(self._lock)

    @property
    def keys(self) -> MemoryKeyStore:
        """API keys and the shared secret."""
        return self._keys

    @property
    def blobs(self) -> MemoryBlobStore:
        """File bytes, kept in memory."""
        return self._blobs

    def upgrade(self) -> builtins.list[str]:
        """Nothing to migrate: always ``[]``."""
        return []

    def check_writable(self) -> None:
        """Memory can always be written."""

    def close(self) -> None:
        """Nothing to release: the jobs stay readable."""


__all__ = ["MemoryKeyStore", "MemoryStore"]
