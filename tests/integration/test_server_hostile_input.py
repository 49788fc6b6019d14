"""Input meant to break the server, through a real one: NUL characters in ids and query
parameters (on SQLite and PostgreSQL, where they used to answer 500), JSON nested deep enough
to exhaust the parser, lone surrogates, NaN, bodies that are not sent as JSON, and the same
over WebSockets. Every answer is a 4xx in the one JSON error shape (or, on a WebSocket, an
``error`` message), and nothing that bad input reaches is left broken."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from websockets.asyncio.client import ClientConnection

from jobwire import App, hooks

from .server_util import make_app, running_server, until_closed, ws_url

MAX_BODY = 100_000
DEEP_ARRAYS = "[" * 10_000 + "]" * 10_000
DEEP_OBJECTS = '{"a":' * 2_000 + "1" + "}" * 2_000
FINAL = {"succeeded", "failed", "cancelled"}


def strict_json(text: str) -> Any:
    """JSON.parse's reading: no NaN or Infinity."""

    def refuse(constant: str) -> Any:
        raise AssertionError(f"{constant} in an answer: {text[:200]}")

    return json.loads(text, parse_constant=refuse)


def assert_error(r: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, (r.request.method, r.request.url, r.status_code, r.text)
    assert r.headers["content-type"].startswith("application/json"), r.text
    body: dict[str, Any] = strict_json(r.text)
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "details"}, body
    assert body["error"]["code"] == code, body
    assert body["error"]["message"], body
    return body["error"]


def wait_final(base: str, job_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        snap: dict[str, Any] = httpx.get(f"{base}/api/jobs/{job_id}").json()
        if snap["status"] in FINAL:
            return snap
        time.sleep(0.05)
    raise AssertionError(f"{job_id} did not finish")


def submit(base: str, task: str, **args: Any) -> str:
    r = httpx.post(f"{base}/api/tasks/{task}/jobs", json=args)
    assert r.status_code == 202, r.text
    job_id: str = r.json()["id"]
    return job_id


def run(coro: Any, timeout: float = 30.0) -> Any:
    return asyncio.run(asyncio.wait_for(coro, timeout))


async def next_message(ws: ClientConnection) -> dict[str, Any]:
    """The next message that is not a ping."""
    while True:
        msg: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), 15))
        if msg["type"] != "ping":
            return msg


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, App]]:
    app = make_app(tmp_path_factory.mktemp("hostile"))
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


# -- NUL and control characters in ids and query parameters, on both stores ------------------------


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> str:
    url: str = request.getfixturevalue(f"{request.param}_url")
    return url


BAD_IDS = ["a%00b", "%00", "a%01b", "a%0Ab", "a%7Fb"]


def test_nul_in_ids_and_query_parameters_is_a_4xx_on_every_store(
    tmp_path: Path, database_url: str
) -> None:
    app = make_app(tmp_path, database_url)
    try:
        with running_server(app) as base:
            done = submit(base, "count", n=1)
            wait_final(base, done)
            for bad in BAD_IDS:
                job = f"{base}/api/jobs/{bad}"
                for r in (
                    httpx.get(job),
                    httpx.get(job, params={"wait": 0.1}, headers={"If-None-Match": '"x.1"'}),
                    httpx.get(f"{job}/events"),
                    httpx.get(f"{job}/result"),
                    httpx.get(f"{job}/token"),
                    httpx.post(f"{job}/cancel"),
                    httpx.delete(job),
                ):
                    assert_error(r, 404, "job_not_found")
            # Query parameters: 400, whichever the parameter (and before any lookup).
            for query in (
                "task=a%00",
                "owner=a%00b",
                "cursor=1.5~a%00b",
                "status=queued&task=%00",
            ):
                error = assert_error(httpx.get(f"{base}/api/jobs?{query}"), 400, "bad_request")
                assert "NUL" in error["message"]
            assert_error(httpx.get(f"{base}/api/jobs/{done}?x=%00"), 400, "bad_request")
            assert_error(httpx.get(f"{base}/api/jobs/{done}/events?x=%00"), 400, "bad_request")
            # A webhook for such an id: unsigned 401; signed (the server's own signature) 404.
            sig = hooks.sign(app.secret, "a\x00b")
            assert_error(httpx.post(f"{base}/api/hooks/a%00b", json={}), 401, "unauthorized")
            r = httpx.post(f"{base}/api/hooks/a%00b", params={"sig": sig}, json={})
            assert_error(r, 404, "job_not_found")

            async def websockets_() -> None:
                for bad in BAD_IDS:
                    url = ws_url(base, f"/ws/jobs/{bad}")
                    async with websockets.connect(url) as ws:
                        messages = await until_closed(ws)
                    assert [m["error"]["code"] for m in messages] == ["job_not_found"]
                    assert ws.close_code == 4404
                async with websockets.connect(ws_url(base, "/ws")) as ws:
                    for bad_id in ("a\x00b", "\x00", "a\x01b"):
                        await ws.send(json.dumps({"type": "subscribe", "job_id": bad_id}))
                        msg = await next_message(ws)
                        assert (msg["type"], msg["error"]["code"]) == ("error", "job_not_found")
                        await ws.send(json.dumps({"type": "cancel", "job_id": bad_id}))
                        msg = await next_message(ws)
                        assert (msg["type"], msg["error"]["code"]) == ("error", "job_not_found")
                    # the socket still works
                    await ws.send(json.dumps({"type": "subscribe", "job_id": done}))
                    assert (await next_message(ws))["type"] == "completed"

            run(websockets_())
    finally:
        app.close()


