"""Byte ranges of file downloads (RFC 9110 §14): one range of ``Range: bytes=…``, and the
``If-Range`` and ``If-None-Match`` conditions on a file's ETag. Pure: no I/O.

Served: ``bytes=a-b``, ``bytes=a-`` and ``bytes=-n`` (the last n bytes). Several ranges
(``bytes=0-1,5-6``) and other units are ignored, as RFC 9110 allows: the whole file is
sent. A malformed ``bytes=`` range, or one that starts past the end, is 416 with
``Content-Range: bytes */SIZE``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import RangeNotSatisfiable

_ONE_RANGE = re.compile(r"(\d*)-(\d*)")
#: Digits beyond which a position is taken as "past any file" (int() refuses 4300 digits).
_MAX_DIGITS = 30


@dataclass(frozen=True, slots=True)
class ByteRange:
    start: int
    end: int
    """Exclusive."""

    @property
    def length(self) -> int:
        return self.end - self.start

    def content_range(self, size: int) -> str:
        return f"bytes {self.start}-{self.end - 1}/{size}"


def file_etag(sha256: str) -> str:
    """A file's ETag: its SHA-256, quoted. The same bytes, the same tag, on every server."""
    return f'"{sha256}"'


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """The one range ``header`` asks of a file of ``size`` bytes, within it; None for the
    whole file (no header, several ranges, another unit). Raises RangeNotSatisfiable."""
    if not header:
        return None
    unit, equals, spec = header.partition("=")
    if not equals or unit.strip().lower() != "bytes":
        return None
    if "," in spec:
        return None
    match = _ONE_RANGE.fullmatch(spec.strip())
    if match is None or match.group(0) == "-":
        raise _unsatisfiable(header, size)
    first, last = (_number(g) for g in match.groups())
    if first is None:  # the last `last` bytes
        assert last is not None
        start, end = max(size - last, 0), size
        if last == 0:
            raise _unsatisfiable(header, size)
    else:
        start = first
        end = size if last is None else min(last + 1, size)
        if last is not None and last < first:
            raise _unsatisfiable(header, size)
    if start >= size:
        raise _unsatisfiable(header, size)
    return ByteRange(start, end)


def if_range_holds(header: str | None, etag: str) -> bool:
    """``If-Range``: the range applies when the header is absent or names this ETag (a
    date, which files have no use for, never matches: the whole file is sent)."""
    return header is None or header.strip() == etag


def _number(digits: str) -> int | None:
    if not digits:
        return None
    return int(digits) if len(digits) <= _MAX_DIGITS else 10**_MAX_DIGITS


def _unsatisfiable(header: str, size: int) -> RangeNotSatisfiable:
    return RangeNotSatisfiable(
        f"The range {header[:100]!r} is not within the file's {size} bytes: ask for "
        f"bytes=START-END with START below {size}, or bytes=-N for the last N bytes.",
        size=size,
    )
