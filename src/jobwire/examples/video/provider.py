"""A simulated video-generation provider that behaves like Luma's Dream Machine API.

A small Starlette app: ``POST /generations`` takes ``{prompt, duration, callback_url}`` and
answers ``{id, state: "queued", ...}`` at once; the generation then goes ``queued`` →
``dreaming`` → ``completed`` (with ``assets.video``, an MP4 this app serves) or ``failed``
(with ``failure_reason``), and each state is POSTed to ``callback_url`` as the generation
object, signed with `Standard Webhooks <https://www.standardwebhooks.com/>`_. Like the real
thing it retries a callback that fails 3 times 100 ms apart, and on request it sends a state
twice or out of order, or no callbacks at all, so the consumer must check signatures, ignore
repeats and stale states, and poll ``GET /generations/{id}``.

```python
with start_provider(ProviderSettings(dream_seconds=(2, 4), seed=1)) as provider:
    created = httpx.post(f"{provider.url}/generations", json={
        "prompt": "a teddy bear playing electric guitar",
        "duration": "5s",
        "callback_url": "http://127.0.0.1:8000/hooks/video?job=42",
    }).json()
    # verify what arrives with standardwebhooks.Webhook(provider.secret).verify(body, headers)
```

Or alone: ``python -m jobwire.examples.video --port 8100`` (``--help`` lists the settings).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import logging
import random
import secrets
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, TypedDict

import httpx
import uvicorn
from standardwebhooks import Webhook
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .render import render_video, require

logger = logging.getLogger(__name__)

State = Literal["queued", "dreaming", "completed", "failed"]
TERMINAL: frozenset[State] = frozenset({"completed", "failed"})

#: The longest video a generation may ask for, in seconds.
MAX_DURATION = 30.0
#: The share of a generation's time spent queued; the rest is spent dreaming.
QUEUED_SHARE = 0.15
#: What a generation whose prompt contains "fail" fails with (a reason Luma gives).
MODERATION_FAILURE = "400: prompt not allowed because advanced moderation failed"
#: What a generation failed by ``failure_rate`` fails with.
RANDOM_FAILURE = "500: generation failed, please try again"


def new_secret() -> str:
    """A fresh Standard Webhooks secret: ``whsec_`` and 24 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


@dataclass(frozen=True, kw_only=True)
class ProviderSettings:
    """How the provider behaves. Rates are chances from 0 to 1, drawn per generation (and
    per callback) from ``seed`` when it is set, so a test sees the same run every time."""

    #: Signs every callback (``whsec_`` and base64); consumers verify with the same secret.
    secret: str = field(default_factory=new_secret)
    #: How long a generation takes, drawn between the two, in seconds.
    dream_seconds: tuple[float, float] = (20.0, 40.0)
    #: The chance that a generation fails (a prompt containing "fail" always does).
    failure_rate: float = 0.0
    #: The chance that a callback is sent a second time.
    duplicate_rate: float = 0.0
    #: The chance that a state's callback is held back and sent after the next state's.
    reorder_rate: float = 0.0
    #: Send no callbacks at all: the consumer has to poll.
    drop_callbacks: bool = False
    seed: int | None = None
    #: Attempts after the first when a callback gets no 2xx, ``retry_delay`` seconds apart.
    retries: int = 3
    retry_delay: float = 0.1
    #: Seconds a callback request may take.
    callback_timeout: float = 5.0
    #: The rendered videos' frame rate and size (even width and height).
    fps: int = 24
    size: tuple[int, int] = (320, 180)
    #: When set, the /generations routes ask for ``Authorization: Bearer <api_key>``.
    api_key: str | None = None

    def __post_init__(self) -> None:
        low, high = self.dream_seconds
        if not 0 <= low <= high:
            raise ValueError(f"Expected dream_seconds (low, high), but got {self.dream_seconds!r}")
        for name in ("failure_rate", "duplicate_rate", "reorder_rate"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"Expected {name} from 0 to 1, but got {getattr(self, name)!r}")
        width, height = self.size
        if width < 16 or height < 16 or width % 2 or height % 2:
            raise ValueError(f"Expected an even width and height of 16 or more, got {self.size!r}")
        if self.fps <= 0 or self.retries < 0:
            raise ValueError(f"Expected fps > 0 and retries >= 0, got {self.fps}, {self.retries}")
        if not self.secret.startswith("whsec_"):
            raise ValueError("Expected a secret starting with whsec_ (see new_secret())")


class Assets(TypedDict):
    video: str


