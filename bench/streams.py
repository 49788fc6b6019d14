"""Live streams, submits and ETag polls: jobwire's server next to Flask(-SocketIO) and bare
Starlette, in one run.

Run it from the repository root::

    python bench/streams.py                    # N = 100 and 1,000; about 3-4 minutes
    python bench/streams.py --big              # adds N = 10,000 (raises RLIMIT_NOFILE)
    python bench/streams.py --only streams --systems jobwire-ws,starlette --sizes 1000

Every server runs in its own process (``python bench/streams.py _serve KIND``, started fresh
for each measurement cell, bound to 127.0.0.1); the clients run in ``--clients`` separate
processes (default 4), each driving its share of the connections with asyncio (uvloop when
installed). Server CPU is read from ``/proc/<pid>/stat`` (utime + stime of every thread,
10 ms ticks) just before and just after each measured phase.

1. **streams** — a broadcast of ``--messages`` messages (default 50) at ``1 / --interval``
   per second (default 10/s) to N connected clients, once all N are connected (N = 10,000:
   ``--big-messages`` 20 at ``--big-interval`` 1 s, since one fan-out to 10,000 sockets
   takes a few hundred ms of CPU). Every message carries its send time (``time.time_ns()``,
   the same clock in every process of the machine) in ``job.message``; a client stamps
   ``time.time_ns()`` when its event loop reads the bytes, and latency = receive - send.
   *CPU per delivery* = server CPU seconds during the broadcast / messages received by all
   clients. Per message, *first* is the latency to the first client that got it (the path
   up to the fan-out) and *spread* the time from the first to the last (the fan-out).

   - ``jobwire-ws`` / ``jobwire-sse``: ``create_app(App(sqlite, progress_interval=0.05))``
     under uvicorn, as ``jobwire serve --log-level warning`` runs it (embedded workers,
     memory bus). A task waits for a gate file, then calls
     ``progress.update(i, total=M, message=str(time.time_ns()), step=f"t{i}")`` every
     ``--interval`` seconds (a new step always emits, so the throttle never merges two
     updates): each update is a real job event (SQLite write, bus, hub, fan-out). Clients
     follow ``/ws/jobs/{id}`` or ``/api/jobs/{id}/events``.
   - ``flask-socketio``: Flask-SocketIO, ``async_mode="threading"`` with simple-websocket
     under Werkzeug's threaded server; a background task calls
     ``socketio.emit("progress", message, to="bench")`` to the room all clients joined.
   - ``starlette``: a bare Starlette WebSocket endpoint under uvicorn; an asyncio task
     awaits ``ws.send_text(text)`` for each socket in turn: the floor.

   Every system sends the same message: ``{"type": "progress", "seq", "job": snapshot}``
   built by ``jobwire.wire``. The clients are minimal asyncio protocols (RFC 6455 frames,
   an SSE parser over chunked HTTP, Engine.IO 4 / Socket.IO 5 packets over WebSocket) that
   ``json.loads`` every message, so each system gets the same, cheap client. python-socketio's
   own AsyncClient needs aiohttp, which is not installed, and its threaded Client costs
   several threads per connection; the Socket.IO clients here speak the same protocol.

2. **submit** — ``--submits`` POSTs (default 2,000) from ``--submitters`` concurrent
   submitters (default 50, httpx.AsyncClient, spread over the client processes), one
   warm-up POST each first. jobwire: ``POST /api/tasks/bench.noop/jobs`` (202; a no-op task
   that the embedded workers then run; ``JOBWIRE_SUBMIT_RATE``/``_BURST`` set to 10⁶).
   The Flask and Starlette rows answer 202 with a snapshot and store nothing: they are the
   HTTP floor, not equivalents.

3. **poll** — ``--polls`` GETs (default 20,000) of a finished job with
   ``If-None-Match: <its ETag>``, ``--poll-conns`` at a time (default 32) over keep-alive
   connections, each answered 304. jobwire: ``GET /api/jobs/{id}``; Flask (Werkzeug's
   threaded WSGI server, the one Flask-SocketIO's threading mode runs on) and Starlette
   (uvicorn): an endpoint comparing the header with a dict entry. Werkzeug closes the
   connection after every response, so the Flask row includes a TCP connect per poll.

Every measured window also reads ``/proc/stat``: when other processes kept more than a
quarter of a core busy meanwhile, the row is flagged (latencies then say more about the
machine than about the server; CPU per delivery/request is less affected).

The project's targets (at N = 1,000): jobwire p99 <= 40 ms and <= 15 µs server CPU per
delivery; p99 <= 250 ms at N = 10,000; submit p99 <= 20 ms; <= 150 µs server CPU per 304.
Targets are checked on the WebSocket rows (SSE is reported next to them).

The Rich progress display is refreshed by hand at each step (no refresh thread). Results go
to ``bench/results/streams.json``.
"""

from __future__ import annotations

import abc
import argparse
import asyncio
import base64
import contextlib
import json
import math
import multiprocessing as mp
import multiprocessing.connection as mpc
import os
import platform
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
from array import array
from collections.abc import Callable
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import httpx
from common import busy_warning, git_state, progress_bar, write_result
from rich.console import Console
from rich.table import Table

from jobwire import Progress
from jobwire.snapshot import Event, JobRecord, dumps, snapshot
from jobwire.status import JobStatus
from jobwire.wire import encode, message

RESULTS = Path(__file__).resolve().parent / "results"
HOST = "127.0.0.1"
CLK_TCK = os.sysconf("SC_CLK_TCK")
PROGRESS_INTERVAL = 0.05  # the App's throttle (each bench update names a new step: never held)
CONNECT_CONCURRENCY = 16  # handshakes in flight per client process (Werkzeug's backlog: 128)
BIG = 10_000  # from this N on, --big-messages at --big-interval
GATE_WAIT = 600.0  # seconds the jobwire emit task waits for its gate before giving up

TARGETS = {
    "stream_p99_ms_1000": 40.0,
    "stream_cpu_us_1000": 15.0,
    "stream_p99_ms_10000": 250.0,
    "submit_p99_ms": 20.0,
    "poll_cpu_us": 150.0,
}
STREAM_SYSTEMS = {
    "jobwire-ws": "jobwire /ws/jobs/{id} (uvicorn, FastAPI)",
    "jobwire-sse": "jobwire /api/jobs/{id}/events (sse-starlette)",
    "flask-socketio": "Flask-SocketIO threading + simple-websocket, emit to a room",
    "starlette": "bare Starlette: await send_text per socket (floor)",
}
HTTP_SYSTEMS = {
    "jobwire": "jobwire (FastAPI under uvicorn)",
    "flask": "Flask under Werkzeug's threaded WSGI server",
    "starlette": "bare Starlette endpoint under uvicorn",
}
SERVER_OF = {
    "jobwire-ws": "jobwire",
    "jobwire-sse": "jobwire",
    "flask-socketio": "flask-socketio",
    "starlette": "starlette",
    "jobwire": "jobwire",
    "flask": "flask",
}
JOB_ID = "b" * 32  # the job the Flask and Starlette peers pretend to hold
TERMINAL_TYPES = frozenset({"completed", "failed", "cancelled"})


# -- the message every system sends ---------------------------------------------------------


def bench_record(job_id: str = JOB_ID, **changes: Any) -> JobRecord:
    now = time.time()
    values: dict[str, Any] = {
        "id": job_id,
        "task": "bench.emit",
        "owner": "local",
        "status": JobStatus.RUNNING,
        "created_at": now,
        "started_at": now,
        "attempt": 1,
    }
    values.update(changes)
    return JobRecord(**values)


def bench_text(seq: int, total: int, sent_ns: int) -> str:
    """The encoded ``progress`` message a peer sends: jobwire's own wire format."""
    record = bench_record(seq=seq, current=seq, total=total, message=str(sent_ns))
    event: Event = {"kind": "progress", "seq": seq, "job": snapshot(record), "log": None}
    return str(encode(message(event)))


# -- the servers (each runs as `python bench/streams.py _serve KIND --port P --dir D`) -------


def emit_task(progress: Progress, gate: str, count: int, interval: float) -> int:
    """Wait for ``gate`` to exist, then report ``count`` updates ``interval`` s apart, each
    carrying its send time in ``message``. Each update names a new step, which always emits:
    a late wake-up of this thread must not let the throttle merge two updates."""
    deadline = time.monotonic() + GATE_WAIT
    while not os.path.exists(gate):
        if time.monotonic() > deadline:
            raise TimeoutError(f"no gate file {gate} after {GATE_WAIT} s")
        time.sleep(0.005)
    start = time.monotonic()
    for i in range(count):
        pause = start + i * interval - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        progress.update(i + 1, total=count, message=str(time.time_ns()), step=f"t{i + 1}")
    return count


def noop_task(progress: Progress) -> bool:
    return True


