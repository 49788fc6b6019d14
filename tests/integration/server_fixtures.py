"""A real jobwire server for tests: uvicorn on a free port in a background thread.

```python
with running_server(app, auth="token") as url:      # "http://127.0.0.1:PORT"
    httpx.get(f"{url}/api/health")
```

And :class:`TcpProxy`, a TCP relay in front of it whose connections a test can cut
(``drop()``) or whose WebSocket upgrades it can refuse (``block_websockets``), to check how
clients behave when the network misbehaves.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import uvicorn

from jobwire import App
from jobwire.server import create_app
from jobwire.settings import Settings


def free_socket() -> socket.socket:
    """A listening-ready socket bound to a free loopback port (no race for the port)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@contextlib.contextmanager
def running_server(
    app: App, *, run_workers: bool = True, startup_timeout: float = 15.0, **settings: Any
) -> Iterator[str]:
    """Serve ``create_app(app)`` and yield its base URL; stop it on exit. ``settings`` are
    :class:`~jobwire.settings.Settings` keys replacing the app's (``auth="token"``,
    ``submit_rate=1``, ``heartbeat_seconds=1``…); ``run_workers=False`` serves without
    workers. The caller still owns ``app`` (and closes it)."""
    merged = Settings.model_validate({**app.settings.model_dump(), **settings})
    api = create_app(app, merged, workers=run_workers)
    config = uvicorn.Config(
        api,
        log_level="warning",
        ws_ping_interval=None,
        timeout_graceful_shutdown=2,
        lifespan="on",
    )
    with serving(uvicorn.Server(config), free_socket(), startup_timeout) as url:
        yield url


@contextlib.contextmanager
def serving(
    server: uvicorn.Server, sock: socket.socket, startup_timeout: float = 15.0
) -> Iterator[str]:
    """Run ``server`` on ``sock`` in a background thread and yield its base URL; stop it and
    close ``sock`` on exit. For any ASGI app (one that mounts jobwire's, say)."""
    port = sock.getsockname()[1]
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name=f"uvicorn:{port}", daemon=True
    )
    thread.start()
    try:
        deadline = time.monotonic() + startup_timeout
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the test server on port {port} did not start")
            time.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()


class TcpProxy:
    """Relays TCP connections from its own port to ``target`` (``host:port``).

    ``drop()`` cuts every open connection at once (no close frame, no final chunk: like a
    network failure). With ``block_websockets`` set, a request asking for a WebSocket
    upgrade gets ``403`` instead, as from a proxy that does not pass WebSockets. While
    ``refuse`` is set, every new connection is closed at once (the target is unreachable).
    """

    def __init__(self, target: str, *, block_websockets: bool = False) -> None:
        host, _, port = target.removeprefix("http://").partition(":")
        self.target = (host, int(port))
        self.block_websockets = block_websockets
        self.refuse = False
        self.connections = 0
        self.refused_upgrades = 0
        self._listener = free_socket()
        self._listener.listen(64)
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._closed = False
        self._thread = threading.Thread(target=self._accept, name="tcp-proxy", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}"

    def __enter__(self) -> TcpProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._closed = True
        self._thread.join(timeout=5)
        self._listener.close()
        self.drop()

    def drop(self) -> int:
        """Cut every open connection; returns how many sockets were closed."""
        with self._lock:
            socks, self._open = list(self._open), set()
        for s in socks:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()
        return len(socks)

    def _accept(self) -> None:
        self._listener.settimeout(0.1)  # closing a socket does not wake a blocked accept()
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return  # the listener was closed
            if self.refuse:
                client.close()
                continue
            client.settimeout(None)
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        try:
            first = client.recv(65536)
        except OSError:
            client.close()
            return
        if self.block_websockets and b"upgrade: websocket" in first.lower():
            self.refused_upgrades += 1
            with contextlib.suppress(OSError):
                client.sendall(
                    b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                )
            client.close()
            return
        try:
            upstream = socket.create_connection(self.target, timeout=5)
        except OSError:
            client.close()
            return
        upstream.settimeout(None)
        with self._lock:
            self.connections += 1
            self._open.update((client, upstream))
        with contextlib.suppress(OSError):
            upstream.sendall(first)
        threading.Thread(target=self._pipe, args=(upstream, client), daemon=True).start()
        self._pipe(client, upstream)

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass  # the other side or drop() closed it: the relay ends
        finally:
            for s in (source, sink):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                with self._lock:
                    self._open.discard(s)
                s.close()
