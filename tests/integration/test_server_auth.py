"""Who may see what: API keys, JWTs (HS256 and RS256), per-job stream tokens, admins, the
submit rate limit, and `jobwire serve` refusing to expose an unauthenticated server."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
import websockets
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from websockets.exceptions import ConnectionClosed

from jobwire import App

from .server_util import free_port, make_app, running_server, ws_url

ROOT = Path(__file__).resolve().parents[2]
JWT_SECRET = "a-test-jwt-secret-that-is-long-enough-for-hs256"
STREAM_SECRET = "a-test-stream-secret-that-is-long-enough-too"
FINAL = {"succeeded", "failed", "cancelled"}


@dataclass
class World:
    base: str
    app: App
    alice: str  # API keys
    bob: str
    admin: str
    carol: str  # made by the CLI
    running: str  # alice's spin job
    done: str  # alice's finished job
    bobs: str  # bob's finished job
    running_token: str  # alice's stream token for `running`


def bearer(credential: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {credential}"}


def user_jwt(sub: str | None = "dave", *, secret: str = JWT_SECRET, **claims: Any) -> str:
    now = int(time.time())
    body: dict[str, Any] = {"iat": now, "exp": now + 600, **claims}
    if sub is not None:
        body["sub"] = sub
    return jwt.encode(body, secret, algorithm="HS256")


def stream_jwt(job_id: str, *, secret: str = STREAM_SECRET, exp_in: int = 600) -> str:
    now = int(time.time())
    claims = {"sub": "alice", "job": job_id, "aud": "jobwire-stream", "iat": now}
    return jwt.encode({**claims, "exp": now + exp_in}, secret, algorithm="HS256")


def wait_final(base: str, job_id: str, headers: dict[str, str]) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        snap: dict[str, Any] = httpx.get(f"{base}/api/jobs/{job_id}", headers=headers).json()
        if snap["status"] in FINAL:
            return snap
        time.sleep(0.05)
    raise AssertionError(f"{job_id} did not finish")


def cli_key(database_url: str, *args: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "jobwire", "keys", "create", "--database", database_url, *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    secret = done.stdout.strip().splitlines()[-1]
    assert secret.startswith("jw_"), done.stdout
    return secret


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("auth")
    app = make_app(tmp)
    app.store.upgrade()
    store: Any = app.store
    _, alice = store.keys.create_key("alice")
    _, bob = store.keys.create_key("bob")
    _, admin = store.keys.create_key("root", roles=["admin"])
    carol = cli_key(app.settings.database_url, "--user", "carol")
    try:
        with running_server(
            app, auth="token", jwt_secret=JWT_SECRET, secret_key=STREAM_SECRET
        ) as base:
            r = httpx.post(
                f"{base}/api/tasks/spin/jobs", json={"seconds": 60}, headers=bearer(alice)
            )
            assert r.status_code == 202, r.text
            running, running_token = r.json()["id"], r.json()["stream_token"]
            r = httpx.post(f"{base}/api/tasks/count/jobs", json={"n": 3}, headers=bearer(alice))
            done = r.json()["id"]
            r = httpx.post(f"{base}/api/tasks/count/jobs", json={"n": 3}, headers=bearer(bob))
            bobs = r.json()["id"]
            wait_final(base, done, bearer(alice))
            wait_final(base, bobs, bearer(bob))
            yield World(base, app, alice, bob, admin, carol, running, done, bobs, running_token)
            httpx.post(f"{base}/api/jobs/{running}/cancel", headers=bearer(alice))
            wait_final(base, running, bearer(alice))
    finally:
        app.close()


# -- helpers for the three kinds of stream --------------------------------------------------------


def ws_outcome(url: str, headers: dict[str, str] | None = None) -> tuple[list[Any], int | None]:
    """The messages a /ws/jobs socket sends before it closes (or the first one, if it stays
    open), and its close code (None while open)."""

    async def go() -> tuple[list[Any], int | None]:
        async with websockets.connect(url, additional_headers=headers or {}) as ws:
            out: list[Any] = []
            try:
                while True:
                    msg = json.loads(await asyncio.wait_for(ws.recv(), 10))
                    if msg["type"] == "ping":
                        continue
                    out.append(msg)
                    if msg["type"] == "connected":
                        return out, None
            except ConnectionClosed as exc:
                return out, exc.rcvd.code if exc.rcvd else None

    result: tuple[list[Any], int | None] = asyncio.run(go())
    return result


def ws_subscribe(
    base: str, job_id: str, headers: dict[str, str], kind: str = "subscribe"
) -> dict[str, Any]:
    """The first answer of /ws to a subscribe (or a cancel) message."""

    async def go() -> dict[str, Any]:
        async with websockets.connect(ws_url(base, "/ws"), additional_headers=headers) as ws:
            await ws.send(json.dumps({"type": kind, "job_id": job_id}))
            while True:
                msg: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), 10))
                if msg["type"] != "ping":
                    return msg

    result: dict[str, Any] = asyncio.run(go())
    return result


def sse_status(url: str, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    """Status and (for an error) the JSON body of an SSE request; a 200 stream is closed
    after its first event."""
    with (
        httpx.Client(timeout=15) as client,
        client.stream("GET", url, headers=headers) as response,
    ):
        if response.status_code != 200:
            response.read()
            return response.status_code, response.json()
        for line in response.iter_lines():
            if line.startswith("data:"):
                return 200, json.loads(line[5:])
    raise AssertionError("the stream ended without an event")


def assert_error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, (response.status_code, response.text)
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code, body


# -- another user's job: 404 on every path --------------------------------------------------------


@pytest.mark.parametrize("as_jwt", [False, True], ids=["api-key", "jwt"])
def test_another_users_job_is_not_found_on_every_endpoint(world: World, as_jwt: bool) -> None:
    base = world.base
    headers = bearer(user_jwt("bob")) if as_jwt else bearer(world.bob)
    for job_id in (world.running, world.done):
        job = f"{base}/api/jobs/{job_id}"
        assert_error(httpx.get(job, headers=headers), 404, "job_not_found")
        assert_error(httpx.get(f"{job}?wait=1", headers=headers), 404, "job_not_found")
        inm = {**headers, "If-None-Match": f'"{job_id}.1"'}
        assert_error(httpx.get(job, headers=inm), 404, "job_not_found")
        assert_error(httpx.get(f"{job}?wait=1", headers=inm), 404, "job_not_found")
        assert_error(httpx.get(f"{job}/result", headers=headers), 404, "job_not_found")
        assert_error(httpx.post(f"{job}/cancel", headers=headers), 404, "job_not_found")
        assert_error(httpx.delete(job, headers=headers), 404, "job_not_found")
        assert_error(httpx.get(f"{job}/token", headers=headers), 404, "job_not_found")
        status, body = sse_status(f"{job}/events", headers)
        assert (status, body["error"]["code"]) == (404, "job_not_found")
        messages, code = ws_outcome(ws_url(base, f"/ws/jobs/{job_id}"), headers)
        assert code == 4404
        assert messages[0]["error"]["code"] == "job_not_found"
        error = ws_subscribe(base, job_id, headers)
        assert error["type"] == "error"
        assert error["job_id"] == job_id
        assert error["error"]["code"] == "job_not_found"
        error = ws_subscribe(base, job_id, headers, kind="cancel")
        assert (error["type"], error["job_id"]) == ("error", job_id)
        assert error["error"]["code"] == "job_not_found"
    # ...and nothing happened to them.
    owner = bearer(world.alice)
    assert httpx.get(f"{base}/api/jobs/{world.running}", headers=owner).json()["status"] in {
        "queued",
        "running",
    }
    assert httpx.get(f"{base}/api/jobs/{world.done}/result", headers=owner).json() == 3


def test_the_owner_sees_their_job_everywhere(world: World) -> None:
    base, headers = world.base, bearer(world.alice)
    job = f"{base}/api/jobs/{world.done}"
    r = httpx.get(job, headers=headers)
    assert r.status_code == 200
    assert (
        httpx.get(job, headers={**headers, "If-None-Match": r.headers["etag"]}).status_code == 304
    )
    assert httpx.get(f"{job}/token", headers=headers).json()["token"]
    assert sse_status(f"{job}/events", headers)[1]["type"] == "completed"
    messages, code = ws_outcome(ws_url(base, f"/ws/jobs/{world.done}"), headers)
    assert (messages[0]["type"], code) == ("completed", 1000)
    assert ws_subscribe(base, world.done, headers)["type"] == "completed"


def test_list_shows_only_the_users_own_jobs(world: World) -> None:
    base = world.base

    def listed(credential: str, **params: Any) -> list[dict[str, Any]]:
        r = httpx.get(f"{base}/api/jobs", params=params, headers=bearer(credential))
        assert r.status_code == 200, r.text
        jobs: list[dict[str, Any]] = r.json()["jobs"]
        return jobs

    bobs = listed(world.bob)
    assert world.bobs in {j["id"] for j in bobs}
    assert {j["owner"] for j in bobs} == {"bob"}
    # A user cannot widen the list with ?owner=
    assert {j["owner"] for j in listed(world.bob, owner="alice")} == {"bob"}
    alices = listed(world.alice)
    assert {world.running, world.done} <= {j["id"] for j in alices}
    assert {j["owner"] for j in alices} == {"alice"}
    assert listed(world.carol) == []
    assert listed(user_jwt("dave")) == []


# -- admins ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("as_jwt", [False, True], ids=["api-key-role", "jwt-roles-claim"])
def test_admins_see_every_job(world: World, as_jwt: bool) -> None:
    base = world.base
    headers = bearer(user_jwt("eve", roles=["admin"])) if as_jwt else bearer(world.admin)
    everyone = httpx.get(f"{base}/api/jobs", headers=headers).json()["jobs"]
    assert {world.running, world.done, world.bobs} <= {j["id"] for j in everyone}
    r = httpx.get(f"{base}/api/jobs", params={"owner": "bob"}, headers=headers)
    assert world.bobs in {j["id"] for j in r.json()["jobs"]}
    assert {j["owner"] for j in r.json()["jobs"]} == {"bob"}
    assert httpx.get(f"{base}/api/jobs/{world.bobs}", headers=headers).json()["owner"] == "bob"
    assert httpx.get(f"{base}/api/jobs/{world.done}/result", headers=headers).json() == 3
    assert httpx.get(f"{base}/api/jobs/{world.done}/token", headers=headers).status_code == 200
    assert sse_status(f"{base}/api/jobs/{world.bobs}/events", headers)[0] == 200
    messages, code = ws_outcome(ws_url(base, f"/ws/jobs/{world.bobs}"), headers)
    assert (messages[0]["type"], code) == ("completed", 1000)
    assert ws_subscribe(base, world.bobs, headers)["type"] == "completed"


def test_a_non_admin_jwt_role_sees_only_its_own(world: World) -> None:
    headers = bearer(user_jwt("bob", roles=["viewer"], teams=["t"]))
    assert httpx.get(f"{world.base}/api/jobs/{world.done}", headers=headers).status_code == 404


# -- stream tokens --------------------------------------------------------------------------------


def test_a_stream_token_reads_and_cancels_its_one_job(world: World, tmp_path: Path) -> None:
    base = world.base
    # A job of its own, so cancelling does not disturb the other tests.
    r = httpx.post(f"{base}/api/tasks/spin/jobs", json={"seconds": 30}, headers=bearer(world.bob))
    job_id, token = r.json()["id"], r.json()["stream_token"]
    assert r.json()["links"]["events"] == f"/api/jobs/{job_id}/events"
    q = {"token": token}
    job = f"{base}/api/jobs/{job_id}"

    assert httpx.get(job, params=q).json()["id"] == job_id  # no Authorization header
    assert sse_status(f"{job}/events?token={token}")[1]["type"] == "connected"
    messages, code = ws_outcome(ws_url(base, f"/ws/jobs/{job_id}?token={token}"))
    assert (messages[0]["type"], code) == ("connected", None)
    # not list, not submit, not delete
    assert_error(httpx.get(f"{base}/api/jobs", params=q), 403, "forbidden")
    r = httpx.post(f"{base}/api/tasks/count/jobs", params=q, json={"n": 1})
    assert_error(r, 403, "forbidden")
    assert_error(httpx.delete(job, params=q), 403, "forbidden")
    # nor mint a fresh token for itself (it would never expire)
    assert_error(httpx.get(f"{job}/token", params=q), 403, "forbidden")
    # a token minted by the owner works too
    fresh = httpx.get(f"{job}/token", headers=bearer(world.bob)).json()["token"]
    assert httpx.get(job, params={"token": fresh}).status_code == 200
    # cancel
    r = httpx.post(f"{job}/cancel", params=q)
    assert r.status_code == 202, r.text
    final = wait_final(base, job_id, bearer(world.bob))
    assert final["status"] == "cancelled"


def test_a_stream_token_for_one_job_does_not_open_another(world: World) -> None:
    base, token = world.base, world.running_token  # alice's token for `running`
    for other in (world.done, world.bobs):
        job = f"{base}/api/jobs/{other}"
        q = {"token": token}
        assert_error(httpx.get(job, params=q), 404, "job_not_found")
        assert_error(httpx.get(f"{job}/result", params=q), 404, "job_not_found")
        assert_error(httpx.post(f"{job}/cancel", params=q), 404, "job_not_found")
        assert_error(httpx.get(f"{job}/token", params=q), 404, "job_not_found")
        assert sse_status(f"{job}/events?token={token}")[0] == 404
        messages, code = ws_outcome(ws_url(base, f"/ws/jobs/{other}?token={token}"))
        assert code == 4404
        assert messages[0]["error"]["code"] == "job_not_found"

        async def go(job_id: str = other) -> dict[str, Any]:
            async with websockets.connect(ws_url(base, f"/ws?token={token}")) as ws:
                await ws.send(json.dumps({"type": "subscribe", "job_id": job_id}))
                msg: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), 10))
                return msg

        error = asyncio.run(go())
        assert (error["type"], error["error"]["code"]) == ("error", "job_not_found")


# -- bad credentials: 401 / 4401 ------------------------------------------------------------------


def rsa_pair() -> tuple[Any, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return key, public.decode()


BAD_BEARERS = {
    "missing": None,
    "not-bearer": "Basic YWxpY2U6cHc=",
    "empty-bearer": "Bearer",
    "unknown-api-key": "Bearer jw_0000_nope",
    "expired-jwt": f"Bearer {user_jwt('alice', exp=int(time.time()) - 60)}",
    "forged-jwt": f"Bearer {user_jwt('alice', secret='not-the-secret-but-long-enough-1234')}",
    "jwt-without-sub": f"Bearer {user_jwt(None)}",
    "jwt-roles-not-a-list": f"Bearer {user_jwt('alice', roles='admin')}",
    "alg-none": "Bearer "
    + jwt.encode({"sub": "alice", "roles": ["admin"]}, None, algorithm="none"),  # type: ignore[arg-type]
    "garbage": "Bearer not.a.jwt",
}


@pytest.mark.parametrize("authorization", list(BAD_BEARERS.values()), ids=list(BAD_BEARERS))
def test_bad_credentials_are_401_everywhere(world: World, authorization: str | None) -> None:
    base = world.base
    headers = {"Authorization": authorization} if authorization else {}
    job = f"{base}/api/jobs/{world.done}"
    for method, url in [
        ("GET", f"{base}/api/tasks"),
        ("GET", f"{base}/api/jobs"),
        ("GET", f"{base}/api/stats"),
        ("POST", f"{base}/api/tasks/count/jobs"),
        ("GET", job),
        ("GET", f"{job}/result"),
        ("GET", f"{job}/token"),
        ("POST", f"{job}/cancel"),
        ("DELETE", job),
    ]:
        r = httpx.request(method, url, headers=headers, json={} if method == "POST" else None)
        assert_error(r, 401, "unauthorized")
        assert r.headers["www-authenticate"] == "Bearer"
    assert sse_status(f"{job}/events", headers)[0] == 401
    messages, code = ws_outcome(ws_url(base, f"/ws/jobs/{world.done}"), headers)
    assert code == 4401
    assert messages[0]["error"]["code"] == "unauthorized"
    _, code = ws_outcome(ws_url(base, "/ws"), headers)
    assert code == 4401


@pytest.mark.parametrize("kind", ["expired", "forged", "user-jwt", "garbage"])
def test_bad_stream_tokens_are_401(world: World, kind: str) -> None:
    base, job_id = world.base, world.running
    token = {
        "expired": stream_jwt(job_id, exp_in=-60),
        "forged": stream_jwt(job_id, secret="not-the-stream-secret-but-long-enough"),
        "user-jwt": user_jwt("alice"),  # a user's JWT is not a stream token
        "garbage": "x.y.z",
    }[kind]
    job = f"{base}/api/jobs/{job_id}"
    q = {"token": token}
    assert_error(httpx.get(job, params=q), 401, "unauthorized")
    assert_error(httpx.post(f"{job}/cancel", params=q), 401, "unauthorized")
    assert sse_status(f"{job}/events?token={token}")[0] == 401
    _, code = ws_outcome(ws_url(base, f"/ws/jobs/{job_id}?token={token}"))
    assert code == 4401
    # A bad token is refused even next to a good Authorization header.
    assert httpx.get(job, params=q, headers=bearer(world.alice)).status_code == 401


def test_a_valid_stream_token_signed_by_the_server_secret_is_accepted(world: World) -> None:
    token = stream_jwt(world.running)
    assert httpx.get(f"{world.base}/api/jobs/{world.running}", params={"token": token}).is_success


def test_a_stream_token_is_not_a_bearer_credential(world: World) -> None:
    r = httpx.get(f"{world.base}/api/jobs", headers=bearer(world.running_token))
    assert_error(r, 401, "unauthorized")


def test_a_cli_made_key_works_and_health_needs_no_credentials(world: World) -> None:
    assert httpx.get(f"{world.base}/api/health").json()["status"] == "ok"
    assert httpx.get(f"{world.base}/api/tasks", headers=bearer(world.carol)).status_code == 200


# -- RS256 ----------------------------------------------------------------------------------------


def test_rs256_jwts(tmp_path: Path) -> None:
    private, public = rsa_pair()
    other, _ = rsa_pair()
    pem_file = tmp_path / "public.pem"
    pem_file.write_text(public)
    now = int(time.time())
    claims = {"sub": "alice", "iat": now, "exp": now + 600}
    good = jwt.encode(claims, private, algorithm="RS256")
    admin = jwt.encode({**claims, "sub": "ops", "roles": ["admin"]}, private, algorithm="RS256")
    wrong_key = jwt.encode(claims, other, algorithm="RS256")
    expired = jwt.encode({**claims, "exp": now - 60}, private, algorithm="RS256")
    hs256 = jwt.encode(claims, JWT_SECRET, algorithm="HS256")
    for i, key_setting in enumerate((public, str(pem_file))):  # PEM text or a path to it
        (tmp_path / str(i)).mkdir()
        app = make_app(tmp_path / str(i))
        try:
            with running_server(app, auth="token", jwt_public_key=key_setting) as base:
                r = httpx.post(f"{base}/api/tasks/count/jobs", json={"n": 2}, headers=bearer(good))
                assert r.status_code == 202, r.text
                assert r.json()["owner"] == "alice"
                job_id = r.json()["id"]
                assert httpx.get(f"{base}/api/jobs/{job_id}", headers=bearer(good)).is_success
                listed = httpx.get(f"{base}/api/jobs", headers=bearer(admin)).json()["jobs"]
                assert [j["id"] for j in listed] == [job_id]
                for bad in (wrong_key, expired, hs256):
                    assert_error(
                        httpx.get(f"{base}/api/jobs", headers=bearer(bad)), 401, "unauthorized"
                    )
                # The stream token still works (it is signed by the server's own secret).
                token = r.json()["stream_token"]
                assert httpx.get(f"{base}/api/jobs/{job_id}", params={"token": token}).is_success
        finally:
            app.close()


# -- rate limit -----------------------------------------------------------------------------------


def test_submit_rate_limit_answers_429_with_retry_after(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    try:
        with running_server(app, submit_rate=1, submit_burst=2) as base:
            url = f"{base}/api/tasks/count/jobs"
            with httpx.Client() as client:
                codes = [client.post(url, json={"n": 1}).status_code for _ in range(2)]
                assert codes == [202, 202]
                r = client.post(url, json={"n": 1})
                assert_error(r, 429, "rate_limited")
                assert int(r.headers["retry-after"]) >= 1
                # An unknown task is 404 and spends nothing.
                assert client.post(f"{base}/api/tasks/nope/jobs", json={}).status_code == 404
                time.sleep(float(r.headers["retry-after"]))
                assert client.post(url, json={"n": 1}).status_code == 202
    finally:
        app.close()


# -- jobwire serve --------------------------------------------------------------------------------


def serve_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOBWIRE_")}
    env.update(
        JOBWIRE_DATABASE_URL=f"sqlite:///{tmp_path}/serve.db",
        PYTHONPATH=str(ROOT),
        COLUMNS="200",
    )
    return env


def test_serve_refuses_a_public_address_without_auth(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "jobwire", "serve", "tests.apps.sample:app", "--host", "0.0.0.0"],
        env=serve_env(tmp_path),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "refusing to serve without authentication" in done.stderr
    assert "--insecure" in done.stderr
    assert not (tmp_path / "serve.db").exists(), "nothing should have started"


def test_serve_insecure_starts_on_a_public_address(tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "jobwire", "serve", "tests.apps.sample:app"),
            *("--host", "0.0.0.0", "--port", str(port), "--insecure", "--no-workers"),
        ],
        env=serve_env(tmp_path),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, proc.communicate()[0]
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=1).is_success:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "jobwire serve did not start"
            time.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            out, _ = proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
    # uvicorn shuts down cleanly, then re-raises the signal it caught.
    assert proc.returncode in (0, -signal.SIGTERM), out
    assert "Application shutdown complete" in out


# -- dedupe across users --------------------------------------------------------------------------


def test_a_dedupe_answer_does_not_hand_over_another_users_job(world: World) -> None:
    """Dedupe keys are per owner by default: bob gets his own job, never alice's."""
    base = world.base
    url = f"{base}/api/tasks/report/jobs"
    mine = httpx.post(url, json={"dataset": "d1", "seconds": 5}, headers=bearer(world.alice))
    assert mine.status_code == 202, mine.text
    again = httpx.post(url, json={"dataset": "d1", "seconds": 5}, headers=bearer(world.alice))
    theirs = httpx.post(url, json={"dataset": "d1", "seconds": 5}, headers=bearer(world.bob))
    try:
        assert again.status_code == 200 and again.json()["id"] == mine.json()["id"]
        assert theirs.status_code == 202, theirs.text
        assert theirs.json()["id"] != mine.json()["id"]
        assert theirs.json()["owner"] == "bob"
    finally:
        for job in (mine, theirs):
            httpx.post(
                f"{base}/api/jobs/{job.json()['id']}/cancel",
                headers=bearer(world.alice if job is mine else world.bob),
            )


