"""The tickets example's page in headless Chromium, against `jobwire serve --examples`.

It sees the 422 of a malformed file id; reloads the page during a run of the ai engine on
the large file, finds the run again and cancels it; then runs it again, sees the 409 of a
second run, watches the live bar move and the results arrive, and saves the screenshot used
in the docs (docs/screenshots/tickets.png).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import require_module
from tests.e2e.browser import ROOT, chromium, serve_examples

SCREENSHOT = ROOT / "docs" / "screenshots" / "tickets.png"
LARGE = 20_000
READ_BAR = """bar => {
  const root = bar.getRootNode();
  return {
    now: bar.getAttribute("aria-valuenow"), max: bar.getAttribute("aria-valuemax"),
    text: bar.getAttribute("aria-valuetext"), counts: root.querySelector(".counts").textContent,
    step: root.querySelector(".step").textContent,
    status: root.querySelector(".status").textContent,
    current_step: document.querySelector("#steps li[aria-current=step]")?.textContent ?? null,
  };
}"""
pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    """`jobwire serve --examples` on a free port, with its own SQLite file."""
    require_module("sklearn", "pip install 'jobwire[examples]'")
    with serve_examples(tmp_path, JOBWIRE_AUTH="none") as base:
        yield base


@pytest.fixture
def browser() -> Iterator[Any]:
    with chromium() as browser:
        yield browser


def test_page_runs_ai_on_the_large_file_with_a_live_bar(
    server: str, browser: Any, tmp_path: Path
) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(server + "/examples/tickets")
    run = page.get_by_role("button", name="Run classification")
    bar = page.locator("#bar [role=progressbar]")
    status = page.locator("#bar [part=status]")
    notice = page.locator("#notice")

    def choose_large_ai() -> None:
        page.get_by_label("Ticket file").select_option("sample-20000")
        page.get_by_label("AI").check()

    # 422: a file id the server refuses (the select cannot offer one; force it).
    page.eval_on_selector("#file", "s => { s.options[0].value = 'sample-1'; }")
    run.click()
    notice.filter(has_text="refused").wait_for(timeout=10_000)
    assert "file_id" in notice.inner_text()

    # A first run (the server trains its model now, so it lasts): a reload finds it still
    # running, and Cancel stops it.
    page.reload()
    choose_large_ai()
    run.click()
    status.filter(has_text="running").wait_for(timeout=30_000)
    page.reload()
    notice.filter(has_text="still running").wait_for(timeout=10_000)
    page.get_by_role("button", name="Cancel").click()
    notice.filter(has_text="Cancelled after").wait_for(timeout=60_000)
    assert page.locator("#bar").get_attribute("data-status") == "cancelled"
    assert page.locator("#results").is_hidden()

    # The run that goes to the end.
    choose_large_ai()
    run.click()
    status.filter(has_text="running").wait_for(timeout=30_000)

    # 409: a second run while the first is live.
    run.click()
    notice.filter(has_text="already have a classification running").wait_for(timeout=10_000)

    # The bar moves: some N/TOTAL with 0 < N < TOTAL, during processing.
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        state = bar.evaluate(READ_BAR)  # one read, so the fields belong together
        seen.append(state)
        if state["max"] == str(LARGE) and state["now"] is not None:
            if 0 < int(state["now"]) < LARGE:
                assert re.fullmatch(rf"{state['now']}/{LARGE} \(\d+(\.\d+)?%\)", state["counts"])
                assert state["text"] == state["counts"]
                assert state["step"] == "processing"
                assert state["current_step"] == "Classify"
                break
            if int(state["now"]) == LARGE:
                break
        time.sleep(0.05)
    assert 0 < int(seen[-1]["now"] or 0) < LARGE, (
        f"never saw the bar between 0 and the total: {seen[-5:]}"
    )

    # The results: six categories, four channels, reliability, the first 20 tickets.
    page.locator("#results").wait_for(state="visible", timeout=150_000)
    assert page.locator("#bar").get_attribute("data-status") == "succeeded"
    assert page.locator("#bar [part=counts]").inner_text() == f"{LARGE}/{LARGE} (100%)"
    assert page.locator("#by-category tbody tr").count() == 6
    assert page.locator("#by-channel tbody tr").count() == 4
    assert page.locator("#preview tbody tr").count() == 20
    reliability = page.locator("#reliability").inner_text()
    assert re.fullmatch(r"\d+\.\d%", reliability)
    assert float(reliability[:-1]) >= 85
    assert page.locator("#engine").inner_text() == "AI"
    assert page.locator("#total").inner_text() == "20,000"
    assert page.locator("#steps li.done").count() == 4
    assert notice.is_hidden()
    assert not errors

    page.evaluate("window.scrollTo(0, 0)")
    # The docs' screenshot is replaced only on request, so a test run leaves the tree clean.
    shot = SCREENSHOT if os.environ.get("JOBWIRE_UPDATE_SCREENSHOTS") == "1" else tmp_path / "t.png"
    shot.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shot))
    assert shot.stat().st_size > 10_000

    # Phone width: nothing sticks out sideways (wide tables scroll inside their cards).
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
