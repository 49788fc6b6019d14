"""The Store interface: where jobs, their events, results and run history are kept.

The store is the single source of truth and of ``seq``: every event gets its number inside
the transaction that writes it, and is published only after that transaction commits, so a
stream that resumes from the store never misses or repeats what the bus already delivered.

It is cut by who uses it: :class:`JobStore` (the App and the server read and change jobs),
:class:`LeaseStore` (workers claim, report, renew and recover), :class:`HookStore`
(webhook deliveries), :class:`~jobwire.store.sharing.ShareStore` (jobs shared with teams),
:class:`~jobwire.store.notifying.DeliveryStore` (notifications of jobs' ends) and
:class:`KeyStore` (API keys and the shared secret, reached as ``store.keys``).
:class:`Store` joins them. Every time is UNIX seconds from the store's ``clock``.
"""

from __future__ import annotations

import builtins
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

from ..files import FileInfo
from ..snapshot import Event, EventKind, JobRecord
from ..status import JobStatus
from ..steps import StepTime
from .notifying import DeliveryStore
from .sharing import ShareStore

SubmitOutcome = Literal["created", "deduplicated", "cached"]


class CacheStats(NamedTuple):
    hits: int
    misses: int


@dataclass(slots=True)
class Report:
    """Progress from a running attempt, which may go from running to waiting and back."""

    job_id: str
    attempt: int
    kind: EventKind
    current: int
    total: int | None
    step: str | None
    message: str | None
    eta_seconds: float | None = None
    rate: float | None = None
    log: str | None = None
    status: JobStatus = JobStatus.RUNNING
    """``running``, or ``waiting`` while the task waits for a callback."""
    steps: list[StepTime] | None = None
    """The attempt's steps with their times, when they changed (None keeps the stored)."""


@dataclass(slots=True)
class Finish:
    """An attempt ends: ``status`` is terminal, or ``queued`` for a retry at ``run_after``,
    or ``waiting`` for a webhook (the attempt goes on when ``wait_index`` has a delivery, or
    at ``run_after``: its poll or its timeout), holding no worker meanwhile."""

    job_id: str
    attempt: int
    status: JobStatus
    current: int
    total: int | None
    step: str | None
    message: str | None
    result: str | None = None
    """The result as JSON text (succeeded only)."""
    error_code: str | None = None
    error_message: str | None = None
    error_details: Any = None
    run_after: float | None = None
    duration: float | None = None
    wait_index: int | None = None
    """``waiting`` only: the wait it stopped at (0 for the attempt's first). A delivery that
    arrived for it already makes the job due at once."""
    steps: list[StepTime] | None = None
    """The attempt's steps with their times (None keeps the stored). The durations of a
    succeeded attempt's steps go to the task's history (:meth:`StatsStore.step_history`)."""
    eta_seconds: float | None = None
    """``waiting`` only: the seconds its step usually has left, when known."""


@dataclass(frozen=True, slots=True)
class Claim:
    """Ask :meth:`Store.write` to also claim up to ``slots`` jobs in the same transaction."""

    slots: int
    tasks: Sequence[str]
    limits: Mapping[str, int]
    lease_seconds: float
    resume: bool = True
    """Also take waiting jobs due to go on (first). A worker asks it at its poll interval
    and when told of a webhook, not at every claim: most claims then cost one query."""


@dataclass(slots=True)
class WriteResult:
    events: list[Event] = field(default_factory=list)
    claimed: list[JobRecord] = field(default_factory=list)
    """Jobs claimed by the ``claim`` part of the write (their events are in ``events``)."""
    rejected: list[str] = field(default_factory=list)
    """Jobs whose attempt no longer holds the lease: their writes were dropped."""
    cancel_requested: set[str] = field(default_factory=set)
    ignored: dict[str, int] = field(default_factory=dict)
    """Transitions the state machine ignored, by reason."""


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: str
    user: str
    roles: tuple[str, ...]
    teams: tuple[str, ...]