class GenerationObject(TypedDict):
    """A generation as the API answers it and as every callback carries it."""

    id: str
    generation_type: Literal["video"]
    state: State
    failure_reason: str | None
    created_at: str
    assets: Assets | None
    model: str
    request: dict[str, Any]


@dataclass
class Generation:
    id: str
    prompt: str
    duration: float
    callback_url: str | None
    request: dict[str, Any]
    video_url: str
    created_at: str = field(default_factory=lambda: _iso(datetime.now(UTC)))
    state: State = "queued"
    failure_reason: str | None = None
    video: bytes | None = None

    def public(self) -> GenerationObject:
        return {
            "id": self.id,
            "generation_type": "video",
            "state": self.state,
            "failure_reason": self.failure_reason,
            "created_at": self.created_at,
            "assets": {"video": self.video_url} if self.state == "completed" else None,
            "model": "ray-2",
            "request": self.request,
        }


@dataclass(frozen=True)
class Delivery:
    """One attempt at a callback: ``status`` is the answer's, or None with ``error``."""

    generation_id: str
    state: State
    webhook_id: str
    attempt: int
    status: int | None
    error: str | None = None


class BadGeneration(ValueError):
    """The body of POST /generations is not a generation request."""


class Provider:
    """The provider's state and its ASGI app (``provider.app``); serve it with uvicorn, or
    with :func:`start_provider` in a background thread."""

    def __init__(self, settings: ProviderSettings | None = None) -> None:
        require("av", "pillow")
        self.settings = settings or ProviderSettings()
        self.generations: dict[str, Generation] = {}
        #: The latest callback attempts, oldest first.
        self.deliveries: deque[Delivery] = deque(maxlen=1000)
        self._webhook = Webhook(self.settings.secret)
        self._created = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._client: httpx.AsyncClient | None = None
        self.app = Starlette(
            routes=[
                Route("/", self._index, methods=["GET"]),
                Route("/generations", self._create, methods=["POST"]),
                Route("/generations/{generation_id}", self._get, methods=["GET"]),
                Route("/videos/{generation_id}.mp4", self._video, methods=["GET"], name="video"),
            ],
            lifespan=self._lifespan,
        )

    @property
    def active(self) -> int:
        """How many generations are still running or sending callbacks."""
        return len(self._tasks)

    @contextlib.asynccontextmanager
    async def _lifespan(self, app: Starlette) -> AsyncIterator[None]:
        async with httpx.AsyncClient(timeout=self.settings.callback_timeout) as client:
            self._client = client
            try:
                yield
            finally:
                for task in list(self._tasks):
                    task.cancel()
                await asyncio.gather(*self._tasks, return_exceptions=True)
                self._client = None

    async def _index(self, request: Request) -> Response:
        return JSONResponse(
            {
                "provider": "jobwire simulated video generation",
                "routes": ["POST /generations", "GET /generations/{id}", "GET /videos/{id}.mp4"],
                "generations": len(self.generations),
            }
        )

    async def _create(self, request: Request) -> Response:
        if denied := self._denied(request):
            return denied
        try:
            body = await request.json()
            prompt, duration, callback_url = _parse(body)
        except BadGeneration as exc:
            return JSONResponse({"detail": str(exc)}, status_code=400)
        except ValueError:
            return JSONResponse({"detail": "Expected a JSON body"}, status_code=400)
        rng = self._rng()
        generation_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        generation = Generation(
            id=generation_id,
            prompt=prompt,
            duration=duration,
            callback_url=callback_url,
            request={**body, "duration": f"{duration:g}s"},
            video_url=str(request.url_for("video", generation_id=generation_id)),
        )
        self.generations[generation_id] = generation
        task = asyncio.create_task(self._run(generation, rng), name=f"generation:{generation_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        logger.info(
            "generation %s queued",
            generation_id,
            extra={"generation_id": generation_id, "action": "queued"},
        )
        return JSONResponse(generation.public(), status_code=201)

    async def _get(self, request: Request) -> Response:
        if denied := self._denied(request):
            return denied
        generation = self.generations.get(request.path_params["generation_id"])
        if generation is None:
            return JSONResponse({"detail": "Generation not found"}, status_code=404)
        return JSONResponse(generation.public())

    async def _video(self, request: Request) -> Response:
        generation = self.generations.get(request.path_params["generation_id"])
        if generation is None or generation.video is None:
            return JSONResponse({"detail": "Video not found"}, status_code=404)
        # Bytes in one response: Starlette sets Content-Length, so downloads can show progress.
        return Response(generation.video, media_type="video/mp4")

    def _denied(self, request: Request) -> Response | None:
        expected = self.settings.api_key
        given = request.headers.get("authorization", "")
        if expected is None or secrets.compare_digest(given, f"Bearer {expected}"):
            return None
        return JSONResponse(
            {"detail": "Invalid API key: send Authorization: Bearer <key>"}, status_code=401
        )

    def _rng(self) -> random.Random:
        """The generation's own random source: from the seed and its number when seeded."""
        self._created += 1
        if self.settings.seed is None:
            return random.Random()
        return random.Random(f"{self.settings.seed}/{self._created}")

    async def _run(self, generation: Generation, rng: random.Random) -> None:
        loop = asyncio.get_running_loop()
        settings = self.settings
        started = loop.time()
        seconds = rng.uniform(*settings.dream_seconds)
        fails = "fail" in generation.prompt.lower() or rng.random() < settings.failure_rate
        outbox = _Outbox(self, generation, rng)
        await outbox.send()
        await asyncio.sleep(max(0.0, started + seconds * QUEUED_SHARE - loop.time()))
        generation.state = "dreaming"
        await outbox.send()
        reason = MODERATION_FAILURE if "fail" in generation.prompt.lower() else RANDOM_FAILURE
        if not fails:
            try:
                generation.video = await asyncio.to_thread(
                    render_video,
                    generation.prompt,
                    generation.duration,
                    settings.fps,
                    settings.size,
                )
            except Exception:  # the consumer hears of it as a failed generation
                logger.exception(
                    "rendering %s failed",
                    generation.id,
                    extra={"generation_id": generation.id, "action": "render_failed"},
                )
        await asyncio.sleep(max(0.0, started + seconds - loop.time()))
        if generation.video is None:
            generation.failure_reason = reason
            generation.state = "failed"
        else:
            generation.state = "completed"
        await outbox.send()
        logger.info(
            "generation %s %s",
            generation.id,
            generation.state,
            extra={"generation_id": generation.id, "action": generation.state},
        )

    async def deliver(
        self, generation: Generation, state: State, webhook_id: str, body: str
    ) -> bool:
        """POST ``body`` (the generation in ``state``) to its callback URL, signed, retrying
        on a non-2xx answer or a connection error; whether it was accepted."""
        assert generation.callback_url is not None and self._client is not None
        for attempt in range(1, self.settings.retries + 2):
            if attempt > 1:
                await asyncio.sleep(self.settings.retry_delay)
            now = datetime.now(UTC)
            headers = {
                "content-type": "application/json",
                "user-agent": "jobwire-video-provider",
                "webhook-id": webhook_id,
                "webhook-timestamp": str(int(now.timestamp())),
                "webhook-signature": self._webhook.sign(webhook_id, now, body),
            }
            status: int | None = None
            error: str | None = None
            try:
                answer = await self._client.post(
                    generation.callback_url, content=body.encode(), headers=headers
                )
                status = answer.status_code
            except httpx.HTTPError as exc:  # the receiver is down: retried like a 5xx
                error = f"{type(exc).__name__}: {exc}"
            self.deliveries.append(
                Delivery(generation.id, state, webhook_id, attempt, status, error)
            )
            if status is not None and 200 <= status < 300:
                return True
            logger.info(
                "callback %s (%s) attempt %d: %s",
                *(webhook_id, state, attempt, error or status),
                extra={"generation_id": generation.id, "action": "callback_failed"},
            )
        logger.warning(
            "callback %s (%s) to %s given up",
            *(webhook_id, state, generation.callback_url),
            extra={"generation_id": generation.id, "action": "callback_given_up"},
        )
        return False


