"""From a video to pixel-art frames and an animated GIF, frame by frame.

```python
frames = extract_frames(mp4_bytes, fps=12, on_frame=lambda done, total: ...)
pixels = [pixelate(frame, 64, 64, 16) for frame in frames]
gif = to_gif(pixels, delay_ms(12))
```

The long steps take ``on_frame(done, total)``, called after each frame, so a task can report
its progress frame by frame. PyAV decodes and Pillow does the rest (the ``examples`` extra).
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Callable, Iterable, Iterator
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

from .render import frame_count, require

if TYPE_CHECKING:
    import av
    from av.container import InputContainer
    from PIL import Image

#: The frame rates the example offers.
FPS_CHOICES = (12, 24, 30)

OnFrame = Callable[[int, int], None]


def delay_ms(fps: int) -> int:
    """How long each frame shows at ``fps``, in whole milliseconds (83 at 12 fps)."""
    if fps <= 0:
        raise ValueError(f"Expected a positive fps, but got {fps!r}")
    return round(1000 / fps)


def extract_frames(
    video: str | Path | bytes, fps: int, *, on_frame: OnFrame | None = None
) -> Iterator[Image.Image]:
    """The frames of ``video`` (a path or the bytes of a file) at ``fps`` frames a second, as
    RGB images, read as they are decoded.

    The source's own rate does not matter: frame ``k`` is the source frame showing at
    ``k / fps`` seconds, so 24 fps read at 12 skips every other frame and at 30 repeats one in
    four. A video of ``d`` seconds gives ``round(d * fps)`` frames; ``on_frame(done, total)``
    is called before each is yielded.
    """
    require("av", "pillow")
    import av

    if fps <= 0:
        raise ValueError(f"Expected a positive fps, but got {fps!r}")
    source = io.BytesIO(video) if isinstance(video, bytes) else str(video)
    with av.open(source, mode="r") as container:
        stream = container.streams.video[0]
        total = frame_count(float(_duration(container, stream)), fps)
        done = 0
        showing: av.VideoFrame | None = None
        image: Image.Image | None = None
        for position, frame in enumerate(container.decode(stream)):
            start = _start(frame, position, stream)
            # Every output time before this frame starts shows the frame before it.
            while showing is not None and done < total and Fraction(done, fps) < start:
                image = image or _to_image(showing)
                done += 1
                if on_frame is not None:
                    on_frame(done, total)
                yield image.copy()
            showing, image = frame, None
            if done >= total:
                break
        while showing is not None and done < total:  # the last frame lasts to the end
            image = image or _to_image(showing)
            done += 1
            if on_frame is not None:
                on_frame(done, total)
            yield image.copy()


def _start(frame: av.VideoFrame, position: int, stream: av.VideoStream) -> Fraction:
    """When ``frame``, the ``position``-th decoded, starts, in seconds from the first."""
    if frame.pts is None or stream.time_base is None:
        return position / Fraction(stream.average_rate or 24)
    return Fraction(frame.pts) * stream.time_base - _origin(stream)


def _origin(stream: av.VideoStream) -> Fraction:
    if stream.start_time is None or stream.time_base is None:
        return Fraction(0)
    return Fraction(stream.start_time) * stream.time_base


def _duration(container: InputContainer, stream: av.VideoStream) -> Fraction:
    if stream.duration is not None and stream.time_base is not None:
        return Fraction(stream.duration) * stream.time_base
    if container.duration is not None:
        return Fraction(container.duration, 1_000_000)  # in AV_TIME_BASE units
    if stream.frames and stream.average_rate:
        return stream.frames / Fraction(stream.average_rate)
    raise ValueError("The video does not say how long it is")


def _to_image(frame: av.VideoFrame) -> Image.Image:
    from PIL import Image

    rgb = frame.reformat(format="rgb24")
    plane = rgb.planes[0]
    size = (rgb.width, rgb.height)
    return Image.frombuffer("RGB", size, bytes(plane), "raw", "RGB", plane.line_size, 1)


def pixelate(image: Image.Image, width: int, height: int, color_count: int) -> Image.Image:
    """``image`` shrunk to ``width`` by ``height`` (each pixel the mean of the block it covers)
    and reduced to at most ``color_count`` colours (2 to 256): a palette ("P") image."""
    require("pillow")
    from PIL import Image

    if width < 1 or height < 1:
        raise ValueError(f"Expected a width and height of 1 or more, but got {width}x{height}")
    if not 2 <= color_count <= 256:
        raise ValueError(f"Expected a color_count from 2 to 256, but got {color_count!r}")
    small = image.convert("RGB").resize((width, height), Image.Resampling.BOX)
    return small.quantize(
        colors=color_count, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE
    )


def to_gif(
    frames: Iterable[Image.Image],
    delay_ms: int,
    *,
    loop: int = 0,
    on_frame: OnFrame | None = None,
) -> bytes:
    """An animated GIF of ``frames``, each shown ``delay_ms`` milliseconds, looping ``loop``
    times (0: for ever). ``on_frame(done, total)`` is called as each frame is added.

    GIF counts time in hundredths of a second, so the delays alternate (80 and 90 ms for 83)
    to keep the whole animation as long as ``len(frames) * delay_ms``. Pillow writes two
    identical frames in a row as one frame showing for both delays.
    """
    require("pillow")
    images = list(frames)
    if not images:
        raise ValueError("Expected at least one frame, but got none")
    if delay_ms < 10:
        raise ValueError(f"Expected a delay_ms of 10 or more, but got {delay_ms!r}")
    total = len(images)
    prepared = []
    for i, image in enumerate(images):
        prepared.append(image if image.mode == "P" else image.convert("RGB"))
        if on_frame is not None:
            on_frame(i + 1, total)
    ends = [round((i + 1) * delay_ms, -1) for i in range(total)]
    durations = [end - start for start, end in itertools.pairwise([0, *ends])]
    out = io.BytesIO()
    prepared[0].save(
        out,
        format="GIF",
        save_all=True,
        append_images=prepared[1:],
        duration=durations,
        loop=loop,
        disposal=1,
    )
    return out.getvalue()
