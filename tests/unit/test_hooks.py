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


def test_a_providers_url_is_signed_for_the_job_and_the_provider() -> None:
    sig = hooks.sign("s3cret", "job1", "luma")
    assert hooks.path("s3cret", "job1", "luma") == f"/api/hooks/job1?provider=luma&sig={sig}"
    assert hooks.verify("s3cret", "job1", sig, "luma")
    # Not the plain URL's sig, nor another provider's, nor another job's.
    assert not hooks.verify("s3cret", "job1", sig)
    assert not hooks.verify("s3cret", "job1", hooks.sign("s3cret", "job1"), "luma")
    assert not hooks.verify("s3cret", "job1", sig, "other")
    assert not hooks.verify("s3cret", "job2", sig, "luma")


def test_standard_webhooks_deliveries_verify_with_the_library() -> None:
    from datetime import UTC, datetime, timedelta

    import pytest
    from standardwebhooks import Webhook

    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    now = datetime.now(UTC)
    body = '{"video": "cat.mp4"}'

    def headers(msg_id: str, at: datetime, sig: str) -> dict[str, str]:
        return {
            "webhook-id": msg_id,
            "webhook-timestamp": str(int(at.timestamp())),
            **({"webhook-signature": sig}),
        }

    good = headers("msg_1", now, Webhook(secret).sign("msg_1", now, body))
    assert hooks.verify_signed(secret, body.encode(), good) == "msg_1"
    for bad in (
        {**good, "webhook-id": "msg_2"},  # the id is signed too
        {k: v for k, v in good.items() if k != "webhook-signature"},
        {**good, "webhook-signature": "v1"},  # no comma: the library would raise ValueError
        {**good, "webhook-signature": "v1,@@@"},
        headers("m", now - timedelta(minutes=6), Webhook(secret).sign("m", now, body)),
    ):
        with pytest.raises(hooks.BadSignature):
            hooks.verify_signed(secret, body.encode(), bad)
    with pytest.raises(hooks.BadSignature):
        hooks.verify_signed(secret, b"\xff not utf-8", good)


def test_provider_names_and_secrets_are_checked() -> None:
    import pytest

    assert hooks.check_provider("luma") == "luma"
    assert hooks.check_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    for name in ("", "a b", "-x", "x" * 65, "é"):
        with pytest.raises(ValueError, match="provider name"):
            hooks.check_provider(name)
    for secret in ("", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_", "whsec_!!!!", "whsec_c2hvcnQ"):
        with pytest.raises(ValueError, match="whsec_"):
            hooks.check_secret(secret)
