"""The App is the main entry point: it registers tasks, submits and reads jobs, and runs
workers.

```python
from jobwire import App, Progress

app = App("sqlite:///jobwire.db")

@app.task(per_owner_limit=1, steps=["processing", "saving"])
def classify(progress: Progress, file_id: str) -> dict:
    for ticket in progress.iter(load(file_id), step="processing"):
        ...
    return {"ok": True}

with app:                                   # starts the workers
    job = classify.submit(file_id="f1")
    for event in job.watch():
        print(event["job"]["current"], event["job"]["total"])
```
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any, Literal, overload

from .bus import Bus, open_bus
from .errors import (
    BrokerUnavailable,
    ConfigurationError,
    JobNotFound,
    UnknownTask,
    WaitTimeout,
)
from .eta import estimated_duration
from .job import Job, result_of
from .settings import Settings
from .snapshot import Event, JobRecord, make_event
from .status import TERMINAL, JobStatus
from .storable import MAX_OWNER, check_text
from .store import Page, Store, open_store
from .tasks import DedupeKey, Task, TaskOptions
from .worker import Worker

logger = logging.getLogger(__name__)

_HISTORY_TTL = 10.0


def new_job_id() -> str:
    """32 hex digits: the milliseconds since the epoch, then 80 random bits. Ids sort by
    creation time, so inserts append to the primary-key index instead of landing on random
    pages (which makes every commit write more)."""
    return f"{time.time_ns() // 1_000_000:012x}{secrets.token_hex(10)}"


class App:
    """Tasks, the store that keeps their jobs, the bus that carries their events, and the
    workers that run them. Options left out come from :class:`~jobwire.settings.Settings`
    (``JOBWIRE_*`` environment variables or ``jobwire.toml``)."""

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
        given: dict[str, Any] = {
            "database_url": database_url,
            "bus_url": bus_url,
            "workers": workers,
            "executor": executor,
            "progress_interval": progress_interval,
            "lease_seconds": lease_seconds,
            "poll_interval": poll_interval,
            "retention_days": retention_days,
            "default_owner": default_owner,
        }
        self.settings = Settings.model_validate({k: v for k, v in given.items() if v is not None})
        self.tasks: dict[str, Task] = {}
        self._store = store
        self._bus = bus
        self._lock = threading.Lock()
        self.worker: Worker | None = None
        self._estimates: dict[str, tuple[float, float | None]] = {}
        self._celery: Any = None
        self._secret: str | None = None
        self._start_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<App {self.settings.database_url} tasks={sorted(self.tasks)}>"

    @property
    def progress_interval(self) -> float:
        return self.settings.progress_interval

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
    def celery(self) -> Any:
        """The Celery app that carries this App's jobs to Celery workers (with
        ``executor="celery"``); built on first use."""
        if self._celery is None:
            with self._lock:
                if self._celery is None:
                    from .executors.celery import make_celery

                    self._celery = make_celery(self)
        return self._celery

    @property
    def secret(self) -> str:
        """Signs stream tokens and callback URLs: ``secret_key`` when set, else a random
        secret kept in the database, so that every process using it agrees."""
        if self._secret is None:
            secret = self.settings.secret_key
            if secret is None:
                store: Any = self.store  # an SQLStore: the secret lives in its meta table
                secret = store.meta_value("stream_secret", lambda: secrets.token_urlsafe(48))
            self._secret = secret
        return self._secret

    @property
    def uses_celery(self) -> bool:
        return self.settings.executor == "celery"

    def dispatch(self, jobs: Sequence[tuple[str, str]]) -> None:
        """These ``(job id, task)`` are queued again (a retry, a recovered job): with Celery,
        send their messages; otherwise wake this process's worker."""
        if not jobs:
            return
        if self.uses_celery:
            from .executors.celery import send

            send(self, [(job_id, task, 0.0) for job_id, task in jobs])
        elif self.worker is not None:
            self.worker.poke()

    def forget_connections(self, *, close: bool = False) -> None:
        """Drop the store and bus connections so they are opened again on next use: in a
        forked child (``close=False``: the sockets are the parent's) or before forking."""
        with self._lock:
            if close:
                if self._store is not None:
                    self._store.close()
                if self._bus is not None:
                    self._bus.close()
            self._store = self._bus = None
            self.worker = None

    # -- tasks --------------------------------------------------------------------------

    @overload
    def task(self, fn: Callable[..., Any], /) -> Task: ...

    @overload
    def task(
        self,
        fn: None = None,
        /,
        *,
        name: str | None = None,
        max_concurrency: int | None = None,
        per_owner_limit: int | None = None,
        dedupe_key: DedupeKey | None = None,
        cache_ttl: float | None = None,
        dedupe_scope: Literal["owner", "shared"] = "owner",
        retries: int = 0,
        retry_backoff: float = 1.0,
        timeout: float | None = None,
        steps: Sequence[str] = (),
    ) -> Callable[[Callable[..., Any]], Task]: ...

    def task(
        self,
        fn: Callable[..., Any] | None = None,
        /,
        *,
        name: str | None = None,
        max_concurrency: int | None = None,
        per_owner_limit: int | None = None,
        dedupe_key: DedupeKey | None = None,
        cache_ttl: float | None = None,
        dedupe_scope: Literal["owner", "shared"] = "owner",
        retries: int = 0,
        retry_backoff: float = 1.0,
        timeout: float | None = None,
        steps: Sequence[str] = (),
    ) -> Task | Callable[[Callable[..., Any]], Task]:
        """Register a function (sync or async) as a task. A parameter annotated
        :class:`Progress` receives the job's progress reporter; the others are the job's
        arguments, validated from their type hints.

        ```python
        @app.task(dedupe_key="{dataset_id}:eda", cache_ttl=600, retries=2)
        def eda(progress: Progress, dataset_id: str) -> dict: ...
        ```
        """

        def register(f: Callable[..., Any]) -> Task:
            for option, value in (
                ("max_concurrency", max_concurrency),
                ("per_owner_limit", per_owner_limit),
            ):
                if value is not None and value < 1:
                    raise ConfigurationError(f"Expected {option} >= 1, but got {value!r}")
            if retries < 0 or (timeout is not None and timeout <= 0) or retry_backoff < 0:
                raise ConfigurationError(
                    f"Expected retries >= 0, retry_backoff >= 0 and timeout > 0, but got "
                    f"{retries!r}, {retry_backoff!r}, {timeout!r}"
                )
            task_name = name or f"{f.__module__.rsplit('.', 1)[-1]}.{f.__name__}"
            if f.__module__ == "__main__" and name is None:
                task_name = f.__name__
            if task_name in self.tasks:
                raise ConfigurationError(f"A task named {task_name!r} is already registered")
            options = TaskOptions(
                name=task_name,
                max_concurrency=max_concurrency,
                per_owner_limit=per_owner_limit,
                dedupe_key=dedupe_key,
                cache_ttl=cache_ttl,
                dedupe_scope=dedupe_scope,
                retries=retries,
                retry_backoff=retry_backoff,
                timeout=timeout,
                steps=tuple(steps),
                description=(f.__doc__ or "").strip(),
            )
            task = Task(self, f, options)
            self.tasks[task_name] = task
            return task

        return register(fn) if fn is not None else register

    def get_task(self, name: str) -> Task:
        try:
            return self.tasks[name]
        except KeyError:
            raise UnknownTask(
                f"No task is named {name!r}. Registered: {', '.join(sorted(self.tasks)) or 'none'}",
                task=name,
            ) from None

    # -- jobs ---------------------------------------------------------------------------

    def submit(
        self,
        task: str,
        args: dict[str, Any] | None = None,
        *,
        owner: str | None = None,
        delay: float | None = None,
    ) -> Job:
        """Validate ``args`` and create a job (or return the live/cached one with the same
        dedupe key). Raises UnknownTask, InvalidArguments or OwnerLimitReached; in each case
        nothing is written."""
        t = self.get_task(task)
        values = t.validate(args if args is not None else {})
        now = time.time()
        owner = check_text(owner or self.settings.default_owner, "owner", max_length=MAX_OWNER)
        record = JobRecord(
            id=new_job_id(),
            task=t.name,
            owner=owner,
            args=values,
            created_at=now,
            run_after=now + delay if delay else now,
            max_attempts=t.options.retries + 1,
            timeout=t.options.timeout,
            dedupe_key=t.dedupe_key(values, owner),
            estimated_seconds=self._estimate(t.name),
        )
        saved, outcome = self.store.submit(
            record, owner_limit=t.options.per_owner_limit, cache_ttl=t.options.cache_ttl
        )
        if outcome == "created":
            # Published before the Celery message leaves, so that `queued` (seq 1) reaches
            # the bus before the worker's `running` (seq 2).
            self.bus.publish([make_event(saved, "status")])
            if self.uses_celery:
                self._send(saved)
            elif self.worker is not None:
                self.worker.poke()
        return Job(self, saved, outcome)

    def _send(self, record: JobRecord) -> None:
        from .executors.celery import send

        try:
            send(self, [(record.id, record.task, record.run_after)])
        except Exception as exc:
            # Without its message no worker would ever run the job: take it back, say so.
            logger.error("job %s: the broker refused its message: %s", record.id, exc)
            _, event = self.store.cancel(record.id)
            if event is not None:
                self.bus.publish([event])
            raise BrokerUnavailable(
                f"The job broker could not be reached ({type(exc).__name__}: {exc}); "
                "the job was not queued. Try again later.",
                job_id=record.id,
            ) from exc

    def _estimate(self, task: str) -> float | None:
        now = time.monotonic()
        cached = self._estimates.get(task)
        if cached is None or now - cached[0] > _HISTORY_TTL:
            cached = (now, estimated_duration(self.store.history(task)))
            self._estimates[task] = cached
        return cached[1]

    def _record(self, job_id: str) -> JobRecord:
        record = self.store.get(job_id)
        if record is None:
            raise JobNotFound(f"No job has the id {job_id!r}", job_id=job_id)
        return record

    def get(self, job_id: str) -> Job:
        """The job with this id; raises JobNotFound."""
        return Job(self, self._record(job_id))

    def list(
        self,
        *,
        status: JobStatus | str | Sequence[JobStatus | str] | None = None,
        task: str | None = None,
        owner: str | None = None,
        cursor: str | None = None,
        limit: int = 50,
    ) -> Page:
        """Jobs newest first. ``page.next_cursor`` fetches the next page."""
        statuses: list[str] | None = None
        if status is not None:
            items = [status] if isinstance(status, str | JobStatus) else list(status)
            statuses = [JobStatus(s).value for s in items]
        return self.store.list(
            status=statuses, task=task, owner=owner, cursor=cursor, limit=max(1, min(limit, 500))
        )

    def cancel(self, job_id: str) -> Job:
        """Cancel: a queued job at once, a running one at its next Progress call. Raises
        JobNotFound, or JobAlreadyFinished when it already ended."""
        record, event = self.store.cancel(job_id)
        if event is not None:
            self.bus.publish([event])
            if self.uses_celery and record.status == JobStatus.CANCELLED:
                from .executors.celery import revoke

                revoke(self, job_id)
        if record.status in (JobStatus.RUNNING, JobStatus.WAITING) and self.worker is not None:
            self.worker.request_cancel(job_id)
        return Job(self, record)

    def delete(self, job_id: str) -> None:
        """Forget a finished job, its events and its result."""
        self.store.delete(job_id)

    def result(self, job_id: str, timeout: float | None = None) -> Any:
        return self.get(job_id).result(timeout)

    def watch(self, job_id: str, *, after: int = 0) -> Watch:
        """Events of a job: first its current snapshot, then each change, ending after the
        terminal one. Iterate it (``for``) or async-iterate it (``async for``)."""
        return Watch(self, job_id, after=after)

    def _wait(self, job_id: str, timeout: float | None) -> JobRecord:
        deadline = None if timeout is None else time.monotonic() + timeout
        with self.bus.subscribe(job_id) as sub:
            while True:
                record = self._record(job_id)
                if record.status in TERMINAL:
                    return record
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise WaitTimeout(
                        f"Job {job_id} is still {record.status.value} after {timeout} s",
                        job_id=job_id,
                    )
                wait = (
                    self.settings.poll_interval
                    if left is None
                    else min(left, self.settings.poll_interval)
                )
                event = sub.get(wait)
                while event is not None and event["job"]["status"] not in [
                    s.value for s in TERMINAL
                ]:
                    event = sub.get(0)

    def purge(self) -> int:
        """Delete jobs that ended more than ``retention_days`` ago."""
        cutoff = time.time() - self.settings.retention_days * 86400
        deleted = self.store.purge(cutoff)
        if deleted:
            logger.info("retention: deleted %d old job(s)", deleted, extra={"action": "purge"})
        return deleted

    # -- workers ------------------------------------------------------------------------

    def start(self, *, workers: int | None = None, executor: str | None = None) -> Worker:
        """Start the workers in this process (threads). ``stop()`` or leaving a ``with app:``
        block stops them."""
        with self._start_lock:  # Celery's threads pool may ask from several threads at once
            if self.worker is None:
                self.store.upgrade()
                worker = Worker(
                    self,
                    concurrency=workers or self.settings.workers,
                    executor=executor or self.settings.executor,
                    lease_seconds=self.settings.lease_seconds,
                    poll_interval=self.settings.poll_interval,
                )
                worker.start()
                self.worker = worker
            return self.worker

    def stop(self, grace: float = 10.0) -> None:
        """Stop the workers: running jobs get ``grace`` seconds, then are requeued."""
        if self.worker is not None:
            self.worker.stop(grace)
            self.worker = None

    def close(self) -> None:
        self.stop()
        if self._store is not None:
            self._store.close()
        if self._bus is not None:
            self._bus.close()

    def __enter__(self) -> App:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class Watch:
    """An iterator and async iterator over a job's events (see :meth:`App.watch`)."""

    def __init__(self, app: App, job_id: str, *, after: int = 0) -> None:
        self.app = app
        self.job_id = job_id
        self.after = after
        # Fail now, not at the first next(), for an unknown job.
        self._sub = app.bus.subscribe(job_id)
        try:
            self._record = app._record(job_id)
        except JobNotFound:
            self._sub.close()
            raise

    def __iter__(self) -> Iterator[Event]:
        app, sub, last = self.app, self._sub, self.after
        poll = app.settings.poll_interval
        try:
            record = self._record
            if record.seq > last:
                yield make_event(record, "status")
                last = record.seq
            if record.status in TERMINAL:
                return
            while True:
                event = sub.get(poll)
                batch = [event] if event is not None else self._from_store(last)
                for ev in batch:
                    if ev["seq"] <= last:
                        continue
                    last = ev["seq"]
                    yield ev
                    if ev["kind"] == "status" and ev["job"]["status"] in _TERMINAL_VALUES:
                        return
        finally:
            sub.close()

    def _from_store(self, after: int) -> list[Event]:
        # Nothing on the local bus: the job may run in another process. Read the store.
        events = self.app.store.events(self.job_id, after=after)
        if events:
            return events
        record = self.app.store.get(self.job_id)
        if record is None:
            raise JobNotFound(f"Job {self.job_id} was deleted", job_id=self.job_id)
        if record.seq > after:  # its events were pruned: the snapshot is enough
            return [make_event(record, "status")]
        return []

    async def __aiter__(self) -> AsyncIterator[Event]:
        it = iter(self)
        sentinel = object()
        try:
            while True:
                event = await asyncio.to_thread(next, it, sentinel)
                if event is sentinel:
                    return
                yield event  # type: ignore[misc]
        finally:
            self._sub.close()

    def close(self) -> None:
        self._sub.close()


_TERMINAL_VALUES = frozenset(s.value for s in TERMINAL)

__all__ = ["App", "Watch", "result_of"]
