"""Video generation with webhooks: a provider that takes a minute, and a job that waits.

The scenario: a prompt goes to a video-generation API (Luma's Dream Machine in the plan
this comes from), which answers at once and calls back later, signed, as the generation
goes ``queued`` → ``dreaming`` → ``completed``; the video is then downloaded, cut into frames
at 12, 24 or 30 fps, pixelated and turned into an animated GIF, with live progress.

The task ``video.generate`` (:mod:`.task`) does it as a job that waits for the callbacks
without holding a worker; ``/examples/video`` is its page, and ``jobwire serve --examples``
runs both with the provider in the same process (:mod:`.local`).

The pieces that stand in for the outside world and do the work:

- :mod:`.provider`: a simulated provider (a Starlette app) with Luma's API shape, signed
  callbacks (Standard Webhooks) that it retries, repeats or reorders on request, and a poll
  fallback; :func:`start_provider` serves it in a background thread, and
  ``python -m jobwire.examples.video --port 8100`` alone.
- :mod:`.render`: :func:`render_video`, the provider's "model": an MP4 drawn from the prompt.
- :mod:`.frames`: :func:`extract_frames`, :func:`pixelate`, :func:`to_gif`, :func:`delay_ms`.

```python
from jobwire.examples import video

with video.start_provider(video.ProviderSettings(dream_seconds=(2, 4))) as provider:
    print(provider.url, provider.secret)

mp4 = video.render_video("a teddy bear playing electric guitar", 2, size=(160, 90))
frames = video.extract_frames(mp4, fps=12)
gif = video.to_gif([video.pixelate(f, 64, 36, 16) for f in frames], video.delay_ms(12))
```

Rendering and frames need the ``examples`` extra (Pillow and PyAV):
``pip install 'jobwire[examples]'``; without it they raise
:class:`~jobwire.errors.MissingDependency` saying so when called. The callbacks are signed
with ``standardwebhooks``, which jobwire itself depends on.
"""

from __future__ import annotations

from .frames import FPS_CHOICES, delay_ms, extract_frames, pixelate, to_gif
from .provider import (
    TERMINAL,
    Delivery,
    Generation,
    GenerationObject,
    Provider,
    ProviderSettings,
    RunningProvider,
    State,
    new_secret,
    start_provider,
)
from .render import frame_count, render_video, require
from .task import STEPS, TASK, ProviderFailed, VideoSettings, generate_video, register

__all__ = [
    "FPS_CHOICES",
    "STEPS",
    "TASK",
    "TERMINAL",
    "Delivery",
    "Generation",
    "GenerationObject",
    "Provider",
    "ProviderFailed",
    "ProviderSettings",
    "RunningProvider",
    "State",
    "VideoSettings",
    "delay_ms",
    "extract_frames",
    "frame_count",
    "generate_video",
    "new_secret",
    "pixelate",
    "register",
    "render_video",
    "require",
    "start_provider",
    "to_gif",
]
