"""Cross-site requests against a real server: what a web page open in the user's browser can
do to a jobwire server on 127.0.0.1.

Browsers apply no CORS to WebSockets and let any page send requests to loopback addresses;
a DNS-rebinding page even gets its requests answered as same-origin, under its own host name.
So: without authentication only loopback Host names (and the configured ones) are served,
streams refuse page origins other than the server's own and the configured CORS origins, and
a JSON body needs a JSON content type (a cross-site form or `text/plain` POST cannot make one).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
import websockets
from fastapi import FastAPI
from httpx_sse import connect_sse
from websockets.exceptions import InvalidStatus

from jobwire import App
from jobwire.server import create_app, lifespan
from tests.processes import stop, wait_answering

from .server_fixtures import free_socket, serving
from .server_util import (
    ROOT,
    free_port,
    make_app,
    running_server,
    start_serve,
    until_closed,
    ws_url,
)

EVIL = "http://evil.example"
FRONT = "http://front.example:3000"  # a front end on another origin, allowed by configuration
FINAL = {"completed", "failed", "cancelled"}


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A loopback server without authentication (the default)."""
    app = make_app(tmp_path_factory.mktemp("crosssite"))
    try:
        with running_server(app) as url:
            yield url
    finally:
        app.close()


@pytest.fixture
def app(tmp_path: Path) -> Iterator[App]:
    """An app of its own, for a server with other settings (serving it sets them on it)."""
    app = make_app(tmp_path)
    try:
        yield app
    finally:
        app.close()


def port_of(base: str) -> int:
    return int(base.rsplit(":", 1)[1])


def submit(base: str, **headers: str) -> str:
    r = httpx.post(f"{base}/api/tasks/count/jobs", json={"n": 3}, headers=headers)
    assert r.status_code == 202, r.text
    job_id: str = r.json()["id"]
    return job_id


def refusal(url: str, **kwargs: Any) -> int:
    """The HTTP status a WebSocket handshake to ``url`` is refused with (fails if accepted)."""

    async def go() -> int:
        with pytest.raises(InvalidStatus) as refused:
            async with websockets.connect(url, **kwargs):
                pass
        status: int = refused.value.response.status_code
        return status

    return asyncio.run(go())


def job_messages(url: str, job_id: str, **kwargs: Any) -> list[dict[str, Any]]:
    """The messages of ``job_id`` through the socket at ``url`` (/ws/jobs/… or /ws), to the
    final one."""

    async def go() -> list[dict[str, Any]]:
        async with websockets.connect(url, **kwargs) as ws:
            if url.split("?")[0].endswith("/ws"):
                await ws.send(json.dumps({"type": "subscribe", "job_id": job_id, "after": 0}))
                out: list[dict[str, Any]] = []
                while not out or out[-1]["type"] not in FINAL | {"error"}:
                    msg = json.loads(await asyncio.wait_for(ws.recv(), 30))
                    if msg["type"] != "ping":
                        out.append(msg)
                return out
            return await until_closed(ws)

    return asyncio.run(go())


def sse_messages(base: str, job_id: str, headers: dict[str, str]) -> list[str]:
    with (
        httpx.Client(base_url=base, headers=headers, timeout=30) as client,
        connect_sse(client, "GET", f"/api/jobs/{job_id}/events") as source,
    ):
        return [event.event for event in source.iter_sse()]


def job_count(base: str) -> int:
    return len(httpx.get(f"{base}/api/jobs", params={"limit": 100}).json()["jobs"])


# -- a loopback server without authentication ----------------------------------------------


def test_a_websocket_from_a_foreign_origin_is_refused(base: str) -> None:
    job_id = submit(base)
    assert refusal(ws_url(base, "/ws"), origin=EVIL) == 403
    assert refusal(ws_url(base, f"/ws/jobs/{job_id}"), origin=EVIL) == 403
    # The same sockets without an Origin header (not a browser) stream as before.
    assert job_messages(ws_url(base, f"/ws/jobs/{job_id}"), job_id)[-1]["type"] == "completed"
    assert job_messages(ws_url(base, "/ws"), job_id)[-1]["type"] == "completed"


