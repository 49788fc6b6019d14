"""Who may do what with a shared job, on every path, through a real server with
authentication on, on SQLite and PostgreSQL: the matrix of docs/http.md ("Sharing"), cell
by cell.

Rows are the callers: the owner (a team lead), a member of a team the job is shared with to
view, one of a team it is shared with to view and download, a member of a team whose share
expired, one whose share was revoked, a non-member, an admin, and no credential. Columns are
the paths. Two jobs are shared alike: ``done`` (succeeded, with a result, rows and a file)
and ``live`` (running, reporting progress all the time), on which delete answers 409 to
whoever may delete (so nothing is deleted) and cancel is tried on ``done`` (409 for whoever
may cancel, so nothing is cancelled).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import websockets
from httpx_sse import connect_sse

from jobwire import App, Progress
from tests.conftest import reset_postgres

from .server_util import make_app, running_server, ws_url

ROWS = ["owner", "viewer", "downloader", "expired", "revoked", "outsider", "admin", "nobody"]
SEES = {"owner", "viewer", "downloader", "admin"}
DOWNLOADS = {"owner", "downloader", "admin"}
MANAGES = {"owner", "admin"}


@dataclass
class World:
    base: str
    app: App
    keys: dict[str, str | None]  # row -> API key (None: no credential)
    done: str
    live: str
    tag: str  # done's current ETag


def headers(world: World, row: str) -> dict[str, str]:
    key = world.keys[row]
    return {"Authorization": f"Bearer {key}"} if key else {}


def add_tasks(app: App) -> None:
    @app.task(name="filer")
    def filer(progress: Progress) -> list[dict[str, Any]]:
        """Saves a file; returns rows (so that every export format works)."""
        progress.save_file("notes.txt", b"shared notes\n")
        return [{"name": "a", "n": 1}, {"name": "b", "n": 2}]


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    url = None
    if request.param == "postgres":
        url = request.getfixturevalue("_postgres_database")
        reset_postgres(url)
    app = make_app(tmp_path_factory.mktemp("matrix"), url)
    add_tasks(app)
    app.store.upgrade()
    who = {
        "owner": ("olivia", ["teamlead"], ["platform"]),
        "viewer": ("vic", [], ["viewers"]),
        "downloader": ("dora", [], ["downloaders"]),
        "expired": ("ed", [], ["old"]),
        "revoked": ("rita", [], ["gone"]),
        "outsider": ("otto", [], ["sales"]),
        "admin": ("root", ["admin"], []),
    }
    keys: dict[str, str | None] = {"nobody": None}
    for row, (user, roles, teams) in who.items():
        keys[row] = app.store.keys.create_key(user, roles=roles, teams=teams)[1]
    try:
        with running_server(app, auth="token", heartbeat_seconds=0.5) as base:
            owner = {"Authorization": f"Bearer {keys['owner']}"}
            done = httpx.post(f"{base}/api/tasks/filer/jobs", headers=owner).json()["id"]
            live = httpx.post(
                f"{base}/api/tasks/spin/jobs", json={"seconds": 300}, headers=owner
            ).json()["id"]
            deadline = time.monotonic() + 30
            while httpx.get(f"{base}/api/jobs/{done}", headers=owner).json()["status"] != (
                "succeeded"
            ):
                assert time.monotonic() < deadline
                time.sleep(0.05)
            for job in (done, live):
                for team, body in (
                    ("viewers", {"can_download": False}),
                    ("downloaders", {}),
                    ("gone", {}),
                ):
                    r = httpx.post(
                        f"{base}/api/jobs/{job}/shares", json={"team": team, **body}, headers=owner
                    )
                    assert r.status_code == 201, r.text
                r = httpx.delete(f"{base}/api/jobs/{job}/shares/gone", headers=owner)
                assert r.status_code == 204, r.text
                # an expiry in the past cannot be asked for over HTTP: the store takes it
                app.store.share(job, "old", expires_at=time.time() - 1, shared_by="olivia")
            tag = httpx.get(f"{base}/api/jobs/{done}", headers=owner).headers["etag"]
            yield World(base, app, keys, done, live, tag)
            httpx.post(f"{base}/api/jobs/{live}/cancel", headers=owner)
    finally:
        app.close()


def outcome(r: httpx.Response) -> int | str:
    """The status, with the error code for errors (``"403 forbidden"``)."""
    if r.status_code >= 400:
        return f"{r.status_code} {r.json()['error']['code']}"
    return r.status_code


def expect(row: str, allowed: int | str, *, viewers: int | str | None = None) -> int | str:
    """What ``row`` gets from a path that answers ``allowed`` to whoever may; viewers (who
    see the job but may not do this) get ``viewers`` when given."""
    if row == "nobody":
        return "401 unauthorized"
    if viewers is not None and row in SEES - MANAGES - (DOWNLOADS if viewers == "dl" else set()):
        return "403 forbidden"
    if row in SEES:
        return allowed
    return "404 job_not_found"


def check_rows(world: World, call: Callable[[str], Any], want: Callable[[str], Any]) -> None:
    got = {row: call(row) for row in ROWS}
    wanted = {row: want(row) for row in ROWS}
    assert got == wanted


# -- reads ---------------------------------------------------------------------------------


def test_get(world: World) -> None:
    check_rows(
        world,
        lambda row: outcome(
            httpx.get(f"{world.base}/api/jobs/{world.done}", headers=headers(world, row))
        ),
        lambda row: expect(row, 200),
    )


def test_list_holds_own_jobs_only(world: World) -> None:
    def call(row: str) -> Any:
        r = httpx.get(f"{world.base}/api/jobs", headers=headers(world, row))
        if r.status_code != 200:
            return outcome(r)
        return world.done in {j["id"] for j in r.json()["jobs"]}

    check_rows(world, call, lambda row: "401 unauthorized" if row == "nobody" else row in MANAGES)


def test_shared_list(world: World) -> None:
    def call(row: str) -> Any:
        r = httpx.get(
            f"{world.base}/api/jobs", params={"shared": "true"}, headers=headers(world, row)
        )
        if r.status_code != 200:
            return outcome(r)
        found = {j["id"]: j["shared"] for j in r.json()["jobs"]}
        if world.done not in found:
            return None
        via = found[world.done]
        return (via["team"], via["shared_by"], via["can_download"])

    want = {
        "owner": None,  # one's own jobs are not "shared with me"
        "viewer": ("viewers", "olivia", False),
        "downloader": ("downloaders", "olivia", True),
        "expired": None,
        "revoked": None,
        "outsider": None,
        "admin": None,  # an admin sees everything, but nothing is shared with their teams
        "nobody": "401 unauthorized",
    }
    check_rows(world, call, want.__getitem__)


def test_long_poll(world: World) -> None:
    def call(row: str) -> Any:
        r = httpx.get(
            f"{world.base}/api/jobs/{world.live}",
            params={"wait": 5},
            headers={**headers(world, row), "If-None-Match": '"stale.1"'},
        )
        return outcome(r)

    check_rows(world, call, lambda row: expect(row, 200))


def test_not_modified(world: World) -> None:
    def call(row: str) -> Any:
        h = {**headers(world, row), "If-None-Match": world.tag}
        # twice: the second is answered from memory (the fast path) when the first was not
        first = outcome(httpx.get(f"{world.base}/api/jobs/{world.done}", headers=h))
        second = outcome(httpx.get(f"{world.base}/api/jobs/{world.done}", headers=h))
        assert first == second, row
        return first

    check_rows(world, call, lambda row: expect(row, 304))


def test_result(world: World) -> None:
    def call(row: str) -> Any:
        r = httpx.get(f"{world.base}/api/jobs/{world.done}/result", headers=headers(world, row))
        return r.json() if r.status_code == 200 else outcome(r)

    rows = [{"name": "a", "n": 1}, {"name": "b", "n": 2}]
    check_rows(world, call, lambda row: expect(row, rows))  # type: ignore[arg-type]


# -- streams -------------------------------------------------------------------------------


def test_sse(world: World) -> None:
    def call(row: str) -> Any:
        url = f"{world.base}/api/jobs/{world.done}/events"
        with (
            httpx.Client(headers=headers(world, row)) as client,
            connect_sse(client, "GET", url) as sse,
        ):
            if sse.response.status_code != 200:
                sse.response.read()
                return outcome(sse.response)
            return next(iter(sse.iter_sse())).event

    check_rows(world, call, lambda row: expect(row, "completed"))


async def first_message(url: str, extra: dict[str, str], send: dict[str, Any] | None) -> Any:
    """The type of a socket's first message (not a ping), or its error's code."""
    async with websockets.connect(url, additional_headers=extra) as ws:
        if send is not None:
            with contextlib.suppress(websockets.ConnectionClosed):  # refused: read why
                await ws.send(json.dumps(send))
        while True:
            try:
                msg = json.loads(await asyncio.wait_for(ws.recv(), 10))
            except websockets.ConnectionClosed:
                return ws.close_code
            if msg["type"] == "error":
                return msg["error"]["code"]
            if msg["type"] != "ping":
                return msg["type"]


def test_job_websocket(world: World) -> None:
    def call(row: str) -> Any:
        url = ws_url(world.base, f"/ws/jobs/{world.done}")
        return asyncio.run(first_message(url, headers(world, row), None))

    def want(row: str) -> Any:
        return {200: "completed", "401 unauthorized": "unauthorized"}.get(
            expect(row, 200), "job_not_found"
        )

    check_rows(world, call, want)


def test_ws_subscribe(world: World) -> None:
    def call(row: str) -> Any:
        url = ws_url(world.base, "/ws")
        sub = {"type": "subscribe", "job_id": world.done}
        return asyncio.run(first_message(url, headers(world, row), sub))

    def want(row: str) -> Any:
        return {200: "completed", "401 unauthorized": "unauthorized"}.get(
            expect(row, 200), "job_not_found"
        )

    check_rows(world, call, want)


async def all_events_of(url: str, extra: dict[str, str], job_id: str, seconds: float) -> Any:
    """Subscribe to every job; whether an event of ``job_id`` (running, changing all the
    time) arrives within ``seconds``."""
    async with websockets.connect(url, additional_headers=extra) as ws:
        with contextlib.suppress(websockets.ConnectionClosed):  # refused: read why
            await ws.send(json.dumps({"type": "subscribe", "all": True}))
        loop = asyncio.get_running_loop()
        end = loop.time() + seconds
        while (left := end - loop.time()) > 0:
            try:
                msg = json.loads(await asyncio.wait_for(ws.recv(), left))
            except TimeoutError:
                return False
            except websockets.ConnectionClosed:
                return ws.close_code
            if msg["type"] == "error":
                return msg["error"]["code"]
            if msg["type"] != "ping" and msg["job"]["id"] == job_id:
                return True
        return False


def test_subscribe_all(world: World) -> None:
    def call(row: str) -> Any:
        # Who sees the job gets an event at once (it reports every 50 ms); 2 s of silence
        # is what the others get.
        url = ws_url(world.base, "/ws")
        return asyncio.run(all_events_of(url, headers(world, row), world.live, 2.0))

    check_rows(world, call, lambda row: "unauthorized" if row == "nobody" else row in SEES)


# -- downloads -----------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["json", "csv", "zip"])
def test_export(world: World, fmt: str) -> None:
    def call(row: str) -> Any:
        r = httpx.get(
            f"{world.base}/api/jobs/{world.done}/export",
            params={"format": fmt},
            headers=headers(world, row),
        )
        if r.status_code == 200:
            return r.headers["content-type"].split(";")[0]
        return outcome(r)

    media = {"json": "application/json", "csv": "text/csv", "zip": "application/zip"}[fmt]
    check_rows(world, call, lambda row: expect(row, media, viewers="dl"))


def test_file_list(world: World) -> None:
    def call(row: str) -> Any:
        r = httpx.get(f"{world.base}/api/jobs/{world.done}/files", headers=headers(world, row))
        return [f["name"] for f in r.json()["files"]] if r.status_code == 200 else outcome(r)

    check_rows(world, call, lambda row: expect(row, ["notes.txt"], viewers="dl"))  # type: ignore[arg-type]


def test_file_download(world: World) -> None:
    def call(row: str) -> Any:
        url = f"{world.base}/api/jobs/{world.done}/files/notes.txt"
        r = httpx.get(url, headers=headers(world, row))
        return r.content if r.status_code == 200 else outcome(r)

    check_rows(world, call, lambda row: expect(row, b"shared notes\n", viewers="dl"))  # type: ignore[arg-type]


# -- changes -------------------------------------------------------------------------------


def test_cancel(world: World) -> None:
    def call(row: str) -> Any:
        url = f"{world.base}/api/jobs/{world.done}/cancel"
        return outcome(httpx.post(url, headers=headers(world, row)))

    # 409 job_finished: allowed to cancel, and the job had ended (so nothing was cancelled)
    check_rows(world, call, lambda row: expect(row, "409 job_finished", viewers="manage"))


def test_delete(world: World) -> None:
    def call(row: str) -> Any:
        url = f"{world.base}/api/jobs/{world.live}"
        return outcome(httpx.delete(url, headers=headers(world, row)))

    # 409 job_not_finished: allowed to delete, and the job runs (so nothing was deleted)
    check_rows(world, call, lambda row: expect(row, "409 job_not_finished", viewers="manage"))


def test_shares_list(world: World) -> None:
    def call(row: str) -> Any:
        r = httpx.get(f"{world.base}/api/jobs/{world.done}/shares", headers=headers(world, row))
        if r.status_code != 200:
            return outcome(r)
        return sorted(s["team"] for s in r.json()["shares"])

    # the expired share is listed (it is kept until retention), the revoked one is not
    teams = ["downloaders", "old", "viewers"]
    check_rows(world, call, lambda row: expect(row, teams, viewers="manage"))  # type: ignore[arg-type]


def test_share_create_and_delete(world: World) -> None:
    def call(row: str) -> Any:
        job = f"{world.base}/api/jobs/{world.done}"
        created = httpx.post(f"{job}/shares", json={"team": "extra"}, headers=headers(world, row))
        removed = httpx.delete(f"{job}/shares/extra", headers=headers(world, row))
        return outcome(created), outcome(removed)

    def want(row: str) -> Any:
        got = expect(row, 0, viewers="manage")
        return (201, 204) if got == 0 else (got, got)

    check_rows(world, call, want)
