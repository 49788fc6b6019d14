"""Notifications of jobs' ends, through real interfaces: jobs submitted over HTTP (or with
``App.submit``) with a ``notify_url``, a receiver (Starlette under uvicorn on a free port)
that verifies each Standard Webhooks signature with the library's ``Webhook.verify``, and
``GET /api/jobs/{id}/deliveries``. Backoff is made tiny by the settings; time is moved by a
fake store clock where a test needs hours to pass, never by sleeping."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from standardwebhooks import Webhook
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from jobwire import App, InvalidArguments, Progress
from jobwire.store.sql import SQLStore
from jobwire.testing import MemoryBus, MemoryStore
from tests.conftest import FakeClock

from .server_fixtures import free_socket, running_server, serving

FAST = {"notify_backoff": 0.01, "notify_backoff_max": 0.02, "notify_timeout": 5.0}


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    answered: int
    payload: Any = None  # what Webhook.verify returned, None when it refused


@dataclass
class Receiver:
    """Records every POST and answers ``answer(webhook_id, nth)``: 200 by default."""

    url: str = ""
    secret: str | None = None
    answer: Callable[[str, int], int] = lambda _id, _n: 200
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def of(self, webhook_id: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.headers.get("webhook-id") == webhook_id]

    def accepted(self) -> list[Received]:
        with self.lock:
            return [r for r in self.received if 200 <= r.answered < 300]

    async def hook(self, request: Request) -> Response:
        body = await request.body()
        headers = dict(request.headers)
        payload = None
        if self.secret is not None:
            payload = Webhook(self.secret).verify(body, headers)  # raises: a 500, a retry
        with self.lock:
            nth = sum(
                1 for r in self.received if r.headers.get("webhook-id") == headers.get("webhook-id")
            )
            status = self.answer(headers.get("webhook-id", ""), nth + 1)
            self.received.append(Received(headers, body, status, payload))
        return Response(status_code=status)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver()
    api = Starlette(routes=[Route("/hook", rec.hook, methods=["POST"])])
    config = uvicorn.Config(api, log_level="warning", lifespan="off")
    sock = free_socket()
    with serving(uvicorn.Server(config), sock) as base:
        # A host *name* that resolves to loopback: allowed only with notify_allow_private.
        rec.url = base.replace("127.0.0.1", "localhost") + "/hook"
        yield rec


def make_app(path: Path, **kw: Any) -> App:
    app = App(f"sqlite:///{path}", progress_interval=0.05, poll_interval=0.05, **kw)

    @app.task(name="square")
    def square(progress: Progress, n: int) -> int:
        return n * n

    @app.task(name="fail")
    def fail(progress: Progress) -> None:
        raise ValueError("on purpose")

    return app


@pytest.fixture
def settings_env(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    def set_env(**values: Any) -> None:
        for key, value in values.items():
            monkeypatch.setenv(f"JOBWIRE_{key.upper()}", str(value))

    return set_env


def until(check: Callable[[], Any], what: str, timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"{what}: not within {timeout} s"
        time.sleep(0.02)


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_a_receiver_that_fails_three_times_gets_one_accepted_delivery_per_job(
    tmp_path: Path, receiver: Receiver
) -> None:
    app = make_app(tmp_path / "n.db")
    app.store.upgrade()
    _, alice = app.store.keys.create_key("alice", roles=["teamlead"], teams=["platform"])
    _, bob = app.store.keys.create_key("bob", teams=["platform"])
    _, carol = app.store.keys.create_key("carol", teams=["other"])
    receiver.secret = app.notify_secret
    receiver.answer = lambda _id, nth: 500 if nth <= 3 else 200
    try:
        with (
            running_server(app, auth="token", notify_allow_private=True, **FAST) as base,
            httpx.Client(base_url=base, headers=bearer(alice), timeout=10) as http,
        ):
            q = {"notify_url": receiver.url}
            ok = http.post("/api/tasks/square/jobs", params=q, json={"n": 7})
            bad = http.post("/api/tasks/fail/jobs", params=q)
            assert ok.status_code == bad.status_code == 202, (ok.text, bad.text)
            ids = {"job.succeeded": ok.json()["id"], "job.failed": bad.json()["id"]}
            assert (
                ok.json()["links"]["deliveries"] == f"/api/jobs/{ids['job.succeeded']}/deliveries"
            )
            assert "notify_url" not in ok.json()  # the snapshot never shows it

            def delivered(job_id: str) -> list[dict[str, Any]] | None:
                found = http.get(f"/api/jobs/{job_id}/deliveries").json()["deliveries"]
                return found if found and found[0]["status"] != "pending" else None

            for event, job_id in ids.items():
                (d,) = until(lambda job_id=job_id: delivered(job_id), f"{event} delivered")
                assert (d["event"], d["status"], d["attempts"]) == (event, "delivered", 4)
                assert d["url"] == receiver.url and d["next_attempt_at"] is None
                assert [(a["n"], a["status_code"], a["outcome"]) for a in d["history"]] == [
                    (1, 500, "retry"),
                    (2, 500, "retry"),
                    (3, 500, "retry"),
                    (4, 200, "delivered"),
                ]
                assert d["history"][0]["error"] == "answered HTTP 500"
                seen = receiver.of(d["id"])  # every attempt under the one webhook-id
                assert [r.answered for r in seen] == [500, 500, 500, 200]
                body = seen[-1].payload  # verified with the library, under the App's secret
                assert body["type"] == event and body["timestamp"].endswith("Z")
                assert body["data"]["id"] == job_id
                assert body["data"]["status"] == event.removeprefix("job.")
                assert seen[-1].headers["content-type"] == "application/json"
            assert sorted(r.payload["data"]["id"] for r in receiver.accepted()) == sorted(
                ids.values()
            )  # exactly one accepted delivery per job

            # Who may see the job may see its deliveries: a team it is shared with too.
            job_id = ids["job.succeeded"]
            shared = http.post(f"/api/jobs/{job_id}/shares", json={"team": "platform"})
            assert shared.status_code == 201, shared.text
            as_bob = httpx.get(f"{base}/api/jobs/{job_id}/deliveries", headers=bearer(bob))
            assert as_bob.status_code == 200 and as_bob.json()["deliveries"][0]["attempts"] == 4
            as_carol = httpx.get(f"{base}/api/jobs/{job_id}/deliveries", headers=bearer(carol))
            assert as_carol.status_code == 404
            assert as_carol.json()["error"]["code"] == "job_not_found"
    finally:
        app.close()


def test_410_stops_the_retries(
    tmp_path: Path, receiver: Receiver, settings_env: Callable[..., None]
) -> None:
    settings_env(notify_allow_private="true", **FAST)
    receiver.answer = lambda _id, _nth: 410
    app = make_app(tmp_path / "gone.db")
    try:
        with app:
            job = app.submit("square", {"n": 3}, notify_url=receiver.url)
            job.wait(timeout=10)
            (d,) = until(
                lambda: [x for x in app.deliveries(job.id) if x.status != "pending"], "gone"
            )
            assert (d.status, d.attempts, d.next_attempt_at) == ("gone", 1, None)
            assert d.history[0].status_code == 410 and d.history[0].outcome == "gone"
            time.sleep(0.3)  # many backoffs of 0.01-0.02 s: none brings another attempt
            assert len(receiver.received) == 1
            assert app.store.claim_deliveries("probe", 10, 30) == []
    finally:
        app.close()


def test_private_addresses_are_refused_unless_allowed(
    tmp_path: Path, receiver: Receiver, settings_env: Callable[..., None]
) -> None:
    settings_env(**FAST)  # notify_allow_private stays off
    app = make_app(tmp_path / "private.db")
    port = receiver.url.rsplit(":", 1)[1].split("/", 1)[0]
    try:
        # A literal private address, or not http(s): refused at submit, nothing created.
        for url in (
            f"http://127.0.0.1:{port}/hook",
            "http://10.1.2.3/",
            "http://[::1]/x",
            "http://169.254.169.254/latest",
            "ftp://example.com/x",
            "example.com",
        ):
            with pytest.raises(InvalidArguments) as info:
                app.submit("square", {"n": 1}, notify_url=url)
            assert info.value.details["errors"][0]["loc"] == ["notify_url"]
        assert app.list().jobs == []
        with running_server(app) as base:
            for url in (f"http://127.0.0.1:{port}/hook", "ftp://example.com/x", "http://a b/"):
                r = httpx.post(
                    f"{base}/api/tasks/square/jobs", params={"notify_url": url}, json={"n": 1}
                )
                assert r.status_code == 422, r.text
            # A host name is resolved when the notification is sent: `localhost` is
            # loopback, so the delivery is refused then, and recorded as refused.
            r = httpx.post(
                f"{base}/api/tasks/square/jobs", params={"notify_url": receiver.url}, json={"n": 2}
            )
            assert r.status_code == 202, r.text
            job_id = r.json()["id"]
            (d,) = until(
                lambda: [x for x in app.deliveries(job_id) if x.status != "pending"], "refused"
            )
            assert (d.status, d.attempts) == ("refused", 1)
            (attempt,) = d.history
            assert attempt.outcome == "refused" and attempt.status_code is None
            assert "127.0.0.1" in (attempt.error or "") and "notify_allow_private" in (
                attempt.error or ""
            )
            listed = httpx.get(f"{base}/api/jobs/{job_id}/deliveries").json()["deliveries"]
            assert listed[0]["status"] == "refused"
        assert receiver.received == []  # nothing ever reached it
    finally:
        app.close()


def test_pending_deliveries_survive_a_restart(
    tmp_path: Path, receiver: Receiver, settings_env: Callable[..., None]
) -> None:
    # Retries an hour apart: after its first attempt, a delivery waits, pending, in the file.
    settings_env(
        notify_allow_private="true", notify_backoff=3600, notify_backoff_max=3600, notify_timeout=5
    )
    receiver.answer = lambda _id, _nth: 503  # down while the first process runs
    db = tmp_path / "restart.db"
    first = make_app(db)
    try:
        with first:
            tried = first.submit("square", {"n": 4}, notify_url=receiver.url)
            tried.wait(timeout=10)
            until(
                lambda: [d for d in first.deliveries(tried.id) if d.attempts == 1],
                "a first attempt",
            )
        # A job cancelled while queued, whose delivery a process claimed and then died
        # with (its lease is still held when the App closes).
        lost = first.submit("square", {"n": 5}, notify_url=receiver.url)
        first.cancel(lost.id)
        (claimed,) = first.store.claim_deliveries("a-process-that-died", 10, 600)
        assert claimed.job_id == lost.id
        secret = first.notify_secret
    finally:
        first.close()
    assert len(receiver.received) == 1
    receiver.answer = lambda _id, _nth: 200  # back

    # The next process on the same file, two hours later by its store's clock.
    clock = FakeClock(start=time.time() + 7200)
    second = App(
        store=SQLStore(f"sqlite:///{db}", clock=clock), bus=MemoryBus(), poll_interval=0.05
    )
    receiver.secret = second.notify_secret
    assert receiver.secret == secret  # kept in the database: receivers keep verifying
    try:
        with second:
            for job_id, attempts in ((tried.id, 2), (lost.id, 1)):
                (d,) = until(
                    lambda job_id=job_id: [
                        x for x in second.deliveries(job_id) if x.status == "delivered"
                    ],
                    f"{job_id} delivered after the restart",
                )
                assert d.attempts == attempts
                assert [r.answered for r in receiver.of(d.id)] == [503, 200][-attempts:]
                assert receiver.of(d.id)[-1].payload["data"]["id"] == job_id
    finally:
        second.close()


def test_the_target_is_the_submits_else_the_tasks_else_the_apps(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("JOBWIRE_NOTIFY_URL", "https://app.example.com/hooks")
    app = App(store=MemoryStore(), bus=MemoryBus())

    @app.task(name="plain")
    def plain(progress: Progress) -> None: ...

    @app.task(name="own", notify_url="https://task.example.com/hooks")
    def own(progress: Progress) -> None: ...

    assert app.submit("plain").record.notify_url == "https://app.example.com/hooks"
    assert app.submit("own").record.notify_url == "https://task.example.com/hooks"
    given = own.configure(notify_url="https://job.example.com/x").submit()
    assert given.record.notify_url == "https://job.example.com/x"
    # Ended (cancelled while queued, no worker): its delivery is owed at once.
    app.cancel(given.id)
    (d,) = app.deliveries(given.id)
    assert (d.url, d.event, d.status) == ("https://job.example.com/x", "job.cancelled", "pending")

    from jobwire.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="notify_url"):
        app.task(name="bad", notify_url="ftp://x")(lambda progress: None)
    monkeypatch.setenv("JOBWIRE_NOTIFY_URL", "http://192.168.1.10/hooks")
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="notify_allow_private"):
        App(store=MemoryStore(), bus=MemoryBus())
