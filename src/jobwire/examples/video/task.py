"""The task ``video.generate``: a prompt to a video provider that calls back, then pixel-art
frames, live.

It goes through these steps, as the page shows them:

- ``submitting``: the prompt goes to the provider with the job's callback URL
  (``progress.callback_url_for("luma")``), once per attempt (``progress.once``);
- ``queued`` (20 %) and ``dreaming`` (60 %): the job waits for the provider's callbacks
  without holding a worker (``progress.wait_for_callback``), ignoring a state it has seen or
  one older than it (the provider repeats and reorders them), polling
  ``GET /generations/{id}`` as a fallback, until the generation is completed or failed;
- ``downloading``: the video, counted in bytes;
- ``processing frames``: each frame at the fps asked, pixelated to width by height with
  ``color_count`` colours and saved as ``frame-001.png``…, counted frame by frame;
- ``saving``: ``animation.gif``, every frame at ``delay_ms``.

Each wait ends the attempt as ``waiting`` when its callback has not come, and the task runs
again from the top when it does: what must not happen twice is in ``progress.once``, and
when each state was first seen is kept the same way, so the timings survive the replays.

A failed generation fails the job with the code ``provider_failed`` (the provider's
``failure_reason`` in the error's details); a wait with neither a callback nor a poll result
within ``timeout`` fails it with ``callback_timeout``.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import httpx
from pydantic import Field

from ...errors import TaskFailed
from ...progress import Progress
from .frames import delay_ms, extract_frames, pixelate, to_gif
from .provider import TERMINAL
from .render import frame_count

if TYPE_CHECKING:
    from ...app import App

TASK = "video.generate"
PATH = "/examples/video"
PAGE = Path(__file__).resolve().parent / "page.html"
PROVIDER = "luma"
"""The provider's name in ``webhook_secrets`` and in the callback URL."""
STEPS = ("submitting", "queued", "dreaming", "downloading", "processing frames", "saving")
GIF = "animation.gif"
#: Where the bar stands while the provider works (out of 100), as the plan had it.
WAIT_PERCENT = {"queued": 20, "dreaming": 60}
WAIT_MESSAGE = {"queued": "queued at the provider", "dreaming": "the provider is dreaming"}
#: States in the order a generation goes through them: an older one than seen is stale.
ORDER = {"queued": 0, "dreaming": 1, "completed": 2, "failed": 2}

Prompt = Annotated[str, Field(min_length=1, max_length=500, description="What the video shows")]
Side = Annotated[int, Field(ge=4, le=256, description="Frame side, in pixels")]
Colors = Annotated[int, Field(ge=2, le=256, description="Colours per frame")]
Fps = Literal[12, 24, 30]
Seconds = Annotated[float, Field(gt=0, le=10, description="Video length, in seconds")]


class ProviderFailed(TaskFailed):
    """The video provider failed the generation. ``details["failure_reason"]`` says why."""

    code = "provider_failed"


@dataclass(frozen=True, kw_only=True)
class VideoSettings:
    """Where the task finds the provider and where the provider finds jobwire."""

    provider_url: str | Callable[[], str]
    """The provider's base URL, or a function returning it (a provider started on first use)."""
    public_url: str = "http://127.0.0.1:8000"
    """jobwire's address as the provider reaches it: the callback URLs start with it."""
    timeout: float = 600.0
    """Seconds each wait for the provider (a callback or a poll result) may take."""
    poll_interval: float = 15.0
    """Seconds between polls of the generation while no callback comes."""
    api_key: str | None = None
    """Sent as ``Authorization: Bearer`` to the provider when set."""

    def provider(self) -> str:
        url = self.provider_url() if callable(self.provider_url) else self.provider_url
        return url.rstrip("/")

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}


class ProviderClient:
    """The provider's API, as the task calls it."""

    def __init__(self, settings: VideoSettings) -> None:
        self.settings = settings

    def _client(self, timeout: float = 10.0) -> httpx.Client:
        return httpx.Client(
            base_url=self.settings.provider(), headers=self.settings.headers(), timeout=timeout
        )

    def submit(self, prompt: str, duration: float, callback_url: str) -> dict[str, Any]:
        body = {"prompt": prompt, "duration": f"{duration:g}s", "callback_url": callback_url}
        with self._client() as http:
            answer = http.post("/generations", json=body)
        if answer.status_code == 400:  # the provider refuses the request: no retry helps
            reason = answer.json().get("detail", answer.text)
            raise ProviderFailed(
                f"The provider refused the prompt: {reason}", failure_reason=reason
            )
        answer.raise_for_status()
        generation: dict[str, Any] = answer.json()
        return generation

    def finished(self, generation_id: str) -> dict[str, Any] | None:
        """The generation when it is completed or failed, else None: the poll fallback."""
        with self._client() as http:
            answer = http.get(f"/generations/{generation_id}")
        answer.raise_for_status()
        generation: dict[str, Any] = answer.json()
        return generation if generation.get("state") in TERMINAL else None

    def download(self, url: str, on_chunk: Callable[[int, int | None], None]) -> bytes:
        """The video at ``url``; ``on_chunk(bytes so far, total or None)`` after each chunk."""
        data = bytearray()
        with self._client(timeout=60.0) as http, http.stream("GET", url) as answer:
            answer.raise_for_status()
            length = answer.headers.get("content-length")
            total = int(length) if length and length.isdigit() else None
            for chunk in answer.iter_bytes(64 * 1024):
                data += chunk
                on_chunk(len(data), total)
        return bytes(data)