def test_the_store_treats_an_id_with_nul_as_unknown(tmp_path: Path, database_url: str) -> None:
    from jobwire.errors import InvalidCursor, JobNotFound

    app = make_app(tmp_path, database_url)
    store: Any = app.store
    try:
        job = app.submit("count", {"n": 1})
        bad = job.id + "\x00"
        assert store.get(bad) is None
        assert store.events(bad) == []
        assert store.result(bad) is None
        for call in (store.cancel, store.delete, lambda i: store.add_hook(i, "k", "{}")):
            with pytest.raises(JobNotFound):
                call(bad)
        with pytest.raises(InvalidCursor):
            store.list(cursor=f"{job.record.created_at!r}~a\x00b")
        # the job itself is untouched
        assert store.get(job.id).status.value == "queued"
    finally:
        app.close()


# -- request bodies --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "what"),
    [
        (DEEP_ARRAYS, "nested"),
        (DEEP_OBJECTS, "nested"),
        ("[" * 65 + "]" * 65, "nested"),  # parses, but deeper than any payload needs
        ('{"x":"\\ud800"}', "surrogate"),
        ('{"x":["a","\\udfff"]}', "surrogate"),
        ('{"number": NaN}', "NaN"),
        ('{"number": Infinity}', "Infinity"),
        ("[-Infinity]", "Infinity"),
        ("{nope", "JSON"),
    ],
)
def test_a_hook_body_that_is_not_storable_json_is_400(
    served: tuple[str, App], body: str, what: str
) -> None:
    base, app = served
    job_id = submit(base, "nap", seconds=30)
    sig = hooks.sign(app.secret, job_id)
    r = httpx.post(
        f"{base}/api/hooks/{job_id}",
        params={"sig": sig},
        content=body.encode(),
        headers={"content-type": "application/json"},
    )
    error = assert_error(r, 400, "bad_request")
    assert what in error["message"]
    # nothing was recorded: the good delivery is the first
    r = httpx.post(f"{base}/api/hooks/{job_id}", params={"sig": sig}, json={"ok": True})
    assert r.status_code == 202, r.text
    httpx.post(f"{base}/api/jobs/{job_id}/cancel")


@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded", "json"],
)
def test_a_submit_body_not_sent_as_json_is_415(base: str, content_type: str | None) -> None:
    headers = {"content-type": content_type} if content_type else {}
    r = httpx.post(f"{base}/api/tasks/count/jobs", content=b'{"n": 1}', headers=headers)
    error = assert_error(r, 415, "unsupported_media_type")
    assert "Content-Type: application/json" in error["message"]


@pytest.mark.parametrize(
    "content_type", ["application/json", "application/json; charset=utf-8", "application/x+json"]
)
def test_a_submit_body_sent_as_json_is_read(base: str, content_type: str) -> None:
    r = httpx.post(
        f"{base}/api/tasks/count/jobs", content=b'{"n": 1}', headers={"content-type": content_type}
    )
    assert r.status_code == 202, r.text
    # and an empty body, whatever its type, means no arguments
    r = httpx.post(f"{base}/api/tasks/count/jobs", headers={"content-type": "text/plain"})
    assert r.status_code == 202, r.text


