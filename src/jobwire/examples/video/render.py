"""A short video drawn from a prompt: the simulated provider's "model".

The prompt seeds everything: the background's colours, a few shapes that move across the
frame, and the prompt itself written across it. The same prompt, duration, rate and size
give the same bytes (on one machine: the encoder's output may differ between FFmpeg builds).
A bar along the bottom grows with time, so no two frames are the same.

```python
mp4 = render_video("a teddy bear playing electric guitar", 5, fps=24, size=(320, 180))
```

Pillow draws the frames and PyAV (FFmpeg in its wheel) encodes them as H.264 in MP4; both are
in the ``examples`` extra (``pip install 'jobwire[examples]'``).
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import math
import random
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ...errors import MissingDependency

if TYPE_CHECKING:
    import av
    from av.container import OutputContainer
    from PIL import Image

#: The module each package of the ``examples`` extra installs, by package name.
_MODULES = {"av": "av", "pillow": "PIL"}

#: Encoders tried in order: H.264 from the wheel's x264, then MPEG-4 part 2 (every build).
CODECS = ("libx264", "mpeg4")

Color = tuple[int, int, int]


def require(*packages: str) -> None:
    """Raise :class:`~jobwire.errors.MissingDependency` naming the extra when one of
    ``packages`` (``"av"``, ``"pillow"``) is not installed."""
    missing = [p for p in packages if importlib.util.find_spec(_MODULES[p]) is None]
    if missing:
        raise MissingDependency(
            f"The video example needs {', '.join(missing)}: pip install 'jobwire[examples]'"
        )


@dataclass(frozen=True)
class _Shape:
    kind: str  # "ellipse", "rectangle" or "triangle"
    color: Color
    radius: float  # as a share of the frame's height
    # Where it is at time t: centre = (cx + ax·sin(fx·t + px), cy + ay·sin(fy·t + py)).
    cx: float
    cy: float
    ax: float
    ay: float
    fx: float
    fy: float
    px: float
    py: float
    spin: float  # turns per second (triangles)


def _palette(rng: random.Random) -> list[Color]:
    hue = rng.random()
    colors = []
    for i in range(6):
        h = (hue + i / 6 + rng.uniform(-0.04, 0.04)) % 1.0
        colors.append(_hsv(h, rng.uniform(0.55, 0.9), rng.uniform(0.75, 1.0)))
    return colors


def _hsv(h: float, s: float, v: float) -> Color:
    i = int(h * 6) % 6
    f = h * 6 - int(h * 6)
    p, q, t = v * (1 - s), v * (1 - f * s), v * (1 - (1 - f) * s)
    r, g, b = [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)][i]
    return (round(r * 255), round(g * 255), round(b * 255))


def _shapes(rng: random.Random, colors: list[Color]) -> list[_Shape]:
    shapes = []
    for _ in range(rng.randint(3, 5)):
        shapes.append(
            _Shape(
                kind=rng.choice(("ellipse", "rectangle", "triangle")),
                color=rng.choice(colors),
                radius=rng.uniform(0.08, 0.2),
                cx=rng.uniform(0.25, 0.75),
                cy=rng.uniform(0.25, 0.7),
                ax=rng.uniform(0.1, 0.3),
                ay=rng.uniform(0.05, 0.2),
                fx=rng.uniform(0.8, 2.5),
                fy=rng.uniform(0.8, 2.5),
                px=rng.uniform(0, math.tau),
                py=rng.uniform(0, math.tau),
                spin=rng.uniform(-0.6, 0.6),
            )
        )
    return shapes


class _Scene:
    """Everything about the video that the prompt decides, and how to draw it at time t."""

    def __init__(self, prompt: str, size: tuple[int, int]) -> None:
        from PIL import Image, ImageDraw, ImageFont

        digest = hashlib.sha256(prompt.encode("utf-8")).digest()
        rng = random.Random(int.from_bytes(digest[:8], "big"))
        self.size = size
        width, height = size
        colors = _palette(rng)
        self.shapes = _shapes(rng, colors)
        top, bottom = _shade(colors[0], 0.25), _shade(colors[3], 0.45)
        self.background = Image.new("RGB", size)
        gradient = ImageDraw.Draw(self.background)
        for y in range(height):
            mix = y / max(1, height - 1)
            row = tuple(round(a + (b - a) * mix) for a, b in zip(top, bottom, strict=True))
            gradient.line((0, y, width, y), fill=row)
        # The prompt, drawn once on a transparent layer: outlined text is slow to draw.
        font = ImageFont.load_default(size=max(8, height // 10))
        line_height = round(height / 10 * 1.2)
        lines = textwrap.wrap(prompt, max(8, int(width / (height / 10 * 0.55))))[:3]
        self.text = Image.new("RGBA", (width, line_height * max(1, len(lines)) + 2))
        writer = ImageDraw.Draw(self.text)
        for i, line in enumerate(lines):
            writer.text(
                (1, 1 + i * line_height),
                line,
                fill=(255, 255, 255, 255),
                font=font,
                stroke_width=1,
                stroke_fill=(0, 0, 0, 255),
            )

    def draw(self, t: float, share: float) -> Image.Image:
        """The frame at ``t`` seconds, ``share`` of the way through the video."""
        from PIL import ImageDraw

        width, height = self.size
        frame = self.background.copy()
        draw = ImageDraw.Draw(frame)
        for shape in self.shapes:
            x = (shape.cx + shape.ax * math.sin(shape.fx * t + shape.px)) * width
            y = (shape.cy + shape.ay * math.sin(shape.fy * t + shape.py)) * height
            r = shape.radius * height
            if shape.kind == "ellipse":
                draw.ellipse((x - r, y - r, x + r, y + r), fill=shape.color)
            elif shape.kind == "rectangle":
                draw.rectangle((x - r, y - r * 0.7, x + r, y + r * 0.7), fill=shape.color)
            else:
                turn = shape.spin * t * math.tau
                points = [
                    (
                        x + r * math.cos(turn + k * math.tau / 3),
                        y + r * math.sin(turn + k * math.tau / 3),
                    )
                    for k in range(3)
                ]
                draw.polygon(points, fill=shape.color)
        drift = round((1 - share) * width * 0.08)  # the text slides in from the right
        frame.paste(self.text, (round(width * 0.05) + drift, round(height * 0.06)), self.text)
        bar = max(2, height // 16)
        draw.rectangle((0, height - bar, width, height), fill=(0, 0, 0))
        draw.rectangle((0, height - bar, round(share * width), height), fill=(255, 255, 255))
        return frame


def _shade(color: Color, factor: float) -> Color:
    r, g, b = color
    return (round(r * factor), round(g * factor), round(b * factor))


def frame_count(duration: float, fps: int) -> int:
    """How many frames a video of ``duration`` seconds at ``fps`` has (at least one)."""
    return max(1, round(duration * fps))


def render_video(
    prompt: str,
    duration: float,
    fps: int = 24,
    size: tuple[int, int] = (320, 180),
    *,
    on_frame: Callable[[int, int], None] | None = None,
) -> bytes:
    """An MP4 of ``duration`` seconds at ``fps`` frames a second and ``size`` pixels (even
    width and height, as H.264 in 4:2:0 needs), drawn from ``prompt``. ``on_frame(done,
    total)`` is called after each frame is encoded."""
    require("av", "pillow")
    import av

    width, height = size
    if width < 16 or height < 16 or width % 2 or height % 2:
        raise ValueError(f"Expected an even width and height of 16 or more, but got {size!r}")
    if duration <= 0 or fps <= 0:
        raise ValueError(f"Expected a positive duration and fps, but got {duration!r}, {fps!r}")
    scene = _Scene(prompt, size)
    total = frame_count(duration, fps)
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="mp4") as container:
        stream = _video_stream(container, fps, size)
        for i in range(total):
            image = scene.draw(i / fps, (i + 1) / total)
            rgba = image.convert("RGBA").tobytes()
            frame = av.VideoFrame.from_bytes(rgba, width, height, format="rgba")
            frame.pts = i  # in the stream's time base, 1/fps
            container.mux(stream.encode(frame))
            if on_frame is not None:
                on_frame(i + 1, total)
        container.mux(stream.encode(None))
    return buffer.getvalue()


def _video_stream(container: OutputContainer, fps: int, size: tuple[int, int]) -> av.VideoStream:
    import av

    for name in CODECS:
        if name not in av.codecs_available:
            continue
        stream = container.add_stream(name, rate=fps)
        assert isinstance(stream, av.VideoStream)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        # One thread and fixed options: the same frames give the same bytes.
        stream.codec_context.thread_count = 1
        if name == "libx264":
            # A constant quantiser: with crf, x264's adaptive quantisation gave different
            # bytes from run to run.
            stream.options = {"preset": "veryfast", "qp": "23"}
        return stream
    raise MissingDependency(f"This PyAV build can encode none of {', '.join(CODECS)}")
