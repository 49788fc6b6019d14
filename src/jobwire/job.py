"""Job: a handle on one job, returned by submit() and App.get()."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any, Literal, Protocol

from .errors import JobCancelled, JobFailed, ResultNotAvailable
from .snapshot import Event, JobRecord, Snapshot, loads, snapshot
from .status import JobStatus

SubmitOutcome = Literal["created", "deduplicated", "cached"]


class Events(Protocol):
    """A job's events, to iterate or async-iterate (``App.watch`` returns one)."""

    def __iter__(self) -> Iterator[Event]: ...

    def __aiter__(self) -> AsyncIterator[Event]: ...

    def close(self) -> None: ...


class Jobs(Protocol):
    """What a :class:`Job` handle needs of the App that made it."""

    def record(self, job_id: str) -> JobRecord:
        """The job as stored now; raises JobNotFound."""

    def wait_record(self, job_id: str, timeout: float | None) -> JobRecord:
        """The job once it ended; raises WaitTimeout after ``timeout`` seconds."""

    def result_text(self, job_id: str) -> str | None:
        """The stored result of a succeeded job, as JSON text."""

    def cancel(self, job_id: str) -> Job: ...

    def watch(self, job_id: str, *, after: int = 0) -> Events: ...


class Job:
    """A job, as last read from the store. ``refresh()`` reads it again.

    ```python
    job = app.submit("classify", {"file_id": "f1"})
    job.wait(timeout=60)
    print(job.status, job.result())
    ```
    """

    def __init__(self, app: Jobs, record: JobRecord, outcome: SubmitOutcome = "created") -> None:
        self.app = app
        self.record = record
        self.outcome: SubmitOutcome = outcome
        """``created``, or ``deduplicated``/``cached`` when submit returned an existing job."""

    def __repr__(self) -> str:
        return f"<Job {self.id} {self.task} {self.status.value}>"

    @property
    def id(self) -> str:
        return self.record.id

    @property
    def task(self) -> str:
        return self.record.task

    @property
    def owner(self) -> str:
        return self.record.owner

    @property
    def status(self) -> JobStatus:
        return self.record.status

    @property
    def created(self) -> bool:
        """True when submit made a new job (False for a dedupe or cache hit)."""
        return self.outcome == "created"

    @property
    def snapshot(self) -> Snapshot:
        return snapshot(self.record)

    @property
    def error(self) -> dict[str, Any] | None:
        return self.snapshot["error"]  # type: ignore[return-value]

    def refresh(self) -> Job:
        self.record = self.app.record(self.id)
        return self

    def wait(self, timeout: float | None = None) -> Job:
        """Block until the job ends (any terminal status); raises WaitTimeout after
        ``timeout`` seconds. Returns the job, refreshed."""
        self.record = self.app.wait_record(self.id, timeout)
        return self

    def result(self, timeout: float | None = None) -> Any:
        """Wait for the job and return its result; raises JobFailed or JobCancelled when it
        did not succeed."""
        self.wait(timeout)
        return result_of(self.app, self.record)

    def cancel(self) -> Job:
        self.record = self.app.cancel(self.id).record
        return self

    def watch(self, *, after: int = 0) -> Events:
        return self.app.watch(self.id, after=after)


def result_of(app: Jobs, record: JobRecord) -> Any:
    """The result of an ended job: its value, or JobFailed / JobCancelled."""
    if record.status == JobStatus.SUCCEEDED:
        text = app.result_text(record.id)
        return loads(text) if text is not None else None
    if record.status == JobStatus.FAILED:
        raise JobFailed(
            f"Job {record.id} failed: {record.error_message}",
            job_id=record.id,
            error={"code": record.error_code, "message": record.error_message},
        )
    if record.status == JobStatus.CANCELLED:
        raise JobCancelled(f"Job {record.id} was cancelled", job_id=record.id)
    raise ResultNotAvailable(
        f"Job {record.id} is {record.status.value}; its result is not ready yet.",
        job_id=record.id,
        status=record.status.value,
    )
