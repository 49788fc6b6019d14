"""Callbacks from providers that sign them the Standard Webhooks way: a task hands out
`progress.callback_url_for("luma")`, and `POST /api/hooks/{job_id}?provider=luma&sig=…`
accepts only deliveries signed under luma's `whsec_` secret (`webhook_secrets`) with a
timestamp within 5 minutes, once per `webhook-id`. Through a real server; the "provider"
signs with the standardwebhooks library's own `Webhook.sign`."""

from __future__ import annotations

import json
import queue
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError
from standardwebhooks import Webhook

from jobwire import App, Progress
from jobwire.hooks import sign
from jobwire.settings import Settings

from .server_fixtures import running_server

LUMA = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
OTHER = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY"

#: Where tasks hand their callback URLs to the test's "provider".
handed_out: queue.Queue[tuple[str, str]] = queue.Queue()


def make_app(tmp_path: Path) -> App:
    app = App(f"sqlite:///{tmp_path}/signed.db", progress_interval=0.05, poll_interval=0.1)

    @app.task(name="render")
    def render(progress: Progress, prompt: str, provider: str = "luma") -> dict[str, Any]:
        progress.step("submitting")
        handed_out.put((progress.job_id, progress.callback_url_for(provider)))
        video = progress.wait_for_callback(timeout=20, step="dreaming")
        return {"prompt": prompt, "video": video}

    return app


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[App, str]]:
    while not handed_out.empty():
        handed_out.get_nowait()
    app = make_app(tmp_path)
    try:
        with running_server(app, webhook_secrets={"luma": LUMA, "other": OTHER}) as base:
            yield app, base
    finally:
        app.close()


def submit(base: str, **args: Any) -> str:
    response = httpx.post(f"{base}/api/tasks/render/jobs", json=args, timeout=10)
    assert response.status_code == 202, response.text
    job_id: str = response.json()["id"]
    return job_id


def callback_url(job_id: str) -> str:
    handed_job, url = handed_out.get(timeout=10)
    assert handed_job == job_id
    return url


def wait_for(base: str, job_id: str, statuses: set[str], timeout: float = 15) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        snap: dict[str, Any] = httpx.get(f"{base}/api/jobs/{job_id}", timeout=10).json()
        if snap["status"] in statuses:
            return snap
        assert time.monotonic() < deadline, f"{job_id} still {snap['status']}"
        time.sleep(0.05)


def signed(
    body: Any,
    *,
    secret: str = LUMA,
    msg_id: str | None = None,
    at: datetime | None = None,
) -> tuple[bytes, dict[str, str]]:
    """The bytes and headers a Standard Webhooks sender posts."""
    data = json.dumps(body)
    msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
    at = at or datetime.now(UTC)
    headers = {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, at, data),
    }
    return data.encode(), headers


def test_a_signed_delivery_resumes_the_job_once(served: tuple[App, str]) -> None:
    app, base = served
    job_id = submit(base, prompt="a cat")
    path = callback_url(job_id)
    assert path == f"/api/hooks/{job_id}?provider=luma&sig={sign(app.secret, job_id, 'luma')}"
    wait_for(base, job_id, {"waiting"})
    with httpx.Client(base_url=base, timeout=10) as client:
        body, headers = signed({"video": "cat.mp4"}, msg_id="msg_1")
        first = client.post(path, content=body, headers=headers)
        assert first.status_code == 202, first.text
        assert first.json() == {"job_id": job_id, "accepted": True, "reason": None}
        # The provider retries the same message (the same webhook-id, signed again later,
        # even with another body): a duplicate, and nothing changes.
        body, headers = signed({"video": "dog.mp4"}, msg_id="msg_1")
        again = client.post(path, content=body, headers=headers)
        assert again.status_code == 200
        assert again.json() == {"job_id": job_id, "accepted": False, "reason": "duplicate"}
        done = wait_for(base, job_id, {"succeeded", "failed", "cancelled"})
        assert done["status"] == "succeeded", done
    assert app.result(job_id) == {"prompt": "a cat", "video": {"video": "cat.mp4"}}


