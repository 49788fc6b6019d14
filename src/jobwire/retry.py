"""When a failed attempt runs again. Pure: no I/O, no clock."""

from __future__ import annotations

#: The longest wait before a retry, in seconds.
MAX_BACKOFF = 300.0


def retry_delay(backoff: float, attempt: int) -> float:
    """Seconds to wait after attempt number ``attempt`` (1 for the first) failed: ``backoff``,
    doubled for each attempt after the first, at most :data:`MAX_BACKOFF`."""
    if attempt < 1:
        raise ValueError(f"Expected an attempt number >= 1, but got {attempt!r}")
    return float(min(backoff * 2 ** (attempt - 1), MAX_BACKOFF))
