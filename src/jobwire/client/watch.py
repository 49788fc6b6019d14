"""Following a job's messages over WebSocket, or SSE when a WebSocket cannot be opened,
resuming from the last seq after a drop (on the next server when there are several)."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Generator
from typing import cast
from urllib.parse import quote, urlencode

import httpx
from httpx_sse import connect_sse
from websockets.exceptions import ConnectionClosed, InvalidHandshake
from websockets.sync.client import connect as ws_connect

from ..snapshot import loads
from ..status import TERMINAL
from ..wire import TERMINAL_TYPES, Message
from .errors import StreamLost, error_from, error_of
from .http import Session, Transport

logger = logging.getLogger(__name__)

FINAL_TYPES = frozenset(TERMINAL_TYPES.values())
TERMINAL_VALUES = frozenset(s.value for s in TERMINAL)

# WebSocket close codes the server uses instead of HTTP statuses.
# 4403: a right withdrawn while the stream ran (the share it was followed through ended).
_CLOSE_CODES = {
    4400: "bad_request",
    4401: "unauthorized",
    4403: "share_ended",
    4404: "job_not_found",
}


class _CannotOpen(Exception):
    """The WebSocket could not be opened (refused, or no upgrade): try SSE."""


class _Dropped(Exception):
    """The connection ended before the final message: resume."""


class RemoteWatch:
    """An iterator over a job's messages (see :meth:`Client.watch`). ``transport`` says
    which channel is in use, ``url`` which server, ``reconnects`` how often it resumed,
    ``last`` the highest seq yielded. ``close()`` (or leaving a ``with`` block) stops early."""

    def __init__(
        self, client: Session, job_id: str, *, after: int = 0, stream_token: str | None = None
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
        client = self.client
        try:
            response = client._request(
                "GET", client._job_path(self.job_id), params=client._token(self.stream_token)
            )
        except httpx.TransportError:
            return False
        snap = response.json()
        return snap["status"] in TERMINAL_VALUES and snap["seq"] <= self.last

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
                    raise error_of(response)
                for event in source.iter_sse():
                    if not event.data:
                        continue
                    data = loads(event.data)
                    if event.event == "error" or data.get("type") == "error":
                        # The server's last word before it ends the stream (a revoked key,
                        # an ended share): not a job message.
                        error = data.get("error") or {}
                        raise error_from(str(error.get("code")), str(error.get("message", "")))
                    yield cast(Message, data)
        except httpx.TransportError as exc:
            raise _Dropped() from exc