@dataclass(slots=True)
class Page:
    jobs: list[JobRecord]
    next_cursor: str | None


class JobStore(ABC):
    """Jobs as the App and the server see them: submit, read, cancel, forget."""

    @abstractmethod
    def submit(
        self,
        job: JobRecord,
        *,
        owner_limit: int | None = None,
        cache_ttl: float | None = None,
        fresh: bool = False,
    ) -> tuple[JobRecord, SubmitOutcome]:
        """Insert ``job`` unless its dedupe key has a live job (returned, "deduplicated") or
        a succeeded job younger than ``cache_ttl`` (returned, "cached"; ``fresh`` skips this
        look). Raises OwnerLimitReached when the owner has ``owner_limit`` live jobs of the
        task. With a ``cache_ttl``, a "cached" answer counts a cache hit for the task, a new
        job a miss (:meth:`StatsStore.cache_stats`), in the same transaction."""

    @abstractmethod
    def get(self, job_id: str) -> JobRecord | None: ...

    @abstractmethod
    def list(
        self,
        *,
        status: Sequence[str] | None = None,
        task: str | None = None,
        owner: str | None = None,
        cursor: str | None = None,
        limit: int = 50,
    ) -> Page:
        """Jobs newest first, paged by an opaque cursor."""

    @abstractmethod
    def cancel(self, job_id: str) -> tuple[JobRecord, Event | None]:
        """Cancel a queued job at once; flag a running one. Raises JobNotFound or
        JobAlreadyFinished."""

    @abstractmethod
    def delete(self, job_id: str) -> None:
        """Forget a terminal job, its events, result and shares. Raises JobNotFinished."""

    @abstractmethod
    def events(self, job_id: str, after: int = 0, limit: int = 1000) -> builtins.list[Event]:
        """The job's stored events after ``seq`` ``after``, oldest first."""

    @abstractmethod
    def result(self, job_id: str) -> str | None:
        """The stored result JSON text."""

    @abstractmethod
    def purge(self, older_than: float) -> int:
        """Delete jobs that ended before ``older_than`` (UNIX time); return how many. Their
        files' keys go to the trash (:meth:`FileStore.trash`), as with :meth:`delete`; their
        shares go with them, and so do other jobs' shares that expired or were revoked
        before ``older_than``."""


class StatsStore(ABC):
    """Figures about tasks: run history (for ETAs), counts by status, the result cache."""

    @abstractmethod
    def history(self, task: str, limit: int = 20) -> builtins.list[tuple[float, int | None]]:
        """``(duration, total)`` of the task's most recent successful runs."""

    @abstractmethod
    def step_history(self, task: str, limit: int = 20) -> builtins.list[dict[str, float]]:
        """Seconds per step of the task's most recent successful runs, newest first (runs
        that recorded no steps left out)."""

    @abstractmethod
    def counts(self, owner: str | None = None) -> dict[str, int]:
        """Jobs by status (of one owner, when given)."""

    @abstractmethod
    def cache_stats(self) -> dict[str, CacheStats]:
        """Per task with a result cache: how many submits it answered (hits) and how many it
        did not (misses: a new job ran)."""