def serve_jobwire(port: int, workdir: str) -> None:
    import uvicorn

    from jobwire import App
    from jobwire.server import create_app

    app = App(f"sqlite:///{workdir}/jobwire.db", progress_interval=PROGRESS_INTERVAL)
    app.task(name="bench.emit")(emit_task)
    app.task(name="bench.noop")(noop_task)
    # The options `jobwire serve --log-level warning` passes.
    uvicorn.run(
        create_app(app),
        host=HOST,
        port=port,
        log_level="warning",
        ws_ping_interval=None,
        timeout_graceful_shutdown=10,
    )


def _peer_snapshot_text() -> tuple[str, str]:
    record = bench_record(status=JobStatus.SUCCEEDED, seq=7, current=1, total=1)
    return dumps(snapshot(record)), f'"{JOB_ID}.7"'


def serve_starlette(port: int) -> None:
    import uuid

    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, PlainTextResponse, Response
    from starlette.routing import Route, WebSocketRoute
    from starlette.websockets import WebSocket, WebSocketDisconnect

    sockets: set[WebSocket] = set()
    snap_text, tag = _peer_snapshot_text()
    background: set[asyncio.Task[None]] = set()

    async def ws(websocket: WebSocket) -> None:
        await websocket.accept()
        sockets.add(websocket)
        try:
            await websocket.send_text("hello")
            while True:
                await websocket.receive_text()
        except WebSocketDisconnect:
            pass
        finally:
            sockets.discard(websocket)

    async def broadcast(count: int, interval: float) -> None:
        loop = asyncio.get_running_loop()
        start = loop.time()
        for i in range(count):
            await asyncio.sleep(max(0.0, start + i * interval - loop.time()))
            text = bench_text(i + 1, count, time.time_ns())
            for websocket in list(sockets):
                try:
                    await websocket.send_text(text)
                except Exception:  # a client that left: forget it (the bench counts losses)
                    sockets.discard(websocket)

    async def start(request: Request) -> Response:
        q = request.query_params
        task = asyncio.create_task(broadcast(int(q["count"]), float(q["interval"])))
        background.add(task)
        task.add_done_callback(background.discard)
        return PlainTextResponse("ok")

    async def get_job(request: Request) -> Response:
        if request.path_params["job_id"] != JOB_ID:
            return JSONResponse({"error": {"code": "job_not_found"}}, status_code=404)
        if request.headers.get("if-none-match") == tag:
            return Response(status_code=304, headers={"ETag": tag})
        return Response(snap_text, media_type="application/json", headers={"ETag": tag})

    async def submit(request: Request) -> Response:
        body = await request.body()
        _args = json.loads(body) if body else {}
        job_id = uuid.uuid4().hex
        snap = json.loads(snap_text)
        snap.update(id=job_id, status="queued", seq=1)
        return JSONResponse(snap, status_code=202, headers={"Location": f"/api/jobs/{job_id}"})

    async def health(request: Request) -> Response:
        return PlainTextResponse("ok")

    app = Starlette(
        routes=[
            WebSocketRoute("/ws", ws),
            Route("/bench/start", start, methods=["POST"]),
            Route("/bench/health", health),
            Route("/api/jobs/{job_id}", get_job),
            Route("/api/tasks/{task}/jobs", submit, methods=["POST"]),
        ]
    )
    uvicorn.run(app, host=HOST, port=port, log_level="warning", ws_ping_interval=None)


def serve_flask(port: int) -> None:
    import logging
    import uuid

    from flask import Flask, Response, request
    from werkzeug.serving import run_simple

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no access log, as uvicorn's
    snap_text, tag = _peer_snapshot_text()
    app = Flask("bench_flask")

    @app.get("/api/jobs/<job_id>")
    def get_job(job_id: str) -> Any:
        if job_id != JOB_ID:
            return {"error": {"code": "job_not_found"}}, 404
        if request.headers.get("If-None-Match") == tag:
            return Response(status=304, headers={"ETag": tag})
        return Response(snap_text, mimetype="application/json", headers={"ETag": tag})

    @app.post("/api/tasks/<task>/jobs")
    def submit(task: str) -> Any:
        _args = request.get_json(silent=True) or {}
        job_id = uuid.uuid4().hex
        snap = json.loads(snap_text)
        snap.update(id=job_id, status="queued", seq=1)
        return Response(
            json.dumps(snap, separators=(",", ":")),
            status=202,
            mimetype="application/json",
            headers={"Location": f"/api/jobs/{job_id}"},
        )

    @app.get("/bench/health")
    def health() -> str:
        return "ok"

    run_simple(HOST, port, app, threaded=True)


def serve_flask_socketio(port: int) -> None:
    import logging

    from flask import Flask, request
    from flask_socketio import SocketIO, join_room

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    app = Flask("bench_socketio")
    sio = SocketIO(app, async_mode="threading", logger=False, engineio_logger=False)

    @sio.on("connect")  # type: ignore[untyped-decorator]
    def on_connect(auth: Any = None) -> None:
        join_room("bench")

    def broadcast(count: int, interval: float) -> None:
        start = time.monotonic()
        for i in range(count):
            pause = start + i * interval - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            sent = time.time_ns()
            record = bench_record(seq=i + 1, current=i + 1, total=count, message=str(sent))
            event: Event = {"kind": "progress", "seq": i + 1, "job": snapshot(record), "log": None}
            sio.emit("progress", message(event), to="bench")

    @app.post("/bench/start")
    def start() -> str:
        sio.start_background_task(
            broadcast, int(request.args["count"]), float(request.args["interval"])
        )
        return "ok"

    @app.get("/bench/health")
    def health() -> str:
        return "ok"

    sio.run(app, host=HOST, port=port, allow_unsafe_werkzeug=True, log_output=False)


SERVERS: dict[str, Callable[[argparse.Namespace], None]] = {
    "jobwire": lambda a: serve_jobwire(a.port, a.dir),
    "starlette": lambda a: serve_starlette(a.port),
    "flask": lambda a: serve_flask(a.port),
    "flask-socketio": lambda a: serve_flask_socketio(a.port),
}


def serve_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="streams.py _serve")
    parser.add_argument("kind", choices=sorted(SERVERS))
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dir", default=".")
    args = parser.parse_args(argv)
    SERVERS[args.kind](args)
    return 0


# -- minimal asyncio clients ------------------------------------------------------------------


class Cell:
    """One client process's share of a stream measurement."""

    def __init__(self, expect: int) -> None:
        self.expect = expect
        self.latencies = array("q")  # ns, receive - send
        self.ready = 0
        self.done = 0
        self.connected = 0
        self.all_done: asyncio.Future[None] | None = None
        self.per_message: dict[int, list[int]] = {}  # send ns -> [first, last] latency

    def client_done(self) -> None:
        self.done += 1
        if self.all_done is not None and self.done >= self.ready and not self.all_done.done():
            self.all_done.set_result(None)


class StreamClient(asyncio.Protocol, abc.ABC):
    """Base of the stream clients: counts, readiness, completion."""

    def __init__(self, cell: Cell, port: int, path: str) -> None:
        self.cell = cell
        self.port = port
        self.path = path
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.opened = False
        self.is_ready = False
        self.is_done = False
        self.got = 0  # timestamped messages
        self.deliveries = 0  # every message after the first (ready) one
        self.error: str | None = None
        self.last_stamp: str | None = None
        self.ready_future: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.cell.connected += 1
        transport.write(self.request())  # type: ignore[attr-defined]

    @abc.abstractmethod
    def request(self) -> bytes:
        """The bytes that open the stream (a WebSocket upgrade or an SSE GET)."""

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.is_ready and not self.ready_future.done():
            self.ready_future.set_exception(ConnectionError(f"closed before ready: {exc!r}"))
        if self.is_ready and not self.is_done:
            self.error = f"closed early after {self.got} messages: {exc!r}"
            self.finish()

    def mark_ready(self) -> None:
        self.is_ready = True
        self.cell.ready += 1
        if not self.ready_future.done():
            self.ready_future.set_result(None)

    def fail(self, why: str) -> None:
        self.error = why
        if not self.ready_future.done():
            self.ready_future.set_exception(ConnectionError(why))
        if self.transport is not None:
            self.transport.close()

    def finish(self) -> None:
        if not self.is_done:
            self.is_done = True
            self.cell.client_done()

    def stamp(self, job: dict[str, Any], now: int) -> None:
        text = job.get("message")
        if text and text != self.last_stamp:  # a final snapshot repeats the last one
            self.last_stamp = text
            sent = int(text)
            latency = now - sent
            self.cell.latencies.append(latency)
            self.got += 1
            seen = self.cell.per_message.get(sent)
            if seen is None:
                self.cell.per_message[sent] = [latency, latency]
            elif latency < seen[0]:
                seen[0] = latency
            elif latency > seen[1]:
                seen[1] = latency

    def on_jobwire(self, text: bytes | str, now: int) -> None:
        """A jobwire message (WebSocket frame or SSE data)."""
        msg = json.loads(text)
        kind = msg.get("type")
        if not self.is_ready:
            if kind == "connected":
                self.mark_ready()
            elif kind == "error":
                self.fail(f"error message: {msg!r}"[:300])
            return
        if kind == "ping":
            return
        self.deliveries += 1
        if kind == "progress":
            self.stamp(msg["job"], now)
        elif kind in TERMINAL_TYPES:
            # The worker may fold the last update into the final message: count it there.
            self.stamp(msg["job"], now)
            self.finish()

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()


