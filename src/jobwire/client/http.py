"""The HTTP side of a client: the servers of one deployment, failing over between them, and
requests whose error answers become jobwire errors."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator, Sequence
from typing import Any, Literal
from urllib.parse import quote

import httpx

from .. import errors as e
from .errors import error_of

logger = logging.getLogger(__name__)

Transport = Literal["ws", "sse"]
_MAX_BACKOFF = 5.0


class Session:
    """One or more servers of a deployment, an ``httpx.Client`` on the one in use, and the
    reconnection policy: the part of :class:`~jobwire.Client` that its watches share."""

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
        return f"<{type(self).__name__} {self.url}>"

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

    def close(self) -> None:
        self.http.close()

    def _send(
        self, method: str, path: str, *, stream: bool = False, **kwargs: Any
    ) -> httpx.Response:
        untried = len(self.urls) - 1
        while True:
            url = self.url
            try:
                request = self.http.build_request(method, path, **kwargs)
                return self.http.send(request, stream=stream)
            except (httpx.ConnectError, httpx.ConnectTimeout):
                # Nothing reached that server, so trying the next is safe for any method.
                if not untried or not self._fail_over(url):
                    raise
                untried -= 1

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        response = self._send(method, path, **kwargs)
        if response.is_success or response.status_code == 304:
            return response
        raise error_of(response)

    @contextlib.contextmanager
    def _stream(self, method: str, path: str, **kwargs: Any) -> Iterator[httpx.Response]:
        """As :meth:`_request`, with the body left unread, to be streamed; closed on exit."""
        response = self._send(method, path, stream=True, **kwargs)
        try:
            if not response.is_success:
                response.read()
                raise error_of(response)
            yield response
        finally:
            response.close()

    def _job_path(self, job_id: str, suffix: str = "") -> str:
        return f"/api/jobs/{quote(job_id, safe='')}{suffix}"

    @staticmethod
    def _token(stream_token: str | None) -> dict[str, str]:
        return {"token": stream_token} if stream_token else {}

    def _delay(self, failures: int) -> float:
        return float(min(self.backoff * 2 ** (failures - 1), _MAX_BACKOFF))