class FileStore(ABC):
    """The files that jobs saved: one row each (their bytes are in a
    :class:`~jobwire.files.FileStorage`), and the trash of bytes to delete."""

    @abstractmethod
    def add_file(self, worker_id: str | None, info: FileInfo) -> bool:
        """Record a file that attempt ``info.attempt`` of its job saved, while that attempt
        still holds the job's lease (held by ``worker_id``; None checks the attempt only) and
        the job runs or waits. False otherwise, and nothing is recorded: the caller deletes
        the bytes. A file of the same name is replaced; its key goes to the trash."""

    @abstractmethod
    def files(self, job_id: str) -> builtins.list[FileInfo]:
        """The files of the job's current attempt, by name (none for an unknown job)."""

    @abstractmethod
    def file(self, job_id: str, name: str) -> FileInfo | None:
        """One file of the job's current attempt, or None."""

    @abstractmethod
    def reserve(self, key: str, hold: float) -> None:
        """Put ``key`` in the trash, not to be taken for ``hold`` seconds, before its bytes
        are written: should the writer die before :meth:`add_file` records the file (which
        takes the key out of the trash), the bytes are deleted once the hold is over."""

    @abstractmethod
    def trash(self, limit: int = 500) -> builtins.list[str]:
        """Keys whose bytes are to be deleted from the file storage: their row is gone
        (replaced, or its job deleted or purged, in the same transaction), or a reserved
        key's time has passed with no row."""

    @abstractmethod
    def forget_trash(self, keys: Sequence[str]) -> None:
        """These keys' bytes were deleted: take them out of the trash."""


