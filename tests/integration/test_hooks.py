"""Jobs that wait on an external system: `progress.wait_for_callback()` and the signed, idempotent
`POST /api/hooks/{job_id}`, through a real server, with a "provider" thread that receives the
callback URL from the task and calls it back, as a video API would."""

from __future__ import annotations

import queue
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from jobwire import App, Progress
from jobwire.hooks import sign
from jobwire.store.sql import SQLStore

from .server_fixtures import running_server

#: Where tasks hand their callback URLs to the test's "provider".
handed_out: queue.Queue[tuple[str, str]] = queue.Queue()
#: How often the "provider's" status API was asked, by job.
polled: dict[str, int] = {}


def make_app(tmp_path: Path) -> App:
    app = App(f"sqlite:///{tmp_path}/hooks.db", progress_interval=0.05, poll_interval=0.1)

    @app.task(name="render")
    def render(
        progress: Progress,
        prompt: str,
        timeout: float | None = None,
        polls_until_done: int | None = None,
    ) -> dict[str, Any]:
        """Asks the provider for a video, waits for its webhook (or its status API)."""
        progress.update(0, total=2, step="submitting")
        progress.once("submit", lambda: handed_out.put((progress.job_id, progress.callback_url)))

        def poll() -> Any:
            # The provider's status API: its state lives there, not in this run (a wait
            # runs the task again from the top at each poll).
            polled[progress.job_id] = polled.get(progress.job_id, 0) + 1
            if polls_until_done is not None and polled[progress.job_id] >= polls_until_done:
                return {"video": f"{prompt}.mp4", "via": "poll"}
            return None

        payload = progress.wait_for_callback(
            timeout=timeout,
            poll=poll if polls_until_done is not None else None,
            poll_interval=0.2,
            step="dreaming",
        )
        progress.update(1, step="processing frames")
        progress.update(2)
        return {"prompt": prompt, "payload": payload}

    return app


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[App, str]]:
    while not handed_out.empty():
        handed_out.get_nowait()
    app = make_app(tmp_path)
    try:
        with running_server(app) as base:
            yield app, base
    finally:
        app.close()


def submit(base: str, **args: Any) -> str:
    response = httpx.post(f"{base}/api/tasks/render/jobs", json=args, timeout=10)
    assert response.status_code == 202, response.text
    job_id: str = response.json()["id"]
    return job_id


def snapshot(base: str, job_id: str) -> dict[str, Any]:
    response = httpx.get(f"{base}/api/jobs/{job_id}", timeout=10)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def wait_for(base: str, job_id: str, statuses: set[str], timeout: float = 15) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        snap = snapshot(base, job_id)
        if snap["status"] in statuses:
            return snap
        assert time.monotonic() < deadline, f"{job_id} still {snap['status']}"
        time.sleep(0.05)


def callback_url(job_id: str) -> str:
    handed_job, url = handed_out.get(timeout=10)
    assert handed_job == job_id
    return url


def test_a_job_waits_for_its_signed_webhook_and_resumes_with_its_payload(
    served: tuple[App, str],
) -> None:
    app, base = served
    job_id = submit(base, prompt="a cat")
    url = callback_url(job_id)
    assert url.startswith(f"/api/hooks/{job_id}?sig=")

    waiting = wait_for(base, job_id, {"waiting"})
    assert waiting["step"] == "dreaming"

    hook = f"{base}{url}"
    unsigned = f"{base}/api/hooks/{job_id}"
    other = submit(base, prompt="a dog")
    other_url = callback_url(other)
    with httpx.Client(timeout=10) as client:
        assert client.post(unsigned, json={"video": "x"}).status_code == 401
        assert client.post(f"{unsigned}?sig=forged", json={"video": "x"}).status_code == 401
        # A signature is good for its own job only.
        stolen = other_url.split("?", 1)[1]
        assert client.post(f"{unsigned}?{stolen}", json={"video": "x"}).status_code == 401
        bad = client.post(hook, content=b"{not json", headers={"content-type": "text/plain"})
        assert bad.status_code == 400
        assert bad.json()["error"]["code"] == "bad_request"

        first = client.post(hook, json={"video": "cat.mp4"})
        assert first.status_code == 202, first.text
        assert first.json() == {"job_id": job_id, "accepted": True, "reason": None}
        again = client.post(hook, json={"video": "cat.mp4"})  # the provider retries
        assert again.status_code == 200
        assert again.json()["reason"] == "duplicate"

        done = wait_for(base, job_id, {"succeeded", "failed", "cancelled"})
        assert done["status"] == "succeeded", done
        result = client.get(f"{base}/api/jobs/{job_id}/result").json()
        assert result == {"prompt": "a cat", "payload": {"video": "cat.mp4"}}

        late = client.post(hook, json={"video": "cat-v2.mp4"})
        assert late.status_code == 200
        assert late.json()["reason"] == "job_finished"

        # Deleted: the signature is still genuine, the job is gone.
        assert client.delete(f"{base}/api/jobs/{job_id}").status_code == 204
        gone = client.post(hook, json={"video": "cat.mp4"})
        assert gone.status_code == 404
        assert gone.json()["error"]["code"] == "job_not_found"
        client.post(f"{base}/api/jobs/{other}/cancel")

    statuses = [e["job"]["status"] for e in app.store.events(job_id) if e["kind"] == "status"]
    assert statuses == []  # deleted with its job
    store = SQLStore(app.settings.database_url)
    try:
        assert store.hook(job_id) is None
    finally:
        store.close()


