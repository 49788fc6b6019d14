"""The video example's simulated provider, served by uvicorn on a free port, calling back a
receiver (a Starlette app under uvicorn too) that records what arrives: signatures checked
with ``standardwebhooks``, states in order or, when asked, repeated and out of order, retries
after 500s, no callbacks and the poll fallback, failures, and the rendered video itself.
Generations take 0.2 to 0.4 s and render 1 s of 64x48 video."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import av
import httpx
import pytest
import uvicorn
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from jobwire.examples.video import ProviderSettings, RunningProvider, start_provider
from jobwire.examples.video.provider import MODERATION_FAILURE, RANDOM_FAILURE

from .server_fixtures import free_socket, serving
from .server_util import free_port

FAST = {"dream_seconds": (0.2, 0.4), "size": (64, 48), "fps": 24, "seed": 1}
FLOW = ["queued", "dreaming", "completed"]


@dataclass
class Received:
    body: bytes
    headers: dict[str, str]
    at: float
    status: int

    def verify(self, secret: str) -> dict[str, Any]:
        payload: dict[str, Any] = Webhook(secret).verify(self.body, self.headers)
        return payload


@dataclass
class Receiver:
    """Records every callback; answers each with the next of ``answers``, then 200."""

    url: str
    calls: list[Received] = field(default_factory=list)
    answers: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def states(self, generation_id: str | None = None) -> list[str]:
        import json

        bodies = [json.loads(call.body) for call in self.calls]
        return [b["state"] for b in bodies if generation_id in (None, b["id"])]


@pytest.fixture(scope="module")
def receiver_server() -> Iterator[Receiver]:
    holder: list[Receiver] = []

    async def hook(request: Request) -> Response:
        rec = holder[0]
        body = await request.body()
        with rec.lock:
            status = rec.answers.pop(0) if rec.answers else 200
            rec.calls.append(Received(body, dict(request.headers), time.monotonic(), status))
        return Response(status_code=status)

    app = Starlette(routes=[Route("/hook", hook, methods=["POST"])])
    config = uvicorn.Config(app, log_level="warning", lifespan="off")
    with serving(uvicorn.Server(config), free_socket()) as url:
        holder.append(Receiver(f"{url}/hook?job=42"))
        yield holder[0]


@pytest.fixture
def receiver(receiver_server: Receiver) -> Receiver:
    """The module's receiver, with nothing received and nothing to refuse."""
    with receiver_server.lock:
        receiver_server.calls.clear()
        receiver_server.answers.clear()
    return receiver_server


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as client:
        yield client


@pytest.fixture
def provider_factory() -> Iterator[Callable[..., RunningProvider]]:
    started: list[RunningProvider] = []

    def start(**settings: Any) -> RunningProvider:
        running = start_provider(ProviderSettings(**{**FAST, **settings}))
        started.append(running)
        return running

    yield start
    for running in started:
        running.stop()


def generate(
    http: httpx.Client, running: RunningProvider, callback_url: str | None, **body: Any
) -> dict[str, Any]:
    request = {"prompt": "a red fox jumping over a fence", "duration": "1s", **body}
    if callback_url is not None:
        request["callback_url"] = callback_url
    answer = http.post(f"{running.url}/generations", json=request)
    assert answer.status_code == 201, answer.text
    created: dict[str, Any] = answer.json()
    return created


def settle(running: RunningProvider, timeout: float = 10.0) -> None:
    """Wait until no generation is running nor sending callbacks."""
    deadline = time.monotonic() + timeout
    while running.provider.active:
        assert time.monotonic() < deadline, "the provider's generations did not finish"
        time.sleep(0.02)


def test_a_generation_calls_back_each_state_signed_and_serves_its_video(
    provider_factory: Callable[..., RunningProvider], receiver: Receiver, http: httpx.Client
) -> None:
    running = provider_factory()
    created = generate(http, running, receiver.url)
    assert created["state"] == "queued" and created["assets"] is None
    settle(running)

    payloads = [call.verify(running.secret) for call in receiver.calls]
    assert [p["state"] for p in payloads] == FLOW
    assert {p["id"] for p in payloads} == {created["id"]}
    assert len({call.headers["webhook-id"] for call in receiver.calls}) == 3
    assert payloads[-1]["failure_reason"] is None
    assert payloads[-1]["request"]["callback_url"] == receiver.url
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + "QUJD" * 8).verify(receiver.calls[0].body, receiver.calls[0].headers)

    polled = http.get(f"{running.url}/generations/{created['id']}").json()
    assert polled == payloads[-1]
    video = http.get(polled["assets"]["video"])
    assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"
    assert int(video.headers["content-length"]) == len(video.content)
    with av.open(io.BytesIO(video.content)) as container:
        frames = list(container.decode(video=0))
    assert abs(len(frames) - 24) <= 1
    assert (frames[0].width, frames[0].height) == (64, 48)


