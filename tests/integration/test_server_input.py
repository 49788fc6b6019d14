"""Bad input on every endpoint answers a clear 4xx in the one JSON error shape.
(test_server_hostile_input.py has the input meant to break the server;
test_server_openapi.py runs schemathesis over the whole API.)"""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from jobwire import App

from .server_util import make_app, running_server

MAX_BODY = 1000
FINAL = {"succeeded", "failed", "cancelled"}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, App]]:
    app = make_app(tmp_path_factory.mktemp("input"))
    try:
        with running_server(
            app, max_body_bytes=MAX_BODY, submit_rate=1000, submit_burst=1000
        ) as base:
            yield base, app
    finally:
        app.close()


@pytest.fixture(scope="module")
def base(served: tuple[str, App]) -> str:
    return served[0]


@pytest.fixture(scope="module")
def done_job(base: str) -> str:
    job_id: str = httpx.post(f"{base}/api/tasks/count/jobs", json={"n": 2}).json()["id"]
    wait_final(base, job_id)
    return job_id


def wait_final(base: str, job_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        snap: dict[str, Any] = httpx.get(f"{base}/api/jobs/{job_id}").json()
        if snap["status"] in FINAL:
            return snap
        time.sleep(0.05)
    raise AssertionError(f"{job_id} did not finish")


def assert_error(r: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = r.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "details"}, body
    assert body["error"]["code"] == code, body
    assert isinstance(body["error"]["message"], str)
    assert body["error"]["message"]
    assert isinstance(body["error"]["details"], dict)
    return body["error"]


# -- bodies ---------------------------------------------------------------------------------------


def test_malformed_json_is_400(base: str) -> None:
    for raw in (b"{nope", b'{"n": 1', b"\xff\xfe", b'{"n": 1}}'):
        r = httpx.post(
            f"{base}/api/tasks/count/jobs",
            content=raw,
            headers={"content-type": "application/json"},
        )
        assert_error(r, 400, "bad_request")


@pytest.mark.parametrize("body", [[1, 2], 3, "text", True], ids=["array", "number", "str", "bool"])
def test_a_body_that_is_not_an_object_is_422(base: str, body: Any) -> None:
    error = assert_error(
        httpx.post(f"{base}/api/tasks/count/jobs", json=body), 422, "validation_error"
    )
    assert error["details"]["errors"][0]["loc"] == ["body"]


def test_wrong_typed_or_unknown_arguments_are_422_with_their_loc(base: str) -> None:
    r = httpx.post(f"{base}/api/tasks/count/jobs", json={"n": "many", "delay": 0})
    error = assert_error(r, 422, "invalid_arguments")
    assert [e["loc"] for e in error["details"]["errors"]] == [["n"]]
    assert "n" in error["message"]
    r = httpx.post(f"{base}/api/tasks/count/jobs", json={"n": 1.5, "zzz": 1})
    error = assert_error(r, 422, "invalid_arguments")
    assert sorted(e["loc"] for e in error["details"]["errors"]) == [["n"], ["zzz"]]
    assert all({"loc", "msg", "type"} <= set(e) for e in error["details"]["errors"])


def test_no_body_or_null_means_no_arguments(base: str) -> None:
    assert httpx.post(f"{base}/api/tasks/count/jobs", json={"n": 0}).status_code == 202
    r = httpx.post(f"{base}/api/tasks/count/jobs")
    assert r.status_code == 202, r.text
    assert r.headers["location"] == f"/api/jobs/{r.json()['id']}"


def test_a_body_over_the_limit_is_413(base: str) -> None:
    url = f"{base}/api/tasks/count/jobs"
    big = {"n": 1, "pad": "x" * (MAX_BODY * 2)}
    error = assert_error(httpx.post(url, json=big), 413, "payload_too_large")
    assert error["details"]["limit"] == MAX_BODY

    def chunks() -> Iterator[bytes]:  # chunked transfer: no Content-Length to refuse early
        yield b'{"n": 1, "pad": "'
        for _ in range(30):
            yield b"x" * 100
        yield b'"}'

    r = httpx.post(url, content=chunks(), headers={"content-type": "application/json"})
    assert "content-length" not in r.request.headers
    assert r.request.headers["transfer-encoding"] == "chunked"
    assert_error(r, 413, "payload_too_large")
    # Just under the limit, chunked: read and judged as usual.

    def small() -> Iterator[bytes]:
        yield b'{"n": 1, '
        yield b'"delay": 0}'

    r = httpx.post(url, content=small(), headers={"content-type": "application/json"})
    assert r.status_code == 202, r.text


# -- ids and names --------------------------------------------------------------------------------


@pytest.mark.parametrize("job_id", ["0" * 32, "nope", "x" * 200, "a%00b", "caf%C3%A9"])
def test_unknown_job_ids_are_404_everywhere(base: str, job_id: str) -> None:
    job = f"{base}/api/jobs/{job_id}"
    for r in (
        httpx.get(job),
        httpx.get(job, params={"wait": 0.1}, headers={"If-None-Match": '"x.1"'}),
        httpx.get(f"{job}/result"),
        httpx.get(f"{job}/token"),
        httpx.get(f"{job}/events"),
        httpx.post(f"{job}/cancel"),
        httpx.delete(job),
    ):
        assert_error(r, 404, "job_not_found")


def test_unknown_task_is_404(base: str) -> None:
    error = assert_error(httpx.post(f"{base}/api/tasks/nope/jobs", json={}), 404, "unknown_task")
    assert "count" in error["message"]  # it names the registered tasks


def test_conflicts_are_409(base: str, done_job: str) -> None:
    assert_error(httpx.post(f"{base}/api/jobs/{done_job}/cancel"), 409, "job_finished")
    spin = httpx.post(f"{base}/api/tasks/spin/jobs", json={"seconds": 10}).json()["id"]
    assert_error(httpx.delete(f"{base}/api/jobs/{spin}"), 409, "job_not_finished")
    assert_error(httpx.get(f"{base}/api/jobs/{spin}/result"), 409, "result_not_available")
    assert httpx.post(f"{base}/api/jobs/{spin}/cancel").status_code == 202
    wait_final(base, spin)
    assert_error(httpx.get(f"{base}/api/jobs/{spin}/result"), 409, "result_not_available")
    assert httpx.delete(f"{base}/api/jobs/{spin}").status_code == 204
    assert_error(httpx.get(f"{base}/api/jobs/{spin}"), 404, "job_not_found")


# -- headers and query parameters -----------------------------------------------------------------


@pytest.mark.parametrize("value", ["abc", "-3", "1.5", "0x10"])
def test_a_bad_last_event_id_is_400(base: str, done_job: str, value: str) -> None:
    r = httpx.get(f"{base}/api/jobs/{done_job}/events", headers={"Last-Event-ID": value})
    error = assert_error(r, 400, "bad_request")
    assert "Last-Event-ID" in error["message"]


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/api/jobs", {"limit": 0}),
        ("/api/jobs", {"limit": 501}),
        ("/api/jobs", {"limit": "ten"}),
        ("/api/jobs", {"status": "bogus"}),
        ("/api/jobs", {"status": ["queued", "bogus"]}),
        ("/api/jobs", {"task": "t" * 201}),
        ("{job}", {"wait": -1}),
        ("{job}", {"wait": 999}),
        ("{job}", {"wait": "soon"}),
        ("{job}", {"wait": "nan"}),
        ("{job}/events", {"after": -1}),
        ("{job}/events", {"after": "x"}),
    ],
)
def test_bad_query_parameters_are_422(
    base: str, done_job: str, path: str, params: dict[str, Any]
) -> None:
    url = base + path.replace("{job}", f"/api/jobs/{done_job}")
    error = assert_error(httpx.get(url, params=params), 422, "validation_error")
    name = next(iter(params))
    assert any(e["loc"][:2] == ["query", name] for e in error["details"]["errors"]), error