class _Outbox:
    """A generation's callbacks, each state sent as it happens, except that one may be held
    back until the next is sent (``reorder_rate``) and one may be sent twice
    (``duplicate_rate``, with the same ``webhook-id``: Standard Webhooks' idempotency key)."""

    def __init__(self, provider: Provider, generation: Generation, rng: random.Random) -> None:
        self.provider = provider
        self.generation = generation
        self.rng = rng
        self.held: tuple[str, str, State] | None = None

    async def send(self) -> None:
        settings = self.provider.settings
        if settings.drop_callbacks or self.generation.callback_url is None:
            return
        state = self.generation.state
        message = (
            f"msg_{self.rng.getrandbits(96):024x}",
            json.dumps(self.generation.public(), separators=(",", ":")),
            state,
        )
        if (
            state not in TERMINAL
            and self.held is None
            and self.rng.random() < settings.reorder_rate
        ):
            self.held = message
            return
        await self._send(message)
        if self.held is not None:
            held, self.held = self.held, None
            await self._send(held)

    async def _send(self, message: tuple[str, str, State]) -> None:
        webhook_id, body, state = message
        await self.provider.deliver(self.generation, state, webhook_id, body)
        if self.rng.random() < self.provider.settings.duplicate_rate:
            await self.provider.deliver(self.generation, state, webhook_id, body)


