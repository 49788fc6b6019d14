"""What every store can keep and every client can parse. Pure: no I/O.

Three kinds of value are refused everywhere, so that a task that works on SQLite also works on
PostgreSQL and a result never breaks ``JSON.parse``:

- a lone surrogate (``"\\udcff"``): what ``os.fsdecode`` returns for a file name that is not
  UTF-8; it cannot be encoded as UTF-8;
- the NUL character: PostgreSQL's text columns cannot hold it;
- NaN and ±Infinity: not JSON.

:func:`storable` cleans text for display; :func:`check_text` and :func:`find_unstorable`
say what is wrong and where.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from .errors import UnstorableValue

#: Longest step name and owner the stores keep (their columns are 200 characters wide).
MAX_STEP = 200
MAX_OWNER = 200
_REPLACEMENT = "\ufffd"


def _encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def problem(text: str) -> str | None:
    """Why ``text`` cannot be stored, or None when it can. Cheap for ASCII text."""
    if "\x00" in text:
        return f"contains a NUL character at index {text.index(chr(0))}"
    if not text.isascii() and not _encodes(text):
        index = next(i for i, c in enumerate(text) if 0xD800 <= ord(c) <= 0xDFFF)
        return f"contains a lone surrogate ({text[index]!r}) at index {index}"
    return None


def storable(text: str) -> str:
    """``text`` with each NUL and lone surrogate replaced by U+FFFD, so any store keeps it.

    ```python
    progress.update(message=jobwire.storable(os.fsdecode(path)))
    ```
    """
    if "\x00" in text:
        text = text.replace("\x00", _REPLACEMENT)
    if text.isascii() or _encodes(text):
        return text
    return "".join(_REPLACEMENT if 0xD800 <= ord(c) <= 0xDFFF else c for c in text)


def check_text(text: str, what: str, *, max_length: int | None = None) -> str:
    """Return ``text`` if every store can keep it; raise UnstorableValue naming ``what``."""
    if not isinstance(text, str):
        raise UnstorableValue(
            f"Expected {what} to be text, but got {type(text).__name__}: {text!r}"[:300],
            field=what,
        )
    reason = problem(text)
    if reason is None and max_length is not None and len(text) > max_length:
        reason = f"is {len(text)} characters long, the limit is {max_length}"
    if reason is not None:
        raise UnstorableValue(
            f"{what} {reason}: {storable(text)[:80]!r}. Text must be valid Unicode without NUL "
            "characters; clean it with jobwire.storable(text).",
            field=what,
        )
    return text


def find_unstorable(
    value: Any, path: tuple[str | int, ...] = ()
) -> tuple[list[str | int], str] | None:
    """The location and reason of the first value in a JSON-like structure that cannot be
    stored or sent as JSON (text as above, NaN or ±Infinity), or None."""
    if isinstance(value, str):
        reason = problem(value)
        return None if reason is None else (list(path), f"text {reason}")
    if isinstance(value, float):
        return None if math.isfinite(value) else (list(path), f"{value!r} is not a JSON number")
    if isinstance(value, Mapping):
        for key, item in value.items():
            if isinstance(key, str) and (reason := problem(key)) is not None:
                return [*path, key], f"key {reason}"
            found = find_unstorable(item, (*path, key))
            if found is not None:
                return found
        return None
    if isinstance(value, list | tuple):
        for i, item in enumerate(value):
            found = find_unstorable(item, (*path, i))
            if found is not None:
                return found
    return None


def sanitize(value: Any) -> Any:
    """A copy of a JSON-like structure that every store keeps: text cleaned with
    :func:`storable`, NaN and ±Infinity as None. For what jobwire itself records about a
    failure (error messages and tracebacks), which must never be refused."""
    if isinstance(value, str):
        return storable(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {storable(str(k)): sanitize(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [sanitize(v) for v in value]
    return value