@pytest.mark.parametrize(
    "cursor",
    [
        "!!!",
        "abcd",
        base64.urlsafe_b64encode(b"no-separator").decode(),
        base64.urlsafe_b64encode(b"not-a-number|x").decode(),
        base64.urlsafe_b64encode(b"\xff\xfe|x").decode(),
    ],
)
def test_an_invalid_cursor_is_400(base: str, cursor: str) -> None:
    assert_error(httpx.get(f"{base}/api/jobs", params={"cursor": cursor}), 400, "invalid_cursor")


def test_a_real_cursor_pages(base: str) -> None:
    page = httpx.get(f"{base}/api/jobs", params={"limit": 1}).json()
    assert page["next_cursor"]
    nxt = httpx.get(f"{base}/api/jobs", params={"limit": 1, "cursor": page["next_cursor"]})
    assert nxt.status_code == 200
    assert nxt.json()["jobs"][0]["id"] != page["jobs"][0]["id"]


# -- routes and methods ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/nope", "/api/jobs/x/nope", "/nope", "/api"])
def test_unknown_routes_are_404_json(base: str, path: str) -> None:
    assert_error(httpx.get(base + path), 404, "not_found")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PUT", "/api/jobs/x"),
        ("POST", "/api/jobs"),
        ("GET", "/api/tasks/count/jobs"),
        ("DELETE", "/api/tasks"),
        ("PATCH", "/api/jobs/x/cancel"),
        ("POST", "/api/health"),
    ],
)
def test_wrong_methods_are_405_json(base: str, method: str, path: str) -> None:
    r = httpx.request(method, base + path)
    assert_error(r, 405, "method_not_allowed")
    assert r.headers["allow"]