def test_a_subscribe_all_from_a_foreign_origin_never_gets_an_event(
    base: str, caplog: pytest.LogCaptureFixture
) -> None:
    async def go() -> None:
        with pytest.raises(InvalidStatus) as refused:
            async with websockets.connect(ws_url(base, "/ws"), origin=EVIL) as ws:
                await ws.send(json.dumps({"type": "subscribe", "all": True}))
                submit(base)
                await ws.recv()  # an event of every job: what a foreign page must not get
        assert refused.value.response.status_code == 403

    with caplog.at_level(logging.WARNING, logger="jobwire.server.crosssite"):
        asyncio.run(go())
    # The handshake's answer has no body (a browser could not read one): the log says why.
    logged = [r.getMessage() for r in caplog.records if r.name == "jobwire.server.crosssite"]
    assert any(EVIL in line and "cors_origins" in line for line in logged), logged


def test_an_event_stream_for_a_foreign_origin_is_refused(base: str) -> None:
    job_id = submit(base)
    r = httpx.get(f"{base}/api/jobs/{job_id}/events", headers={"Origin": EVIL})
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "bad_origin"
    assert "access-control-allow-origin" not in r.headers
    assert sse_messages(base, job_id, {})[-1] == "completed"  # no Origin: served


def test_a_foreign_host_is_refused_on_rest_sse_and_websockets(base: str) -> None:
    port = port_of(base)
    rebound = {"Host": f"rebind.evil.example:{port}"}
    before = job_count(base)
    r = httpx.post(f"{base}/api/tasks/count/jobs", json={"n": 3}, headers=rebound)
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "bad_host"
    assert "allowed_hosts" in r.json()["error"]["message"]
    assert job_count(base) == before  # nothing was submitted
    job_id = submit(base)
    assert httpx.get(f"{base}/api/jobs/{job_id}", headers=rebound).status_code == 400
    assert httpx.get(f"{base}/api/jobs/{job_id}/events", headers=rebound).status_code == 400
    # A rebinding page's socket: its own host name, resolved to 127.0.0.1.
    for path in ("/ws", f"/ws/jobs/{job_id}"):
        url = f"ws://rebind.evil.example:{port}{path}"
        assert refusal(url, host="127.0.0.1", port=port) == 403
        # Its Origin matches its Host: only the Host rule stops it.
        own = f"http://rebind.evil.example:{port}"
        assert refusal(url, host="127.0.0.1", port=port, origin=own) == 403


def test_loopback_host_names_are_served(base: str) -> None:
    port = port_of(base)
    for host in ("127.0.0.1", "localhost", "[::1]", "127.1.2.3", "LOCALHOST"):
        r = httpx.get(f"{base}/api/health", headers={"Host": f"{host}:{port}"})
        assert r.status_code == 200, (host, r.text)
    assert httpx.get(f"{base}/api/health", headers={"Host": "localhost"}).status_code == 200


def test_a_text_plain_submit_is_not_accepted(base: str) -> None:
    # What a cross-site page can send without a preflight: a "simple" POST.
    before = job_count(base)
    for content_type in ("text/plain", "application/x-www-form-urlencoded"):
        r = httpx.post(
            f"{base}/api/tasks/count/jobs",
            content=b'{"n": 3}',
            headers={"Content-Type": content_type, "Origin": EVIL},
        )
        assert 400 <= r.status_code < 500, (content_type, r.status_code, r.text)
    assert job_count(base) == before


def test_the_servers_own_origin_streams(base: str) -> None:
    own = base  # "http://127.0.0.1:PORT": the dashboard's pages
    job_id = submit(base)
    messages = job_messages(ws_url(base, f"/ws/jobs/{job_id}"), job_id, origin=own)
    assert messages[-1]["type"] == "completed"
    assert job_messages(ws_url(base, "/ws"), job_id, origin=own)[-1]["type"] == "completed"
    assert sse_messages(base, job_id, {"Origin": own})[-1] == "completed"
    # Another port of the same host is another origin.
    other = f"http://127.0.0.1:{port_of(base) + 1}"
    assert refusal(ws_url(base, "/ws"), origin=other) == 403
    # localhost is served as its own origin too (Host and Origin both name it).
    port = port_of(base)
    local = f"http://localhost:{port}"
    assert (
        job_messages(ws_url(local, "/ws"), job_id, origin=local, host="127.0.0.1")[-1]["type"]
        == "completed"
    )


