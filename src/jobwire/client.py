"""A Python client for a jobwire server: the HTTP API, and live messages over WebSocket or SSE.

It mirrors the in-process API: :class:`Client` is to a server what :class:`~jobwire.App` is
to a database, and :class:`RemoteJob` is a :class:`~jobwire.Job` read over HTTP. Errors are
the same classes, rebuilt from the JSON error code (see docs/http.md).

```python
from jobwire import Client

with Client("http://127.0.0.1:8000", token="jw_…") as client:
    job = client.submit("count", {"n": 300})
    for message in job.watch():        # WebSocket, or SSE when it cannot be opened
        print(message["type"], message["job"]["current"], message["job"]["total"])
    print(job.result(timeout=60))
```
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Generator, Sequence
from typing import TYPE_CHECKING, Any, Literal, cast
from urllib.parse import quote, urlencode

import httpx
from httpx_sse import connect_sse
from websockets.exceptions import ConnectionClosed, InvalidHandshake
from websockets.sync.client import connect as ws_connect

from . import errors as e
from .snapshot import Snapshot, loads
from .status import TERMINAL, JobStatus
from .wire import TERMINAL_TYPES, Message

if TYPE_CHECKING:
    from .store.base import SubmitOutcome

logger = logging.getLogger(__name__)

Transport = Literal["ws", "sse"]
FINAL_TYPES = frozenset(TERMINAL_TYPES.values())
_TERMINAL_VALUES = frozenset(s.value for s in TERMINAL)
_MAX_WAIT = 30.0  # the server holds a long poll at most this long
_MAX_BACKOFF = 5.0

# WebSocket close codes the server uses instead of HTTP statuses.
_CLOSE_CODES = {4400: "bad_request", 4401: "unauthorized", 4404: "job_not_found"}


class StreamLost(e.JobwireError):
    """The job's message stream dropped and could not be resumed. The job goes on: watch it
    again with `after=` the last seq you saw."""

    code = "stream_lost"


def error_from(
    code: str, message: str, details: Any = None, *, retry_after: float | None = None
) -> e.JobwireError:
    """The jobwire error for a JSON error code (an unknown code gives a JobwireError)."""
    exc: e.JobwireError
    if code == e.RateLimited.code:
        exc = e.RateLimited(message or None, retry_after=retry_after or 1.0)
    else:
        cls = e.registry().get(code)  # every error class, by the code the server sends
        if cls is not None:
            exc = cls(message or None)
        else:
            exc = e.JobwireError(message or None)
            exc.code = code
    exc.details = dict(details) if isinstance(details, dict) else {}
    return exc


def _error_of(response: httpx.Response) -> e.JobwireError:
    try:
        body = response.json()["error"]
        code, message, details = str(body["code"]), str(body["message"]), body.get("details")
    except (ValueError, KeyError, TypeError):
        code = "unauthorized" if response.status_code == 401 else f"http_{response.status_code}"
        message = (
            f"Expected a jobwire error answer, but got HTTP {response.status_code}: "
            f"{response.text[:200]!r}. Is {response.request.url} a jobwire server?"
        )
        details = {}
    retry_after = None
    if code == e.RateLimited.code:
        with contextlib.suppress(ValueError):
            retry_after = float(response.headers.get("retry-after", "1"))
    return error_from(code, message, details, retry_after=retry_after)


class Client:
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

    def __init__(
        self,
        url: str | Sequence[str],
        token: str | None = None,
        *,
        timeout: float = 30.0,
        transports: Sequence[Transport] = ("ws", "sse"),
        retries: int = 5,
        backoff: float = 0.2,
    ) -> None:
        if not transports or any(t not in ("ws", "sse") for t in transports):
            raise e.ConfigurationError(
                f"Expected transports from ('ws', 'sse'), but got {tuple(transports)!r}"
            )
        urls = [url] if isinstance(url, str) else list(url)
        if not urls:
            raise e.ConfigurationError("Expected at least one server URL, but got none")
        for one in urls:
            if not isinstance(one, str) or not one.startswith(("http://", "https://")):
                raise e.ConfigurationError(f"Expected an http:// or https:// URL, but got {one!r}")
        self.urls: tuple[str, ...] = tuple(one.rstrip("/") for one in urls)
        """Every server this client may use, in the order it tries them."""
        self._current = 0
        self._switch = threading.Lock()
        self.token = token
        self.timeout = timeout
        self.transports: tuple[Transport, ...] = tuple(transports)
        self.retries = retries
        self.backoff = backoff
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout)

    def __repr__(self) -> str:
        return f"<Client {self.url}>"

    @property
    def url(self) -> str:
        """The server in use: the first of :attr:`urls` until a connection to it fails."""
        return self.urls[self._current]

    def _fail_over(self, failed: str) -> bool:
        """Move on from ``failed`` to the next server (unless another thread already did).
        False when there is no other server to try."""
        if len(self.urls) == 1:
            return False
        with self._switch:
            if self.url == failed:
                self._current = (self._current + 1) % len(self.urls)
                self.http.base_url = self.url
                logger.warning(
                    "lost jobwire server %s; using %s",
                    failed,
                    self.url,
                    extra={"action": "fail_over"},
                )
        return True

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()

    # -- requests -------------------------------------------------------------------------

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        untried = len(self.urls) - 1
        while True:
            url = self.url
            try:
                response = self.http.request(method, path, **kwargs)
                break
            except (httpx.ConnectError, httpx.ConnectTimeout):
                # Nothing reached that server, so trying the next is safe for any method.
                if not untried or not self._fail_over(url):
                    raise
                untried -= 1
        if response.is_success or response.status_code == 304:
            return response
        raise _error_of(response)

    def _job_path(self, job_id: str, suffix: str = "") -> str:
        return f"/api/jobs/{quote(job_id, safe='')}{suffix}"

    @staticmethod
    def _token(stream_token: str | None) -> dict[str, str]:
        return {"token": stream_token} if stream_token else {}

    def _job(self, response: httpx.Response, **kwargs: Any) -> RemoteJob:
        return RemoteJob(self, response.json(), etag=response.headers.get("etag"), **kwargs)

    # -- jobs -----------------------------------------------------------------------------

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
    ) -> tuple[list[RemoteJob], str | None]:
        """Jobs newest first, and the cursor of the next page (None on the last one)."""
        params: list[tuple[str, str | int]] = [("limit", limit)]
        statuses = [status] if isinstance(status, str) else list(status or ())
        params += [("status", JobStatus(s).value) for s in statuses]
        params += [(k, v) for k, v in (("task", task), ("owner", owner), ("cursor", cursor)) if v]
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
        while job.snapshot["status"] not in _TERMINAL_VALUES:
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

    def _delay(self, failures: int) -> float:
        return float(min(self.backoff * 2 ** (failures - 1), _MAX_BACKOFF))


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


class _CannotOpen(Exception):
    """The WebSocket could not be opened (refused, or no upgrade): try SSE."""


class _Dropped(Exception):
    """The connection ended before the final message: resume."""


class RemoteWatch:
    """An iterator over a job's messages (see :meth:`Client.watch`). ``transport`` says
    which channel is in use, ``url`` which server, ``reconnects`` how often it resumed,
    ``last`` the highest seq yielded. ``close()`` (or leaving a ``with`` block) stops early."""

    def __init__(
        self, client: Client, job_id: str, *, after: int = 0, stream_token: str | None = None
    ) -> None:
        self.client = client
        self.job_id = job_id
        self.last = after
        self.stream_token = stream_token
        self.transport: Transport = client.transports[0]
        self.url = client.url
        self.reconnects = 0
        self._fresh = after <= 0  # nothing seen yet: the first message is taken whatever its seq
        self._messages = self._run()

    def __iter__(self) -> RemoteWatch:
        return self

    def __next__(self) -> Message:
        return next(self._messages)

    def __enter__(self) -> RemoteWatch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._messages.close()

    def _run(self) -> Generator[Message, None, None]:
        client, failures = self.client, 0
        while True:
            received = False
            cause: BaseException | None = None
            try:
                with contextlib.closing(self._open()) as messages:
                    for msg in messages:
                        received = True
                        if not self._fresh and msg["seq"] <= self.last:
                            continue  # replayed after a reconnect: already yielded
                        self._fresh, self.last = False, msg["seq"]
                        yield msg
                        if msg["type"] in FINAL_TYPES:
                            return
            except _CannotOpen as exc:
                cause = exc.__cause__
                if self.transport == "ws" and "sse" in client.transports:
                    logger.info(
                        "job %s: WebSocket unavailable (%s), using SSE",
                        self.job_id,
                        cause,
                        extra={"job_id": self.job_id, "action": "fallback"},
                    )
                    self.transport = "sse"
                    continue
                client._fail_over(self.url)
            except _Dropped as exc:
                cause = exc.__cause__
                client._fail_over(self.url)  # with several servers, resume on the next
            else:
                # Closed without a final message: the server has nothing newer than `after`
                # for a job that already ended (watch(after=its last seq)), or it went away.
                if not self._fresh and self._ended():
                    return
            failures = 1 if received else failures + 1
            if failures > client.retries:
                raise StreamLost(
                    f"Lost the stream of job {self.job_id} after seq {self.last} "
                    f"({failures} attempts in a row failed: {cause or 'closed early'})",
                    job_id=self.job_id,
                    last_seq=self.last,
                ) from cause
            logger.info(
                "job %s: stream from %s dropped after seq %d (%s); resuming from %s",
                self.job_id,
                self.url,
                self.last,
                cause or "closed early",
                client.url,
                extra={"job_id": self.job_id, "action": "reconnect"},
            )
            self.reconnects += 1
            time.sleep(client._delay(failures))

    def _ended(self) -> bool:
        """True when the job ended at or before the last seq seen: nothing more will come."""
        try:
            snap = self.client.get(self.job_id, stream_token=self.stream_token).snapshot
        except httpx.TransportError:
            return False
        return snap["status"] in _TERMINAL_VALUES and snap["seq"] <= self.last

    def _open(self) -> Generator[Message, None, None]:
        self.url = self.client.url
        return self._ws() if self.transport == "ws" else self._sse()

    def _ws(self) -> Generator[Message, None, None]:
        client = self.client
        query: dict[str, str | int] = dict(client._token(self.stream_token))
        if not self._fresh:
            query["after"] = self.last
        url = "ws" + self.url[4:] + f"/ws/jobs/{quote(self.job_id, safe='')}"
        if query:
            url += "?" + urlencode(query)
        headers = (
            {"Authorization": f"Bearer {client.token}"}
            if client.token and not self.stream_token
            else None
        )
        try:
            conn = ws_connect(url, additional_headers=headers, open_timeout=client.timeout)
        except (InvalidHandshake, TimeoutError) as exc:
            raise _CannotOpen() from exc
        except OSError as exc:
            if len(client.urls) > 1:
                raise _Dropped() from exc  # that server is down: the next one, same channel
            raise _CannotOpen() from exc
        with conn:
            while True:
                try:
                    raw = conn.recv(timeout=client.timeout)
                except ConnectionClosed as exc:
                    close = exc.rcvd
                    if close is not None and close.code == 1000:
                        return  # the server ended the stream
                    if close is not None and close.code in _CLOSE_CODES:
                        raise error_from(_CLOSE_CODES[close.code], close.reason) from None
                    raise _Dropped() from exc
                except TimeoutError as exc:  # not even a ping: the connection is dead
                    raise _Dropped() from exc
                data = loads(raw)
                if data.get("type") == "ping":
                    continue
                if data.get("type") == "error":
                    error = data.get("error") or {}
                    raise error_from(str(error.get("code")), str(error.get("message", "")))
                yield cast(Message, data)

    def _sse(self) -> Generator[Message, None, None]:
        client = self.client
        headers = {} if self._fresh else {"Last-Event-ID": str(self.last)}
        path = self.url + client._job_path(self.job_id, "/events")
        try:
            with connect_sse(
                client.http, "GET", path, headers=headers, params=client._token(self.stream_token)
            ) as source:
                response = source.response
                if response.status_code >= 500:
                    raise _Dropped() from httpx.HTTPStatusError(
                        f"HTTP {response.status_code}", request=response.request, response=response
                    )
                if response.status_code == 204:
                    return  # nothing more will come (after the job's final seq)
                if response.status_code != 200:
                    response.read()
                    raise _error_of(response)
                for event in source.iter_sse():
                    if event.data:
                        yield cast(Message, loads(event.data))
        except httpx.TransportError as exc:
            raise _Dropped() from exc


__all__ = ["Client", "RemoteJob", "RemoteWatch", "StreamLost", "error_from"]
