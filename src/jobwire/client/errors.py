"""The client's errors: the jobwire error for a JSON error code, and StreamLost."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from .. import errors as e

if TYPE_CHECKING:
    import httpx


class StreamLost(e.JobwireError):
    """The job's message stream dropped and could not be resumed. The job goes on: watch it
    again with `after=` the last seq you saw."""

    code = "stream_lost"


def error_from(
    code: str, message: str, details: Any = None, *, retry_after: float | None = None
) -> e.JobwireError:
    """The jobwire error for a JSON error code (an unknown code gives a JobwireError)."""
    exc: e.JobwireError
    if code == e.RateLimited.code:
        exc = e.RateLimited(message or None, retry_after=retry_after or 1.0)
    else:
        cls = e.registry().get(code)  # every error class, by the code the server sends
        if cls is not None:
            exc = cls(message or None)
        else:
            exc = e.JobwireError(message or None)
            exc.code = code
    exc.details = dict(details) if isinstance(details, dict) else {}
    return exc


def error_of(response: httpx.Response) -> e.JobwireError:
    """The error a server's answer carries (its JSON body, else one made from the status)."""
    try:
        body = response.json()["error"]
        code, message, details = str(body["code"]), str(body["message"]), body.get("details")
    except (ValueError, KeyError, TypeError):
        code = "unauthorized" if response.status_code == 401 else f"http_{response.status_code}"
        message = (
            f"Expected a jobwire error answer, but got HTTP {response.status_code}: "
            f"{response.text[:200]!r}. Is {response.request.url} a jobwire server?"
        )
        details = {}
    retry_after = None
    if code == e.RateLimited.code:
        with contextlib.suppress(ValueError):
            retry_after = float(response.headers.get("retry-after", "1"))
    return error_from(code, message, details, retry_after=retry_after)