def generate_video(
    settings: VideoSettings,
    progress: Progress,
    prompt: str,
    width: int,
    height: int,
    color_count: int,
    fps: int,
    duration: float,
) -> dict[str, Any]:
    """Generate a video from ``prompt`` and turn it into pixel-art frames and a GIF."""
    provider = ProviderClient(settings)
    began = progress.once("began", time.time)
    progress.step("submitting", message="sending the prompt to the video provider")
    callback_url = settings.public_url.rstrip("/") + progress.callback_url_for(PROVIDER)
    generation = progress.once("submit", lambda: provider.submit(prompt, duration, callback_url))
    generation_id = generation["id"]
    seen = {generation["state"]: progress.once(f"seen.{generation['state']}", time.time)}

    waits = 0
    while generation["state"] not in TERMINAL:
        state = generation["state"]
        progress.update(WAIT_PERCENT[state], total=100, step=state, message=WAIT_MESSAGE[state])
        update = progress.wait_for_callback(
            timeout=settings.timeout,
            poll=lambda: provider.finished(generation_id),
            poll_interval=settings.poll_interval,
            step=state,
        )
        waits += 1
        if not isinstance(update, dict) or update.get("id") != generation_id:
            continue  # not about this generation
        newer = ORDER.get(update.get("state", ""), -1) > ORDER[state]
        if newer:  # a repeat or a state older than the one we have is stale: ignored
            generation = update
            seen[update["state"]] = progress.once(f"seen.{update['state']}", time.time)

    provider_done = seen.get("completed", seen.get("failed", time.time()))
    if generation["state"] == "failed":
        reason = generation.get("failure_reason") or "no reason given"
        raise ProviderFailed(
            f"The provider failed the generation: {reason}",
            failure_reason=reason,
            generation_id=generation_id,
        )

    # Completed: nothing below waits, so it runs once, in this run.
    downloaded = time.time()
    progress.step("downloading", message="the video")

    def on_chunk(done: int, total: int | None) -> None:
        progress.update(done, total=total, message=f"{done:,} bytes")

    video = provider.download(generation["assets"]["video"], on_chunk)
    frames_began = time.time()

    progress.update(0, total=frame_count(duration, fps), step="processing frames")
    pixels = []
    for index, frame in enumerate(
        extract_frames(video, fps, on_frame=lambda done, total: progress.update(total=total)),
        start=1,
    ):
        small = pixelate(frame, width, height, color_count)
        progress.save_file(f"frame-{index:03d}.png", _png(small), "image/png")
        pixels.append(small)
        progress.update(index, message=f"frame {index} of {progress.total}")

    progress.step("saving", message=GIF)
    delay = delay_ms(fps)
    progress.save_file(GIF, to_gif(pixels, delay), "image/gif")
    finished = time.time()
    progress.update(
        message=f"{len(pixels)} frames · {width}x{height} · {color_count} colours · {fps} fps"
    )
    return {
        "generation_id": generation_id,
        "prompt": prompt,
        "width": width,
        "height": height,
        "color_count": color_count,
        "fps": fps,
        "duration": duration,
        "total_frames": len(pixels),
        "delay_ms": delay,
        "frames": [f"frame-{i:03d}.png" for i in range(1, len(pixels) + 1)],
        "gif": GIF,
        "video_bytes": len(video),
        "callbacks": waits,
        "timings": {
            "queued_seconds": _seconds(seen.get("queued"), seen.get("dreaming", provider_done)),
            "dreaming_seconds": _seconds(seen.get("dreaming"), provider_done),
            "provider_seconds": _seconds(began, provider_done),
            "download_seconds": _seconds(downloaded, frames_began),
            "frame_seconds": _seconds(frames_began, finished),
            "total_seconds": _seconds(began, finished),
        },
    }


def _png(image: Any) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=False)
    return out.getvalue()


def _seconds(start: float | None, end: float | None) -> float | None:
    if start is None or end is None:
        return None
    return round(max(0.0, end - start), 3)


def register(app: App, settings: VideoSettings) -> dict[str, Path]:
    """Register ``video.generate`` on ``app`` (one generation per owner at a time); return
    its page, ``{"/examples/video": page.html}``. ``settings`` say where the provider is;
    its webhook secret must be in ``app.settings.webhook_secrets["luma"]``."""

    def generate(
        progress: Progress,
        prompt: Prompt,
        width: Side = 64,
        height: Side = 36,
        color_count: Colors = 16,
        fps: Fps = 12,
        duration: Seconds = 5.0,
    ) -> dict[str, Any]:
        """Generate a short video from a prompt and turn it into pixel-art frames."""
        return generate_video(settings, progress, prompt, width, height, color_count, fps, duration)

    app.task(name=TASK, per_owner_limit=1, steps=STEPS)(generate)
    return {PATH: PAGE}
