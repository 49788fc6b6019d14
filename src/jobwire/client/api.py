"""The jobs API of a server: :class:`Client` submits, lists, cancels, waits and watches;
:class:`RemoteJob` is one job as the server described it."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast, overload
from urllib.parse import quote

import httpx

from .. import errors as e
from ..status import JobStatus
from .files import JobFiles
from .shares import AccessInfo, Expiry, JobShares, SharedVia, ShareInfo
from .watch import TERMINAL_VALUES, RemoteWatch

if TYPE_CHECKING:
    from ..files import FileEntry
    from ..snapshot import Snapshot
    from ..store.base import SubmitOutcome
    from .download import ExportFormat, ProgressCallback

_MAX_WAIT = 30.0  # the server holds a long poll at most this long


class Client(JobFiles, JobShares):
    """A jobwire server, over HTTP. ``token`` is an API key or a JWT (sent as
    ``Authorization: Bearer``). Network failures of plain calls raise ``httpx`` errors;
    ``watch()`` reconnects by itself, up to ``retries`` times in a row, waiting
    ``backoff``, then twice as long each time (at most 5 s).

    ``url`` may be a list of servers of one deployment (the same database and bus): the
    client uses the first, and moves to the next when a connection fails (a call that could
    not connect, a stream that dropped), resuming streams from the last seq.

    ```python
    client = Client("http://127.0.0.1:8000")   # or Client(["http://a:8000", "http://b:8000"])
    job = client.submit("classify", {"file_id": "f1"})
    job.wait(timeout=60)
    ```
    """

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _job(self, response: httpx.Response, **kwargs: Any) -> RemoteJob:
        return RemoteJob(self, response.json(), etag=response.headers.get("etag"), **kwargs)

    def submit(self, task: str, args: dict[str, Any] | None = None) -> RemoteJob:
        """Submit a job; the server decides its owner from the credentials. Raises
        UnknownTask, InvalidArguments, OwnerLimitReached or RateLimited."""
        response = self._request("POST", f"/api/tasks/{quote(task, safe='')}/jobs", json=args or {})
        body = response.json()
        return RemoteJob(
            self,
            body,
            outcome=body.get("outcome", "created"),
            stream_token=body.get("stream_token"),
            etag=response.headers.get("etag"),
        )

    def get(self, job_id: str, *, stream_token: str | None = None) -> RemoteJob:
        """The job with this id; raises JobNotFound."""
        return self._job(
            self._request("GET", self._job_path(job_id), params=self._token(stream_token))
        )

    def list(
        self,
        *,
        status: str | Sequence[str] | None = None,
        task: str | None = None,
        owner: str | None = None,
        cursor: str | None = None,
        limit: int = 50,
        shared: bool = False,
    ) -> tuple[list[RemoteJob], str | None]:
        """Jobs newest first, and the cursor of the next page (None on the last one).

        ``shared=True`` lists the jobs shared with the caller's teams instead of its own;
        each says through which team and who shared it (:attr:`RemoteJob.shared`)."""
        params: list[tuple[str, str | int]] = [("limit", limit)]
        statuses = [status] if isinstance(status, str) else list(status or ())
        params += [("status", JobStatus(s).value) for s in statuses]
        params += [(k, v) for k, v in (("task", task), ("owner", owner), ("cursor", cursor)) if v]
        if shared:
            params.append(("shared", "true"))
        body = self._request("GET", "/api/jobs", params=params).json()
        return [RemoteJob(self, snap) for snap in body["jobs"]], body["next_cursor"]

    def cancel(self, job_id: str, *, stream_token: str | None = None) -> RemoteJob:
        """Cancel: a queued job at once, a running one at its next progress call. Raises
        JobNotFound, or JobAlreadyFinished when it already ended."""
        return self._job(
            self._request(
                "POST", self._job_path(job_id, "/cancel"), params=self._token(stream_token)
            )
        )

    def delete(self, job_id: str) -> None:
        """Forget a finished job and its result; raises JobNotFinished while it runs."""
        self._request("DELETE", self._job_path(job_id))

    def result(self, job_id: str) -> Any:
        """The result of a succeeded job, now; raises ResultNotAvailable otherwise (use
        ``client.get(id).result(timeout)`` to wait for it)."""
        return self._request("GET", self._job_path(job_id, "/result")).json()

    def wait(
        self, job_id: str, timeout: float | None = None, *, stream_token: str | None = None
    ) -> RemoteJob:
        """Block until the job ends (long polls with its ETag); raises WaitTimeout after
        ``timeout`` seconds. Returns the job as it ended."""
        return self._wait(self.get(job_id, stream_token=stream_token), timeout, stream_token)

    def _wait(self, job: RemoteJob, timeout: float | None, stream_token: str | None) -> RemoteJob:
        deadline = None if timeout is None else time.monotonic() + timeout
        failures = 0
        while job.snapshot["status"] not in TERMINAL_VALUES:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise e.WaitTimeout(
                    f"Job {job.id} is still {job.snapshot['status']} after {timeout} s",
                    job_id=job.id,
                )
            hold = _MAX_WAIT if left is None else min(_MAX_WAIT, left)
            url = self.url
            try:
                response = self._request(
                    "GET",
                    self._job_path(job.id),
                    params={"wait": f"{hold:.3f}", **self._token(stream_token)},
                    headers={"If-None-Match": job.etag} if job.etag else {},
                    timeout=hold + self.timeout,
                )
            except httpx.TransportError:
                failures += 1
                if failures > self.retries:
                    raise
                self._fail_over(url)  # a long poll that dropped: its server may be gone
                time.sleep(self._delay(failures))
                continue
            failures = 0
            if response.status_code == 200:
                job = self._job(response, outcome=job.outcome, stream_token=job.stream_token)
        return job

    def watch(self, job_id: str, *, after: int = 0, stream_token: str | None = None) -> RemoteWatch:
        """The job's messages (``{"type", "seq", "job"}``, see docs/http.md): the current
        snapshot (or, with ``after``, what came after that seq), then every change, ending
        after the final one (``completed``, ``failed`` or ``cancelled``). Reconnects and
        resumes from the last seq when the connection drops; never repeats a seq."""
        return RemoteWatch(self, job_id, after=after, stream_token=stream_token)


class RemoteJob:
    """A job as the server last described it; ``refresh()`` asks again. Mirrors
    :class:`jobwire.Job`."""

    def __init__(
        self,
        client: Client,
        snapshot: Snapshot,
        *,
        outcome: SubmitOutcome = "created",
        stream_token: str | None = None,
        etag: str | None = None,
    ) -> None:
        self.client = client
        self.snapshot = snapshot
        self.outcome: SubmitOutcome = outcome
        """``created``, or ``deduplicated``/``cached`` when submit returned an existing job."""
        self.stream_token = stream_token
        """From submit: a token for this one job's URLs (``?token=``), e.g. for a browser."""
        self.etag = etag

    def __repr__(self) -> str:
        return f"<RemoteJob {self.id} {self.task} {self.status.value}>"

    @property
    def id(self) -> str:
        return self.snapshot["id"]

    @property
    def task(self) -> str:
        return self.snapshot["task"]

    @property
    def owner(self) -> str:
        return self.snapshot["owner"]

    @property
    def status(self) -> JobStatus:
        return JobStatus(self.snapshot["status"])

    @property
    def created(self) -> bool:
        """True when submit made a new job (False for a dedupe or cache hit)."""
        return self.outcome == "created"

    @property
    def error(self) -> dict[str, Any] | None:
        return cast("dict[str, Any] | None", self.snapshot["error"])

    @property
    def shared(self) -> SharedVia | None:
        """For a job listed with ``shared=True``: the team it was shared with, who shared
        it, ``can_view``, ``can_download`` and ``expires_at``. None otherwise."""
        return cast("SharedVia | None", cast("dict[str, Any]", self.snapshot).get("shared"))

    def _update(self, other: RemoteJob) -> RemoteJob:
        self.snapshot, self.etag = other.snapshot, other.etag
        return self

    def refresh(self) -> RemoteJob:
        return self._update(self.client.get(self.id))

    def wait(self, timeout: float | None = None) -> RemoteJob:
        """Block until the job ends; raises WaitTimeout after ``timeout`` seconds."""
        return self._update(self.client._wait(self, timeout, None))

    def result(self, timeout: float | None = None) -> Any:
        """Wait for the job and return its result; raises JobFailed or JobCancelled when it
        did not succeed."""
        self.wait(timeout)
        if self.status == JobStatus.SUCCEEDED:
            return self.client.result(self.id)
        if self.status == JobStatus.FAILED:
            error = self.error or {}
            raise e.JobFailed(
                f"Job {self.id} failed: {error.get('message')}",
                job_id=self.id,
                error={"code": error.get("code"), "message": error.get("message")},
            )
        raise e.JobCancelled(f"Job {self.id} was cancelled", job_id=self.id)

    def cancel(self) -> RemoteJob:
        return self._update(self.client.cancel(self.id))

    def watch(self, *, after: int = 0) -> RemoteWatch:
        return self.client.watch(self.id, after=after)

    def share(
        self,
        team: str,
        *,
        can_view: bool = True,
        can_download: bool = True,
        expires_at: Expiry = None,
    ) -> ShareInfo:
        """Share this job with a team (see :meth:`Client.share`)."""
        return self.client.share(
            self.id, team, can_view=can_view, can_download=can_download, expires_at=expires_at
        )

    def unshare(self, team: str) -> None:
        """Stop sharing this job with a team (see :meth:`Client.unshare`)."""
        self.client.unshare(self.id, team)

    def shares(self) -> list[ShareInfo]:
        """The teams this job is shared with (see :meth:`Client.shares`)."""
        return self.client.shares(self.id)

    def access(self) -> AccessInfo:
        """What the client's credentials may do with this job (see :meth:`Client.access`)."""
        return self.client.access(self.id)

    @property
    def _own_token(self) -> str | None:
        # The client's credentials when it has some (a stream token expires), else this job's.
        return None if self.client.token else self.stream_token

    def files(self) -> list[FileEntry]:
        """The files the job saved (see :meth:`Client.files`)."""
        return self.client.files(self.id, stream_token=self._own_token)

    @overload
    def download(
        self,
        format: ExportFormat | None = None,
        *,
        file: str | None = None,
        path: None = None,
        progress: ProgressCallback | None = None,
    ) -> bytes: ...

    @overload
    def download(
        self,
        format: ExportFormat | None = None,
        *,
        file: str | None = None,
        path: str | os.PathLike[str],
        progress: ProgressCallback | None = None,
    ) -> Path: ...

    def download(
        self,
        format: ExportFormat | None = None,
        *,
        file: str | None = None,
        path: str | os.PathLike[str] | None = None,
        progress: ProgressCallback | None = None,
    ) -> Path | bytes:
        """The job's export or one of its files (see :meth:`Client.download`)."""
        return self.client.download(
            self.id,
            format,
            file=file,
            path=path,
            progress=progress,
            stream_token=self._own_token,
        )
