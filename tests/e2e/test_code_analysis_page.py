"""The code-analysis example's page in headless Chromium, against `jobwire serve --examples`,
with its three demo users in one browser.

The team lead analyses `json` (and again, from the cache) and shares it with team platform,
view only, for 5 seconds. The member finds it under "Shared with me", opens it (the bar
follows it through the member's own stream token), finds the downloads off (and the export
URL answers 403), and sees it go when the share ends. The lead shares it again with
downloads; the member downloads its CSV. The outsider never sees it. Screenshots of the
lead's and the member's views are saved (docs/screenshots/code-analysis*.png on request).
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.browser import ROOT, chromium, serve_examples

SCREENSHOTS = ROOT / "docs" / "screenshots"
PAGE = "/examples/code-analysis"
CSV_HEADER = ["File Path", "LOC", "UI %", "Pure Functions", "Classification", "Web Ready"]
pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    with serve_examples(tmp_path, JOBWIRE_AUTH="none") as base:
        yield base


@pytest.fixture
def browser() -> Iterator[Any]:
    with chromium() as browser:
        yield browser


def shot(page: Any, name: str, tmp_path: Path, *, docs: bool = True) -> Path:
    """A screenshot; the docs' copy is replaced only on request, so a run leaves the tree
    clean."""
    update = docs and os.environ.get("JOBWIRE_UPDATE_SCREENSHOTS") == "1"
    path = (SCREENSHOTS if update else tmp_path) / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000
    return path


def test_a_lead_shares_an_analysis_with_the_team(server: str, browser: Any, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    users = {u["id"]: u for u in httpx.get(server + PAGE + "/demo-users").json()["users"]}
    bearer = {k: {"Authorization": f"Bearer {u['token']}"} for k, u in users.items()}
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(server + PAGE)
    notice = page.locator("#notice")
    bar = page.locator("#bar")

    def act_as(user: str) -> None:
        page.locator(f'#users input[value="{user}"]').check()
        expect(page.locator("#whoami")).to_contain_text(f"You are demo-{user}")

    # -- The lead analyses json, then again: the second answer is the cached job. --------
    act_as("lead")
    page.get_by_label("Source tree").select_option("json")
    page.get_by_role("button", name="Analyse").click()
    expect(page.locator("#results")).to_be_visible(timeout=30_000)
    expect(bar).to_have_attribute("data-status", "succeeded")
    mine = page.locator("#mine li[data-job]")
    expect(mine).to_have_count(1)
    job_id = mine.get_attribute("data-job")
    result = httpx.get(f"{server}/api/jobs/{job_id}/result", headers=bearer["lead"]).json()
    files = len(result["files"])
    expect(page.locator("#files tbody tr")).to_have_count(files)
    expect(page.locator("#steps li.done")).to_have_count(4)
    expect(page.locator("#t-pure")).to_have_text(str(result["summary"]["pure_functions"]))
    expect(page.locator("#job-via")).to_have_text("Yours")

    page.get_by_role("button", name="Analyse").click()
    expect(notice).to_contain_text("From the cache: json was analysed")
    expect(page.locator("#cache-stats")).to_contain_text("1 of 2 analyses answered from the cache")
    expect(page.locator("#results")).to_be_visible()
    expect(page.locator("#files tbody tr")).to_have_count(files)
    expect(mine).to_have_count(1)

    # -- Shared with platform, view only, for 5 seconds. ---------------------------------
    page.locator("#share-team").fill("platform")
    page.get_by_label("Members may download").uncheck()
    page.locator("#share-expiry").fill("5")
    page.get_by_label("Unit of the expiry").select_option("seconds")
    page.get_by_role("button", name="Share", exact=True).click()
    shares = page.locator("#shares li")
    expect(shares).to_have_count(1)
    expect(shares).to_contain_text("Team platform")
    expect(shares).to_contain_text("view only")
    lead_view = shot(page, "code-analysis", tmp_path)

    # -- The member sees it, live, without downloads. ------------------------------------
    act_as("member")
    shared = page.locator(f'#shared li[data-job="{job_id}"]')
    expect(shared).to_contain_text("demo-lead · team platform · view only")
    shared.get_by_role("button").click()
    expect(page.locator("#results")).to_be_visible()
    # A view-only share: no export, with the member's key or with a stream token made with it.
    export = f"{server}/api/jobs/{job_id}/export"
    assert httpx.get(export, params={"format": "csv"}, headers=bearer["member"]).status_code == 403
    token = httpx.get(f"{server}/api/jobs/{job_id}/token", headers=bearer["member"]).json()
    assert httpx.get(export, params={"format": "csv", **token}).status_code == 403
    expect(bar).to_have_attribute("data-status", "succeeded")
    expect(page.locator("#bar [part=counts]")).to_have_text(f"{files}/{files} (100%)")
    expect(page.locator("#job-via")).to_contain_text("Shared with your team platform · view only")
    for name in ("JSON", "CSV", "ZIP · pure functions"):
        expect(page.get_by_role("button", name=name, exact=True)).to_be_disabled()
    expect(page.locator("#download-note")).to_contain_text("View-only share")
    expect(page.locator("#share")).to_be_hidden()
    expect(page.locator("#mine")).to_contain_text("None yet")
    member_view = shot(page, "code-analysis-shared", tmp_path)

    # The share ends: the job leaves the list and the view.
    expect(shared).to_have_count(0, timeout=20_000)
    expect(page.locator("#job")).to_be_hidden()
    expect(notice).to_contain_text("no longer visible to you")
    assert httpx.get(f"{server}/api/jobs/{job_id}", headers=bearer["member"]).status_code == 404
    ended = shot(page, "code-analysis-ended", tmp_path, docs=False)

    # -- The lead shares it again, with downloads and no expiry. -------------------------
    act_as("lead")
    page.locator(f'#mine li[data-job="{job_id}"]').get_by_role("button").click()
    expect(page.locator("#results")).to_be_visible()
    expect(page.locator("#shares")).to_contain_text("Not shared yet")
    page.get_by_label("Members may download").check()
    page.locator("#share-expiry").fill("")
    page.get_by_role("button", name="Share", exact=True).click()
    expect(page.locator("#shares li")).to_contain_text("view and download · no expiry")

    # -- The member downloads its CSV. ----------------------------------------------------
    act_as("member")
    shared.get_by_role("button").click()
    expect(page.locator("#job-via")).to_contain_text("view and download")
    csv_button = page.get_by_role("button", name="CSV", exact=True)
    expect(csv_button).to_be_enabled()
    with page.expect_download() as download:
        csv_button.click()
    assert download.value.suggested_filename.endswith(".csv")
    data = Path(download.value.path()).read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data[3:].decode())))
    assert rows[0] == CSV_HEADER
    assert sorted(r[0] for r in rows[1:]) == sorted(f["path"] for f in result["files"])

    # -- The outsider never sees it. ------------------------------------------------------
    act_as("outsider")
    expect(page.locator("#shared")).to_contain_text("Nothing is shared with your teams")
    expect(page.locator(f'li[data-job="{job_id}"]')).to_have_count(0)
    assert httpx.get(f"{server}/api/jobs/{job_id}", headers=bearer["outsider"]).status_code == 404
    listed = httpx.get(f"{server}/api/jobs", params={"shared": "true"}, headers=bearer["outsider"])
    assert listed.json()["jobs"] == []

    outsider_view = shot(page, "code-analysis-outsider", tmp_path, docs=False)
    assert not errors
    context.close()
    assert all(p.is_file() for p in (lead_view, member_view, ended, outsider_view))