def test_a_prompt_that_asks_to_fail_fails_with_a_reason(
    provider_factory: Callable[..., RunningProvider], receiver: Receiver, http: httpx.Client
) -> None:
    running = provider_factory()
    created = generate(http, running, receiver.url, prompt="please fail this one")
    settle(running)
    payloads = [call.verify(running.secret) for call in receiver.calls]
    assert [p["state"] for p in payloads] == ["queued", "dreaming", "failed"]
    assert payloads[-1]["failure_reason"] == MODERATION_FAILURE
    assert payloads[-1]["assets"] is None
    assert http.get(f"{running.url}/videos/{created['id']}.mp4").status_code == 404


def test_failure_rate_fails_generations(
    provider_factory: Callable[..., RunningProvider], receiver: Receiver, http: httpx.Client
) -> None:
    running = provider_factory(failure_rate=1.0)
    created = generate(http, running, receiver.url)
    settle(running)
    assert receiver.states() == ["queued", "dreaming", "failed"]
    polled = http.get(f"{running.url}/generations/{created['id']}").json()
    assert polled["failure_reason"] == RANDOM_FAILURE


def test_duplicates_repeat_a_callback_with_the_same_webhook_id(
    provider_factory: Callable[..., RunningProvider], receiver: Receiver, http: httpx.Client
) -> None:
    running = provider_factory(duplicate_rate=1.0)
    generate(http, running, receiver.url)
    settle(running)
    assert receiver.states() == ["queued", "queued", "dreaming", "dreaming", *["completed"] * 2]
    ids = [call.headers["webhook-id"] for call in receiver.calls]
    assert ids[0] == ids[1] and ids[2] == ids[3] and ids[4] == ids[5]
    assert len(set(ids)) == 3
    for call in receiver.calls:
        call.verify(running.secret)


def test_reorders_send_a_state_after_the_next_one(
    provider_factory: Callable[..., RunningProvider], receiver: Receiver, http: httpx.Client
) -> None:
    running = provider_factory(reorder_rate=1.0)
    generate(http, running, receiver.url)
    settle(running)
    assert receiver.states() == ["dreaming", "queued", "completed"]
    for call in receiver.calls:
        call.verify(running.secret)


def test_the_same_seed_repeats_the_same_duplicates_and_reorders(
    provider_factory: Callable[..., RunningProvider], receiver: Receiver, http: httpx.Client
) -> None:
    runs = []
    for _ in range(2):
        running = provider_factory(seed=7, duplicate_rate=0.4, reorder_rate=0.4)
        ids = [generate(http, running, receiver.url)["id"] for _ in range(4)]
        settle(running)
        runs.append({i: receiver.states(i) for i in ids})
        receiver.calls.clear()
    assert runs[0] == runs[1]  # the ids are drawn from the seed too
    sequences = list(runs[0].values())
    for states in sequences:
        assert set(states) == set(FLOW)
    assert any(len(states) > 3 for states in sequences)  # a duplicate
    assert any(sorted(set(states), key=states.index) != FLOW for states in sequences)


def test_a_failed_callback_is_retried_100_ms_apart(
    provider_factory: Callable[..., RunningProvider], receiver: Receiver, http: httpx.Client
) -> None:
    receiver.answers = [500, 500]
    running = provider_factory()
    created = generate(http, running, receiver.url)
    settle(running)
    assert receiver.states() == ["queued", "queued", "queued", "dreaming", "completed"]
    assert [call.status for call in receiver.calls[:3]] == [500, 500, 200]
    assert len({call.headers["webhook-id"] for call in receiver.calls[:3]}) == 1
    gaps = [b.at - a.at for a, b in zip(receiver.calls, receiver.calls[1:3], strict=False)]
    assert all(gap >= 0.09 for gap in gaps), gaps
    queued = [d for d in running.provider.deliveries if d.state == "queued"]
    assert [(d.generation_id, d.attempt, d.status) for d in queued] == [
        (created["id"], 1, 500),
        (created["id"], 2, 500),
        (created["id"], 3, 200),
    ]


