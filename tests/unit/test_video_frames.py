"""The video example's rendering and frame work on real videos (1 s of 64x48, in memory):
what render_video encodes, frames read back at 12, 24 and 30 fps, pixelated images, GIFs."""

from __future__ import annotations

import importlib.util
import io
from pathlib import Path
from typing import Any

import av
import pytest
from PIL import Image

from jobwire.errors import MissingDependency
from jobwire.examples import video
from jobwire.examples.video import delay_ms, extract_frames, pixelate, render_video, to_gif

PROMPT = "a lighthouse on a cliff at sunset, waves crashing"


@pytest.fixture(scope="module")
def clip() -> bytes:
    return render_video(PROMPT, 1, fps=24, size=(64, 48))


def decoded(data: bytes) -> list[Image.Image]:
    with av.open(io.BytesIO(data)) as container:
        return [frame.to_image() for frame in container.decode(video=0)]


def test_a_render_is_an_h264_mp4_of_duration_times_fps_frames(clip: bytes) -> None:
    with av.open(io.BytesIO(clip)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name in ("h264", "mpeg4")
        assert stream.average_rate == 24
        frames = list(container.decode(stream))
    assert len(frames) == 24
    assert {(f.width, f.height) for f in frames} == {(64, 48)}
    images = [frame.to_image().tobytes() for frame in frames]
    assert len(set(images)) == 24  # the bar along the bottom grows every frame


def test_a_render_depends_on_the_prompt_only(clip: bytes) -> None:
    assert render_video(PROMPT, 1, fps=24, size=(64, 48)) == clip
    assert render_video(PROMPT + "!", 1, fps=24, size=(64, 48)) != clip
    other = render_video(PROMPT, 0.5, fps=12, size=(32, 24))
    assert len(decoded(other)) == 6


def test_a_render_reports_each_frame_and_refuses_odd_sizes() -> None:
    calls: list[tuple[int, int]] = []
    render_video("x", 0.25, fps=24, size=(32, 16), on_frame=lambda *a: calls.append(a))
    assert calls == [(i, 6) for i in range(1, 7)]
    with pytest.raises(ValueError, match="even width and height"):
        render_video("x", 1, size=(63, 48))
    with pytest.raises(ValueError, match="positive duration"):
        render_video("x", 0)


@pytest.mark.parametrize(
    ("fps", "source_of"), [(12, lambda k: 2 * k), (24, lambda k: k), (30, lambda k: k * 24 // 30)]
)
def test_frames_are_read_at_the_fps_asked(clip: bytes, fps: int, source_of: Any) -> None:
    source = [image.tobytes() for image in decoded(clip)]
    calls: list[tuple[int, int]] = []
    frames = list(extract_frames(clip, fps, on_frame=lambda *a: calls.append(a)))
    assert len(frames) == fps
    assert calls == [(i, fps) for i in range(1, fps + 1)]
    for k, frame in enumerate(frames):
        assert frame.mode == "RGB" and frame.size == (64, 48)
        assert frame.tobytes() == source[source_of(k)], k


def test_frames_are_read_from_a_file_too(clip: bytes, tmp_path: Path) -> None:
    path = tmp_path / "clip.mp4"
    path.write_bytes(clip)
    from_file = [f.tobytes() for f in extract_frames(path, 12)]
    assert from_file == [f.tobytes() for f in extract_frames(clip, 12)]
    assert len(list(extract_frames(str(path), 12))) == 12


@pytest.mark.parametrize("colors", [2, 8, 16])
def test_a_pixelated_frame_has_the_size_and_at_most_the_colours_asked(
    clip: bytes, colors: int
) -> None:
    frame = next(extract_frames(clip, 12))
    small = pixelate(frame, 16, 12, colors)
    assert small.size == (16, 12)
    assert small.mode == "P"
    used = small.convert("RGB").getcolors(maxcolors=256)
    assert used is not None and 1 <= len(used) <= colors


def test_pixelate_refuses_what_it_cannot_make(clip: bytes) -> None:
    frame = next(extract_frames(clip, 12))
    with pytest.raises(ValueError, match="color_count"):
        pixelate(frame, 8, 8, 1)
    with pytest.raises(ValueError, match="width and height"):
        pixelate(frame, 0, 8, 16)


def test_a_gif_of_pixelated_frames_has_each_frame_and_keeps_the_timing(clip: bytes) -> None:
    frames = [pixelate(frame, 32, 24, 8) for frame in extract_frames(clip, 12)]
    calls: list[tuple[int, int]] = []
    gif = to_gif(frames, delay_ms(12), on_frame=lambda *a: calls.append(a))
    assert calls[-1] == (12, 12)
    with Image.open(io.BytesIO(gif)) as image:
        assert image.format == "GIF" and image.size == (32, 24)
        assert image.n_frames == 12
        durations = []
        for i in range(image.n_frames):
            image.seek(i)
            durations.append(image.info["duration"])
        assert image.info.get("loop") == 0
    assert set(durations) <= {80, 90}
    assert abs(sum(durations) - 12 * 83) <= 10


def test_a_gif_of_rgb_frames_and_what_to_gif_refuses(clip: bytes) -> None:
    frames = list(extract_frames(clip, 24))[:3]
    with Image.open(io.BytesIO(to_gif(frames, delay_ms(24)))) as image:
        assert image.n_frames == 3
    with pytest.raises(ValueError, match="at least one frame"):
        to_gif([], 40)
    with pytest.raises(ValueError, match="delay_ms"):
        to_gif(frames, 5)


def test_delay_ms() -> None:
    assert [delay_ms(fps) for fps in video.FPS_CHOICES] == [83, 42, 33]
    with pytest.raises(ValueError):
        delay_ms(0)


def test_a_missing_package_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "av" else find_spec(name, *a)
    )
    with pytest.raises(MissingDependency, match=r"needs av: pip install 'jobwire\[examples\]'"):
        render_video("x", 1)