def test_an_event_stream_from_the_servers_own_https_origin_behind_a_proxy(base: str) -> None:
    # A TLS-terminating proxy passes the Host it received; the page's origin is https.
    job_id = submit(base)
    headers = {"Host": "127.0.0.1", "Origin": "https://127.0.0.1"}
    assert sse_messages(base, job_id, headers)[-1] == "completed"


# -- configured names and origins ----------------------------------------------------------


def test_an_allowed_origin_streams_and_gets_cors_headers(app: App) -> None:
    with running_server(app, cors_origins=[FRONT]) as base:
        job_id = submit(base, Origin=FRONT)
        assert job_messages(ws_url(base, "/ws"), job_id, origin=FRONT)[-1]["type"] == "completed"
        messages = job_messages(ws_url(base, f"/ws/jobs/{job_id}"), job_id, origin=FRONT)
        assert messages[-1]["type"] == "completed"
        assert sse_messages(base, job_id, {"Origin": FRONT})[-1] == "completed"

        got = httpx.get(f"{base}/api/jobs/{job_id}", headers={"Origin": FRONT})
        assert got.status_code == 200
        assert got.headers["access-control-allow-origin"] == FRONT
        assert "etag" in got.headers["access-control-expose-headers"].lower()
        # A front end on another origin reads a download's name and range.
        exposed = got.headers["access-control-expose-headers"].lower()
        assert "content-disposition" in exposed and "content-range" in exposed

        preflight = httpx.options(
            f"{base}/api/tasks/count/jobs",
            headers={
                "Origin": FRONT,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type, authorization, idempotency-key",
            },
        )
        assert preflight.status_code == 200, preflight.text
        assert preflight.headers["access-control-allow-origin"] == FRONT
        methods = preflight.headers["access-control-allow-methods"]
        assert {"GET", "POST", "DELETE"} <= {m.strip() for m in methods.split(",")}
        allowed = preflight.headers["access-control-allow-headers"].lower()
        for header in ("authorization", "content-type", "idempotency-key", "last-event-id"):
            assert header in allowed

        # Other origins still get nothing.
        assert refusal(ws_url(base, "/ws"), origin=EVIL) == 403
        got = httpx.get(f"{base}/api/jobs/{job_id}", headers={"Origin": EVIL})
        assert "access-control-allow-origin" not in got.headers
        preflight = httpx.options(
            f"{base}/api/tasks/count/jobs",
            headers={"Origin": EVIL, "Access-Control-Request-Method": "POST"},
        )
        assert preflight.status_code == 400


def test_a_configured_host_name_is_served(app: App) -> None:
    with running_server(app, allowed_hosts=["jobs.example.com", "*.example.org"]) as base:
        port = port_of(base)
        for host in ("jobs.example.com", "api.example.org", "a.b.example.org"):
            r = httpx.get(f"{base}/api/health", headers={"Host": f"{host}:{port}"})
            assert r.status_code == 200, (host, r.text)
        for host in ("example.org", "evil.example.com", "jobs.example.com.evil.example"):
            r = httpx.get(f"{base}/api/health", headers={"Host": f"{host}:{port}"})
            assert r.status_code == 400, host
        job_id = submit(base)
        name = f"jobs.example.com:{port}"
        url = f"ws://{name}/ws/jobs/{job_id}"
        own = f"http://{name}"
        messages = job_messages(url, job_id, host="127.0.0.1", port=port, origin=own)
        assert messages[-1]["type"] == "completed"
        assert refusal(url, host="127.0.0.1", port=port, origin=EVIL) == 403


# -- with authentication -------------------------------------------------------------------


def test_with_auth_a_foreign_origin_websocket_is_refused_even_with_a_token(app: App) -> None:
    app.store.upgrade()
    store: Any = app.store
    _, key = store.keys.create_key("alice")
    bearer = {"Authorization": f"Bearer {key}"}
    with running_server(
        app, auth="token", secret_key="a-stream-secret-long-enough-for-hs256"
    ) as base:
        r = httpx.post(f"{base}/api/tasks/count/jobs", json={"n": 3}, headers=bearer)
        assert r.status_code == 202, r.text
        job_id, token = r.json()["id"], r.json()["stream_token"]
        url = ws_url(base, f"/ws/jobs/{job_id}?token={token}")
        assert refusal(url, origin=EVIL) == 403
        assert refusal(ws_url(base, "/ws"), origin=EVIL, additional_headers=bearer) == 403
        assert job_messages(url, job_id)[-1]["type"] == "completed"  # no Origin: served
        assert job_messages(url, job_id, origin=base)[-1]["type"] == "completed"
        messages = job_messages(ws_url(base, "/ws"), job_id, additional_headers=bearer)
        assert messages[-1]["type"] == "completed"
        # With credentials required, any Host name is served unless allowed_hosts is set.
        port = port_of(base)
        r = httpx.get(
            f"{base}/api/jobs/{job_id}", headers={**bearer, "Host": f"jobs.example.net:{port}"}
        )
        assert r.status_code == 200


