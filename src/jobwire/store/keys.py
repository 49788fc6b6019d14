"""API keys: how their secrets are made and compared. Pure: no I/O."""

from __future__ import annotations

import hashlib
import secrets


def hash_secret(secret: str) -> str:
    """What the store keeps of a key's secret. API keys are 256-bit random secrets: a fast
    hash is enough (no brute force can work)."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def new_key() -> tuple[str, str]:
    """A new key's ``(id, secret)``; the secret is shown once and never stored."""
    key_id = secrets.token_hex(8)
    return key_id, f"jw_{key_id}_{secrets.token_urlsafe(32)}"
