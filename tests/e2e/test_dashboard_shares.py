"""Shares in the dashboard, in Chromium: a teamlead shares a job from its Share panel (team,
view only or with downloads, an expiry) and removes a share; a member of the team finds it
under "Shared with me", with who shared it, its Download button off while the share is view
only and on once it allows downloads, and loses it when the share is removed. Against
`jobwire serve tests.apps.outputs:app --examples` with JOBWIRE_AUTH=token, as a subprocess.

The screenshots go to the test's tmp_path (look at them with JOBWIRE_KEEP_SCREENSHOTS=DIR).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from jobwire import App, Client
from jobwire.snapshot import short_id
from tests.e2e.browser import chromium, serve_examples
from tests.e2e.test_dashboard import row

TARGET = "tests.apps.outputs:app"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as browser:
        yield browser


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    kept = os.environ.get("JOBWIRE_KEEP_SCREENSHOTS")
    out = Path(kept) if kept else tmp_path
    out.mkdir(parents=True, exist_ok=True)
    return out


def signed_in(browser: Any, url: str, secret: str, errors: list[str], width: int = 1280) -> Any:
    context = browser.new_context(viewport={"width": width, "height": 860}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(url)
    page.get_by_label("API key or JWT").fill(secret)
    page.get_by_role("button", name="Sign in").click()
    return page


def still(page: Any) -> None:
    """No hover, no focus ring: a screenshot as a person sees the page at rest."""
    page.mouse.move(0, 0)
    page.evaluate("document.activeElement?.blur()")


def test_share_from_the_panel_and_find_it_shared_with_me(browser, tmp_path, shots) -> None:
    from playwright.sync_api import expect

    db = f"sqlite:///{tmp_path / 'jobwire.db'}"
    keys = App(db)
    _, lead = keys.store.keys.create_key("lead", roles=["teamlead"], teams=["platform"])
    _, mia = keys.store.keys.create_key("mia", teams=["platform"])
    keys.close()
    errors: list[str] = []
    with (
        serve_examples(tmp_path, TARGET, JOBWIRE_AUTH="token") as base,
        Client(base, lead) as owner,
    ):
        job = owner.submit("report", {"rows": 2}).wait(timeout=60)
        assert job.status.value == "succeeded"
        name = f"report #{short_id(job.id)}"

        # -- the lead shares it, view only, for 7 days; and with ops, then removes that --
        page = signed_in(browser, base + "/", lead, errors)
        toggle = row(page, job.id).get_by_role("button", name=f"Share {name}")
        toggle.click()
        expect(toggle).to_have_attribute("aria-expanded", "true")
        panel = page.locator(f"#share-{job.id}")
        expect(panel.locator(".share-panel")).not_to_have_attribute("aria-busy", "true")
        expect(panel).to_contain_text("Not shared with any team yet.")
        form = panel.get_by_role("form", name=f"Share {name} with a team")
        form.get_by_role("button", name="Share").click()  # no team yet
        expect(form.get_by_role("alert")).to_have_text("Name the team to share the job with.")
        form.get_by_label("Team").fill("platform")
        form.get_by_label("View only").check()
        form.get_by_label("Expires").select_option("7d")
        form.get_by_role("button", name="Share").click()
        shared = panel.locator('li[data-team="platform"]')
        expect(shared).to_contain_text("view only")
        expect(shared).to_contain_text("until")
        expect(shared).to_contain_text("by lead")
        expect(form.get_by_role("status")).to_contain_text("Shared with platform: view only")
        (share,) = owner.shares(job.id)
        assert (share["team"], share["can_download"], share["shared_by"]) == (
            "platform",
            False,
            "lead",
        )
        assert share["expires_at"] is not None
        ends = datetime.fromisoformat(share["expires_at"])
        assert abs(ends - datetime.now(UTC) - timedelta(days=7)) < timedelta(minutes=2)

        form.get_by_label("Team").fill("ops")
        form.get_by_label("View and download").check()
        form.get_by_label("Expires").select_option("date")
        form.get_by_label("Share ends at").fill("2031-03-04T05:06")
        form.get_by_role("button", name="Share").click()
        expect(panel.locator('li[data-team="ops"]')).to_contain_text("view and download")
        expect(panel.locator(".share-list li")).to_have_count(2)
        expect(panel.locator(".dl-title .count")).to_have_text("2")
        ops = next(s for s in owner.shares(job.id) if s["team"] == "ops")
        assert datetime.fromisoformat(ops["expires_at"]) == datetime(2031, 3, 4, 5, 6).astimezone(
            UTC
        )  # the browser's local time, as typed
        still(page)
        page.screenshot(path=str(shots / "dashboard-share-panel.png"))
        panel.get_by_role("button", name=f"Stop sharing {name} with ops").click()
        expect(panel.locator(".share-list li")).to_have_count(1)
        expect(form.get_by_role("status")).to_have_text("No longer shared with ops.")
        assert [s["team"] for s in owner.shares(job.id)] == ["platform"]

        # -- the member: Shared with me, who shared it, downloads off while view only --
        member = signed_in(browser, base + "/", mia, errors)
        expect(member.locator("#empty-title")).to_have_text("No jobs yet")
        member.get_by_text("Shared with me").click()
        assert member.url.endswith("?shared=1")
        line = row(member, job.id)
        expect(line.locator(".shared-via")).to_contain_text("shared by lead with platform")
        expect(line.locator(".shared-via .pill")).to_have_text("view only")
        expect(line.locator(".shared-until")).to_contain_text("until")
        download = line.get_by_role("button", name=f"Downloads of {name}")
        expect(download).to_be_disabled()
        expect(download).to_have_attribute("title", re.compile("view only"))
        expect(line.get_by_role("button", name=re.compile("^(Share|Cancel) "))).to_have_count(0)
        still(member)
        member.screenshot(path=str(shots / "dashboard-shared-with-me.png"))

        # Downloads allowed: the next poll turns the button on; the CSV is the owner's.
        owner.share(job.id, "platform")
        expect(download).to_be_enabled(timeout=10_000)
        expect(line.locator(".shared-via .pill")).to_have_text("view and download")
        download.click()
        csv = member.locator(f"#downloads-{job.id}").get_by_role("link", name=re.compile("as CSV$"))
        with member.expect_download() as info:
            csv.click()
        data = Path(info.value.path()).read_bytes()
        assert data == owner.download(job.id, "csv")

        # Removed: the row goes at the next poll, and the list says so.
        owner.unshare(job.id, "platform")
        expect(line).to_have_count(0, timeout=10_000)
        expect(member.locator("#empty-title")).to_have_text("No jobs shared with you")

        phone = signed_in(browser, base + "/", lead, errors, width=390)
        row(phone, job.id).get_by_role("button", name=f"Share {name}").click()
        expect(phone.locator(f"#share-{job.id} .share-form")).to_be_visible()
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390
        still(phone)
        phone.screenshot(path=str(shots / "dashboard-share-phone.png"), full_page=True)
    assert errors == [], errors