def test_a_callback_is_given_up_after_three_retries_and_the_next_states_still_go(
    provider_factory: Callable[..., RunningProvider], receiver: Receiver, http: httpx.Client
) -> None:
    receiver.answers = [503] * 4
    running = provider_factory()
    generate(http, running, receiver.url)
    settle(running)
    assert receiver.states() == ["queued"] * 4 + ["dreaming", "completed"]


def test_an_unreachable_receiver_is_retried_then_the_generation_still_completes(
    provider_factory: Callable[..., RunningProvider], http: httpx.Client
) -> None:
    running = provider_factory()
    created = generate(http, running, f"http://127.0.0.1:{free_port()}/hook")
    settle(running)
    deliveries = list(running.provider.deliveries)
    assert len(deliveries) == 3 * 4
    assert all(d.status is None and d.error for d in deliveries)
    polled = http.get(f"{running.url}/generations/{created['id']}").json()
    assert polled["state"] == "completed"


def test_without_callbacks_the_consumer_polls(
    provider_factory: Callable[..., RunningProvider], receiver: Receiver, http: httpx.Client
) -> None:
    running = provider_factory(drop_callbacks=True, dream_seconds=(0.5, 0.5))
    created = generate(http, running, receiver.url)
    seen: list[str] = [created["state"]]
    deadline = time.monotonic() + 10
    while seen[-1] not in ("completed", "failed"):
        assert time.monotonic() < deadline
        polled = http.get(f"{running.url}/generations/{created['id']}").json()
        if seen[-1] != polled["state"]:
            seen.append(polled["state"])
        time.sleep(0.02)
    assert seen == FLOW
    assert http.get(polled["assets"]["video"]).status_code == 200
    settle(running)
    assert receiver.calls == [] and not running.provider.deliveries


def test_bad_requests_unknown_generations_and_the_api_key(
    provider_factory: Callable[..., RunningProvider], http: httpx.Client
) -> None:
    running = provider_factory(api_key="sk-test")
    url = f"{running.url}/generations"
    key = {"authorization": "Bearer sk-test"}
    assert http.post(url, json={"prompt": "x"}).status_code == 401
    assert http.post(url, json={"prompt": "x"}, headers={"authorization": "Bearer no"}).is_error
    for body in (
        {"duration": "5s"},
        {"prompt": " "},
        {"prompt": "x", "duration": "five"},
        {"prompt": "x", "duration": "90s"},
        {"prompt": "x", "callback_url": "ftp://example.com"},
        ["prompt"],
    ):
        answer = http.post(url, json=body, headers=key)
        assert answer.status_code == 400 and answer.json()["detail"], body
    assert http.post(url, content=b"{", headers=key).status_code == 400
    assert http.get(f"{url}/nope", headers=key).status_code == 404
    assert http.get(f"{running.url}/videos/nope.mp4").status_code == 404
    created = http.post(url, json={"prompt": "x", "duration": 1}, headers=key)
    assert created.status_code == 201 and created.json()["request"]["duration"] == "1s"
    settle(running)


@pytest.mark.slow
def test_python_m_runs_the_provider_alone(http: httpx.Client) -> None:
    port = free_port()
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "jobwire.examples.video", "--port", str(port)),
            *("--dream-seconds", "0.1,0.2", "--size", "64x48", "--seed", "3"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(2)]
        assert lines[1].startswith("Webhook secret: whsec_"), lines
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 15
        while True:
            try:
                created = http.post(f"{base}/generations", json={"prompt": "x", "duration": 1})
                break
            except httpx.ConnectError:
                assert time.monotonic() < deadline, "the provider did not start"
                time.sleep(0.05)
        generation_url = f"{base}/generations/{created.json()['id']}"
        while (state := http.get(generation_url).json()["state"]) != "completed":
            assert state != "failed" and time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


def test_settings_refuse_what_cannot_work() -> None:
    for bad in (
        {"dream_seconds": (2, 1)},
        {"failure_rate": 1.5},
        {"reorder_rate": -0.1},
        {"size": (63, 48)},
        {"fps": 0},
        {"secret": "not-a-secret"},
    ):
        with pytest.raises(ValueError, match="Expected"):
            ProviderSettings(**bad)