def test_a_shared_dedupe_key_answers_409_to_another_user(world: World) -> None:
    """With dedupe_scope="shared" a second user learns a job exists, never which one."""
    base = world.base
    url = f"{base}/api/tasks/shared_report/jobs"
    mine = httpx.post(url, json={"dataset": "d9", "seconds": 5}, headers=bearer(world.alice))
    assert mine.status_code == 202, mine.text
    try:
        theirs = httpx.post(url, json={"dataset": "d9", "seconds": 5}, headers=bearer(world.bob))
        assert theirs.status_code == 409, theirs.text
        error = theirs.json()["error"]
        assert error["code"] == "duplicate_job"
        assert mine.json()["id"] not in theirs.text
    finally:
        httpx.post(f"{base}/api/jobs/{mine.json()['id']}/cancel", headers=bearer(world.alice))


def test_a_current_etag_from_another_user_is_still_404(world: World) -> None:
    """The 304 fast path checks ownership too: a matching ETag must not reveal the job."""
    base = world.base
    job = httpx.post(
        f"{base}/api/tasks/report/jobs",
        json={"dataset": "etag", "seconds": 0.1},
        headers=bearer(world.alice),
    ).json()
    url = f"{base}/api/jobs/{job['id']}"
    deadline = time.monotonic() + 20
    while (mine := httpx.get(url, headers=bearer(world.alice))).json()["status"] != "succeeded":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    tag = mine.headers["etag"]
    owner = httpx.get(url, headers={**bearer(world.alice), "If-None-Match": tag})
    assert owner.status_code == 304
    for who in (world.bob, None):
        headers = {"If-None-Match": tag, **(bearer(who) if who else {})}
        other = httpx.get(url, headers=headers)
        assert other.status_code == (404 if who else 401), other.text
        assert other.json()["error"]["code"] in ("job_not_found", "unauthorized")