def test_a_websocket_route_over_plain_http_is_a_json_error(base: str) -> None:
    r = httpx.get(f"{base}/ws")
    assert r.status_code in (404, 405, 426)
    assert r.headers["content-type"].startswith("application/json")


# -- WebSocket messages ---------------------------------------------------------------------------


def test_bad_websocket_input_answers_error_messages(base: str, done_job: str) -> None:
    import asyncio
    import json

    import websockets
    from websockets.exceptions import ConnectionClosed

    from .server_util import ws_url

    async def bad_after() -> tuple[dict[str, Any], int | None]:
        async with websockets.connect(ws_url(base, f"/ws/jobs/{done_job}?after=soon")) as ws:
            first = json.loads(await ws.recv())
            with pytest.raises(ConnectionClosed):
                await ws.recv()
            return first, ws.close_code

    first, code = asyncio.run(asyncio.wait_for(bad_after(), 30))
    assert (first["type"], first["error"]["code"], code) == ("error", "bad_request", 4400)

    async def bad_messages() -> list[dict[str, Any]]:
        answers: list[dict[str, Any]] = []
        async with websockets.connect(ws_url(base, "/ws")) as ws:
            for raw in ("not json", "[1, 2]", '{"type": "dance"}', '{"type": "subscribe"}'):
                await ws.send(raw)
                while True:
                    msg = json.loads(await asyncio.wait_for(ws.recv(), 15))
                    if msg["type"] != "ping":
                        answers.append(msg)
                        break
            await ws.send(b"\x00binary")
            msg = json.loads(await asyncio.wait_for(ws.recv(), 15))
            answers.append(msg)
            # still usable afterwards
            await ws.send(json.dumps({"type": "subscribe", "job_id": done_job}))
            answers.append(json.loads(await asyncio.wait_for(ws.recv(), 15)))
        return answers

    answers = asyncio.run(asyncio.wait_for(bad_messages(), 60))
    assert [a["type"] for a in answers[:-1]] == ["error"] * 5
    assert all(a["error"]["code"] == "bad_request" for a in answers[:-1])
    assert answers[-1]["type"] == "completed"