def _ws_frame(opcode: int, payload: bytes) -> bytes:
    """A masked client frame (control frames and tiny texts only)."""
    mask = os.urandom(4)
    n = len(payload)
    if n < 126:
        head = bytes([0x80 | opcode, 0x80 | n])
    elif n < 1 << 16:
        head = bytes([0x80 | opcode, 0x80 | 126]) + n.to_bytes(2, "big")
    else:
        head = bytes([0x80 | opcode, 0x80 | 127]) + n.to_bytes(8, "big")
    return head + mask + bytes(b ^ mask[i & 3] for i, b in enumerate(payload))


class WsClient(StreamClient):
    """RFC 6455 over a bare transport: no extensions, server frames are unmasked and whole."""

    def __init__(self, cell: Cell, port: int, path: str, flavour: str) -> None:
        super().__init__(cell, port, path)
        self.flavour = flavour  # jobwire | bare | sio

    def request(self) -> bytes:
        key = base64.b64encode(os.urandom(16)).decode()
        return (
            f"GET {self.path} HTTP/1.1\r\nHost: {HOST}:{self.port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        ).encode()

    def data_received(self, data: bytes) -> None:
        now = time.time_ns()
        buf = self.buf
        buf += data
        if not self.opened:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            if not buf.startswith(b"HTTP/1.1 101"):
                self.fail(f"handshake refused: {bytes(buf[: min(end, 200)])!r}")
                return
            self.opened = True
            del buf[: end + 4]
        pos, size = 0, len(buf)
        while size - pos >= 2:
            b0, b1 = buf[pos], buf[pos + 1]
            n = b1 & 0x7F
            head = 2
            if n == 126:
                if size - pos < 4:
                    break
                n = int.from_bytes(buf[pos + 2 : pos + 4], "big")
                head = 4
            elif n == 127:
                if size - pos < 10:
                    break
                n = int.from_bytes(buf[pos + 2 : pos + 10], "big")
                head = 10
            if size - pos < head + n:
                break
            payload = bytes(buf[pos + head : pos + head + n])
            pos += head + n
            self.on_frame(b0 & 0x0F, payload, now)
        if pos:
            del buf[:pos]

    def on_frame(self, opcode: int, payload: bytes, now: int) -> None:
        if opcode == 1:
            if self.flavour == "jobwire":
                self.on_jobwire(payload, now)
            elif self.flavour == "bare":
                self.on_bare(payload, now)
            else:
                self.on_sio(payload, now)
        elif opcode == 8:  # close: answer it and hang up
            if self.transport is not None and not self.transport.is_closing():
                self.transport.write(_ws_frame(8, payload[:2]))
                self.transport.close()
        elif opcode == 9 and self.transport is not None:
            self.transport.write(_ws_frame(10, payload))

    def on_bare(self, payload: bytes, now: int) -> None:
        if not self.is_ready:
            if payload == b"hello":
                self.mark_ready()
            return
        self.deliveries += 1
        self.stamp(json.loads(payload)["job"], now)
        if self.got >= self.cell.expect:
            self.finish()

    def on_sio(self, payload: bytes, now: int) -> None:
        # Engine.IO 4 packet types: 0 open, 2 ping, 4 message; Socket.IO 5 (inside 4):
        # 0 connect, 2 event.
        kind = payload[:1]
        if kind == b"4":
            sub = payload[1:2]
            if sub == b"2":
                event = json.loads(payload[2:])
                if event[0] == "progress" and self.is_ready:
                    self.deliveries += 1
                    self.stamp(event[1]["job"], now)
                    if self.got >= self.cell.expect:
                        self.finish()
            elif sub == b"0":
                self.mark_ready()  # the server ran on_connect (join_room) before this ack
            elif sub == b"4":
                self.fail(f"socket.io connect refused: {payload[:200]!r}")
        elif kind == b"2":
            assert self.transport is not None
            self.transport.write(_ws_frame(1, b"3"))
        elif kind == b"0":
            assert self.transport is not None
            self.transport.write(_ws_frame(1, b"40"))
        elif kind == b"1":
            self.fail("engine.io close")


class SseClient(StreamClient):
    """``text/event-stream`` over HTTP/1.1 with chunked transfer coding."""

    def __init__(self, cell: Cell, port: int, path: str) -> None:
        super().__init__(cell, port, path)
        self.chunked = False
        self.body = bytearray()
        self.chunk_left = 0  # bytes of the current chunk still to read (+2 for its CRLF)

    def request(self) -> bytes:
        return (
            f"GET {self.path} HTTP/1.1\r\nHost: {HOST}:{self.port}\r\n"
            "Accept: text/event-stream\r\nCache-Control: no-cache\r\n\r\n"
        ).encode()

    def data_received(self, data: bytes) -> None:
        now = time.time_ns()
        buf = self.buf
        buf += data
        if not self.opened:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(buf[:end]).lower()
            if not head.startswith(b"http/1.1 200"):
                self.fail(f"refused: {bytes(buf[: min(end, 200)])!r}")
                return
            self.chunked = b"transfer-encoding: chunked" in head
            self.opened = True
            del buf[: end + 4]
        if self.chunked:
            self._dechunk()
        else:
            self.body += buf
            buf.clear()
        self._events(now)

    def _dechunk(self) -> None:
        buf, pos = self.buf, 0
        while True:
            if self.chunk_left:
                take = min(self.chunk_left, len(buf) - pos)
                if take <= 0:
                    break
                self.body += buf[pos : pos + take]
                pos += take
                self.chunk_left -= take
                continue
            eol = buf.find(b"\r\n", pos)
            if eol < 0:
                break
            line = bytes(buf[pos:eol])
            pos = eol + 2
            if not line:  # the CRLF that ends a chunk's data
                continue
            size = int(line.split(b";")[0], 16)
            if size == 0:
                break
            self.chunk_left = size
        del buf[:pos]

    def _events(self, now: int) -> None:
        body = self.body
        while True:
            end = body.find(b"\r\n\r\n")
            sep = 4
            alt = body.find(b"\n\n")
            if alt >= 0 and (end < 0 or alt < end):
                end, sep = alt, 2
            if end < 0:
                return
            block = bytes(body[:end])
            del body[: end + sep]
            data = [line[5:].lstrip() for line in block.splitlines() if line.startswith(b"data:")]
            if data:
                self.on_jobwire(b"\n".join(data), now)
                if self.transport is None or self.transport.is_closing():
                    return


class PollConn(asyncio.Protocol):
    """One HTTP/1.1 connection sending conditional GETs one after the other, until the
    shared budget is spent or the server says ``Connection: close`` (Werkzeug always does:
    then the slot opens a new connection for the next request)."""

    def __init__(self, shared: dict[str, Any], request: bytes) -> None:
        self.shared = shared
        self.request = request
        self.buf = bytearray()
        self.transport: asyncio.Transport | None = None
        self.sent_at = 0
        self.need = -1  # body bytes still expected for the current response
        self.closing = False  # the current response said Connection: close
        self.finished: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def go(self) -> None:
        shared = self.shared
        if shared["left"] <= 0:
            if not self.finished.done():
                self.finished.set_result(None)
            return
        shared["left"] -= 1
        self.sent_at = time.perf_counter_ns()
        assert self.transport is not None
        self.transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        while True:
            if self.need < 0:
                end = buf.find(b"\r\n\r\n")
                if end < 0:
                    return
                head = bytes(buf[:end]).lower()
                status = int(head[9:12])
                length = 0
                at = head.find(b"content-length:")
                if at >= 0:
                    eol = head.find(b"\r\n", at)
                    length = int(head[at + 15 : eol if eol >= 0 else None].strip())
                self.closing = b"connection: close" in head
                del buf[: end + 4]
                self.need = 0 if status == 304 else length
                self.shared["status"][status] = self.shared["status"].get(status, 0) + 1
            if len(buf) < self.need:
                return
            del buf[: self.need]
            self.need = -1
            self.shared["latencies"].append(time.perf_counter_ns() - self.sent_at)
            if self.closing:
                assert self.transport is not None
                self.transport.close()
                if not self.finished.done():
                    self.finished.set_result(None)
                return
            self.go()
            if not buf:
                return

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.finished.done():
            self.finished.set_exception(ConnectionError(f"poll connection lost: {exc!r}"))


async def poll_slot(shared: dict[str, Any], request: bytes, port: int) -> None:
    loop = asyncio.get_running_loop()
    while shared["left"] > 0:
        proto = PollConn(shared, request)
        await loop.create_connection(lambda proto=proto: proto, HOST, port)  # type: ignore[misc]
        proto.go()
        await proto.finished
        if proto.transport is not None:
            proto.transport.close()


# -- the client processes ---------------------------------------------------------------------


async def _recv(conn: mpc.Connection) -> Any:
    """The next command from the parent, without blocking the event loop."""
    loop = asyncio.get_running_loop()
    fut: asyncio.Future[None] = loop.create_future()
    fd = conn.fileno()

    def readable() -> None:
        if not fut.done():
            fut.set_result(None)

    loop.add_reader(fd, readable)
    try:
        if not conn.poll():
            await fut
    finally:
        loop.remove_reader(fd)
        os.set_blocking(fd, True)  # uvloop leaves a watched fd non-blocking
    return conn.recv()


def _cpu_self() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


async def client_streams(conn: mpc.Connection, spec: dict[str, Any]) -> None:
    loop = asyncio.get_running_loop()
    cell = Cell(spec["expect"])
    kind, port, path, n = spec["kind"], spec["port"], spec["path"], spec["n"]
    clients: list[StreamClient] = []
    sem = asyncio.Semaphore(CONNECT_CONCURRENCY)
    errors: list[str] = []

    deadline = loop.time() + spec["timeout"]  # for the whole connect phase

    async def connect_one() -> None:
        if kind == "sse":
            client: StreamClient = SseClient(cell, port, path)
        else:
            client = WsClient(cell, port, path, kind)
        clients.append(client)
        async with sem:
            left = deadline - loop.time()
            try:
                if left <= 0:
                    raise TimeoutError(f"not connected within {spec['timeout']:.0f} s")
                await asyncio.wait_for(connect(client), left)
            except Exception as exc:  # reported to the parent, which fails the cell
                errors.append(repr(exc)[:300])
                client.close()

    async def connect(client: StreamClient) -> None:
        await loop.create_connection(lambda: client, HOST, port)
        await client.ready_future

    async def report() -> None:
        while True:
            await asyncio.sleep(0.25)
            conn.send(("progress", cell.ready))

    reporter = asyncio.create_task(report())
    await asyncio.gather(*(connect_one() for _ in range(n)))
    reporter.cancel()
    conn.send(("ready", {"ready": cell.ready, "errors": len(errors), "first_error": errors[:1]}))

    cell.all_done = loop.create_future()
    if cell.done >= cell.ready:
        cell.all_done.set_result(None)
    cpu0, t0 = _cpu_self(), time.perf_counter()
    stop = asyncio.ensure_future(_recv(conn))
    await asyncio.wait([cell.all_done, stop], return_when=asyncio.FIRST_COMPLETED)
    cpu1, t1 = _cpu_self(), time.perf_counter()
    conn.send(("done", {"done": cell.done}))
    command = await stop  # "stop" (from a parent tired of waiting) or "close"
    while command[0] != "close":
        command = await _recv(conn)
    for client in clients:
        client.close()
    await asyncio.sleep(0.05)
    conn.send(
        (
            "result",
            {
                "latencies": cell.latencies.tobytes(),
                "per_message": cell.per_message,
                "ready": cell.ready,
                "done": cell.done,
                "got": sum(c.got for c in clients),
                "deliveries": sum(c.deliveries for c in clients),
                "client_errors": [c.error for c in clients if c.error][:3],
                "errors": sum(1 for c in clients if c.error),
                "cpu_seconds": cpu1 - cpu0,
                "wall_seconds": t1 - t0,
            },
        )
    )


async def client_submit(conn: mpc.Connection, spec: dict[str, Any]) -> None:
    url = spec["url"]
    submitters, per = spec["submitters"], spec["per_submitter"]
    latencies = array("q")
    statuses: dict[int, int] = {}
    if submitters == 0:  # more client processes than submitters: this one idles
        conn.send(("ready", {}))
        await _recv(conn)
        conn.send(
            ("result", {"latencies": b"", "status": {}, "cpu_seconds": 0.0, "wall_seconds": 0.0})
        )
        return
    transport = httpx.AsyncHTTPTransport(
        limits=httpx.Limits(max_connections=submitters, max_keepalive_connections=submitters),
        socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
    )
    async with httpx.AsyncClient(transport=transport, timeout=60.0) as client:
        retries = 0

        async def one(record: bool) -> None:
            nonlocal retries
            t = time.perf_counter_ns()
            try:
                r = await client.post(url, json={})
            except (httpx.ReadError, httpx.RemoteProtocolError):
                # The server closed an idle keep-alive connection as we reused it: once more.
                retries += 1
                r = await client.post(url, json={})
            if record:
                latencies.append(time.perf_counter_ns() - t)
                statuses[r.status_code] = statuses.get(r.status_code, 0) + 1

        async def submitter() -> None:
            for _ in range(per):
                await one(True)

        await asyncio.gather(*(one(False) for _ in range(submitters)))  # warm-up: connections
        conn.send(("ready", {}))
        command = await _recv(conn)
        assert command[0] == "go", command
        cpu0, t0 = _cpu_self(), time.perf_counter()
        await asyncio.gather(*(submitter() for _ in range(submitters)))
        cpu1, t1 = _cpu_self(), time.perf_counter()
    conn.send(
        (
            "result",
            {
                "latencies": latencies.tobytes(),
                "status": statuses,
                "retries": retries,
                "cpu_seconds": cpu1 - cpu0,
                "wall_seconds": t1 - t0,
            },
        )
    )


async def client_raw(conn: mpc.Connection, spec: dict[str, Any]) -> None:
    """The same request, ``conns`` at a time over keep-alive connections (polls, and submits
    with a client that costs next to nothing)."""
    request: bytes = spec["request"]
    slots, port = spec["conns"], spec["port"]
    shared: dict[str, Any] = {
        "left": slots * spec["warmup"],
        "status": {},
        "latencies": array("q"),
    }
    await asyncio.gather(*(poll_slot(shared, request, port) for _ in range(slots)))  # warm-up
    shared.update(left=spec["requests"], status={}, latencies=array("q"))
    conn.send(("ready", {}))
    command = await _recv(conn)
    assert command[0] == "go", command
    cpu0, t0 = _cpu_self(), time.perf_counter()
    await asyncio.wait_for(
        asyncio.gather(*(poll_slot(shared, request, port) for _ in range(slots))), spec["timeout"]
    )
    cpu1, t1 = _cpu_self(), time.perf_counter()
    conn.send(
        (
            "result",
            {
                "latencies": shared["latencies"].tobytes(),
                "status": shared["status"],
                "cpu_seconds": cpu1 - cpu0,
                "wall_seconds": t1 - t0,
            },
        )
    )


CLIENT_COMMANDS = {
    "streams": client_streams,
    "submit": client_submit,
    "submit_raw": client_raw,
    "poll": client_raw,
}


def client_main(conn: mpc.Connection, index: int) -> None:
    """A client process: runs one command at a time, each in a fresh event loop."""
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when we stop
    while True:
        command = conn.recv()
        if command[0] == "exit":
            return
        try:
            asyncio.run(CLIENT_COMMANDS[command[0]](conn, command[1]))
        except Exception:  # any failure goes to the parent, which reports it
            conn.send(("error", f"client {index}: {traceback.format_exc()}"))


class BenchError(RuntimeError):
    pass


class ClientPool:
    def __init__(self, procs: int) -> None:
        ctx = mp.get_context("spawn")
        self.conns: list[mpc.Connection] = []
        self.procs: list[Any] = []
        for i in range(procs):
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=client_main, args=(child, i), name=f"bench-client-{i}")
            proc.daemon = True
            proc.start()
            child.close()
            self.conns.append(parent)
            self.procs.append(proc)

    def __len__(self) -> int:
        return len(self.conns)

    def send(self, messages: list[Any], only: set[int] | None = None) -> None:
        for i, (conn, msg) in enumerate(zip(self.conns, messages, strict=True)):
            if only is None or i in only:
                conn.send(msg)

    def broadcast(self, msg: Any, only: set[int] | None = None) -> None:
        self.send([msg] * len(self.conns), only)

    def collect(
        self,
        tag: str,
        timeout: float,
        only: set[int] | None = None,
        on_progress: Callable[[int], None] | None = None,
    ) -> tuple[dict[int, Any], set[int]]:
        """One ``tag`` message from each process (of ``only``); the ones still missing when
        ``timeout`` ran out."""
        pending = set(range(len(self.conns))) if only is None else set(only)
        got: dict[int, Any] = {}
        progress: dict[int, int] = {}
        deadline = time.monotonic() + timeout
        while pending:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            ready = mpc.wait([self.conns[i] for i in pending], min(left, 0.5))
            for conn in ready:
                i = self.conns.index(conn)  # type: ignore[arg-type]
                kind, payload = self.conns[i].recv()
                if kind == "progress":
                    progress[i] = payload
                    if on_progress is not None:
                        on_progress(sum(progress.values()))
                elif kind == "error":
                    raise BenchError(payload)
                elif kind == tag:
                    got[i] = payload
                    pending.discard(i)
                else:
                    raise BenchError(f"client {i}: expected {tag!r}, got {kind!r}")
        return got, pending

    def close(self) -> None:
        for conn in self.conns:
            with contextlib.suppress(OSError):
                conn.send(("exit",))
        for proc in self.procs:
            proc.join(5)
            if proc.is_alive():
                proc.terminate()
                proc.join(5)


