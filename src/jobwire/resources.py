"""What an App opens on first use and shares with its worker and server: the settings, the
store, the bus, the executor, the file storage and the shared secret."""

from __future__ import annotations

import secrets
import threading

from .bus import Bus, open_bus
from .eta import FromHistory, estimated_duration
from .executors import Executor
from .files import FileStorage
from .files.access import JobFiles
from .notify.sender import stored_secret
from .settings import Settings
from .store import Store, open_store
from .tasks import Task
from .worker import Worker


class Resources:
    """The connections and shared state behind an :class:`~jobwire.App`, each opened when it
    is first used."""

    def __init__(
        self,
        database_url: str | None = None,
        *,
        bus_url: str | None = None,
        workers: int | None = None,
        executor: str | None = None,
        progress_interval: float | None = None,
        lease_seconds: float | None = None,
        poll_interval: float | None = None,
        retention_days: float | None = None,
        default_owner: str | None = None,
        store: Store | None = None,
        bus: Bus | None = None,
    ) -> None:
        given = dict(
            database_url=database_url,
            bus_url=bus_url,
            workers=workers,
            executor=executor,
            progress_interval=progress_interval,
            lease_seconds=lease_seconds,
            poll_interval=poll_interval,
            retention_days=retention_days,
            default_owner=default_owner,
        )
        self.settings = Settings.model_validate({k: v for k, v in given.items() if v is not None})
        self.tasks: dict[str, Task] = {}
        self._store = store
        self._bus = bus
        self._given = (store is not None, bus is not None)
        self._lock = threading.Lock()
        self.worker: Worker | None = None
        """This process's worker, once :meth:`start` started it."""
        self._executor: Executor | None = None
        self._estimate = FromHistory(lambda t: self.store.history(t), estimated_duration, ttl=10)
        self._files = JobFiles(lambda: self.store, self.settings.files_url)
        self._secret: str | None = None
        self._notify_secret: str | None = None
        self._start_lock = threading.Lock()

    @property
    def store(self) -> Store:
        """The store, opened (and migrated) on first use."""
        if self._store is None:
            with self._lock:
                if self._store is None:
                    self._store = open_store(self.settings.database_url)
        return self._store

    @property
    def bus(self) -> Bus:
        if self._bus is None:
            with self._lock:
                if self._bus is None:
                    self._bus = open_bus(self.settings.bus_url)
        return self._bus

    @property
    def secret(self) -> str:
        """Signs stream tokens and callback URLs: ``secret_key`` when set, else a random
        secret kept in the database, so that every process using it agrees."""
        if self._secret is None:
            secret = self.settings.secret_key
            if secret is None:
                secret = self.store.keys.meta_value(
                    "stream_secret", lambda: secrets.token_urlsafe(48)
                )
            self._secret = secret
        return self._secret

    @property
    def notify_secret(self) -> str:
        """Signs the notifications of jobs' ends (Standard Webhooks, ``whsec_…``): give it
        to their receivers. ``notify_secret`` when set, else a random secret kept in the
        database, so that every process using it agrees."""
        if self._notify_secret is None:
            self._notify_secret = stored_secret(self.store, self.settings)
        return self._notify_secret

    def forget_connections(self, *, close: bool = False) -> None:
        """Drop the store and bus connections so they are opened again on next use: in a
        forked child (``close=False``: the sockets are the parent's) or before forking. A
        store or bus handed to the App (``App(store=…)``) is kept: it cannot be reopened
        from a URL."""
        with self._lock:
            if self._store is not None and not self._given[0]:
                if close:
                    self._store.close()
                self._store = None
            if self._bus is not None and not self._given[1]:
                if close:
                    self._bus.close()
                self._bus = None
            self.worker = None

    @property
    def file_storage(self) -> FileStorage:
        """Where the bytes of jobs' files are kept (``files_url``), opened on first use."""
        return self._files.storage
