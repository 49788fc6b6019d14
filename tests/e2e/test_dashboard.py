"""The dashboard in a real browser (Chromium through Playwright), against `jobwire serve
--examples` as a subprocess with its own SQLite file.

Screenshots are taken in every run; they replace docs/screenshots/dashboard*.png only with
``JOBWIRE_UPDATE_SCREENSHOTS=1``.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.browser import ROOT, chromium, serve_examples

SCREENSHOTS = ROOT / "docs" / "screenshots"
TASK = "demo.analyse"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`jobwire serve --examples` on a free port; its base URL."""
    with serve_examples(tmp_path_factory.mktemp("dashboard")) as base:
        yield base


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as browser:
        yield browser


@pytest.fixture
def open_page(browser: Any, server: str) -> Iterator[Callable[..., Any]]:
    """Open the dashboard in a fresh context; fails the test on any uncaught page error."""
    contexts: list[Any] = []
    errors: list[str] = []

    def open_(width: int = 1280, height: int = 800, init_script: str | None = None) -> Any:
        context = browser.new_context(viewport={"width": width, "height": height})
        contexts.append(context)
        if init_script:
            context.add_init_script(init_script)
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(server + "/")
        page.locator(f'form[data-task="{TASK}"]').wait_for(state="attached")
        page.wait_for_selector('#jobs-panel[data-loading="false"]')
        return page

    yield open_
    for context in contexts:
        context.close()
    assert errors == [], errors


def submit(server: str, **args: Any) -> dict[str, Any]:
    """Submit from "another client" (not the page), waiting out the rate limit if need be."""
    while True:
        answer = httpx.post(f"{server}/api/tasks/{TASK}/jobs", json=args, timeout=10)
        if answer.status_code != 429:
            break
        time.sleep(float(answer.headers.get("retry-after", "0.2")))
    assert answer.status_code == 202, answer.text
    return dict(answer.json())


def row(page: Any, job_id: str) -> Any:
    return page.locator(f'tr.job[data-id="{job_id}"]')


