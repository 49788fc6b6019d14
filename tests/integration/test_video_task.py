"""The video example's task end to end: a real uvicorn server (workers in it) and the
simulated provider in a background thread, set fast, its signed callbacks coming over HTTP.

- A generation completes: its result, a PNG per frame and the GIF among the job's files, one
  attempt, and the prompt submitted once although the task ran again after each callback.
- A failed generation fails the job with ``provider_failed`` and the provider's reason.
- Without callbacks the poll fallback completes it; with neither in time, ``callback_timeout``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from jobwire import App, JobStatus
from jobwire.examples.video import (
    TASK,
    ProviderSettings,
    RunningProvider,
    VideoSettings,
    register,
    start_provider,
)
from jobwire.examples.video.task import GIF, PROVIDER
from jobwire.server import create_app

from .server_fixtures import free_socket, serving

pytestmark = pytest.mark.timeout(60)
FAST = {"dream_seconds": (0.3, 0.3), "size": (64, 48), "fps": 12, "seed": 7}


@contextlib.contextmanager
def scenario(
    tmp_path: Path, provider: dict[str, Any], **video: Any
) -> Iterator[tuple[App, str, RunningProvider]]:
    """A provider set by ``provider``; an app with ``video.generate`` served on a free port
    whose address the task hands out in its callback URLs."""
    with start_provider(ProviderSettings(**{**FAST, **provider})) as running:
        app = App(f"sqlite:///{tmp_path}/video.db", poll_interval=0.05)
        secrets = {PROVIDER: running.secret}
        app.settings = app.settings.model_copy(update={"webhook_secrets": secrets})
        sock = free_socket()
        base = f"http://127.0.0.1:{sock.getsockname()[1]}"
        register(app, VideoSettings(provider_url=running.url, public_url=base, **video))
        config = uvicorn.Config(create_app(app), log_level="warning", lifespan="on")
        try:
            with serving(uvicorn.Server(config), sock) as url:
                yield app, url, running
        finally:
            app.close()


def wait_done(app: App, job_id: str) -> Any:
    return app.get(job_id).wait(timeout=40)


def submit(app: App, **args: Any) -> Any:
    body = {"prompt": "a teddy bear playing electric guitar", "duration": 1.0, **args}
    return app.submit(TASK, body)


def test_a_generation_becomes_frames_and_a_gif(tmp_path: Path) -> None:
    provider = {"duplicate_rate": 0.5, "reorder_rate": 0.5}
    with scenario(tmp_path, provider) as (app, url, running):
        job = wait_done(app, submit(app, width=32, height=24, color_count=8, fps=24).id)
        assert job.status == JobStatus.SUCCEEDED, job.snapshot
        result = job.result()
        assert result["total_frames"] == 24
        assert result["delay_ms"] == 42
        assert result["generation_id"] in running.provider.generations
        timings = result["timings"]
        for key in ("provider_seconds", "frame_seconds", "total_seconds"):
            assert timings[key] is not None and timings[key] >= 0, key
        assert timings["provider_seconds"] >= 0.25  # it dreamt 0.3 s
        assert timings["total_seconds"] >= timings["provider_seconds"]

        assert job.snapshot["attempt"] == 1
        assert len(running.provider.generations) == 1  # submitted once, though run again
        files = {f["name"]: f for f in httpx.get(f"{url}/api/jobs/{job.id}/files").json()["files"]}
        assert set(files) == {*result["frames"], GIF}
        assert files["frame-001.png"]["content_type"] == "image/png"
        assert files[GIF]["content_type"] == "image/gif"
        png = httpx.get(f"{url}/api/jobs/{job.id}/files/frame-024.png").content
        assert png.startswith(b"\x89PNG")
        steps = [e["job"]["step"] for e in app.store.events(job.id)]
        for step in ("submitting", "queued", "downloading", "processing frames", "saving"):
            assert step in steps, step
        statuses = {e["job"]["status"] for e in app.store.events(job.id)}
        assert "waiting" in statuses  # it gave its worker back while the provider worked
        assert any(d.status == 202 for d in running.provider.deliveries)  # signed, accepted


def test_a_failed_generation_fails_the_job_with_its_reason(tmp_path: Path) -> None:
    with scenario(tmp_path, {}) as (app, _url, _running):
        job = wait_done(app, submit(app, prompt="please fail this one").id)
        assert job.status == JobStatus.FAILED
        error = job.snapshot["error"]
        assert error["code"] == "provider_failed"
        assert "moderation" in error["details"]["failure_reason"]
        assert "moderation" in error["message"]


def test_without_callbacks_the_poll_completes_it(tmp_path: Path) -> None:
    with scenario(tmp_path, {"drop_callbacks": True}, poll_interval=0.2) as (app, _, running):
        job = wait_done(app, submit(app, fps=12).id)
        assert job.status == JobStatus.SUCCEEDED, job.snapshot
        assert job.result()["total_frames"] == 12
        assert not running.provider.deliveries  # no callback was sent: polled
        assert len(running.provider.generations) == 1


def test_with_neither_callback_nor_poll_in_time_it_times_out(tmp_path: Path) -> None:
    provider = {"drop_callbacks": True, "dream_seconds": (30.0, 30.0)}
    with scenario(tmp_path, provider, poll_interval=0.2, timeout=0.6) as (app, _, _running):
        job = wait_done(app, submit(app).id)
        assert job.status == JobStatus.FAILED
        assert job.snapshot["error"]["code"] == "callback_timeout"
