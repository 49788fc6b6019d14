"""The pure part of notifications: which URLs and addresses are allowed, what an answer
means, when to try again, and what a delivery holds."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jobwire.notify.policy import (
    URL_PATTERN,
    address_allowed,
    check_url,
    next_attempt,
    outcome_of,
    redact,
    retry_delay,
)
from jobwire.snapshot import JobRecord
from jobwire.status import JobStatus
from jobwire.store.notifying import new_delivery


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.0.0.1",
        "172.16.5.4",
        "192.168.1.1",
        "169.254.169.254",
        "0.0.0.0",
        "100.64.0.1",
        "224.0.0.1",
        "255.255.255.255",
        "192.0.2.1",
        "::1",
        "::",
        "fe80::1%eth0",
        "fc00::1",
        "ff02::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "2002:7f00:1::1",
        "64:ff9b::a00:1",
    ],
)
def test_private_and_special_addresses_are_refused(address: str) -> None:
    assert not address_allowed(address)


@pytest.mark.parametrize(
    "address",
    ["8.8.8.8", "93.184.216.34", "2001:4860:4860::8888", "::ffff:8.8.8.8", "64:ff9b::808:808"],
)
def test_public_addresses_are_allowed(address: str) -> None:
    assert address_allowed(address)


def test_urls_must_be_http_and_not_literal_private_addresses() -> None:
    assert check_url("https://hooks.example.com/a?b=1", allow_private=False)
    assert check_url("http://8.8.8.8:8080/x", allow_private=False)
    assert check_url("http://localhost:9/x", allow_private=False)  # a name: checked when sent
    for url in ("http://127.0.0.1/", "http://[::1]:80/", "http://10.9.8.7/x"):
        with pytest.raises(ValueError, match="notify_allow_private"):
            check_url(url, allow_private=False)
        assert check_url(url, allow_private=True) == url
    for url in (
        "ftp://example.com/",
        "example.com",
        "",
        "http:///x",
        "http://a:0/",
        "http://a:99999/",
        "http://a b/",
        "http://a/\n",
        "https://" + "a" * 2050,
    ):
        with pytest.raises(ValueError):
            check_url(url, allow_private=True)


@settings(max_examples=300, suppress_health_check=list(HealthCheck), deadline=None)
@given(st.from_regex(URL_PATTERN, fullmatch=True).filter(lambda u: len(u) <= 2048))
def test_every_url_the_http_api_describes_is_accepted(url: str) -> None:
    # /openapi.json documents notify_url with URL_PATTERN: all it allows must be taken.
    assert check_url(url, allow_private=False) == url


def test_the_http_pattern_takes_host_names_only() -> None:
    rx = re.compile(URL_PATTERN)
    assert rx.match("https://hooks.example.com:8443/j?x=1")
    assert rx.match("http://user:pw@localhost/x")
    for url in ("http://127.0.0.1/", "http://8.8.8.8/", "http://[::1]/", "ftp://a/", "http://a:0/"):
        assert not rx.match(url)


def test_answers_and_retries() -> None:
    assert [outcome_of(c) for c in (200, 204, 299, 410, 500, 404, 301)] == [
        "delivered",
        "delivered",
        "delivered",
        "gone",
        "retry",
        "retry",
        "retry",
    ]
    assert [retry_delay(n, 5, 3600, lambda: 1.0) for n in (1, 2, 3, 12, 80)] == [
        5,
        10,
        20,
        3600,
        3600,
    ]
    assert retry_delay(1, 5, 3600, lambda: 0.0) == 2.5  # jitter: half to all of it
    # Tried again while within the window after the delivery was made; then no more.
    assert next_attempt(0, 1, 100, base=5, cap=60, window=200, rng=lambda: 1.0) == 105
    assert next_attempt(0, 9, 150, base=5, cap=60, window=200, rng=lambda: 1.0) is None


def test_a_shown_url_hides_what_may_be_a_credential() -> None:
    assert (
        redact("https://u:p@h.example.com:8443/a/b?token=s#f") == "https://h.example.com:8443/a/b?…"
    )
    assert redact("http://h/x") == "http://h/x"


def test_a_delivery_is_owed_for_an_ended_job_with_a_notify_url() -> None:
    job = JobRecord(id="j1", task="t", owner="o", created_at=1.0, notify_url="https://h/x")
    assert new_delivery(job, 2.0) is None  # queued: not ended
    job.status, job.finished_at = JobStatus.FAILED, 2.0
    d = new_delivery(job, 2.0)
    assert d is not None and (d.event, d.url, d.status, d.next_attempt_at) == (
        "job.failed",
        "https://h/x",
        "pending",
        2.0,
    )
    body = json.loads(d.payload)
    assert body["type"] == "job.failed" and body["timestamp"] == "1970-01-01T00:00:02.000Z"
    assert body["data"]["id"] == "j1" and "notify_url" not in body["data"]
    job.notify_url = None
    assert new_delivery(job, 2.0) is None
