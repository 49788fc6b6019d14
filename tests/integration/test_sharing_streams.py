"""A share that ends ends its streams: through a real server with authentication on, on
SQLite and PostgreSQL. A member's WebSocket (per job, and a ``/ws`` subscription) and
Server-Sent Events stream close within a second of the share's expiry or removal, with the
reason; the owner's stream of the same job goes on to its final message; a stream token the
member got through the share stops working; and a share made again is a new one."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import websockets
from httpx_sse import aconnect_sse

from jobwire import App
from tests.conftest import reset_postgres

from .server_util import make_app, running_server, ws_url

#: What the issue asks: a member's streams end within this many seconds of the share's end.
WITHIN = 1.0


@dataclass
class Server:
    base: str
    app: App
    owner: dict[str, str]
    member: dict[str, str]


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    url = None
    if request.param == "postgres":
        url = request.getfixturevalue("_postgres_database")
        reset_postgres(url)
    app = make_app(tmp_path_factory.mktemp("share-streams"), url)
    app.store.upgrade()
    lead = app.store.keys.create_key("olivia", roles=["teamlead"], teams=["platform"])[1]
    member = app.store.keys.create_key("mia", teams=["platform"])[1]
    try:
        with running_server(app, auth="token", heartbeat_seconds=0.5) as base:
            yield Server(
                base,
                app,
                {"Authorization": f"Bearer {lead}"},
                {"Authorization": f"Bearer {member}"},
            )
    finally:
        app.close()


def submit(server: Server, seconds: float) -> str:
    """A job that reports progress for about ``seconds``, then succeeds."""
    n = int(seconds / 0.05)
    r = httpx.post(
        f"{server.base}/api/tasks/count/jobs",
        json={"n": n, "delay": 0.05},
        headers=server.owner,
    )
    assert r.status_code == 202, r.text
    job_id: str = r.json()["id"]
    return job_id


async def follow_ws(url: str, headers: dict[str, str], sub: str | None = None) -> dict[str, Any]:
    """Read a socket to its end: the last message's type (or error code), when it ended
    (``time.time()``) and the close code."""
    last: Any = None
    async with websockets.connect(url, additional_headers=headers) as ws:
        if sub is not None:
            await ws.send(json.dumps({"type": "subscribe", "job_id": sub}))
        try:
            while True:
                msg = json.loads(await ws.recv())
                if msg["type"] == "ping":
                    continue
                last = msg["error"]["code"] if msg["type"] == "error" else msg["type"]
                if sub is not None and msg["type"] in ("error", "completed"):
                    return {"last": last, "at": time.time(), "code": None}
        except websockets.ConnectionClosed:
            pass
        return {"last": last, "at": time.time(), "code": ws.close_code}


async def follow_sse(url: str, headers: dict[str, str]) -> dict[str, Any]:
    last = None
    async with (
        httpx.AsyncClient(headers=headers, timeout=30) as client,
        aconnect_sse(client, "GET", url) as sse,
    ):
        assert sse.response.status_code == 200
        async for event in sse.aiter_sse():
            last = (
                json.loads(event.data)["error"]["code"] if event.event == "error" else event.event
            )
    return {"last": last, "at": time.time()}


async def watch_all(server: Server, job_id: str) -> dict[str, dict[str, Any]]:
    ws = ws_url(server.base, f"/ws/jobs/{job_id}")
    sse = f"{server.base}/api/jobs/{job_id}/events"
    ends = await asyncio.wait_for(
        asyncio.gather(
            follow_ws(ws, server.member),
            follow_ws(ws_url(server.base, "/ws"), server.member, sub=job_id),
            follow_sse(sse, server.member),
            follow_ws(ws, server.owner),
        ),
        60,
    )
    return dict(zip(["member_ws", "member_sub", "member_sse", "owner_ws"], ends, strict=True))


def assert_member_cut_at(ends: dict[str, dict[str, Any]], at: float, done: float) -> None:
    """The member's streams ended with ``share_ended`` between ``at`` (the share's end was
    due or asked for) and ``WITHIN`` seconds after ``done`` (it was, for sure)."""
    for name in ("member_ws", "member_sub", "member_sse"):
        end = ends[name]
        assert end["last"] == "share_ended", (name, end)
        assert at - 0.05 <= end["at"] <= done + WITHIN, (name, end["at"] - at)
    assert ends["member_ws"]["code"] == 4403
    # the owner's stream of the same job went on to the end
    assert ends["owner_ws"]["last"] == "completed"
    assert ends["owner_ws"]["code"] == 1000


def test_an_expiring_share_ends_the_members_streams(server: Server) -> None:
    job_id = submit(server, seconds=4.0)
    expires = time.time() + 2.0
    r = httpx.post(
        f"{server.base}/api/jobs/{job_id}/shares",
        json={
            "team": "platform",
            "can_download": False,
            "expires_at": datetime.fromtimestamp(expires, UTC).isoformat(),
        },
        headers=server.owner,
    )
    assert r.status_code == 201, r.text
    token = httpx.get(f"{server.base}/api/jobs/{job_id}/token", headers=server.member).json()
    job = f"{server.base}/api/jobs/{job_id}"
    assert httpx.get(job, params=token).status_code == 200
    # view-only: the token made through the share cannot download either
    assert httpx.get(f"{job}/files", params=token).status_code == 403

    ends = asyncio.run(watch_all(server, job_id))

    assert_member_cut_at(ends, expires, expires)
    # after the expiry the job is gone for the member, and for the token made through it
    assert httpx.get(job, headers=server.member).status_code == 404
    assert httpx.get(job, params=token).status_code == 404
    listed = httpx.get(f"{server.base}/api/jobs?shared=true", headers=server.member).json()
    assert job_id not in {j["id"] for j in listed["jobs"]}


def test_removing_a_share_ends_the_members_streams_at_once(server: Server) -> None:
    job_id = submit(server, seconds=3.0)
    r = httpx.post(
        f"{server.base}/api/jobs/{job_id}/shares", json={"team": "platform"}, headers=server.owner
    )
    assert r.status_code == 201, r.text
    token = httpx.get(f"{server.base}/api/jobs/{job_id}/token", headers=server.member).json()
    removed: dict[str, float] = {}

    async def remove_later() -> None:
        await asyncio.sleep(1.0)
        removed["asked"] = time.time()
        async with httpx.AsyncClient() as client:
            r = await client.delete(
                f"{server.base}/api/jobs/{job_id}/shares/platform", headers=server.owner
            )
        removed["at"] = time.time()
        assert r.status_code == 204, r.text

    async def both() -> dict[str, dict[str, Any]]:
        ends, _ = await asyncio.gather(watch_all(server, job_id), remove_later())
        return ends

    ends = asyncio.run(both())
    assert_member_cut_at(ends, removed["asked"], removed["at"])
    job = f"{server.base}/api/jobs/{job_id}"
    assert httpx.get(job, params=token).status_code == 404
    # Shared again: a new share, which the member sees, and which the old token does not reach.
    r = httpx.post(f"{job}/shares", json={"team": "platform"}, headers=server.owner)
    assert r.status_code == 201, r.text
    assert httpx.get(job, headers=server.member).status_code == 200
    assert httpx.get(job, params=token).status_code == 404
