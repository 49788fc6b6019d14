"""Time per step in the dashboard (Chromium through Playwright, `jobwire serve` with the
task of tests/apps/steps.py): a row shows each step with how long it took, the open step of
a waiting job moving on every second, and how long each step usually takes."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import httpx
import pytest

from jobwire import App
from tests.e2e.browser import ROOT, chromium, serve_examples

TARGET = "tests.apps.steps:app"
SCREENSHOTS = ROOT / "docs" / "screenshots"
pytestmark = pytest.mark.slow


def wait_status(base: str, job_id: str, status: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while httpx.get(f"{base}/api/jobs/{job_id}", timeout=10).json()["status"] != status:
        assert time.monotonic() < deadline, f"{job_id} never {status}"
        time.sleep(0.05)


def submit(base: str) -> str:
    answer = httpx.post(f"{base}/api/tasks/dream/jobs", json={}, timeout=10)
    assert answer.status_code == 202, answer.text
    return str(answer.json()["id"])


def test_a_row_shows_its_steps_with_their_times(tmp_path: Path) -> None:
    from playwright.sync_api import expect

    with serve_examples(tmp_path, TARGET, JOBWIRE_AUTH="none") as base, chromium() as browser:
        app = App(f"sqlite:///{tmp_path / 'jobwire.db'}")
        try:
            first = submit(base)
            wait_status(base, first, "waiting")
            time.sleep(1.0)
            app.deliver(first, "k", '{"video": "v.mp4"}')
            wait_status(base, first, "succeeded")
            second = submit(base)
            wait_status(base, second, "waiting")
        finally:
            app.close()

        page = browser.new_page(viewport={"width": 1280, "height": 600})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(base + "/")
        done = page.locator(f'tr.job[data-id="{first}"] .steps li')
        expect(done).to_have_count(3)
        expect(done.locator(".step-time")).to_have_text(["1 s", re.compile(r"^\d+ s$"), "1 s"])
        waiting = page.locator(f'tr.job[data-id="{second}"] .steps li')
        expect(waiting.nth(0).locator(".step-time")).to_have_text("1 s")
        open_step = waiting.nth(1).locator(".step-time")
        expect(open_step).to_have_text(re.compile(r"^(<1|\d+) s · usually \d+ s$"))
        expect(open_step).to_have_attribute("title", re.compile("^dreaming: running for"))
        shown = open_step.text_content()
        expect(open_step).not_to_have_text(shown or "", timeout=3000)  # it moves on
        expect(waiting.nth(2).locator(".step-time")).to_have_text("usually 1 s")

        update = os.environ.get("JOBWIRE_UPDATE_SCREENSHOTS") == "1"
        out = SCREENSHOTS if update else tmp_path
        page.mouse.move(0, 0)
        page.screenshot(path=str(out / "dashboard-steps.png"))
        page.close()
        assert errors == [], errors