def wait_status(server: str, job_id: str, *statuses: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        job = httpx.get(f"{server}/api/jobs/{job_id}", timeout=10).json()
        if job["status"] in statuses:
            return dict(job)
        assert time.monotonic() < deadline, f"job stayed {job['status']}, not {statuses}"
        time.sleep(0.1)


def wait_progress(
    bar: Any, low: float = 0.0, high: float = 1.0, timeout: float = 30
) -> tuple[int, int]:
    """Wait until the bar's aria-valuenow/aria-valuemax is strictly between low and high."""
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        now, most = bar.get_attribute("aria-valuenow"), bar.get_attribute("aria-valuemax")
        seen.append((now, most))
        if now is not None and most is not None and low < int(now) / int(most) < high:
            return int(now), int(most)
        time.sleep(0.03)
    raise AssertionError(f"the bar never showed a value in ({low}, {high}) of its max: {seen[-5:]}")


def test_run_panel_runs_a_job_live_to_its_result(open_page, server) -> None:
    from playwright.sync_api import expect

    page = open_page()
    form = page.locator(f'form[data-task="{TASK}"]')
    count = form.get_by_label("Documents count")
    expect(count).to_have_value("200")  # the default from the schema
    expect(count).to_have_attribute("type", "number")
    expect(form.get_by_label("Work")).to_have_value("40000")
    expect(form.locator(".task-steps li")).to_have_text(
        [re.compile(s) for s in ("init", "processing", "aggregating", "saving")]
    )

    count.fill("100")
    form.get_by_label("Work").fill("20000")  # about 2 s of work: long enough to watch
    form.get_by_role("button", name="Run").click()
    first = page.locator("tr.job").first
    expect(first).to_have_attribute("data-status", re.compile("queued|running"))
    job_id = first.get_attribute("data-id")
    assert job_id

    bar = row(page, job_id).get_by_role("progressbar")
    expect(bar).to_have_attribute("aria-label", f"Progress of {TASK} #{job_id[-8:]}")
    expect(bar).to_have_attribute("aria-valuemin", "0")
    now, most = wait_progress(bar)
    assert 0 < now < most
    expect(bar).to_have_attribute("aria-valuetext", re.compile(r"^\d+/\d+ \(\d+(\.\d)?%\)$"))
    current = row(page, job_id).locator('.steps li[aria-current="step"]')
    expect(current).to_have_count(1)
    assert current.locator(".step-name").inner_text().strip() in ("processing", "aggregating")
    done = row(page, job_id).locator('.steps li[data-state="done"]').first
    expect(done.locator(".step-name")).to_have_text("init")
    expect(done.locator(".step-time")).to_have_text(re.compile(r"^(<1|\d+) s$"))  # it took

    expect(row(page, job_id)).to_have_attribute("data-status", "succeeded", timeout=30_000)
    expect(row(page, job_id).locator(".badge")).to_have_text("succeeded")
    expect(bar).to_have_attribute("aria-valuenow", bar.get_attribute("aria-valuemax") or "x")
    toast = page.locator('#toasts .toast[data-kind="success"]')
    expect(toast).to_contain_text(f"{TASK} succeeded")
    expect(toast.get_by_role("link", name="View result")).to_be_visible()

    link = row(page, job_id).get_by_role("link", name=re.compile("Result"))
    href = link.get_attribute("href")
    assert href == f"/api/jobs/{job_id}/result"
    result = page.request.get(server + href)
    assert result.ok
    assert result.json()["documents"] == 100


def test_jobs_from_other_clients_appear_live_and_cancel_works(open_page, server) -> None:
    from playwright.sync_api import expect

    page = open_page()
    expect(page.locator("#conn")).to_have_attribute("data-state", "live")
    job = submit(server, documents_count=5000)  # minutes of work: it will be cancelled
    expect(row(page, job["id"])).to_be_visible()
    expect(page.locator("tr.job").first).to_have_attribute("data-id", job["id"])
    expect(row(page, job["id"])).to_have_attribute("data-status", "running")

    row(page, job["id"]).get_by_role("button", name=re.compile("^Cancel")).click()
    expect(row(page, job["id"])).to_have_attribute("data-status", "cancelled", timeout=20_000)
    expect(row(page, job["id"]).get_by_role("button", name=re.compile("^Cancel"))).to_have_count(0)
    assert wait_status(server, job["id"], "cancelled")["status"] == "cancelled"


def test_bad_arguments_are_shown_next_to_the_field(open_page) -> None:
    from playwright.sync_api import expect

    page = open_page()
    form = page.locator(f'form[data-task="{TASK}"]')
    rows_before = page.locator("tr.job").count()
    count = form.get_by_label("Documents count")
    count.fill("2.5")
    form.get_by_role("button", name="Run").click()
    error = form.locator('[data-field="documents_count"] .field-error')
    expect(error).to_be_visible()
    expect(error).to_contain_text("integer")
    expect(count).to_have_attribute("aria-invalid", "true")
    expect(count).to_be_focused()
    described = (count.get_attribute("aria-describedby") or "").split()
    assert error.get_attribute("id") in described
    expect(form.locator(".form-error")).to_contain_text("Check the highlighted field")
    assert page.locator("tr.job").count() == rows_before  # nothing was started

    count.fill("3")  # editing the field clears its error
    expect(error).to_be_hidden()
    expect(count).not_to_have_attribute("aria-invalid", "true")


def test_limit_and_rate_limit_answers_are_explained(open_page) -> None:
    from playwright.sync_api import expect

    page = open_page()
    form = page.locator(f'form[data-task="{TASK}"]')
    button = form.get_by_role("button", name="Run")
    answers = iter(
        [
            (409, {}, "owner_limit_reached", "'local' already has 1 live job of demo.analyse"),
            (429, {"Retry-After": "2"}, "rate_limited", "Too many submits"),
        ]
    )

    def fulfil(route: Any) -> None:
        status, headers, code, message = next(answers)
        route.fulfill(
            status=status, headers=headers, content_type="application/json",
            json={"error": {"code": code, "message": message, "details": {}}},
        )  # fmt: skip

    page.route(f"**/api/tasks/{TASK}/jobs", fulfil)
    button.click()
    alert = form.get_by_role("alert")
    expect(alert).to_contain_text("You already have as many live")
    expect(alert).to_contain_text("already has 1 live job")
    expect(button).to_be_enabled()

    button.click()
    expect(alert).to_contain_text("Try again in 2 s")
    expect(form.locator("button[type=submit]")).to_be_disabled()
    expect(form.locator("button[type=submit]")).to_be_enabled(timeout=5_000)
    expect(form.locator("button[type=submit]")).to_have_text("Run")


def test_status_filters_failure_details_and_paging(open_page, server) -> None:
    from playwright.sync_api import expect

    failed = submit(server, documents_count=3, work=0)  # pbkdf2 refuses 0 iterations
    ok = submit(server, documents_count=2)
    wait_status(server, failed["id"], "failed")
    wait_status(server, ok["id"], "succeeded")

    page = open_page()
    statuses = page.locator("tr.job")
    page.locator('#status-filter label[data-group="failed"]').click()
    expect(page).to_have_url(re.compile(r"\?status=failed$"))
    expect(row(page, ok["id"])).to_have_count(0)
    expect(row(page, failed["id"])).to_be_visible()
    assert set(statuses.evaluate_all("rows => rows.map(r => r.dataset.status)")) == {"failed"}

    failed_row = row(page, failed["id"])
    expect(failed_row.locator(".msg")).to_contain_text("iteration value must be greater than 0")
    details = failed_row.get_by_role("button", name=re.compile("Error details"))
    expect(details).to_have_attribute("aria-expanded", "false")
    details.click()
    expect(details).to_have_attribute("aria-expanded", "true")
    box = page.locator(f"#error-{failed['id']}")
    expect(box).to_be_visible()
    expect(box).to_contain_text("task_error")
    expect(box.locator(".traceback")).to_contain_text("Traceback (most recent call last)")

    page.locator('#status-filter label[data-group="succeeded"]').click()
    expect(row(page, failed["id"])).to_have_count(0)
    expect(row(page, ok["id"])).to_be_visible()
    assert set(statuses.evaluate_all("rows => rows.map(r => r.dataset.status)")) == {"succeeded"}

    page.locator('#status-filter label[data-group="all"]').click()
    expect(row(page, failed["id"])).to_be_visible()
    page.locator('#status-filter input[value="all"]').focus()  # the keyboard works too
    page.keyboard.press("ArrowRight")
    expect(page.locator('#status-filter input[value="active"]')).to_be_checked()
    expect(page).to_have_url(re.compile(r"\?status=active$"))
    page.keyboard.press("ArrowLeft")
    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.locator('[data-count="all"]')).to_have_text(re.compile(r"^\d+$"))

    # Paging: `?limit=3` makes pages of 3 jobs; "Load more" brings the next ones.
    total = sum(httpx.get(f"{server}/api/stats").json()["jobs"].values())
    assert total >= 4
    page.goto(server + "/?limit=3")
    page.wait_for_selector('#jobs-panel[data-loading="false"]')
    expect(statuses).to_have_count(3)
    page.get_by_role("button", name="Load more").click()
    expect(statuses).to_have_count(min(total, 6))
    shown = statuses.evaluate_all("rows => rows.map(r => r.dataset.id)")
    listed = httpx.get(f"{server}/api/jobs", params={"limit": 6}).json()["jobs"]
    assert shown == [job["id"] for job in listed]  # newest first, no gaps, no repeats


