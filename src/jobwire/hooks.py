"""Signed callback URLs for jobs that wait on an external system (pure: no I/O).

A task that hands work to a provider (a video API, say) gives it
:attr:`Progress.callback_url <jobwire.Progress.callback_url>`: ``/api/hooks/{job_id}?sig=…``,
where ``sig`` is an HMAC of the job id under the server's secret. The provider POSTs its
result there; the server checks ``sig`` (401 otherwise), records the body once per
``Idempotency-Key`` (or per body) and answers at once; the waiting task picks it up.

A provider that signs its webhooks the `Standard Webhooks <https://www.standardwebhooks.com>`_
way (``webhook-id``, ``webhook-timestamp``, ``webhook-signature`` headers, a ``whsec_``
secret) gets :meth:`Progress.callback_url_for(provider) <jobwire.Progress.callback_url_for>`:
``/api/hooks/{job_id}?provider=NAME&sig=…``. Its ``sig`` covers the job *and* the provider,
so the URL cannot be turned into an unsigned one by dropping ``provider``; the server then
also checks the provider's signature under its secret (``webhook_secrets``), its timestamp
(±5 minutes) and records the delivery once per ``webhook-id``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Mapping
from urllib.parse import quote

from standardwebhooks import Webhook, WebhookVerificationError

#: The label mixed into the signature, so a hook signature is never valid as anything else.
_PURPOSE = b"jobwire-hook:"
#: What a provider's name may hold (it goes into URLs and settings keys).
PROVIDER_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
_PROVIDER = re.compile(PROVIDER_PATTERN)
#: The Standard Webhooks headers, as they are sent.
SIGNATURE_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")


class BadSignature(Exception):
    """A Standard Webhooks delivery whose signature, timestamp or headers do not verify."""


def sign(secret: str, job_id: str, provider: str | None = None) -> str:
    """The ``sig`` of a job's callback URL (43 URL-safe characters); with ``provider``, of
    its URL for that provider, which is not valid without it."""
    message = _PURPOSE + job_id.encode()
    if provider is not None:
        message += b"\x1f" + provider.encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def verify(secret: str, job_id: str, sig: str | None, provider: str | None = None) -> bool:
    """Whether ``sig`` is the job's signature (for ``provider``, when given), compared in
    constant time."""
    if sig is None:
        return False
    given = sig.encode("utf-8", "replace")  # bytes: any text compares, without raising
    return hmac.compare_digest(sign(secret, job_id, provider).encode(), given)


def path(secret: str, job_id: str, provider: str | None = None) -> str:
    """The callback URL's path and query, to append to the server's public address."""
    if provider is None:
        return f"/api/hooks/{job_id}?sig={sign(secret, job_id)}"
    return f"/api/hooks/{job_id}?provider={quote(provider)}&sig={sign(secret, job_id, provider)}"


def check_provider(name: str) -> str:
    """``name`` when it is a valid provider name; ValueError saying what is expected."""
    if not isinstance(name, str) or not _PROVIDER.fullmatch(name):
        raise ValueError(
            "Expected a provider name of letters, digits and `_.-` (up to 64, starting with "
            f"a letter or digit), such as 'luma', but got {name!r}"
        )
    return name


def check_secret(secret: str) -> str:
    """``secret`` when it is a Standard Webhooks secret (``whsec_`` then base64); ValueError
    otherwise."""
    if not isinstance(secret, str) or not secret.startswith("whsec_"):
        raise ValueError("Expected a Standard Webhooks secret starting with 'whsec_'")
    try:
        key = base64.b64decode(secret.removeprefix("whsec_") + "==", validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) < 16:
        raise ValueError(
            "Expected 'whsec_' followed by the base64 of at least 16 random bytes, as the "
            "provider shows it"
        )
    return secret


def verify_signed(secret: str, body: bytes, headers: Mapping[str, str]) -> str:
    """Check a Standard Webhooks delivery: its ``webhook-signature`` over ``webhook-id``,
    ``webhook-timestamp`` and the body under ``secret`` (``whsec_…``), and a timestamp within
    5 minutes of now (older: a replay; newer: a wrong clock). Returns its ``webhook-id``
    (the delivery's idempotency key); raises BadSignature."""
    present = {name: headers[name] for name in SIGNATURE_HEADERS if headers.get(name)}
    try:
        # The library decodes the body as UTF-8 and splits the signature list itself: a
        # body that is not UTF-8 or a malformed signature raises ValueError, not its error.
        Webhook(secret).verify(body, present, json_parse=False)
    except (WebhookVerificationError, ValueError) as exc:
        raise BadSignature(str(exc) or type(exc).__name__) from None
    return present["webhook-id"]


def delivery_key(idempotency_key: str | None, body: bytes) -> str:
    """What makes two deliveries the same one: the sender's ``Idempotency-Key`` header (or
    the ``webhook-id`` of a signed delivery) when it sends one, else the body itself. Both
    are compared whole, through their SHA-256 (a key of any length fits the column, and two
    keys that share a prefix stay apart)."""
    if idempotency_key:
        digest = hashlib.sha256(idempotency_key.encode("utf-8", "surrogatepass")).hexdigest()
        return "key:" + digest
    return "body:" + hashlib.sha256(body).hexdigest()
