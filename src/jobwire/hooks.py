"""Signed callback URLs for jobs that wait on an external system (pure: no I/O).

A task that hands work to a provider (a video API, say) gives it
:attr:`Progress.callback_url <jobwire.Progress.callback_url>`: ``/api/hooks/{job_id}?sig=…``,
where ``sig`` is an HMAC of the job id under the server's secret. The provider POSTs its
result there; the server checks ``sig`` (401 otherwise), records the body once per
``Idempotency-Key`` (or per body) and answers at once; the waiting task picks it up.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

#: The label mixed into the signature, so a hook signature is never valid as anything else.
_PURPOSE = b"jobwire-hook:"


def sign(secret: str, job_id: str) -> str:
    """The ``sig`` of a job's callback URL (43 URL-safe characters)."""
    digest = hmac.new(secret.encode(), _PURPOSE + job_id.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def verify(secret: str, job_id: str, sig: str | None) -> bool:
    """Whether ``sig`` is the job's signature (compared in constant time)."""
    if sig is None:
        return False
    given = sig.encode("utf-8", "replace")  # bytes: any text compares, without raising
    return hmac.compare_digest(sign(secret, job_id).encode(), given)


def path(secret: str, job_id: str) -> str:
    """The callback URL's path and query, to append to the server's public address."""
    return f"/api/hooks/{job_id}?sig={sign(secret, job_id)}"


def delivery_key(idempotency_key: str | None, body: bytes) -> str:
    """What makes two deliveries the same one: the sender's ``Idempotency-Key`` header when
    it sends one, else the body itself. Both are compared whole, through their SHA-256 (a
    key of any length fits the column, and two keys that share a prefix stay apart)."""
    if idempotency_key:
        digest = hashlib.sha256(idempotency_key.encode("utf-8", "surrogatepass")).hexdigest()
        return "key:" + digest
    return "body:" + hashlib.sha256(body).hexdigest()
