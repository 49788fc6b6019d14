"""A succeeded job's downloads in the dashboard, in Chromium: the JSON, CSV and ZIP exports
and the job's files, as plain links the browser downloads (with a stream token in the URL
when the server wants credentials). Against `jobwire serve tests.apps.outputs:app
--examples` as a subprocess.

The screenshot replaces docs/screenshots/dashboard-downloads.png only with
``JOBWIRE_UPDATE_SCREENSHOTS=1``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from jobwire import App, Client
from jobwire.snapshot import short_id
from tests.apps.outputs import NAMES, big_bytes
from tests.e2e.browser import chromium, serve_examples
from tests.e2e.test_dashboard import SCREENSHOTS, row

TARGET = "tests.apps.outputs:app"
BIG = 1_200_000
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as browser:
        yield browser


@pytest.fixture
def page_of(browser: Any) -> Iterator[Any]:
    """A page in a fresh context that accepts downloads; fails on any uncaught page error."""
    contexts: list[Any] = []
    errors: list[str] = []

    def open_(url: str, width: int = 1280, height: int = 860) -> Any:
        context = browser.new_context(
            viewport={"width": width, "height": height}, accept_downloads=True
        )
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(url)
        return page

    yield open_
    for context in contexts:
        context.close()
    assert errors == [], errors


def submit(
    base: str, headers: dict[str, str] | None = None, task: str = "report", **args: Any
) -> dict[str, Any]:
    answer = httpx.post(f"{base}/api/tasks/{task}/jobs", json=args, headers=headers, timeout=10)
    assert answer.status_code == 202, answer.text
    return dict(answer.json())


def open_downloads(page: Any, job_id: str) -> Any:
    from playwright.sync_api import expect

    toggle = row(page, job_id).get_by_role("button", name=re.compile("^Downloads of "))
    expect(toggle).to_have_attribute("aria-expanded", "false")
    toggle.click()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    panel = page.locator(f"#downloads-{job_id}")
    expect(panel).to_be_visible()
    expect(panel.locator(".downloads")).not_to_have_attribute("aria-busy", "true")
    return panel


def fetched(page: Any, link: Any) -> tuple[str, bytes]:
    """Click ``link``; the name the browser saves it under and its bytes."""
    with page.expect_download() as info:
        link.click()
    download = info.value
    assert download.failure() is None
    return download.suggested_filename, Path(download.path()).read_bytes()


def test_a_succeeded_job_offers_its_exports_and_files(page_of, tmp_path) -> None:
    from playwright.sync_api import expect

    with serve_examples(tmp_path, TARGET) as base:
        job = submit(base, rows=5, big=BIG)
        succeeded(base, job["id"])
        page = page_of(base + "/")
        panel = open_downloads(page, job["id"])

        links = panel.get_by_role("group", name="Export").get_by_role("link")
        expect(links).to_have_text(["JSON", "CSV", "ZIP"])
        csv = panel.get_by_role("link", name=f"Download report #{job['id'][-8:]} as CSV")
        assert csv.get_attribute("href") == f"/api/jobs/{job['id']}/export?format=csv"
        name, data = fetched(page, csv)
        api = httpx.get(f"{base}/api/jobs/{job['id']}/export", params={"format": "csv"})
        assert api.status_code == 200
        assert name == f"report-{short_id(job['id'])}.csv"
        assert data == api.content  # byte for byte, BOM included
        name, data = fetched(page, panel.get_by_role("link", name=re.compile("as ZIP$")))
        assert name.endswith(".zip") and data[:2] == b"PK"

        files = panel.get_by_role("list", name=re.compile("Files")).get_by_role("listitem")
        expect(files).to_have_count(3)
        expect(files.locator(".dl-name")).to_have_text(sorted(["big.bin", *NAMES]))
        expect(panel.locator('li[data-file="big.bin"] .dl-size')).to_have_text("1.2 MB")
        korean = panel.get_by_role("link", name=re.compile(f"^Download {NAMES[1]}"))
        name, data = fetched(page, korean)
        assert name == NAMES[1]  # from filename* (RFC 5987)
        assert data == httpx.get(f"{base}/api/jobs/{job['id']}/files/{NAMES[1]}").content
        name, data = fetched(page, panel.get_by_role("link", name=re.compile("^Download big.bin")))
        assert data == big_bytes(BIG)

        update = os.environ.get("JOBWIRE_UPDATE_SCREENSHOTS") == "1"
        out = SCREENSHOTS if update else tmp_path
        expect(page.locator('[data-count="all"]')).to_have_text("1")
        page.mouse.move(0, 0)
        page.evaluate("document.activeElement?.blur()")
        page.screenshot(path=str(out / "dashboard-downloads.png"))

        # A job whose task has no rows: no CSV link, and the reason instead; no files.
        plain = submit(base, task="note")
        succeeded(base, plain["id"])
        other = open_downloads(page, plain["id"])
        expect(other.get_by_role("link", name=re.compile("as CSV$"))).to_have_count(0)
        expect(other.locator(".is-unavailable")).to_have_attribute("aria-disabled", "true")
        expect(other.locator(".dl-unavailable")).to_contain_text("No CSV for this job")
        expect(other.locator(".dl-unavailable")).to_contain_text("export_rows")
        expect(other).to_contain_text("This job saved no files.")
        expect(other.get_by_role("link", name=re.compile("as JSON$"))).to_be_visible()
        page.screenshot(path=str(tmp_path / "dashboard-downloads-no-csv.png"))

        phone = page_of(base + "/", 390, 844)
        open_downloads(phone, job["id"])
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390
        phone.screenshot(path=str(tmp_path / "dashboard-downloads-phone.png"), full_page=True)


def test_with_an_api_key_the_links_carry_a_stream_token(page_of, tmp_path) -> None:
    from playwright.sync_api import expect

    db = f"sqlite:///{tmp_path / 'jobwire.db'}"
    keys = App(db)
    _, secret = keys.store.keys.create_key("dana")
    keys.close()
    with serve_examples(tmp_path, TARGET, JOBWIRE_AUTH="token") as base:
        bearer = {"Authorization": f"Bearer {secret}"}
        job = submit(base, bearer, rows=2)
        succeeded(base, job["id"], secret)
        page = page_of(base + "/")
        page.get_by_label("API key or JWT").fill(secret)
        page.get_by_role("button", name="Sign in").click()
        panel = open_downloads(page, job["id"])
        csv = panel.get_by_role("link", name=re.compile("as CSV$"))
        expect(csv).to_have_attribute("href", re.compile(r"[?&]token=[^&]+"))
        _, data = fetched(page, csv)
        api = httpx.get(f"{base}/api/jobs/{job['id']}/export?format=csv", headers=bearer)
        assert data == api.content
        _, data = fetched(page, panel.get_by_role("link", name=re.compile(f"^Download {NAMES[0]}")))
        assert data == b"2 rows\n"
        # The same link without its token is refused: the token is what lets it through.
        bare = httpx.get(base + re.sub(r"[?&]token=[^&]+", "", csv.get_attribute("href")))
        assert bare.status_code == 401


def succeeded(base: str, job_id: str, token: str | None = None) -> None:
    with Client(base, token) as client:
        assert client.wait(job_id, timeout=60).status.value == "succeeded"