def test_forged_or_unsigned_deliveries_are_refused(served: tuple[App, str]) -> None:
    app, base = served
    job_id = submit(base, prompt="a fox")
    path = callback_url(job_id)
    wait_for(base, job_id, {"waiting"})
    plain = f"/api/hooks/{job_id}?sig={sign(app.secret, job_id)}"
    provider_sig = path.split("sig=", 1)[1]
    with httpx.Client(base_url=base, timeout=10) as client:

        def refused(url: str, body: bytes, headers: dict[str, str]) -> None:
            r = client.post(url, content=body, headers=headers)
            assert r.status_code == 401, (url, r.text)
            assert r.json()["error"]["code"] == "unauthorized"

        body, headers = signed({"video": "forged.mp4"}, secret=OTHER)  # another secret
        refused(path, body, headers)
        body, headers = signed({"video": "x"})
        tampered = body.replace(b"x", b"y")  # the body changed after signing
        refused(path, tampered, headers)
        for name in ("webhook-id", "webhook-timestamp", "webhook-signature"):
            refused(path, body, {k: v for k, v in headers.items() if k != name})
        refused(path, body, {**headers, "webhook-signature": "v1,not-base64!"})
        refused(path, body, {**headers, "webhook-signature": "nonsense"})
        refused(path, body, {"content-type": "application/json"})
        # The URL's sig names the provider: it is not a plain callback URL once `provider`
        # is dropped (no way around the provider's signature), nor another provider's...
        refused(f"/api/hooks/{job_id}?sig={provider_sig}", body, {})
        body_o, headers_o = signed({"video": "x"}, secret=OTHER)
        refused(f"/api/hooks/{job_id}?provider=other&sig={provider_sig}", body_o, headers_o)
        # ...and the plain URL's sig does not stand for a provider's URL.
        plain_sig = plain.split("sig=", 1)[1]
        refused(f"/api/hooks/{job_id}?provider=luma&sig={plain_sig}", body, headers)
        # A provider without a secret: refused, even with a URL signed for it.
        unknown = f"/api/hooks/{job_id}?provider=acme&sig={sign(app.secret, job_id, 'acme')}"
        refused(unknown, body, headers)
        malformed = client.post(f"/api/hooks/{job_id}?provider=a%20b&sig=x", content=body)
        assert malformed.status_code == 422
        # Signed, but not JSON: the signature held, the body is still refused.
        raw = "not json"
        msg_at = datetime.now(UTC)
        r = client.post(
            path,
            content=raw.encode(),
            headers={
                "webhook-id": "msg_raw",
                "webhook-timestamp": str(int(msg_at.timestamp())),
                "webhook-signature": Webhook(LUMA).sign("msg_raw", msg_at, raw),
            },
        )
        assert r.status_code == 400 and r.json()["error"]["code"] == "bad_request"
        # None of that reached the job; a good delivery does.
        assert app.store.hook(job_id) is None
        assert wait_for(base, job_id, {"waiting"})["status"] == "waiting"
        body, headers = signed({"video": "fox.mp4"})
        assert client.post(path, content=body, headers=headers).status_code == 202
        assert wait_for(base, job_id, {"succeeded"})["status"] == "succeeded"
    assert app.result(job_id)["video"] == {"video": "fox.mp4"}


def test_timestamps_over_five_minutes_away_are_refused(served: tuple[App, str]) -> None:
    app, base = served
    job_id = submit(base, prompt="a slow cow")
    path = callback_url(job_id)
    now = datetime.now(UTC)
    with httpx.Client(base_url=base, timeout=10) as client:
        for at in (now - timedelta(minutes=6), now + timedelta(minutes=6)):
            body, headers = signed({"video": "old.mp4"}, at=at)
            r = client.post(path, content=body, headers=headers)
            assert r.status_code == 401, r.text
            assert "timestamp" in r.json()["error"]["message"]
        assert app.store.hook(job_id) is None
        # Four minutes late is within the tolerance (a provider's retry, a slow clock).
        body, headers = signed({"video": "late.mp4"}, at=now - timedelta(minutes=4))
        assert client.post(path, content=body, headers=headers).status_code == 202
    assert wait_for(base, job_id, {"succeeded"})["status"] == "succeeded"


def test_a_provider_without_a_secret_fails_the_task_at_once(served: tuple[App, str]) -> None:
    _, base = served
    job_id = submit(base, prompt="a bird", provider="acme")
    done = wait_for(base, job_id, {"failed"})
    assert done["error"]["code"] == "configuration_error"
    assert "webhook_secrets" in done["error"]["message"]


def test_webhook_secrets_come_from_the_environment_as_json(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("JOBWIRE_WEBHOOK_SECRETS", json.dumps({"luma": LUMA}))
    assert Settings().webhook_secrets == {"luma": LUMA}
    leaked = "whsec_c2hvcnQ"  # 5 bytes: too short to be a provider's secret
    for bad in ({"luma": leaked}, {"luma": "plain-text-secret"}, {"a b": LUMA}):
        monkeypatch.setenv("JOBWIRE_WEBHOOK_SECRETS", json.dumps(bad))
        with pytest.raises(ValidationError) as info:
            Settings()
        assert "webhook_secrets" in str(info.value)
        assert leaked not in str(info.value) and "plain-text-secret" not in str(info.value)
