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

import builtins
import logging
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Literal, Unpack, overload

from .errors import (
    BrokerUnavailable,
    ConfigurationError,
    InvalidArguments,
    JobNotFound,
    UnknownTask,
)
from .executors import Executor, Queued, make_executor
from .export import Export, export_job
from .files import FileInfo
from .job import Job, result_of
from .notify.policy import check_url
from .resources import Resources
from .snapshot import JobRecord, make_event
from .status import JobStatus
from .storable import MAX_OWNER, check_text
from .store import Delivery, Page
from .tasks import Task, TaskKwargs, TaskOptions
from .watch import Watch, wait_ended
from .worker import Worker, purge_old

logger = logging.getLogger(__name__)


class App(Resources):
    """Tasks, the store that keeps their jobs, the bus that carries their events, and the
    workers that run them. Options left out come from :class:`~jobwire.settings.Settings`
    (``JOBWIRE_*`` environment variables or ``jobwire.toml``): see
    :class:`~jobwire.resources.Resources` for the constructor's keywords."""

    @property
    def executor(self) -> Executor:
        """Where this App's jobs run (``settings.executor``), made on first use. Told of
        every job queued and cancelled: a Celery executor sends and revokes messages."""
        if self._executor is None:
            with self._lock:
                if self._executor is None:
                    self._executor = make_executor(
                        self.settings.executor, self.settings.workers, self
                    )
        return self._executor

    def __repr__(self) -> str:
        return f"<App {self.settings.database_url} tasks={sorted(self.tasks)}>"

    # -- tasks --------------------------------------------------------------------------

    @overload
    def task(self, fn: Callable[..., Any], /) -> Task: ...

    @overload
    def task(
        self, fn: None = None, /, **options: Unpack[TaskKwargs]
    ) -> Callable[[Callable[..., Any]], Task]: ...

    def task(
        self, fn: Callable[..., Any] | None = None, /, **options: Unpack[TaskKwargs]
    ) -> Task | Callable[[Callable[..., Any]], Task]:
        """Register a function (sync or async) as a task. A parameter annotated
        :class:`Progress` receives the job's progress reporter; the others are the job's
        arguments, validated from their type hints. The keywords are the task's options,
        each described in :class:`~jobwire.tasks.TaskOptions` (limits, dedupe and cache,
        retries, timeout, steps, CSV rows).

        ```python
        @app.task(dedupe_key="{dataset_id}:eda", cache_ttl=600, retries=2)
        def eda(progress: Progress, dataset_id: str) -> dict: ...
        ```
        """

        def register(f: Callable[..., Any]) -> Task:
            task_options = TaskOptions.of(f, **options)
            if task_options.name in self.tasks:
                raise ConfigurationError(
                    f"A task named {task_options.name!r} is already registered"
                )
            task = Task(self, f, task_options)
            self.tasks[task.name] = task
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
        fresh: bool = False,
        notify_url: str | None = None,
    ) -> Job:
        """Validate ``args`` and create a job (or return the live/cached one with the same
        dedupe key; ``fresh=True`` skips the cached one). Raises UnknownTask,
        InvalidArguments or OwnerLimitReached; in each case nothing is written.

        ``notify_url`` (else the task's, else the ``notify_url`` setting) is where the job's
        end is notified: a signed ``job.succeeded``, ``job.failed`` or ``job.cancelled``
        event is POSTed there, retried until answered (see docs/guide.md, Notifications).
        InvalidArguments when it is not ``http(s)``, or a private address that the
        ``notify_allow_private`` setting does not allow."""
        t = self.get_task(task)
        values = t.validate(args if args is not None else {})
        owner = check_text(owner or self.settings.default_owner, "owner", max_length=MAX_OWNER)
        target = self._notify_url(notify_url or t.options.notify_url or self.settings.notify_url)
        record = t.new_job(
            values, owner, delay=delay, estimated=self._estimate(t.name), notify_url=target
        )
        limit, ttl = t.options.per_owner_limit, t.options.cache_ttl
        saved, outcome = self.store.submit(record, owner_limit=limit, cache_ttl=ttl, fresh=fresh)
        if outcome == "created":
            # Published before the executor hears of it (a Celery message), so that
            # `queued` (seq 1) reaches the bus before the worker's `running` (seq 2).
            self.bus.publish([make_event(saved, "status")])
            self._hand_on(saved)
        return Job(self, saved, outcome)

    def _notify_url(self, url: str | None) -> str | None:
        if url is None:
            return None
        try:
            return check_url(url, allow_private=self.settings.notify_allow_private)
        except ValueError as exc:
            raise InvalidArguments(
                f"Invalid notify_url: {exc}",
                errors=[{"loc": ["notify_url"], "msg": str(exc), "type": "notify_url"}],
            ) from None

    def _hand_on(self, record: JobRecord) -> None:
        try:
            self.executor.notify_queued([Queued(record.id, record.task, record.run_after)])
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

    def record(self, job_id: str) -> JobRecord:
        """The job as stored now (what :meth:`get` wraps); raises JobNotFound."""
        record = self.store.get(job_id)
        if record is None:
            raise JobNotFound(f"No job has the id {job_id!r}", job_id=job_id)
        return record

    def get(self, job_id: str) -> Job:
        """The job with this id; raises JobNotFound."""
        return Job(self, self.record(job_id))

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
            if record.status == JobStatus.CANCELLED:
                self.executor.notify_cancelled(job_id)
        if record.status in (JobStatus.RUNNING, JobStatus.WAITING) and self.worker is not None:
            self.worker.request_cancel(job_id)
        return Job(self, record)

    def deliver(self, job_id: str, key: str, payload: str) -> bool:
        """Record a webhook delivery (``payload`` is JSON text) for a job, once per ``key``;
        a job waiting for it goes on, on whichever worker takes it (this process's, or a
        Celery worker the executor sends a message to). False for a repeat. Raises
        JobNotFound, or JobAlreadyFinished when the job ended."""
        added = self.store.add_hook(job_id, key, payload)
        if added:
            record = self.store.get(job_id)
            if record is not None and record.status == JobStatus.WAITING:
                self.executor.notify_queued([Queued(record.id, record.task, record.run_after)])
        return added

    def deliveries(self, job_id: str) -> builtins.list[Delivery]:
        """The notifications of the job's end (none while it runs, or without a
        ``notify_url``), with every attempt. Raises JobNotFound."""
        self.record(job_id)
        return self.store.deliveries(job_id)

    def delete(self, job_id: str) -> None:
        """Forget a finished job, its events, its result and its files."""
        self.store.delete(job_id)
        self._files.drain_trash()

    def files(self, job_id: str) -> builtins.list[FileInfo]:
        """The files the job's current attempt saved, by name. Raises JobNotFound."""
        return self._files.list(job_id)

    def open_file(
        self, job_id: str, name: str, start: int = 0, end: int | None = None
    ) -> tuple[FileInfo, Iterator[bytes]]:
        """A file, and its bytes from ``start`` up to ``end`` in chunks; or FileNotFound."""
        return self._files.open(job_id, name, start, end)

    def result(self, job_id: str, timeout: float | None = None) -> Any:
        return self.get(job_id).result(timeout)

    def result_text(self, job_id: str) -> str | None:
        """The stored result of a succeeded job, as JSON text (None for any other job)."""
        return self.store.result(job_id)

    def export(self, job_id: str, format: str = "json") -> Export:
        """The succeeded job as a download, ``json``, ``csv`` or ``zip`` (jobwire.export)."""
        return export_job(self, job_id, format)

    def watch(self, job_id: str, *, after: int = 0) -> Watch:
        """Events of a job: first its current snapshot, then each change, ending after the
        terminal one. Iterate it (``for``) or async-iterate it (``async for``)."""
        return Watch(
            self.store, self.bus, job_id, after=after, poll_interval=self.settings.poll_interval
        )

    def wait_record(self, job_id: str, timeout: float | None) -> JobRecord:
        """Block until the job ended; its record. Raises WaitTimeout, JobNotFound."""
        return wait_ended(
            self.store, self.bus, job_id, timeout, poll_interval=self.settings.poll_interval
        )

    def purge(self) -> int:
        """Delete jobs that ended more than ``retention_days`` ago, and their files."""
        deleted = purge_old(self.store, self.settings.retention_days)
        self._files.drain_trash()
        return deleted

    # -- workers ------------------------------------------------------------------------

    @overload
    def start(
        self,
        *,
        workers: int | None = None,
        executor: str | None = None,
        run_jobs: Literal[True] = True,
    ) -> Worker: ...

    @overload
    def start(
        self, *, workers: int | None = None, executor: str | None = None, run_jobs: bool
    ) -> Worker | None: ...

    def start(
        self, *, workers: int | None = None, executor: str | None = None, run_jobs: bool = True
    ) -> Worker | None:
        """Start this process's worker and return it (once started, the same one).
        ``run_jobs=False`` is for a process that serves but does not run jobs: with an
        executor of its own (threads, processes) nothing starts; with Celery, whose workers
        are elsewhere, an engine starts that recovers the jobs of workers that died.
        ``stop()`` or leaving a ``with app:`` block stops it."""
        with self._start_lock:  # Celery's threads pool may ask from several threads at once
            if self.worker is None:
                kind, size = executor or self.settings.executor, workers or self.settings.workers
                chosen = self._executor = make_executor(kind, size, self, reuse=self._executor)
                if not run_jobs and chosen.claims:
                    return None
                self.store.upgrade()
                worker = Worker(
                    self.store,
                    self.bus,
                    self.tasks,
                    self.settings,
                    chosen,
                    secret=lambda: self.secret,
                    files=lambda: self.file_storage,
                    notify_secret=lambda: self.notify_secret,
                )
                worker.start()
                self.worker = worker
            return self.worker

    def stop(self, grace: float = 10.0) -> None:
        """Stop the worker: running jobs get ``grace`` seconds, then are requeued."""
        if self.worker is not None:
            self.worker.stop(grace)
            self.worker = None
            if self._executor is not None and self._executor.claims:
                self._executor = None  # its threads are gone: a new start makes new ones

    def close(self) -> None:
        self.stop()
        self._files.close()
        if self._store is not None:
            self._store.close()
        if self._bus is not None:
            self._bus.close()

    def __enter__(self) -> App:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


__all__ = ["App", "result_of"]