def _parse(body: Any) -> tuple[str, float, str | None]:
    if not isinstance(body, dict):
        raise BadGeneration(f"Expected a JSON object, but got {body!r}")
    prompt = body.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise BadGeneration(f"Expected a prompt, but got {prompt!r}")
    raw = body.get("duration", "5s")
    try:
        duration = float(raw.removesuffix("s") if isinstance(raw, str) else raw)
    except (TypeError, ValueError):
        raise BadGeneration(f"Expected a duration such as '5s', but got {raw!r}") from None
    if not 0 < duration <= MAX_DURATION:
        raise BadGeneration(f"Expected a duration up to {MAX_DURATION:g}s, but got {raw!r}")
    callback_url = body.get("callback_url")
    if callback_url is not None and (
        not isinstance(callback_url, str) or not callback_url.startswith(("http://", "https://"))
    ):
        raise BadGeneration(f"Expected an http(s) callback_url, but got {callback_url!r}")
    return prompt, duration, callback_url


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class RunningProvider:
    """A provider served by uvicorn in a background thread: its base ``url``, ``secret``
    and ``provider`` (its generations and deliveries); ``stop()`` ends it."""

    url: str
    provider: Provider
    server: uvicorn.Server
    thread: threading.Thread

    @property
    def secret(self) -> str:
        return self.provider.settings.secret

    def stop(self, timeout: float = 10.0) -> None:
        self.server.should_exit = True
        self.thread.join(timeout)

    def __enter__(self) -> RunningProvider:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_provider(
    settings: ProviderSettings | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    startup_timeout: float = 15.0,
) -> RunningProvider:
    """Serve a :class:`Provider` on ``host``:``port`` (0: a free port) in a daemon thread and
    return once it answers; use the result as a context manager, or call ``stop()``."""
    provider = Provider(settings)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    bound = sock.getsockname()[1]
    config = uvicorn.Config(
        provider.app, log_level="warning", lifespan="on", timeout_graceful_shutdown=2
    )
    server = uvicorn.Server(config)

    def serve() -> None:
        try:
            server.run(sockets=[sock])
        finally:
            sock.close()

    thread = threading.Thread(target=serve, name=f"video-provider:{bound}", daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError(f"The video provider on port {bound} did not start")
        time.sleep(0.01)
    return RunningProvider(f"http://{host}:{bound}", provider, server, thread)


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m jobwire.examples.video``: serve the provider in the foreground."""
    parser = argparse.ArgumentParser(
        prog="python -m jobwire.examples.video",
        description="A simulated video-generation provider (like Luma's Dream Machine).",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8100)
    parser.add_argument("--secret", help="whsec_... to sign callbacks with (default: a new one)")
    parser.add_argument("--api-key", help="ask for Authorization: Bearer KEY")
    parser.add_argument("--dream-seconds", default="20,40", help="LOW,HIGH (default 20,40)")
    parser.add_argument("--failure-rate", type=float, default=0.0)
    parser.add_argument("--duplicate-rate", type=float, default=0.0)
    parser.add_argument("--reorder-rate", type=float, default=0.0)
    parser.add_argument("--drop-callbacks", action="store_true", help="send no callbacks")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--fps", type=int, default=24)
    parser.add_argument("--size", default="320x180", help="WIDTHxHEIGHT, even (default 320x180)")
    args = parser.parse_args(argv)
    try:
        low, _, high = args.dream_seconds.partition(",")
        width, _, height = args.size.lower().partition("x")
        settings = ProviderSettings(
            secret=args.secret or new_secret(),
            api_key=args.api_key,
            dream_seconds=(float(low), float(high or low)),
            failure_rate=args.failure_rate,
            duplicate_rate=args.duplicate_rate,
            reorder_rate=args.reorder_rate,
            drop_callbacks=args.drop_callbacks,
            seed=args.seed,
            fps=args.fps,
            size=(int(width), int(height)),
        )
    except ValueError as exc:
        parser.error(str(exc))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    provider = Provider(settings)
    print(f"Video provider on http://{args.host}:{args.port}", flush=True)
    print(f"Webhook secret: {settings.secret}", flush=True)
    uvicorn.run(provider.app, host=args.host, port=args.port, log_level="info")
