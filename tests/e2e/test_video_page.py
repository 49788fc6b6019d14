"""The video example's page in headless Chromium, against `jobwire serve --examples` with
its in-process provider set fast: a prompt is submitted, the phases go by, the frames play
on the canvas; the tab closed while the provider dreams and opened again on the job's URL
picks it up. A screenshot is saved
(docs/screenshots/video.png on request)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.browser import ROOT, chromium, serve_examples

PAGE = "/examples/video"
pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    with serve_examples(
        tmp_path, JOBWIRE_AUTH="none", JOBWIRE_VIDEO_DREAM_SECONDS="2.5,2.5"
    ) as base:
        yield base


def test_a_prompt_becomes_frames_on_the_canvas(server: str, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    with chromium() as browser:
        errors: list[str] = []
        first = browser.new_page(viewport={"width": 1200, "height": 900})
        first.on("pageerror", lambda exc: errors.append(str(exc)))
        first.goto(server + PAGE)
        first.get_by_label("Prompt").fill("a lighthouse in a storm")
        first.get_by_label("Width").fill("48")
        first.get_by_label("Height").fill("27")
        first.get_by_label("Colours").fill("8")
        first.get_by_role("button", name="Generate").click()
        phase = first.locator("#phase")
        expect(phase).to_have_attribute("data-step", "dreaming", timeout=15_000)
        expect(phase).to_contain_text("dreaming\u2026 (1\u20132 min)")
        expect(first.locator("#bar")).to_have_attribute("data-status", "waiting")
        assert "job=" in first.url
        job_id = first.url.split("job=")[1]

        # The tab is closed while the provider dreams; opened again, it picks the job up.
        first.close()
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(f"{server}{PAGE}?job={job_id}")
        canvas = page.locator("#screen")
        expect(canvas).to_have_attribute("data-frames", "60", timeout=40_000)
        expect(page.locator("#toast")).to_contain_text("Done: 60 frames")
        page.wait_for_function("Number(document.querySelector('#screen').dataset.painted) > 3")
        lit = page.evaluate(
            """() => {
              const c = document.querySelector('#screen');
              const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
              let n = 0;
              for (let i = 0; i < d.length; i += 4) if (d[i] + d[i + 1] + d[i + 2] > 30) n++;
              return n / (c.width * c.height);
            }"""
        )
        assert lit > 0.3, lit  # the frame is drawn, not a black canvas
        for step in ("submitting", "queued", "dreaming", "downloading", "processing frames"):
            expect(page.locator(f'#phases li[data-step="{step}"]')).to_have_class("done")
        expect(page.get_by_label("Prompt")).to_have_value("a lighthouse in a storm")
        # The queued phase went by before this tab opened: its time is the job's own.
        expect(page.locator('#phases li[data-step="queued"] time')).to_contain_text("s")
        update = os.environ.get("JOBWIRE_UPDATE_SCREENSHOTS") == "1"
        shot = (ROOT / "docs" / "screenshots" if update else tmp_path) / "video.png"
        shot.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 10_000
        assert not errors, errors

    files = httpx.get(f"{server}/api/jobs/{job_id}/files").json()["files"]
    assert {f["name"] for f in files} >= {"frame-001.png", "frame-060.png", "animation.gif"}