@pytest.mark.parametrize(
    "body", [DEEP_ARRAYS, DEEP_OBJECTS, '{"n": ' + "[" * 100 + "]" * 100 + "}", "{nope"]
)
def test_a_submit_body_too_deep_or_not_json_is_400(base: str, body: str) -> None:
    r = httpx.post(
        f"{base}/api/tasks/count/jobs",
        content=body.encode(),
        headers={"content-type": "application/json"},
    )
    assert_error(r, 400, "bad_request")


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_or_infinity_in_a_submit_body_is_422(base: str, constant: str) -> None:
    r = httpx.post(
        f"{base}/api/tasks/count/jobs",
        content=f'{{"n": 1, "delay": {constant}}}'.encode(),
        headers={"content-type": "application/json"},
    )
    error = assert_error(r, 422, "invalid_arguments")
    assert constant in error["message"]


@pytest.mark.parametrize("body", ["null", "[1]", '"n"', "3"])
def test_a_submit_body_that_is_not_an_object_is_422(base: str, body: str) -> None:
    r = httpx.post(
        f"{base}/api/tasks/count/jobs",
        content=body.encode(),
        headers={"content-type": "application/json"},
    )
    error = assert_error(r, 422, "validation_error")
    assert error["details"]["errors"][0]["loc"] == ["body"]


@pytest.mark.parametrize(
    ("args", "loc"),
    [({"n": "5"}, "n"), ({"n": True}, "n"), ({"n": 1, "delay": "0.5"}, "delay")],
)
def test_submit_arguments_have_exactly_their_json_types(
    base: str, args: dict[str, Any], loc: str
) -> None:
    # Python callers get "5" converted; over HTTP the schema published is the contract.
    r = httpx.post(f"{base}/api/tasks/count/jobs", json=args)
    error = assert_error(r, 422, "invalid_arguments")
    assert [e["loc"] for e in error["details"]["errors"]] == [[loc]]


def test_an_unexpected_error_answers_a_json_500_and_is_logged(
    served: tuple[str, App], caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    base, app = served

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a bug in the store")

    monkeypatch.setattr(app.store, "counts", broken)
    with caplog.at_level(logging.ERROR, logger="jobwire.server.errors"):
        r = httpx.get(f"{base}/api/stats")
    error = assert_error(r, 500, "internal_error")
    assert "a bug" not in error["message"]  # the details stay in the log
    logged = [rec for rec in caplog.records if rec.name == "jobwire.server.errors"]
    assert logged and logged[0].exc_info is not None
    assert "/api/stats" in logged[0].getMessage()


# -- WebSocket messages ---------------------------------------------------------------------------

BAD_MESSAGES = {
    "deep arrays": (DEEP_ARRAYS, "nested too deeply"),
    "deep objects": (DEEP_OBJECTS, "nested too deeply"),
    "not json": ("not json", "Expected a JSON message"),
    "nan": ('{"type": "cancel", "job_id": NaN}', "NaN"),
    "array": ("[1, 2]", "Unknown message"),
    "huge": ('{"type": "pong", "pad": "' + "x" * MAX_BODY + '"}', "larger than"),
    "binary": (b"\xff\x00binary", "Expected a JSON message"),
}


@pytest.mark.parametrize("path", ["/ws/jobs/{job}", "/ws"])
def test_bad_websocket_messages_answer_errors_and_the_stream_goes_on(base: str, path: str) -> None:
    job_id = submit(base, "spin", seconds=30)

    async def go() -> tuple[list[dict[str, Any]], list[dict[str, Any]], int | None]:
        async with websockets.connect(ws_url(base, path.replace("{job}", job_id))) as ws:
            if path == "/ws":
                await ws.send(json.dumps({"type": "subscribe", "job_id": job_id}))
            assert (await next_message(ws))["type"] == "connected"
            errors = []
            for raw, _ in BAD_MESSAGES.values():
                await ws.send(raw)
                msg = await next_message(ws)
                while msg["type"] != "error":  # the job's progress goes on meanwhile
                    msg = await next_message(ws)
                errors.append(msg)
            # still open, still streaming, still listening: cancel the job
            await ws.send(json.dumps({"type": "cancel", "job_id": job_id}))
            rest: list[dict[str, Any]] = []
            while not rest or rest[-1]["type"] != "cancelled":
                rest.append(await next_message(ws))
            if path != "/ws":
                rest += await until_closed(ws)
                await ws.wait_closed()
            return errors, rest, ws.close_code

    errors, rest, code = run(go())
    for (name, (_, says)), error in zip(BAD_MESSAGES.items(), errors, strict=True):
        assert error["error"]["code"] == "bad_request", (name, error)
        assert says in error["error"]["message"], (name, error)
    assert rest[-1]["type"] == "cancelled"
    if path != "/ws":
        assert code == 1000