def test_polls_when_websockets_are_unavailable(open_page, server) -> None:
    from playwright.sync_api import expect

    page = open_page(init_script="Object.defineProperty(window, 'WebSocket', {value: undefined})")
    expect(page.locator("#conn")).to_have_attribute("data-state", "polling")
    job = submit(server, documents_count=5)
    expect(row(page, job["id"])).to_have_attribute("data-status", "succeeded", timeout=15_000)


def test_screenshots_and_phone_layout(open_page, server, tmp_path) -> None:
    from playwright.sync_api import expect

    update = os.environ.get("JOBWIRE_UPDATE_SCREENSHOTS") == "1"
    out = SCREENSHOTS if update else tmp_path
    out.mkdir(parents=True, exist_ok=True)

    # A job in each state: succeeded, failed, cancelled, and one running mid-way.
    done = submit(server, documents_count=60, work=10_000)
    wait_status(server, done["id"], "succeeded")
    failed = submit(server, documents_count=4, work=0)
    wait_status(server, failed["id"], "failed")
    cancelled = submit(server, documents_count=5000)
    wait_status(server, cancelled["id"], "running")
    time.sleep(0.5)
    httpx.post(f"{server}/api/jobs/{cancelled['id']}/cancel", timeout=10)
    wait_status(server, cancelled["id"], "cancelled")
    running = submit(server, documents_count=300, work=20_000)
    page = open_page()
    bar = row(page, running["id"]).get_by_role("progressbar")
    wait_progress(bar, 0.3, 0.7)
    page.mouse.move(0, 0)
    page.screenshot(path=str(out / "dashboard.png"))

    phone = open_page(390, 844)
    expect(row(phone, running["id"])).to_be_visible()
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    card = row(phone, running["id"]).bounding_box()
    assert card is not None and card["width"] <= 390
    expect(phone.locator("table.jobs thead")).to_be_hidden()  # rows are cards
    phone.screenshot(path=str(out / "dashboard-phone.png"))
    row(phone, failed["id"]).get_by_role("button", name=re.compile("Error details")).click()
    expect(phone.locator(f"#error-{failed['id']} .traceback")).to_be_visible()
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390  # the traceback scrolls

    # Clean up: on a quiet machine the job may already have finished by now.
    httpx.post(f"{server}/api/jobs/{running['id']}/cancel", timeout=10)
    wait_status(server, running["id"], "cancelled", "succeeded")
    assert (out / "dashboard.png").stat().st_size > 10_000
