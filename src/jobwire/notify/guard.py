"""The HTTP client notifications are sent with: httpx, whose connections go only to the
addresses :func:`~.policy.address_allowed` allows (unless private ones are allowed).

The check is made where the connection is opened, on the addresses the name resolves to
*then*, and the connection goes to the address checked: a name that resolves to a public
address when the URL is given and to a private one when the notification is sent (DNS
rebinding) is refused. Proxies from the environment are not used: a proxy would connect in
our place, unchecked. Redirects are not followed (httpx's default).
"""

from __future__ import annotations

import socket
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx

from .policy import address_allowed


class AddressRefused(Exception):
    """The notify_url's host is (or resolves to) an address notifications may not go to."""


class GuardedBackend(httpcore.NetworkBackend):
    """httpcore's network backend, connecting only to allowed addresses."""

    def __init__(self) -> None:
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
        refused = [a for a in addresses if not address_allowed(a)]
        if refused or not addresses:
            raise AddressRefused(
                f"{host} resolves to {refused[0] if refused else 'nothing'}, a private, "
                "loopback, link-local or reserved address: notifications go to public "
                "addresses only (set notify_allow_private to allow it)"
            )
        error: httpcore.ConnectError | None = None
        for address in addresses:  # the addresses checked, never the name again
            try:
                return self._inner.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except httpcore.ConnectError as exc:
                error = exc
        assert error is not None
        raise error

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        raise AddressRefused("notifications do not go to Unix sockets")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class GuardedTransport(httpx.HTTPTransport):
    """httpx's transport on a :class:`GuardedBackend`. HTTPTransport takes no network
    backend, so its connection pool is made again with one, as HTTPTransport makes it."""

    def __init__(self) -> None:
        super().__init__(trust_env=False)
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=20,
            max_keepalive_connections=10,
            keepalive_expiry=5.0,
            network_backend=GuardedBackend(),
        )


def client(timeout: float, *, allow_private: bool) -> httpx.Client:
    """The client a sender POSTs with: ``timeout`` seconds for each step (connect, write,
    read), no proxy from the environment, no redirects followed; connections to private
    addresses refused unless ``allow_private``."""
    transport = httpx.HTTPTransport(trust_env=False) if allow_private else GuardedTransport()
    return httpx.Client(
        transport=transport, timeout=timeout, trust_env=False, follow_redirects=False
    )