def test_the_job_shows_waiting_then_running_in_its_events(served: tuple[App, str]) -> None:
    app, base = served
    job_id = submit(base, prompt="a bird")
    url = callback_url(job_id)
    wait_for(base, job_id, {"waiting"})
    response = httpx.post(
        f"{base}{url}", json={"video": "bird.mp4"}, headers={"Idempotency-Key": "evt-1"}
    )
    assert response.status_code == 202
    # The same delivery id with another body is still the same delivery.
    repeat = httpx.post(
        f"{base}{url}", json={"video": "other.mp4"}, headers={"Idempotency-Key": "evt-1"}
    )
    assert repeat.json()["reason"] == "duplicate"
    wait_for(base, job_id, {"succeeded"})
    statuses = [e["job"]["status"] for e in app.store.events(job_id) if e["kind"] == "status"]
    assert statuses[statuses.index("waiting") :] == ["waiting", "running", "succeeded"]
    assert app.result(job_id)["payload"] == {"video": "bird.mp4"}


def test_a_callback_that_comes_before_the_wait_is_not_lost(served: tuple[App, str]) -> None:
    app, base = served
    secret = SQLStore(app.settings.database_url)
    try:
        key = secret.keys.meta_value("stream_secret", lambda: "unused")
    finally:
        secret.close()
    # The provider may answer before the task starts waiting: post as soon as the job exists.
    response = httpx.post(f"{base}/api/tasks/render/jobs", json={"prompt": "fast"}, timeout=10)
    job_id = response.json()["id"]
    early = httpx.post(f"{base}/api/hooks/{job_id}?sig={sign(key, job_id)}", json={"ok": 1})
    assert early.status_code == 202
    assert wait_for(base, job_id, {"succeeded"})["status"] == "succeeded"
    assert app.result(job_id)["payload"] == {"ok": 1}


def test_the_poll_fallback_ends_a_wait_no_webhook_ends(served: tuple[App, str]) -> None:
    app, base = served
    job_id = submit(base, prompt="a fox", polls_until_done=3)
    assert wait_for(base, job_id, {"succeeded"})["status"] == "succeeded"
    assert app.result(job_id)["payload"] == {"video": "a fox.mp4", "via": "poll"}


def test_no_callback_in_time_fails_the_job_with_callback_timeout(
    served: tuple[App, str],
) -> None:
    _, base = served
    job_id = submit(base, prompt="a slow cow", timeout=0.5)
    done = wait_for(base, job_id, {"failed"})
    assert done["error"]["code"] == "callback_timeout"


def test_cancel_ends_a_wait(served: tuple[App, str]) -> None:
    _, base = served
    job_id = submit(base, prompt="never")
    wait_for(base, job_id, {"waiting"})
    assert httpx.post(f"{base}/api/jobs/{job_id}/cancel").status_code == 202
    assert wait_for(base, job_id, {"cancelled"})["status"] == "cancelled"


def test_wait_for_callback_outside_a_worker_says_why() -> None:
    with pytest.raises(RuntimeError, match="worker"):
        Progress("j1").wait_for_callback(timeout=1)


def test_long_idempotency_keys_are_compared_whole(served: tuple[App, str]) -> None:
    # Two deliveries whose keys share their first 190 characters are two deliveries: the
    # second is recorded (202), not dropped as a repeat.
    _, base = served
    job_id = submit(base, prompt="long keys")
    url = f"{base}{callback_url(job_id)}"
    prefix = "evt-" + "x" * 300
    with httpx.Client(timeout=10) as client:
        first = client.post(url, json={"n": 1}, headers={"Idempotency-Key": prefix + "-1"})
        second = client.post(url, json={"n": 2}, headers={"Idempotency-Key": prefix + "-2"})
        again = client.post(url, json={"n": 3}, headers={"Idempotency-Key": prefix + "-2"})
    assert (first.status_code, second.status_code) == (202, 202), second.text
    assert again.status_code == 200 and again.json()["reason"] == "duplicate"
    assert wait_for(base, job_id, {"succeeded"})["status"] == "succeeded"