class BlobStore(ABC):
    """File bytes kept in the database, in chunks (the default file storage), reached as
    ``store.blobs``."""

    @abstractmethod
    def put_blob(self, key: str, chunks: Iterable[bytes]) -> None:
        """Store ``chunks`` under ``key``, one row per chunk, streamed. When ``chunks``
        raises, nothing is left under ``key``."""

    @abstractmethod
    def blob(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """Bytes ``start`` up to ``end`` (exclusive) of ``key``, chunk by chunk."""

    @abstractmethod
    def delete_blobs(self, keys: Sequence[str]) -> None: ...


class LeaseStore(ABC):
    """What workers do: claim jobs under a lease, write their progress and outcomes, renew
    the lease, and recover the jobs of workers that were lost."""

    @abstractmethod
    def write(
        self,
        worker_id: str,
        reports: Sequence[Report],
        finishes: Sequence[Finish],
        claim: Claim | None = None,
    ) -> WriteResult:
        """Record progress and finished attempts, and claim new jobs, in one transaction.

        Writes from an attempt that lost its lease are rejected; a progress report is
        dropped when the same batch finishes its job in the same step (the finish carries
        the counts). ``claim`` moves up to ``claim.slots`` due queued jobs of
        ``claim.tasks`` to running, oldest first, without exceeding ``claim.limits``
        (running jobs per task across all workers)."""

    @abstractmethod
    def claim_one(
        self, worker_id: str, job_id: str, *, limit: int | None, lease_seconds: float
    ) -> tuple[JobRecord | None, Event | None]:
        """Claim this one job (a message named it) if it is queued, due, and its task has
        fewer than ``limit`` running jobs. Returns the job as it is now and the claim's event,
        or ``(job, None)`` when it was not claimed, or ``(None, None)`` when it is gone."""

    @abstractmethod
    def renew(self, worker_id: str, job_ids: Sequence[str], lease_seconds: float) -> set[str]:
        """Extend this worker's leases on ``job_ids``; return the ids of those with a cancel
        request."""

    @abstractmethod
    def cancel_requests(self, worker_id: str) -> set[str]:
        """The ids of this worker's running jobs whose cancel was requested (a read)."""

    @abstractmethod
    def recover(self, backoff: Mapping[str, float]) -> builtins.list[Event]:
        """Requeue (attempts left, after :func:`~jobwire.retry.retry_delay` of the task's
        ``backoff``) or fail (``worker_lost``) jobs whose lease ran out."""

    @abstractmethod
    def release(self, worker_id: str, job_ids: Sequence[str]) -> builtins.list[Event]:
        """Give running jobs back to the queue at a graceful shutdown (not an attempt used);
        a job whose cancel was requested ends cancelled instead."""

    @abstractmethod
    def stale_queued(self, due_before: float, limit: int = 500) -> builtins.list[tuple[str, str]]:
        """``(id, task)`` of queued jobs (and waiting ones due to go on) due before
        ``due_before``, oldest first."""

    @abstractmethod
    def due_waits(self, now: float, limit: int = 500) -> builtins.list[tuple[str, str]]:
        """``(id, task)`` of waiting jobs due to go on at ``now`` (a delivery came, or their
        poll or timeout is due), soonest first: for executors that hand out jobs by message."""


class HookStore(ABC):
    """Webhook deliveries for jobs that wait on an external system."""

    @abstractmethod
    def add_hook(self, job_id: str, key: str, payload: str) -> bool:
        """Record a webhook delivery (``payload`` is JSON text) for a live job, for its
        current attempt, after the ones before it; a waiting job becomes due to go on at
        once. False when a delivery with this ``key`` was already recorded (a repeat).
        Raises JobNotFound, or JobAlreadyFinished when the job ended."""

    @abstractmethod
    def hook(self, job_id: str) -> str | None:
        """The payload of the job's first webhook delivery, or None while there is none."""

    @abstractmethod
    def callbacks(self, job_id: str, attempt: int) -> builtins.list[str]:
        """The payloads delivered to this attempt of the job, in the order they came: the
        n-th wait of the attempt takes the n-th."""

    @abstractmethod
    def memos(self, job_id: str, attempt: int) -> dict[str, str]:
        """What :meth:`~jobwire.Progress.once` kept for this attempt: name -> JSON text."""

    @abstractmethod
    def put_memo(self, worker_id: str, job_id: str, attempt: int, name: str, value: str) -> bool:
        """Keep a value (JSON text) of the attempt under ``name``, once (a second one with
        the same name keeps the first). False when this worker no longer holds the
        attempt's lease: nothing is kept."""


class KeyStore(ABC):
    """API keys and shared secrets: the part of the store the server owns."""

    @abstractmethod
    def create_key(
        self, user: str, *, roles: Sequence[str] = (), teams: Sequence[str] = ()
    ) -> tuple[str, str]:
        """Make an API key for ``user``; return ``(key_id, secret)``. Only a SHA-256 hash
        of the secret is stored: show the secret once."""

    @abstractmethod
    def find_key(self, secret: str) -> ApiKey | None:
        """The live key whose secret this is, or None."""

    @abstractmethod
    def list_keys(self) -> builtins.list[tuple[ApiKey, float, float | None]]:
        """Every key with its ``created_at`` and ``revoked_at`` (None while live), oldest
        first."""

    @abstractmethod
    def revoke_key(self, key_id: str) -> bool:
        """Revoke a live key; False when there is no such live key."""

    @abstractmethod
    def revoked_keys(self, since: float = 0.0) -> builtins.list[tuple[str, float]]:
        """``(id, revoked_at)`` of the keys revoked at or after ``since`` (UNIX time)."""

    @abstractmethod
    def meta_value(self, key: str, default: Callable[[], str]) -> str:
        """The stored value for ``key``, storing ``default()`` first if there is none (so
        every process sharing the database agrees on it)."""


class Store(JobStore, LeaseStore, HookStore, StatsStore, FileStore, ShareStore, DeliveryStore):
    """The whole store. :class:`~jobwire.store.sql.SQLStore` implements it for SQLite and
    PostgreSQL, :class:`~jobwire.testing.MemoryStore` in memory for tests."""

    url: str
    clock: Callable[[], float]
    """"Now" in UNIX seconds, for every time the store writes and compares."""

    @property
    @abstractmethod
    def keys(self) -> KeyStore:
        """API keys and the shared secret."""

    @property
    @abstractmethod
    def blobs(self) -> BlobStore:
        """File bytes kept in the database (the default file storage)."""

    @abstractmethod
    def upgrade(self) -> builtins.list[str]:
        """Apply pending migrations; return the revisions applied."""

    @abstractmethod
    def check_writable(self) -> None:
        """Raise StoreUnavailable (with the reason) when the store cannot be written now."""

    @abstractmethod
    def close(self) -> None: ...
