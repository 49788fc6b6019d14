"""The server's live streams through real clients: WebSocket (websockets), Server-Sent Events
(httpx-sse) and polling (httpx), against uvicorn on a free port."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import websockets
from httpx_sse import aconnect_sse

from jobwire import App

from .server_util import drain, make_app, running_server, until_closed, ws_messages, ws_url

TERMINAL = {"completed", "failed", "cancelled"}
FINAL_STATUSES = {"succeeded", "failed", "cancelled"}
HEARTBEAT = 0.2


@pytest.fixture
def app(tmp_path) -> Iterator[App]:
    app = make_app(tmp_path)
    yield app
    app.close()


@pytest.fixture
def base(app: App) -> Iterator[str]:
    with running_server(app, heartbeat_seconds=HEARTBEAT) as url:
        yield url


def run(coro: Any, timeout: float = 30.0) -> Any:
    return asyncio.run(asyncio.wait_for(coro, timeout))


def submit(base: str, task: str, **args: Any) -> dict[str, Any]:
    r = httpx.post(f"{base}/api/tasks/{task}/jobs", json=args)
    assert r.status_code == 202, r.text
    body: dict[str, Any] = r.json()
    return body


def wait_status(base: str, job_id: str, statuses: set[str], timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        snap: dict[str, Any] = httpx.get(f"{base}/api/jobs/{job_id}").json()
        if snap["status"] in statuses:
            return snap
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} never reached {statuses}")


async def sse_events(
    client: httpx.AsyncClient, url: str, headers: dict[str, str] | None = None
) -> list[tuple[str, str, dict[str, Any]]]:
    """``(id, event, message)`` for every event until the server ends the stream."""
    out = []
    async with aconnect_sse(client, "GET", url, headers=dict(headers or {})) as source:
        assert source.response.status_code == 200, await source.response.aread()
        async for sse in source.aiter_sse():
            if sse.data:  # httpx-sse hands a `: ping` comment over as an empty event
                out.append((sse.id, sse.event, json.loads(sse.data)))
    return out


def assert_increasing(seqs: list[int], who: str) -> None:
    assert seqs, f"{who}: no messages"
    assert all(a < b for a, b in itertools.pairwise(seqs)), f"{who}: {seqs}"


# -- three watchers, one job ----------------------------------------------------------------------


def test_ws_sse_and_polling_watchers_end_with_the_same_snapshot(base: str) -> None:
    job = submit(base, "count", n=500, delay=0.004)
    job_id = job["id"]

    async def watch_ws() -> list[dict[str, Any]]:
        messages, code = await ws_messages(ws_url(base, f"/ws/jobs/{job_id}"))
        assert code == 1000
        return messages

    async def watch_sse() -> list[tuple[str, str, dict[str, Any]]]:
        async with httpx.AsyncClient(timeout=30) as client:
            return await sse_events(client, f"{base}/api/jobs/{job_id}/events")

    async def watch_poll() -> list[dict[str, Any]]:
        url = f"{base}/api/jobs/{job_id}"
        async with httpx.AsyncClient(timeout=30) as client:
            r = await client.get(url)
            snaps = [r.json()]
            tag = r.headers["etag"]
            not_modified = 0
            while snaps[-1]["status"] not in FINAL_STATUSES:
                r = await client.get(url, params={"wait": 5}, headers={"If-None-Match": tag})
                if r.status_code == 304:
                    not_modified += 1
                    assert r.headers["etag"] == tag
                    continue
                assert r.status_code == 200, r.text
                snaps.append(r.json())
                tag = r.headers["etag"]
                assert tag == f'"{job_id}.{snaps[-1]["seq"]}"'
            assert not_modified < 3, "a long poll should wake on a change, not time out"
            return snaps

    async def all_three() -> Any:
        return await asyncio.gather(watch_ws(), watch_sse(), watch_poll())

    ws_msgs, sse_msgs, polled = run(all_three())

    assert ws_msgs[0]["type"] == "connected"
    assert ws_msgs[-1]["type"] == "completed"
    assert_increasing([m["seq"] for m in ws_msgs], "ws")
    assert all(m["job"]["id"] == job_id for m in ws_msgs)

    assert sse_msgs[0][1] == "connected"
    assert sse_msgs[-1][1] == "completed"
    for sse_id, event, msg in sse_msgs:
        assert int(sse_id) == msg["seq"]
        assert event == msg["type"]
    assert_increasing([m["seq"] for _, _, m in sse_msgs], "sse")

    assert_increasing([s["seq"] for s in polled], "polling")
    assert len(polled) > 3, "polling should see intermediate progress"

    final = httpx.get(f"{base}/api/jobs/{job_id}").json()
    assert final["status"] == "succeeded"
    assert final["current"] == final["total"] == 500
    assert ws_msgs[-1]["job"] == final
    assert sse_msgs[-1][2]["job"] == final
    assert polled[-1] == final
    assert httpx.get(f"{base}/api/jobs/{job_id}/result").json() == 500


# -- resuming -------------------------------------------------------------------------------------


def test_sse_reconnect_with_last_event_id_resumes_without_duplicates(base: str) -> None:
    job_id = submit(base, "count", n=200, delay=0.01)["id"]
    url = f"{base}/api/jobs/{job_id}/events"

    async def go() -> tuple[list[Any], list[Any]]:
        first: list[tuple[str, str, dict[str, Any]]] = []
        async with httpx.AsyncClient(timeout=30) as client:
            async with aconnect_sse(client, "GET", url) as source:
                async for sse in source.aiter_sse():
                    if not sse.data:
                        continue  # a ping comment
                    first.append((sse.id, sse.event, json.loads(sse.data)))
                    if len(first) == 3:
                        break  # drop the connection mid-job
            await asyncio.sleep(0.3)  # events happen while we are away
            second = await sse_events(client, url, headers={"Last-Event-ID": first[-1][0]})
        return first, second

    first, second = run(go())
    assert first[-1][1] not in TERMINAL, "the job ended before the drop; make it longer"
    assert second[0][1] != "connected", "a resume replays the missed events"
    assert int(second[0][0]) == int(first[-1][0]) + 1, "the first missed event comes first"
    seqs = [m["seq"] for _, _, m in first + second]
    assert_increasing(seqs, "sse across the reconnect")
    assert second[-1][1] == "completed"


def test_ws_reconnect_with_after_resumes_without_duplicates(base: str) -> None:
    job_id = submit(base, "count", n=200, delay=0.01)["id"]

    async def go() -> tuple[list[dict[str, Any]], list[dict[str, Any]], int]:
        first: list[dict[str, Any]] = []
        async with websockets.connect(ws_url(base, f"/ws/jobs/{job_id}")) as ws:
            while len(first) < 3:
                msg = json.loads(await ws.recv())
                if msg["type"] != "ping":
                    first.append(msg)
        await asyncio.sleep(0.3)
        after = first[-1]["seq"]
        second, code = await ws_messages(ws_url(base, f"/ws/jobs/{job_id}?after={after}"))
        return first, second, code

    first, second, code = run(go())
    assert first[-1]["type"] not in TERMINAL
    assert code == 1000
    assert second[0]["seq"] == first[-1]["seq"] + 1
    assert_increasing([m["seq"] for m in first + second], "ws across the reconnect")
    assert second[-1]["type"] == "completed"


def test_resume_of_a_finished_job_after_its_final_seq_ends_at_once(base: str) -> None:
    """A browser's EventSource reconnects on its own after the stream closes, sending the
    final seq as Last-Event-ID: the server must end it (204 stops EventSource for good)
    rather than hold it open forever with pings."""
    job_id = submit(base, "count", n=5)["id"]
    final = wait_status(base, job_id, FINAL_STATUSES)
    last = str(final["seq"])

    r = httpx.get(f"{base}/api/jobs/{job_id}/events", headers={"Last-Event-ID": last}, timeout=15)
    assert r.status_code == 204
    r = httpx.get(f"{base}/api/jobs/{job_id}/events", params={"after": last}, timeout=15)
    assert r.status_code == 204

    messages, code = run(ws_messages(ws_url(base, f"/ws/jobs/{job_id}?after={last}")), 15)
    assert messages == []
    assert code == 1000

    # Resuming from an earlier seq replays the rest, final message included.
    async def replay() -> list[Any]:
        async with httpx.AsyncClient(timeout=15) as client:
            return await sse_events(
                client,
                f"{base}/api/jobs/{job_id}/events",
                headers={"Last-Event-ID": str(final["seq"] - 2)},
            )

    events = run(replay(), 15)
    assert [int(i) for i, _, _ in events] == [final["seq"] - 1, final["seq"]]
    assert events[-1][1] == "completed"


# -- polling: ETags and long polls ----------------------------------------------------------------


def test_etag_304_and_if_none_match_forms(base: str) -> None:
    done_job = submit(base, "count", n=2)["id"]
    wait_status(base, done_job, FINAL_STATUSES)
    url = f"{base}/api/jobs/{done_job}"
    r = httpx.get(url)
    tag = r.headers["etag"]
    assert tag == f'"{done_job}.{r.json()["seq"]}"'
    for inm in (tag, f"W/{tag}", f'"other.1", {tag}', "*"):
        r = httpx.get(url, headers={"If-None-Match": inm})
        assert r.status_code == 304, inm
        assert r.headers["etag"] == tag
        assert r.content == b""
    assert httpx.get(url, headers={"If-None-Match": f'"{done_job}.0"'}).status_code == 200


def answered_within(seconds: float, why: str, url: str, **kwargs: Any) -> httpx.Response:
    """GET ``url``; fail saying ``why`` when no answer comes within ``seconds`` (a deadline
    well inside the long poll's ``wait``, so a poll that is held to its end fails)."""
    try:
        return httpx.get(url, timeout=seconds, **kwargs)
    except httpx.ReadTimeout:
        pytest.fail(f"no answer within {seconds} s: {why}")


def test_long_poll_times_out_with_304_and_wakes_on_a_change(base: str) -> None:
    done_job = submit(base, "count", n=2)["id"]
    wait_status(base, done_job, FINAL_STATUSES)
    url = f"{base}/api/jobs/{done_job}"
    tag = httpx.get(url).headers["etag"]
    started = time.monotonic()
    r = httpx.get(url, params={"wait": 0.5}, headers={"If-None-Match": tag})
    assert r.status_code == 304
    assert r.headers["etag"] == tag
    assert time.monotonic() - started >= 0.45
    # A stale ETag answers at once: held, the poll would last its whole 30 s.
    r = answered_within(
        10,
        "a stale ETag should answer at once",
        url,
        params={"wait": 30},
        headers={"If-None-Match": f'"{done_job}.0"'},
    )
    assert r.status_code == 200
    # A change during the wait answers it with the new snapshot.
    nap = submit(base, "nap", seconds=0.6)["id"]
    deadline = time.monotonic() + 15
    while (snap := httpx.get(f"{base}/api/jobs/{nap}")).json()["step"] != "napping":
        assert time.monotonic() < deadline
        time.sleep(0.02)
    r = answered_within(
        10,
        "the long poll should wake on the change, not wait it out",
        f"{base}/api/jobs/{nap}",
        params={"wait": 30},
        headers={"If-None-Match": snap.headers["etag"]},
    )
    assert r.status_code == 200
    assert r.json()["seq"] > snap.json()["seq"]
    assert r.headers["etag"] == f'"{nap}.{r.json()["seq"]}"'


# -- finished jobs --------------------------------------------------------------------------------


def test_streams_of_a_finished_job_send_one_final_message_then_close(base: str) -> None:
    job_id = submit(base, "count", n=3)["id"]
    final = wait_status(base, job_id, FINAL_STATUSES)

    async def go() -> Any:
        async with httpx.AsyncClient(timeout=15) as client:
            sse = await sse_events(client, f"{base}/api/jobs/{job_id}/events")
        ws = await ws_messages(ws_url(base, f"/ws/jobs/{job_id}"))
        async with websockets.connect(ws_url(base, "/ws")) as sock:
            await sock.send(json.dumps({"type": "subscribe", "job_id": job_id}))
            many = json.loads(await sock.recv())
            assert await drain(sock, 0.6) == []  # nothing else but pings
        return sse, ws, many

    sse, (ws_msgs, code), many = run(go())
    assert [(e, m["job"]) for _, e, m in sse] == [("completed", final)]
    assert [(m["type"], m["job"]) for m in ws_msgs] == [("completed", final)]
    assert code == 1000
    assert (many["type"], many["job"]) == ("completed", final)


# -- the multiplexed socket -----------------------------------------------------------------------


def test_multiplexed_ws_subscribe_two_jobs_unsubscribe_one(base: str) -> None:
    spin = submit(base, "spin", seconds=20)["id"]
    count = submit(base, "count", n=60, delay=0.02)["id"]

    async def go() -> tuple[dict[str, list[str]], list[dict[str, Any]], dict[str, Any]]:
        seen: dict[str, list[str]] = {spin: [], count: []}
        after_unsubscribe: list[dict[str, Any]] = []
        async with websockets.connect(ws_url(base, "/ws")) as ws:
            await ws.send(json.dumps({"type": "subscribe", "job_id": spin, "after": 0}))
            await ws.send(json.dumps({"type": "subscribe", "job_id": count}))
            await ws.send(json.dumps({"type": "subscribe", "job_id": "f" * 32}))
            error: dict[str, Any] = {}
            while not (seen[spin] and seen[count] and error):
                msg = json.loads(await ws.recv())
                if msg["type"] == "error":
                    error = msg
                elif msg["type"] != "ping":
                    seen[msg["job"]["id"]].append(msg["type"])
            await ws.send(json.dumps({"type": "unsubscribe", "job_id": spin}))
            # Finish the count job, then end the spin one: its final message must not come.
            while "completed" not in seen[count]:
                msg = json.loads(await ws.recv())
                if msg["type"] == "ping":
                    continue
                if msg["job"]["id"] == count:
                    seen[count].append(msg["type"])
            r = await asyncio.to_thread(httpx.post, f"{base}/api/jobs/{spin}/cancel")
            assert r.status_code == 202
            await asyncio.to_thread(wait_status, base, spin, FINAL_STATUSES)
            after_unsubscribe.extend(await drain(ws, 0.8))
        return seen, after_unsubscribe, error

    seen, after_unsubscribe, error = run(go())
    assert seen[spin][0] == "connected"
    assert seen[count][0] == "connected"
    assert seen[count][-1] == "completed"
    assert "cancelled" not in seen[spin]
    assert after_unsubscribe == []
    assert error["job_id"] == "f" * 32
    assert error["error"]["code"] == "job_not_found"


def test_multiplexed_ws_resubscribe_and_cancel_by_job_id(base: str) -> None:
    spin = submit(base, "spin", seconds=20)["id"]
    wait_status(base, spin, {"running"})

    async def go() -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        async with websockets.connect(ws_url(base, "/ws")) as ws:
            await ws.send(json.dumps({"type": "subscribe", "job_id": spin}))
            await ws.send(json.dumps({"type": "subscribe", "job_id": spin}))  # no effect
            await ws.send(json.dumps({"type": "cancel", "job_id": spin}))
            while not out or out[-1]["type"] not in TERMINAL:
                msg = json.loads(await ws.recv())
                if msg["type"] != "ping":
                    out.append(msg)
        return out

    messages = run(go())
    assert messages[0]["type"] == "connected"
    assert messages[-1]["type"] == "cancelled"
    assert_increasing([m["seq"] for m in messages], "one subscription, no duplicates")


# -- cancel over the socket -----------------------------------------------------------------------


def test_ws_cancel_message_cancels_the_job(base: str) -> None:
    job_id = submit(base, "spin", seconds=20)["id"]
    wait_status(base, job_id, {"running"})

    async def go() -> tuple[list[dict[str, Any]], int]:
        out: list[dict[str, Any]] = []
        async with websockets.connect(ws_url(base, f"/ws/jobs/{job_id}")) as ws:
            out.append(json.loads(await ws.recv()))
            await ws.send(json.dumps({"type": "cancel"}))
            out.extend(await until_closed(ws))
            assert ws.close_code is not None
            return out, ws.close_code

    messages, code = run(go())
    assert messages[0]["type"] == "connected"
    requested = [m for m in messages if m["type"] == "status" and m["job"]["cancel_requested"]]
    assert requested, "the cancel request shows up as a status message"
    assert messages[-1]["type"] == "cancelled"
    assert messages[-1]["job"]["status"] == "cancelled"
    assert code == 1000
    assert httpx.get(f"{base}/api/jobs/{job_id}").json()["status"] == "cancelled"


def test_ws_cancel_of_a_finished_job_answers_an_error(base: str) -> None:
    done = submit(base, "count", n=2)["id"]
    spin = submit(base, "spin", seconds=20)["id"]
    wait_status(base, done, FINAL_STATUSES)

    async def go() -> dict[str, Any]:
        async with websockets.connect(ws_url(base, f"/ws/jobs/{spin}")) as ws:
            await ws.send(json.dumps({"type": "cancel", "job_id": done}))
            await ws.send("not json")
            while True:
                msg = json.loads(await ws.recv())
                if msg["type"] == "error":
                    return msg

    error = run(go())
    assert error["job_id"] == done
    assert error["error"]["code"] == "job_finished"
    httpx.post(f"{base}/api/jobs/{spin}/cancel")


# -- heartbeats -----------------------------------------------------------------------------------


def test_heartbeats_sse_comments_and_ws_pings(base: str) -> None:
    # Pings go out when a stream is idle: a job that naps without reporting progress.
    job_id = submit(base, "nap", seconds=3.0)["id"]
    wait_status(base, job_id, {"running"})

    async def sse_pings() -> int:
        pings = 0
        async with (
            httpx.AsyncClient(timeout=10) as client,
            client.stream("GET", f"{base}/api/jobs/{job_id}/events") as response,
        ):
            assert response.headers["content-type"].startswith("text/event-stream")
            started = time.monotonic()
            async for line in response.aiter_lines():
                if line == ": ping":
                    pings += 1
                if pings >= 2 or time.monotonic() - started > 2.5:
                    break
        return pings

    async def ws_pings(path: str) -> int:
        pings = 0
        async with websockets.connect(ws_url(base, path)) as ws:
            started = time.monotonic()
            while pings < 2 and time.monotonic() - started < 2.5:
                if json.loads(await ws.recv()) == {"type": "ping"}:
                    pings += 1
        return pings

    async def all_three() -> Any:
        return await asyncio.gather(sse_pings(), ws_pings(f"/ws/jobs/{job_id}"), ws_pings("/ws"))

    assert run(all_three()) == [2, 2, 2]


# -- resuming from a seq the server never sent ----------------------------------------------------


def test_resume_after_a_seq_beyond_the_job_restarts_from_its_snapshot(base: str) -> None:
    """A Last-Event-ID / after from elsewhere (another job, a reset database) is beyond the
    job's seq: the stream starts again from the current snapshot and still follows the job
    to its end, rather than waiting for a seq that will never come."""
    job_id = submit(base, "nap", seconds=1.0)["id"]
    wait_status(base, job_id, {"running"})
    future = 10**6

    async def go() -> tuple[list[Any], list[dict[str, Any]], int]:
        async with httpx.AsyncClient(timeout=10) as client:
            sse = await sse_events(
                client, f"{base}/api/jobs/{job_id}/events", headers={"Last-Event-ID": str(future)}
            )
        ws, code = await ws_messages(ws_url(base, f"/ws/jobs/{job_id}?after={future}"))
        return sse, ws, code

    sse, ws, code = run(go(), 15)
    assert sse[0][1] == "connected"
    assert sse[-1][1] == "completed"
    assert ws[-1]["type"] == "completed"
    assert code == 1000


def test_multiplexed_ws_unsubscribe_then_subscribe_again(base: str) -> None:
    job_id = submit(base, "spin", seconds=20)["id"]
    wait_status(base, job_id, {"running"})
    sentinel = "0" * 32  # no such job: its error answer marks a point in the socket's order

    async def go() -> tuple[list[str], int, list[dict[str, Any]]]:
        kinds: list[str] = []
        async with websockets.connect(ws_url(base, "/ws")) as ws:
            for _ in range(4):  # quick flips: never two forwarders for one job
                await ws.send(json.dumps({"type": "subscribe", "job_id": job_id}))
                await ws.send(json.dumps({"type": "unsubscribe", "job_id": job_id}))
            await ws.send(json.dumps({"type": "subscribe", "job_id": job_id}))
            await ws.send(json.dumps({"type": "subscribe", "job_id": sentinel}))
            while True:  # after the sentinel's answer, the last subscription is in place
                msg = json.loads(await ws.recv())
                if msg["type"] == "error" and msg.get("job_id") == sentinel:
                    break
                if msg["type"] != "ping":
                    kinds.append(msg["type"])
            listening = await asyncio.to_thread(open_listeners, base, 0.0)
            await ws.send(json.dumps({"type": "unsubscribe", "job_id": job_id}))
            await ws.send(json.dumps({"type": "subscribe", "job_id": sentinel}))
            while True:  # what was queued before the unsubscribe comes first
                msg = json.loads(await ws.recv())
                if msg["type"] == "error" and msg.get("job_id") == sentinel:
                    break
            later = await drain(ws, 0.5)
        return kinds, listening, later

    kinds, listening, later = run(go())
    assert "connected" in kinds
    assert listening == 1, "one hub listener: the last subscription's"
    assert later == [], "no messages after the last unsubscribe"
    assert open_listeners(base) == 0, "every subscription's hub listener is closed"
    httpx.post(f"{base}/api/jobs/{job_id}/cancel")


def open_listeners(base: str, timeout: float = 3.0) -> int:
    """The server's open hub listeners, once they drop to 0 (or after ``timeout``)."""
    deadline = time.monotonic() + timeout
    while True:
        n: int = httpx.get(f"{base}/api/stats").json()["streams"]["listeners"]
        if n == 0 or time.monotonic() > deadline:
            return n
        time.sleep(0.05)


def test_multiplexed_ws_all_jobs_subscription_flips_leave_no_listener(base: str) -> None:
    async def go() -> tuple[int, list[str]]:
        seen: list[str] = []
        async with websockets.connect(ws_url(base, "/ws")) as ws:
            for _ in range(5):
                await ws.send(json.dumps({"type": "subscribe", "all": True}))
                await ws.send(json.dumps({"type": "unsubscribe", "all": True}))
            await ws.send(json.dumps({"type": "subscribe", "all": True}))
            await asyncio.sleep(0.2)
            while_open = await asyncio.to_thread(
                lambda: httpx.get(f"{base}/api/stats").json()["streams"]["listeners"]
            )
            job_id = (await asyncio.to_thread(submit, base, "count", n=3))["id"]
            while "completed" not in seen:
                msg = json.loads(await asyncio.wait_for(ws.recv(), 10))
                if msg["type"] != "ping" and msg["job"]["id"] == job_id:
                    seen.append(msg["type"])
        return while_open, seen

    while_open, seen = run(go())
    assert while_open == 1, "one every-job subscription, however often it was flipped"
    assert seen.count("completed") == 1, seen
    assert open_listeners(base) == 0


# -- a server whose bus does not see every change -------------------------------------------------


def test_without_workers_streams_and_long_polls_see_changes_made_elsewhere(tmp_path) -> None:
    """No workers here and a memory bus: changes made by another process reach this server
    only through the store, which idle streams and long polls must read."""
    app = make_app(tmp_path)
    other = App(app.settings.database_url)  # another process: its own (memory) bus
    try:
        with running_server(app, run_workers=False, heartbeat_seconds=HEARTBEAT) as base:
            job_id = submit(base, "count", n=5)["id"]
            url = f"{base}/api/jobs/{job_id}"
            tag = httpx.get(url).headers["etag"]
            started = time.monotonic()
            r = httpx.get(url, params={"wait": 0.5}, headers={"If-None-Match": tag})
            assert r.status_code == 304
            assert time.monotonic() - started >= 0.45

            async def watch() -> Any:
                async def poll() -> httpx.Response:
                    async with httpx.AsyncClient(timeout=15) as client:
                        return await client.get(
                            url, params={"wait": 10}, headers={"If-None-Match": tag}
                        )

                async def sse() -> list[Any]:
                    async with httpx.AsyncClient(timeout=15) as client:
                        return await sse_events(client, f"{url}/events")

                async def cancel_elsewhere() -> None:
                    await asyncio.sleep(0.5)
                    await asyncio.to_thread(other.cancel, job_id)

                return await asyncio.gather(
                    poll(),
                    sse(),
                    ws_messages(ws_url(base, f"/ws/jobs/{job_id}")),
                    cancel_elsewhere(),
                )

            polled, events, (ws_msgs, code), _ = run(watch(), 20)
            assert polled.status_code == 200
            assert polled.json()["status"] == "cancelled"
            assert [e for _, e, _ in events] == ["connected", "cancelled"]
            assert [m["type"] for m in ws_msgs] == ["connected", "cancelled"]
            assert code == 1000
    finally:
        other.close()
