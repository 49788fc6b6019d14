"""The pure part of callbacks: signatures and what makes two deliveries the same."""

from __future__ import annotations

from jobwire import hooks


def test_a_signature_is_good_for_its_job_and_secret_only() -> None:
    sig = hooks.sign("s3cret", "job1")
    assert hooks.verify("s3cret", "job1", sig)
    assert not hooks.verify("s3cret", "job2", sig)
    assert not hooks.verify("other", "job1", sig)
    assert not hooks.verify("s3cret", "job1", None)
    assert not hooks.verify("s3cret", "job1", "é" + sig[1:])  # any text, no exception
    assert hooks.path("s3cret", "job1") == f"/api/hooks/job1?sig={sig}"


def test_deliveries_are_the_same_by_idempotency_key_else_by_body() -> None:
    assert hooks.delivery_key("evt-1", b"a") == hooks.delivery_key("evt-1", b"b")
    assert hooks.delivery_key(None, b"a") == hooks.delivery_key(None, b"a")
    assert hooks.delivery_key(None, b"a") != hooks.delivery_key(None, b"b")
    assert hooks.delivery_key("x" * 500, b"") != hooks.delivery_key(None, b"")
    assert len(hooks.delivery_key("x" * 500, b"")) <= 200
    assert hooks.delivery_key("x" * 200 + "1", b"") != hooks.delivery_key("x" * 200 + "2", b"")