def split(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


# -- the servers, seen from the parent --------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, kind: str, workdir: Path) -> None:
        self.kind = kind
        self.port = free_port()
        self.dir = workdir / f"{kind}-{self.port}"
        self.dir.mkdir(parents=True)
        self.log = self.dir / "server.log"
        self.command = [
            sys.executable,
            str(Path(__file__).resolve()),
            "_serve",
            kind,
            "--port",
            str(self.port),
            "--dir",
            str(self.dir),
        ]
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def __enter__(self) -> Server:
        env = dict(os.environ)
        env.update(
            JOBWIRE_SUBMIT_RATE="1000000",
            JOBWIRE_SUBMIT_BURST="1000000",
            JOBWIRE_AUTH="none",
            PYTHONUNBUFFERED="1",
        )
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                self.command, stdout=log, stderr=subprocess.STDOUT, cwd=self.dir, env=env
            )
        health = "/api/health" if self.kind == "jobwire" else "/bench/health"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BenchError(f"{self.kind} server exited:\n{self.tail()}")
            try:
                if httpx.get(self.base + health, timeout=1.0).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise BenchError(f"{self.kind} server did not answer {health} within 30 s:\n{self.tail()}")

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def cpu(self) -> float:
        """CPU seconds of the server process so far (all threads, user + system)."""
        with open(f"/proc/{self.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK

    def status(self) -> dict[str, int]:
        out: dict[str, int] = {}
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("Threads:"):
                    out["threads"] = int(line.split()[1])
                elif line.startswith("VmRSS:"):
                    out["rss_mib"] = int(line.split()[1]) // 1024
        return out


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, from /proc/stat."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    total = sum(values[:8])  # guest time is already in user
    return (total - idle) / CLK_TCK, total / CLK_TCK


class Window:
    """A measured phase: the server's CPU seconds and the whole machine's busy cores."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.cpu0 = server.cpu()
        self.busy0, self.total0 = machine_busy()
        self.t0 = time.perf_counter()

    def stop(self) -> None:
        self.cpu = self.server.cpu() - self.cpu0
        self.wall = time.perf_counter() - self.t0
        busy, _ = machine_busy()
        self.busy = busy - self.busy0

    def summary(self, client_cpu_seconds: float) -> dict[str, float]:
        wall = max(self.wall, 1e-9)
        return {
            "seconds": self.wall,
            "server_cpu_seconds": self.cpu,
            "server_cores": self.cpu / wall,
            "client_cores": client_cpu_seconds / wall,
            "machine_busy_cores": self.busy / wall,
            # What neither the server nor the clients used: other processes on the machine.
            "other_load_cores": max(0.0, (self.busy - self.cpu - client_cpu_seconds) / wall),
        }


class PySpy:
    """``py-spy record`` of a server over one measured phase (``--py-spy DIR``)."""

    def __init__(self, out_dir: Path | None, pid: int, name: str) -> None:
        self.proc: subprocess.Popen[bytes] | None = None
        if out_dir is None:
            return
        exe = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        out_dir.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [
                exe,
                "record",
                "--pid",
                str(pid),
                "--rate",
                "200",
                "--threads",
                "--format",
                "raw",
                "-o",
                str(out_dir / f"{name}.txt"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(1.0)  # attach before the phase starts

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()


# -- the measurements, driven from the parent -------------------------------------------------

Ui = Callable[[str], None]


def percentile(sorted_values: list[int] | list[float], p: float) -> float:
    if not sorted_values:
        return math.nan
    k = max(0, math.ceil(p / 100 * len(sorted_values)) - 1)
    return float(sorted_values[k])


def latency_summary(raw: list[bytes]) -> dict[str, Any]:
    values = array("q")
    for chunk in raw:
        values.frombytes(chunk)
    ordered = sorted(values)
    ms = 1e-6
    return {
        "count": len(ordered),
        "p50_ms": percentile(ordered, 50) * ms,
        "p90_ms": percentile(ordered, 90) * ms,
        "p99_ms": percentile(ordered, 99) * ms,
        "max_ms": (ordered[-1] * ms) if ordered else math.nan,
        "mean_ms": (sum(ordered) / len(ordered) * ms) if ordered else math.nan,
    }


def per_message_summary(parts: list[dict[int, list[int]]]) -> dict[str, Any]:
    """Per message, across all clients: *first* = latency to the first client to get it
    (the pipeline up to the fan-out), *spread* = last - first (the fan-out itself)."""
    merged: dict[int, list[int]] = {}
    for part in parts:
        for sent, (first, last) in part.items():
            seen = merged.get(sent)
            if seen is None:
                merged[sent] = [first, last]
            else:
                seen[0], seen[1] = min(seen[0], first), max(seen[1], last)
    firsts = sorted(v[0] for v in merged.values())
    spreads = sorted(v[1] - v[0] for v in merged.values())
    ms = 1e-6
    return {
        "messages": len(merged),
        "first_p50_ms": percentile(firsts, 50) * ms,
        "first_max_ms": (firsts[-1] * ms) if firsts else math.nan,
        "spread_p50_ms": percentile(spreads, 50) * ms,
        "spread_max_ms": (spreads[-1] * ms) if spreads else math.nan,
    }


def schedule(n: int, args: argparse.Namespace) -> tuple[int, float]:
    """(messages, seconds between them) for a broadcast to ``n`` clients."""
    return (args.big_messages, args.big_interval) if n >= BIG else (args.messages, args.interval)


def stream_cell(
    system: str,
    n: int,
    args: argparse.Namespace,
    pool: ClientPool,
    workdir: Path,
    ui: Ui,
) -> dict[str, Any]:
    count, interval = schedule(n, args)
    with (
        Server(SERVER_OF[system], workdir) as server,
        httpx.Client(base_url=server.base, timeout=30.0) as http,
    ):
        gate = server.dir / "gate"
        if system.startswith("jobwire"):
            r = http.post(
                "/api/tasks/bench.emit/jobs",
                json={"gate": str(gate), "count": count, "interval": interval},
            )
            r.raise_for_status()
            job_id = r.json()["id"]
            deadline = time.monotonic() + 15
            while http.get(f"/api/jobs/{job_id}").json()["status"] != "running":
                if time.monotonic() > deadline:
                    raise BenchError(f"job {job_id} did not start:\n{server.tail()}")
                time.sleep(0.02)
            kind = "sse" if system == "jobwire-sse" else "jobwire"
            path = f"/api/jobs/{job_id}/events" if kind == "sse" else f"/ws/jobs/{job_id}"
        elif system == "flask-socketio":
            kind, path = "sio", "/socket.io/?EIO=4&transport=websocket"
        else:
            kind, path = "bare", "/ws"

        ui(f"{system} N={n:,}: connecting")
        connect_timeout = 30 + n * 0.02  # gives up below ~50 connections/s
        shares = split(n, len(pool))
        pool.send(
            [
                (
                    "streams",
                    {
                        "kind": kind,
                        "port": server.port,
                        "path": path,
                        "n": k,
                        "expect": count,
                        "timeout": connect_timeout,
                    },
                )
                for k in shares
            ]
        )
        connected_so_far = [0]

        def connecting(k: int) -> None:
            connected_so_far[0] = k
            ui(f"{system} N={n:,}: connecting {k:,}/{n:,}")

        ready, missing = pool.collect("ready", connect_timeout + 60, on_progress=connecting)
        if missing:
            raise BenchError(
                f"only about {connected_so_far[0]:,} of {n:,} clients connected within "
                f"{connect_timeout + 60:.0f} s (client processes {sorted(missing)} still busy)"
            )
        connected = sum(r["ready"] for r in ready.values())
        first_error: list[str] = next(
            (r["first_error"] for r in ready.values() if r["first_error"]), []
        )
        info = server.status()
        result: dict[str, Any] = {
            "system": system,
            "n": n,
            "connected": connected,
            "connect_errors": sum(r["errors"] for r in ready.values()),
            "first_connect_error": first_error,
            "server_threads": info.get("threads"),
            "server_rss_mib": info.get("rss_mib"),
            "client_processes": len(pool),
        }

        idle0 = server.cpu()
        time.sleep(1.0)
        result["idle_cpu_ms_per_s"] = (server.cpu() - idle0) * 1000
        broadcast = connected == n
        spy = PySpy(args.py_spy, server.pid, f"{system}-{n}") if broadcast else None
        ui(f"{system} N={n:,}: broadcasting {count} messages")
        window = Window(server)
        if broadcast:
            if system.startswith("jobwire"):
                gate.touch()
            else:
                http.post("/bench/start", params={"count": count, "interval": interval})
            _, late = pool.collect("done", count * interval + 20)
        else:
            late = set(range(len(pool)))
        if late:
            pool.broadcast(("stop",), only=late)
            pool.collect("done", 15, only=late)
        window.stop()
        if spy is not None:
            spy.stop()
        ui(f"{system} N={n:,}: closing")
        pool.broadcast(("close",))
        results, missing = pool.collect("result", 60)
        if missing:
            raise BenchError(f"client processes {sorted(missing)} sent no result")

    deliveries = sum(r["deliveries"] for r in results.values())
    got = sum(r["got"] for r in results.values())
    cpu, wall = window.cpu, window.wall
    result.update(
        complete=broadcast and not late,
        messages=count,
        interval_seconds=interval,
        expected=n * count if broadcast else 0,
        timestamped=got,
        deliveries=deliveries,
        stream_errors=sum(r["errors"] for r in results.values()),
        first_stream_errors=[e for r in results.values() for e in r["client_errors"]][:3],
        broadcast_seconds=wall,
        server_cpu_seconds=cpu,
        cpu_us_per_delivery=(cpu / deliveries * 1e6) if deliveries else math.nan,
        client_cpu_max_util=max(
            (r["cpu_seconds"] / r["wall_seconds"] for r in results.values() if r["wall_seconds"]),
            default=math.nan,
        ),
        latency=latency_summary([r["latencies"] for r in results.values()]),
        per_message=per_message_summary([r["per_message"] for r in results.values()]),
        load=window.summary(sum(r["cpu_seconds"] for r in results.values())),
    )
    if not broadcast:
        result["error"] = f"only {connected:,} of {n:,} clients connected: {first_error}"
    elif late:
        result["error"] = f"client processes {sorted(late)} were still waiting at the deadline"
    return result


def http_cell(
    what: str,
    system: str,
    args: argparse.Namespace,
    pool: ClientPool,
    server: Server,
    spec: list[dict[str, Any]],
    total: int,
    ui: Ui,
) -> dict[str, Any]:
    """Run a submit or poll phase: clients get ready, then go together."""
    ui(f"{what} {system}: warming up")
    pool.send([(what, s) for s in spec])
    _, missing = pool.collect("ready", 60)
    if missing:
        raise BenchError(f"{what}: client processes {sorted(missing)} not ready")
    spy = PySpy(args.py_spy, server.pid, f"{what}-{system}")
    ui(f"{what} {system}: {total:,} requests")
    window = Window(server)
    pool.broadcast(("go",))
    results, missing = pool.collect("result", 300)
    window.stop()
    cpu, wall = window.cpu, window.wall
    spy.stop()
    if missing:
        raise BenchError(f"{what}: client processes {sorted(missing)} sent no result")
    status: dict[str, int] = {}
    for r in results.values():
        for code, k in r["status"].items():
            status[str(code)] = status.get(str(code), 0) + k
    requests = sum(status.values())
    return {
        "system": system,
        "requests": requests,
        "status": status,
        "retries": sum(r.get("retries", 0) for r in results.values()),
        "seconds": wall,
        "rate_per_s": requests / wall,
        "server_cpu_seconds": cpu,
        "cpu_us_per_request": cpu / requests * 1e6 if requests else math.nan,
        "client_cpu_max_util": max(
            (r["cpu_seconds"] / r["wall_seconds"] for r in results.values() if r["wall_seconds"]),
            default=math.nan,
        ),
        "server": server.status(),
        "latency": latency_summary([r["latencies"] for r in results.values()]),
        "load": window.summary(sum(r["cpu_seconds"] for r in results.values())),
    }


def wait_drained(http: httpx.Client, system: str, ui: Ui) -> None:
    """Wait until the embedded workers have run every submitted job (jobwire only)."""
    if system != "jobwire":
        return
    deadline = time.monotonic() + 180
    while True:
        jobs = http.get("/api/stats").json()["jobs"]
        left = jobs["queued"] + jobs["running"]
        if not left:
            return
        if time.monotonic() > deadline:
            raise BenchError(f"{left} submitted jobs still not run after 180 s")
        ui(f"{system}: waiting for {left:,} submitted jobs to run")
        time.sleep(0.2)


def submit_and_poll(
    system: str, args: argparse.Namespace, pool: ClientPool, workdir: Path, ui: Ui, only: set[str]
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with (
        Server(SERVER_OF[system], workdir) as server,
        httpx.Client(base_url=server.base, timeout=30.0) as http,
    ):
        task = "bench.noop" if system == "jobwire" else "noop"
        url = f"{server.base}/api/tasks/{task}/jobs"
        if "submit" in only:
            submitters = split(args.submitters, len(pool))
            per = args.submits // args.submitters
            spec = [{"url": url, "submitters": k, "per_submitter": per} for k in submitters if k]
            spec += [{"url": url, "submitters": 0, "per_submitter": 0}] * (len(pool) - len(spec))
            out["submit"] = http_cell(
                "submit", system, args, pool, server, spec, per * args.submitters, ui
            )
            wait_drained(http, system, ui)
            body = b"{}"
            request = (
                f"POST /api/tasks/{task}/jobs HTTP/1.1\r\nHost: {HOST}:{server.port}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
            ).encode() + body
            spec = [
                {
                    "request": request,
                    "port": server.port,
                    "conns": c,
                    "requests": c * per,
                    "warmup": 1,
                    "timeout": 240,
                }
                for c in submitters
            ]
            out["submit_raw"] = http_cell(
                "submit_raw", system, args, pool, server, spec, per * args.submitters, ui
            )
            wait_drained(http, system, ui)

        if "poll" in only:
            if system == "jobwire":
                r = http.post(url, json={})
                r.raise_for_status()
                job_id = r.json()["id"]
                deadline = time.monotonic() + 120  # the submitted no-op jobs drain first
                while http.get(f"/api/jobs/{job_id}").json()["status"] != "succeeded":
                    if time.monotonic() > deadline:
                        raise BenchError(f"job {job_id} did not finish:\n{server.tail()}")
                    ui(f"poll {system}: waiting for the submitted jobs to drain")
                    time.sleep(0.1)
            else:
                job_id = JOB_ID
            first = http.get(f"/api/jobs/{job_id}")
            etag = first.headers["etag"]
            check = http.get(f"/api/jobs/{job_id}", headers={"If-None-Match": etag})
            if check.status_code != 304:
                raise BenchError(f"{system}: expected 304 for a matching ETag, got {check}")
            request = (
                f"GET /api/jobs/{job_id} HTTP/1.1\r\nHost: {HOST}:{server.port}\r\n"
                f"If-None-Match: {etag}\r\n\r\n"
            ).encode()
            spec = [
                {
                    "request": request,
                    "port": server.port,
                    "conns": c,
                    "requests": k,
                    "warmup": 5,
                    "timeout": 240,
                }
                for c, k in zip(
                    split(args.poll_conns, len(pool)), split(args.polls, len(pool)), strict=True
                )
            ]
            out["poll"] = http_cell("poll", system, args, pool, server, spec, args.polls, ui)
            out["poll"]["etag"] = etag
    return out


# -- reporting --------------------------------------------------------------------------------


def fmt(value: float, digits: int = 1) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:,.{digits}f}"


def ratio(a: float, b: float) -> str:
    if a is None or b is None or math.isnan(a) or math.isnan(b) or b == 0:
        return "-"
    return f"{a / b:.2f}x"


def verdict(ok: bool | None) -> str:
    return "[dim]n/a[/]" if ok is None else ("[green]MET[/]" if ok else "[red]MISSED[/]")


OTHER_LOAD_WARN = 0.25  # cores used by other processes during a window: figures unreliable


def load_note(cell: dict[str, Any]) -> str:
    load = cell.get("load")
    if not load:
        return ""
    other = load["other_load_cores"]
    note = f"; server {load['server_cores']:.2f} cores, other processes {other:.2f} cores"
    return f" [yellow]{note} (busy machine)[/]" if other > OTHER_LOAD_WARN else f"[dim]{note}[/]"


def legend(console: Console, systems: dict[str, str]) -> None:
    for name, label in systems.items():
        console.print(f"  [bold]{name}[/]: {label}", highlight=False)


def jobwire_ratios(
    value: float, rows: dict[str, dict[str, Any]], key: Callable[[dict[str, Any]], float]
) -> str:
    """``jobwire-ws ÷ this · jobwire-sse ÷ this``."""
    out = []
    for name in ("jobwire-ws", "jobwire-sse"):
        j = rows.get(name)
        out.append(ratio(key(j), value) if j is not None and j.get("complete") else "-")
    return "·".join(out)


def stream_tables(console: Console, cells: list[dict[str, Any]], args: argparse.Namespace) -> None:
    legend(console, STREAM_SYSTEMS)
    for n in sorted({c["n"] for c in cells}):
        rows = {c["system"]: c for c in cells if c["n"] == n}
        table = Table(
            title=f"streams: {schedule(n, args)[0]} messages at {1 / schedule(n, args)[1]:g}/s "
            f"to N = {n:,} "
            f"clients ({args.clients} client processes)",
            caption="latency (ms) = client receive - server send (max, first and spread in the "
            "JSON); CPU = server CPU µs per delivery; ratios = jobwire-ws ÷ peer · jobwire-sse ÷ "
            "peer (< 1: jobwire better)",
        )
        for col in ("system", "delivered", "p50", "p99", "CPU µs", "p99 ratios", "CPU ratios"):
            table.add_column(
                col, justify="left" if col == "system" else "right", no_wrap=col == "system"
            )
        for system in STREAM_SYSTEMS:
            c = rows.get(system)
            if c is None:
                continue
            lat = c["latency"]
            name = system if not c.get("error") else f"{system} [red](failed)[/]"
            peer = not system.startswith("jobwire") and c.get("complete")
            table.add_row(
                name,
                f"{c['timestamped'] / c['expected']:.0%}" if c["expected"] else "-",
                fmt(lat["p50_ms"]),
                fmt(lat["p99_ms"]),
                fmt(c["cpu_us_per_delivery"]),
                jobwire_ratios(lat["p99_ms"], rows, lambda j: j["latency"]["p99_ms"])
                if peer
                else "-",
                jobwire_ratios(c["cpu_us_per_delivery"], rows, lambda j: j["cpu_us_per_delivery"])
                if peer
                else "-",
            )
        console.print(table)
        for system in STREAM_SYSTEMS:
            c = rows.get(system)
            if c is not None and c.get("error"):
                console.print(f"  [red]{system} N={n:,} failed:[/] {c['error'][:300]}")


def submit_table(console: Console, result: dict[str, Any], args: argparse.Namespace) -> None:
    table = Table(
        title=f"submit: {args.submits:,} POSTs, {args.submitters} concurrent submitters over "
        f"{args.clients} client processes",
        caption="httpx = httpx.AsyncClient; raw = a minimal asyncio HTTP/1.1 client (next to "
        "no client CPU). CPU = server CPU µs per submit, jobwire's including running the no-op "
        "job; flask and starlette store nothing (an HTTP floor); ratio = jobwire ÷ peer",
    )
    for col in ("system", "202s", "p50 ms", "p99 ms", "per s", "CPU µs", "p99 ratio"):
        table.add_column(
            col, justify="left" if col == "system" else "right", no_wrap=col == "system"
        )
    for key, client in (("submit", "httpx"), ("submit_raw", "raw")):
        rows = result.get(key, {})
        jw = rows.get("jobwire")
        for system in HTTP_SYSTEMS:
            c = rows.get(system)
            if c is None:
                continue
            lat = c["latency"]
            ok = c["status"].get("202", 0)
            table.add_row(
                f"{system} · {client}",
                f"{ok:,}" if ok == c["requests"] else f"{ok:,}/{c['requests']:,}",
                fmt(lat["p50_ms"], 1),
                fmt(lat["p99_ms"], 1),
                fmt(c["rate_per_s"], 0),
                fmt(c["cpu_us_per_request"], 0),
                "-"
                if system == "jobwire" or jw is None
                else ratio(jw["latency"]["p99_ms"], lat["p99_ms"]),
            )
    console.print(table)


def poll_table(console: Console, rows: dict[str, dict[str, Any]], args: argparse.Namespace) -> None:
    table = Table(
        title=f"poll: {args.polls:,} GETs with a matching If-None-Match, "
        f"{args.poll_conns} connections at a time",
        caption="CPU = server CPU µs per request; ratio = jobwire ÷ peer; Werkzeug closes the "
        "connection after every response, so flask pays a TCP connect (and a thread) per poll",
    )
    for col in ("system", "304s", "p50 ms", "p99 ms", "per s", "CPU µs", "CPU ratio"):
        table.add_column(
            col, justify="left" if col == "system" else "right", no_wrap=col == "system"
        )
    jw = rows.get("jobwire")
    for system in HTTP_SYSTEMS:
        c = rows.get(system)
        if c is None:
            continue
        lat = c["latency"]
        table.add_row(
            system,
            f"{c['status'].get('304', 0):,}/{c['requests']:,}",
            fmt(lat["p50_ms"], 2),
            fmt(lat["p99_ms"], 2),
            fmt(c["rate_per_s"], 0),
            fmt(c["cpu_us_per_request"], 1),
            "-"
            if system == "jobwire" or jw is None
            else ratio(jw["cpu_us_per_request"], c["cpu_us_per_request"]),
        )
    console.print(table)


def check_targets(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}

    def add(key: str, description: str, value: float | None, limit: float) -> None:
        ok = None if value is None or math.isnan(value) else value <= limit
        out[key] = {"description": description, "value": value, "limit": limit, "met": ok}

    cells = {(c["system"], c["n"]): c for c in result.get("streams", [])}
    for n, key_p99, key_cpu in (
        (1000, "stream_p99_ms_1000", "stream_cpu_us_1000"),
        (10000, "stream_p99_ms_10000", None),
    ):
        c = cells.get(("jobwire-ws", n))
        ok = c is not None and bool(c.get("complete"))
        c = c or {}
        add(
            key_p99,
            f"jobwire WebSocket p99 at N={n:,} <= {TARGETS[key_p99]:g} ms",
            c["latency"]["p99_ms"] if ok else None,
            TARGETS[key_p99],
        )
        if key_cpu:
            add(
                key_cpu,
                f"jobwire WebSocket server CPU per delivery at N={n:,} <= {TARGETS[key_cpu]:g} µs",
                c["cpu_us_per_delivery"] if ok else None,
                TARGETS[key_cpu],
            )
    sub = result.get("submit", {}).get("jobwire")
    add(
        "submit_p99_ms",
        f"jobwire submit p99 <= {TARGETS['submit_p99_ms']:g} ms (httpx clients)",
        sub["latency"]["p99_ms"] if sub else None,
        TARGETS["submit_p99_ms"],
    )
    raw = result.get("submit_raw", {}).get("jobwire")
    add(
        "submit_p99_ms_raw_client",
        f"jobwire submit p99 <= {TARGETS['submit_p99_ms']:g} ms (raw client, for reference)",
        raw["latency"]["p99_ms"] if raw else None,
        TARGETS["submit_p99_ms"],
    )
    poll = result.get("poll", {}).get("jobwire")
    add(
        "poll_cpu_us",
        f"jobwire server CPU per 304 poll <= {TARGETS['poll_cpu_us']:g} µs",
        poll["cpu_us_per_request"] if poll else None,
        TARGETS["poll_cpu_us"],
    )
    return out


def environment() -> dict[str, Any]:
    return {
        "loadavg": list(os.getloadavg()),
        "git": git_state(),
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "clk_tck": CLK_TCK,
        "jobwire_path": str(Path(sys.modules["jobwire"].__file__ or "").parent),
        "rlimit_nofile": resource.getrlimit(resource.RLIMIT_NOFILE),
        "versions": {
            p: version(p)
            for p in (
                "jobwire",
                "uvicorn",
                "fastapi",
                "starlette",
                "sse-starlette",
                "websockets",
                "flask",
                "werkzeug",
                "flask-socketio",
                "python-socketio",
                "python-engineio",
                "simple-websocket",
                "httpx",
                "uvloop",
                "httptools",
            )
        },
    }


def raise_nofile(needed: int) -> tuple[bool, str]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= needed:
        return True, f"RLIMIT_NOFILE {soft} >= {needed}"
    if hard != resource.RLIM_INFINITY and hard < needed:
        return False, f"RLIMIT_NOFILE hard limit {hard} < {needed} needed"
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))
    except (ValueError, OSError) as exc:
        return False, f"cannot raise RLIMIT_NOFILE to {needed}: {exc}"
    return True, f"RLIMIT_NOFILE raised from {soft} to {needed}"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["_serve"]:
        return serve_main(argv[1:])
    parser = argparse.ArgumentParser(
        description="Live streams, submits and ETag polls: jobwire vs Flask(-SocketIO) and "
        "bare Starlette, each server in its own process."
    )
    parser.add_argument("--big", action="store_true", help="add N = 10,000 stream clients")
    parser.add_argument(
        "--sizes", default="100,1000", help="stream client counts N (default: 100,1000)"
    )
    parser.add_argument(
        "--systems",
        default=",".join(STREAM_SYSTEMS),
        help=f"stream systems to run (default: {','.join(STREAM_SYSTEMS)}); the HTTP phases "
        "always run jobwire, flask and starlette",
    )
    parser.add_argument(
        "--http-systems",
        default=",".join(HTTP_SYSTEMS),
        help=f"systems for the submit and poll phases (default: {','.join(HTTP_SYSTEMS)})",
    )
    parser.add_argument(
        "--only",
        default="streams,submit,poll",
        help="measurements to run (default: streams,submit,poll)",
    )
    parser.add_argument("-c", "--clients", type=int, default=4, help="client processes (4)")
    parser.add_argument("-m", "--messages", type=int, default=50, help="messages per broadcast")
    parser.add_argument(
        "--interval", type=float, default=0.1, help="seconds between messages (0.1)"
    )
    parser.add_argument(
        "--big-messages", type=int, default=20, help="messages per broadcast at N >= 10,000 (20)"
    )
    parser.add_argument(
        "--big-interval",
        type=float,
        default=1.0,
        help="seconds between messages at N >= 10,000 (1.0: one fan-out to 10,000 sockets "
        "takes a few hundred ms of CPU, more than 0.1 s)",
    )
    parser.add_argument("--submits", type=int, default=2000, help="submits in total (2,000)")
    parser.add_argument("--submitters", type=int, default=50, help="concurrent submitters (50)")
    parser.add_argument("--polls", type=int, default=20_000, help="304 polls per system")
    parser.add_argument("--poll-conns", type=int, default=32, help="poll connections (32)")
    parser.add_argument(
        "--py-spy",
        type=Path,
        default=None,
        metavar="DIR",
        help="record each measured phase of the servers with py-spy (raw collapsed stacks "
        "into DIR; slows the servers: not for the figures)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (server logs)")
    parser.add_argument(
        "-o",
        "--output",
        type=Path,
        default=RESULTS / "streams.json",
        help="JSON result file (default: bench/results/streams.json)",
    )
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    if args.big and 10_000 not in sizes:
        sizes.append(10_000)
    systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    only = {s.strip() for s in args.only.split(",") if s.strip()}
    http_systems = [s.strip() for s in args.http_systems.split(",") if s.strip()]
    unknown = (
        (set(systems) - set(STREAM_SYSTEMS))
        | (set(http_systems) - set(HTTP_SYSTEMS))
        | (only - {"streams", "submit", "poll"})
    )
    if unknown:
        parser.error(f"unknown system or measurement: {', '.join(sorted(unknown))}")
    if args.clients < 1 or args.messages < 1 or args.interval <= 0 or min(sizes) < 1:
        parser.error("--clients, --messages, --interval and --sizes must be positive")
    if args.submitters < 1 or args.submits < args.submitters or args.polls < args.poll_conns:
        parser.error("--submits >= --submitters >= 1 and --polls >= --poll-conns")
    if args.big_messages < 1 or args.big_interval <= 0:
        parser.error("--big-messages and --big-interval must be positive")

    console = Console()
    load_before = busy_warning(console)
    notes: list[str] = []
    biggest = max(sizes)
    ok, why = raise_nofile(biggest + 1024)
    notes.append(why)
    if not ok:
        dropped = [n for n in sizes if n + 1024 > resource.getrlimit(resource.RLIMIT_NOFILE)[0]]
        sizes = [n for n in sizes if n not in dropped]
        msg = f"skipping N = {', '.join(f'{n:,}' for n in dropped)}: {why}"
        notes.append(msg)
        console.print(f"[yellow]{msg}[/]")

    plans = ", ".join(
        f"N={n:,}: {schedule(n, args)[0]} messages at {1 / schedule(n, args)[1]:g}/s" for n in sizes
    )
    console.print(
        f"[bold]streams[/]: {plans}; {args.submits:,} submits by {args.submitters}; "
        f"{args.polls:,} polls; {args.clients} client processes on {os.cpu_count()} CPUs"
    )
    workdir = Path(tempfile.mkdtemp(prefix="jobwire-streams-"))
    result: dict[str, Any] = {"streams": [], "submit": {}, "submit_raw": {}, "poll": {}}
    stream_plan = [(s, n) for n in sizes for s in systems] if "streams" in only else []
    http_plan = http_systems if only & {"submit", "poll"} else []
    started = time.perf_counter()
    pool = ClientPool(args.clients)
    try:
        with progress_bar(console) as progress_ui:
            bar = progress_ui.add_task("starting", total=len(stream_plan) + len(http_plan))

            def ui(text: str) -> None:
                progress_ui.update(bar, description=text)
                progress_ui.refresh()

            for system, n in stream_plan:
                try:
                    cell = stream_cell(system, n, args, pool, workdir, ui)
                except (BenchError, httpx.HTTPError) as exc:
                    cell = {
                        "system": system,
                        "n": n,
                        "error": str(exc)[:2000],
                        "complete": False,
                        "timestamped": 0,
                        "expected": n * schedule(n, args)[0],
                        "cpu_us_per_delivery": math.nan,
                        "latency": latency_summary([]),
                    }
                    pool.close()
                    pool = ClientPool(args.clients)
                result["streams"].append(cell)
                lat = cell["latency"]
                console.print(
                    f"  {system:<15} N={n:>6,}: p50 {fmt(lat['p50_ms'])} ms, p99 "
                    f"{fmt(lat['p99_ms'])} ms, {fmt(cell['cpu_us_per_delivery'])} µs CPU/delivery, "
                    f"{cell['timestamped']:,}/{cell['expected']:,} delivered"
                    + load_note(cell)
                    + (f" [red]{cell['error'][:200]}[/]" if cell.get("error") else "")
                )
                progress_ui.advance(bar)
            for system in http_plan:
                out = submit_and_poll(system, args, pool, workdir, ui, only)
                for what, cell in out.items():
                    result[what][system] = cell
                    lat = cell["latency"]
                    console.print(
                        f"  {what:<10} {system:<10}: p50 {fmt(lat['p50_ms'], 2)} ms, p99 "
                        f"{fmt(lat['p99_ms'], 2)} ms, {fmt(cell['rate_per_s'], 0)}/s, "
                        f"{fmt(cell['cpu_us_per_request'], 1)} µs server CPU each, "
                        f"status {cell['status']}" + load_note(cell)
                    )
                progress_ui.advance(bar)
    finally:
        pool.close()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    wall = time.perf_counter() - started

    if result["streams"]:
        stream_tables(console, result["streams"], args)
    if result["submit"] or result["poll"]:
        legend(console, HTTP_SYSTEMS)
    if result["submit"]:
        submit_table(console, result, args)
    if result["poll"]:
        poll_table(console, result["poll"], args)
    targets = check_targets(result)
    busy = [
        label
        for label, c in [
            *((f"{c['system']} N={c['n']:,}", c) for c in result["streams"]),
            *(
                (f"{what} {c['system']}", c)
                for what in ("submit", "submit_raw", "poll")
                for c in result[what].values()
            ),
        ]
        if c.get("load", {}).get("other_load_cores", 0.0) > OTHER_LOAD_WARN
    ]
    if busy:
        console.print(
            f"[yellow]other processes used more than {OTHER_LOAD_WARN} cores during: "
            f"{', '.join(busy)}; latencies there are not trustworthy (rerun on a quiet "
            "machine)[/]"
        )
    for t in targets.values():
        value = "not measured" if t["value"] is None else f"{t['value']:.1f}"
        console.print(f"target: {t['description']}: {value}  {verdict(t['met'])}")

    out = {
        "benchmark": "streams",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "params": {
            "sizes": sizes,
            "systems": systems,
            "only": sorted(only),
            "client_processes": args.clients,
            "messages": args.messages,
            "interval_seconds": args.interval,
            "big_messages": args.big_messages,
            "big_interval_seconds": args.big_interval,
            "jobwire_progress_interval": PROGRESS_INTERVAL,
            "connect_concurrency_per_process": CONNECT_CONCURRENCY,
            "submits": args.submits,
            "submitters": args.submitters,
            "polls": args.polls,
            "poll_connections": args.poll_conns,
            "py_spy": str(args.py_spy) if args.py_spy else None,
        },
        "environment": environment(),
        "loadavg_before": load_before,
        "notes": notes,
        "systems": {**STREAM_SYSTEMS, **{f"http:{k}": v for k, v in HTTP_SYSTEMS.items()}},
        **result,
        "targets": targets,
        "wall_seconds": wall,
    }
    write_result(args.output, out)
    console.print(
        f"wrote {args.output} ({wall:.0f} s)" + (f"; servers in {workdir}" if args.keep else "")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
