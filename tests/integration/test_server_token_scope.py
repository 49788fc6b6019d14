"""What a job's stream token (``?token=``) reaches, route by route, through a real server with
authentication on: exactly its own job's snapshot (long poll and ETag included), events,
WebSocket, cancel, result, files and export, the notifications of its end (deliveries), what
it may do (access), and a ``/ws`` subscription to that job. Another
job is 404 (it may not even exist); everything else is 403 ``forbidden``. Every route the
server has is listed here, so a new one fails :func:`test_every_route_is_covered` until it is
added."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import websockets
from httpx_sse import connect_sse

from jobwire import App, hooks

from .server_util import make_app, running_server, until_closed, ws_url

FINAL = {"succeeded", "failed", "cancelled"}


@dataclass
class Scope:
    base: str
    app: App
    key: str  # alice's API key
    done: str  # alice's finished job, with a result
    token: str  # its stream token
    other: str  # alice's other finished job


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def submit(base: str, key: str, task: str, **args: Any) -> dict[str, Any]:
    r = httpx.post(f"{base}/api/tasks/{task}/jobs", json=args, headers=bearer(key))
    assert r.status_code == 202, r.text
    body: dict[str, Any] = r.json()
    return body


def wait_final(base: str, job_id: str, key: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        r = httpx.get(f"{base}/api/jobs/{job_id}", headers=bearer(key))
        if r.json()["status"] in FINAL:
            return
        time.sleep(0.05)
    raise AssertionError(f"{job_id} did not finish")


@pytest.fixture(scope="module")
def scope(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scope]:
    app = make_app(tmp_path_factory.mktemp("scope"))
    app.store.upgrade()
    _, key = app.store.keys.create_key("alice")
    try:
        with running_server(app, auth="token", heartbeat_seconds=0.5) as base:
            first = submit(base, key, "count", n=2)
            other = submit(base, key, "count", n=2)["id"]
            wait_final(base, first["id"], key)
            wait_final(base, other, key)
            yield Scope(base, app, key, first["id"], first["stream_token"], other)
    finally:
        app.close()


def assert_error(r: httpx.Response, status: int, code: str) -> None:
    assert r.status_code == status, (r.request.method, r.request.url, r.status_code, r.text)
    assert r.json()["error"]["code"] == code, r.text


def run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 30))


async def ws_first(url: str, send: dict[str, Any] | None = None) -> tuple[dict[str, Any], Any]:
    """The first message (not a ping) of a socket, and its close code if it closed."""
    async with websockets.connect(url) as ws:
        if send is not None:
            await ws.send(json.dumps(send))
        while True:
            msg: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), 10))
            if msg["type"] != "ping":
                break
        if msg["type"] in ("completed", "error") and send is None:
            await until_closed(ws)
        return msg, ws.close_code


def test_the_token_reads_its_own_job(scope: Scope) -> None:
    q = {"token": scope.token}
    job = f"{scope.base}/api/jobs/{scope.done}"
    r = httpx.get(job, params=q)
    assert r.status_code == 200 and r.json()["id"] == scope.done
    tag = r.headers["etag"]
    assert httpx.get(job, params=q, headers={"If-None-Match": tag}).status_code == 304
    r = httpx.get(job, params={**q, "wait": 1}, headers={"If-None-Match": '"other.1"'})
    assert r.status_code == 200
    assert httpx.get(f"{job}/result", params=q).json() == 2
    # Downloads too: a browser follows a plain link, which carries no header.
    assert httpx.get(f"{job}/files", params=q).json() == {"files": []}
    r = httpx.get(f"{job}/export", params={**q, "format": "json"})
    assert r.status_code == 200 and r.json() == 2
    assert r.headers["content-disposition"].startswith('attachment; filename="count-')
    assert_error(httpx.get(f"{job}/files/none.txt", params=q), 404, "file_not_found")
    # ...the notifications of its end (none: it has no notify_url), as its snapshot...
    assert httpx.get(f"{job}/deliveries", params=q).json() == {"deliveries": []}
    with httpx.Client() as client, connect_sse(client, "GET", f"{job}/events", params=q) as sse:
        assert sse.response.status_code == 200
        assert next(iter(sse.iter_sse())).event == "completed"
    msg, code = run(ws_first(ws_url(scope.base, f"/ws/jobs/{scope.done}?token={scope.token}")))
    assert (msg["type"], code) == ("completed", 1000)
    url = ws_url(scope.base, f"/ws?token={scope.token}")
    msg, _ = run(ws_first(url, {"type": "subscribe", "job_id": scope.done}))
    assert msg["type"] == "completed"
    # ...says what it may do with it...
    access = httpx.get(f"{job}/access", params=q).json()
    assert access["via"] == "stream_token"
    assert (access["view"], access["download"], access["cancel"]) == (True, True, True)
    assert (access["manage"], access["share"]) == (False, False)
    # ...and cancels it: a finished job answers 409, which is the job's state, not a refusal
    assert_error(httpx.post(f"{job}/cancel", params=q), 409, "job_finished")


def test_the_token_cancels_its_own_running_job(scope: Scope) -> None:
    running = submit(scope.base, scope.key, "spin", seconds=30)
    r = httpx.post(
        f"{scope.base}/api/jobs/{running['id']}/cancel", params={"token": running["stream_token"]}
    )
    assert r.status_code == 202, r.text
    wait_final(scope.base, running["id"], scope.key)


def test_another_job_is_not_found(scope: Scope) -> None:
    q = {"token": scope.token}
    job = f"{scope.base}/api/jobs/{scope.other}"
    for r in (
        httpx.get(job, params=q),
        httpx.get(job, params={**q, "wait": 1}, headers={"If-None-Match": '"x.1"'}),
        httpx.get(f"{job}/events", params=q),
        httpx.get(f"{job}/result", params=q),
        httpx.get(f"{job}/files", params=q),
        httpx.get(f"{job}/files/none.txt", params=q),
        httpx.get(f"{job}/export", params=q),
        httpx.get(f"{job}/deliveries", params=q),
        httpx.get(f"{job}/token", params=q),
        httpx.post(f"{job}/cancel", params=q),
        httpx.delete(job, params=q),
        httpx.get(f"{job}/access", params=q),
        httpx.get(f"{job}/shares", params=q),
        httpx.post(f"{job}/shares", params=q, json={"team": "t"}),
        httpx.delete(f"{job}/shares/t", params=q),
    ):
        assert_error(r, 404, "job_not_found")
    msg, code = run(ws_first(ws_url(scope.base, f"/ws/jobs/{scope.other}?token={scope.token}")))
    assert (msg["error"]["code"], code) == ("job_not_found", 4404)
    url = ws_url(scope.base, f"/ws?token={scope.token}")
    msg, _ = run(ws_first(url, {"type": "subscribe", "job_id": scope.other}))
    assert msg["error"]["code"] == "job_not_found"
    msg, _ = run(ws_first(url, {"type": "cancel", "job_id": scope.other}))
    assert msg["error"]["code"] == "job_not_found"


def test_everything_else_is_forbidden(scope: Scope) -> None:
    q = {"token": scope.token}
    base, job = scope.base, f"{scope.base}/api/jobs/{scope.done}"
    for r in (
        httpx.get(f"{base}/api/tasks", params=q),
        httpx.post(f"{base}/api/tasks/count/jobs", params=q, json={"n": 1}),
        httpx.get(f"{base}/api/jobs", params=q),
        httpx.get(f"{base}/api/stats", params=q),
        httpx.get(f"{base}/metrics", params=q),
        httpx.get(f"{job}/token", params=q),  # a token that renews itself never expires
        httpx.delete(job, params=q),
        httpx.get(f"{job}/shares", params=q),
        httpx.post(f"{job}/shares", params=q, json={"team": "t"}),
        httpx.delete(f"{job}/shares/t", params=q),
        httpx.get(f"{base}/api/jobs", params={**q, "shared": "true"}),
    ):
        assert_error(r, 403, "forbidden")
    url = ws_url(base, f"/ws?token={scope.token}")
    msg, _ = run(ws_first(url, {"type": "subscribe", "all": True}))
    assert (msg["type"], msg["error"]["code"]) == ("error", "forbidden")
    # nothing was deleted
    assert httpx.get(job, headers=bearer(scope.key)).status_code == 200


def test_the_public_routes_need_no_credential(scope: Scope) -> None:
    assert httpx.get(f"{scope.base}/api/health").status_code == 200
    sig = hooks.sign(scope.app.secret, scope.done)
    r = httpx.post(f"{scope.base}/api/hooks/{scope.done}", params={"sig": sig}, json={})
    assert r.json()["reason"] == "job_finished"


COVERED = {
    ("GET", "/api/health"),
    ("GET", "/api/tasks"),
    ("POST", "/api/tasks/{task}/jobs"),
    ("GET", "/api/jobs"),
    ("GET", "/api/jobs/{job_id}"),
    ("DELETE", "/api/jobs/{job_id}"),
    ("POST", "/api/jobs/{job_id}/cancel"),
    ("GET", "/api/jobs/{job_id}/result"),
    ("GET", "/api/jobs/{job_id}/files"),
    ("GET", "/api/jobs/{job_id}/files/{name}"),
    ("GET", "/api/jobs/{job_id}/export"),
    ("GET", "/api/jobs/{job_id}/token"),
    ("GET", "/api/jobs/{job_id}/access"),
    ("GET", "/api/jobs/{job_id}/deliveries"),
    ("GET", "/api/jobs/{job_id}/shares"),
    ("POST", "/api/jobs/{job_id}/shares"),
    ("DELETE", "/api/jobs/{job_id}/shares/{team:path}"),
    ("GET", "/api/jobs/{job_id}/events"),
    ("GET", "/api/stats"),
    ("POST", "/api/hooks/{job_id}"),
    ("GET", "/metrics"),
    ("WS", "/ws/jobs/{job_id}"),
    ("WS", "/ws"),
}


def test_every_route_is_covered(scope: Scope) -> None:
    from fastapi.routing import iter_route_contexts

    from jobwire.server import create_app

    api = create_app(scope.app, dashboard=False)
    served = set()
    for route in iter_route_contexts(api.router.routes):
        path = getattr(route, "path", "")
        if path.startswith("/api/") or path.startswith("/ws") or path == "/metrics":
            for method in route.methods or {"WS"}:
                served.add((method, path))
    assert served == COVERED