def test_with_auth_and_allowed_hosts_other_hosts_are_refused(app: App) -> None:
    with running_server(
        app, auth="token", allowed_hosts=["jobs.example.net"], secret_key="x" * 40
    ) as base:
        port = port_of(base)
        r = httpx.get(f"{base}/api/health", headers={"Host": f"other.example.net:{port}"})
        assert r.status_code == 400
        assert r.json()["error"]["code"] == "bad_host"
        r = httpx.get(f"{base}/api/health", headers={"Host": f"jobs.example.net:{port}"})
        assert r.status_code == 200


# -- mounted in the user's app -------------------------------------------------------------


def test_a_mounted_app_refuses_a_foreign_host_and_says_how_to_allow_it(app: App) -> None:
    jobs_api = create_app(app)
    outer = FastAPI(lifespan=lifespan(jobs_api))
    outer.mount("/jobs", jobs_api)

    @outer.get("/")
    def home() -> dict[str, str]:
        return {"hello": "world"}

    config = uvicorn.Config(outer, log_level="warning", ws_ping_interval=None, lifespan="on")
    with serving(uvicorn.Server(config), free_socket()) as base:
        port = port_of(base)
        job_id = submit(base + "/jobs")
        assert job_messages(ws_url(base, f"/jobs/ws/jobs/{job_id}"), job_id, origin=base)
        assert refusal(ws_url(base, f"/jobs/ws/jobs/{job_id}"), origin=EVIL) == 403
        r = httpx.get(f"{base}/jobs/api/jobs/{job_id}/events", headers={"Origin": EVIL})
        assert r.status_code == 403
        r = httpx.get(f"{base}/jobs/api/health", headers={"Host": f"myapp.example:{port}"})
        assert r.status_code == 400
        message = r.json()["error"]["message"]
        assert "myapp.example" in message
        assert "allowed_hosts" in message
        assert "JOBWIRE_ALLOWED_HOSTS" in message
        # The user's own routes are theirs: jobwire's rule applies to its own paths only.
        r = httpx.get(f"{base}/", headers={"Host": f"myapp.example:{port}"})
        assert r.status_code == 200


# -- jobwire serve -------------------------------------------------------------------------


def serve_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOBWIRE_")}
    env.update(JOBWIRE_DATABASE_URL=f"sqlite:///{tmp_path}/serve.db", PYTHONPATH=str(ROOT))
    return env


def test_serve_takes_allowed_hosts_and_cors_origins(tmp_path: Path) -> None:
    port = free_port()
    env = {**serve_env(tmp_path), "JOBWIRE_ALLOWED_HOSTS": "env.example.com, *.env.example.org"}
    extra = ("--no-workers", "--allow-host", "jobs.example.com", "--cors-origin", FRONT)
    proc = start_serve(env, port, *extra)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_answering(proc, f"{base}/api/health")
        for host in ("jobs.example.com", "env.example.com", "a.env.example.org"):
            r = httpx.get(f"{base}/api/health", headers={"Host": f"{host}:{port}"})
            assert r.status_code == 200, (host, r.text)
        r = httpx.get(f"{base}/api/health", headers={"Host": f"rebind.evil.example:{port}"})
        assert r.status_code == 400
        assert r.json()["error"]["code"] == "bad_host"
        r = httpx.get(f"{base}/api/tasks", headers={"Origin": FRONT})
        assert r.headers["access-control-allow-origin"] == FRONT
    finally:
        stop(proc)


def test_serve_refuses_a_malformed_cors_origin(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            *(sys.executable, "-m", "jobwire", "serve", "tests.apps.sample:app"),
            *("--cors-origin", "front.example/app"),
        ],
        env={**serve_env(tmp_path), "COLUMNS": "200"},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "https://app.example.com" in done.stderr, done.stderr
