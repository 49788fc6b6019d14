"""Byte ranges of downloads (RFC 9110 §14), without a server."""

from __future__ import annotations

import pytest

from jobwire.errors import RangeNotSatisfiable
from jobwire.server.ranges import ByteRange, file_etag, if_range_holds, parse_range


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes=0-9", ByteRange(0, 10)),
        ("bytes=5-", ByteRange(5, 100)),
        ("bytes=-10", ByteRange(90, 100)),
        ("bytes=-500", ByteRange(0, 100)),  # more than the file: all of it
        ("bytes=90-500", ByteRange(90, 100)),
        ("bytes=99-99", ByteRange(99, 100)),
        (" Bytes = 1-2 ", ByteRange(1, 3)),
        ("bytes=0-" + "9" * 40, ByteRange(0, 100)),
        (None, None),
        ("", None),
        ("items=0-5", None),  # another unit: ignored
        ("bytes=0-1,5-6", None),  # several ranges: the whole file
    ],
)
def test_one_range_within_the_file(header: str | None, expected: ByteRange | None) -> None:
    assert parse_range(header, 100) == expected


@pytest.mark.parametrize(
    "header", ["bytes=100-", "bytes=200-300", "bytes=-0", "bytes=5-4", "bytes=-", "bytes=x-1"]
)
def test_unsatisfiable_ranges(header: str) -> None:
    with pytest.raises(RangeNotSatisfiable) as caught:
        parse_range(header, 100)
    assert caught.value.details == {"size": 100}
    assert caught.value.status == 416


def test_an_empty_file_has_no_range() -> None:
    with pytest.raises(RangeNotSatisfiable):
        parse_range("bytes=-5", 0)
    assert parse_range(None, 0) is None


def test_content_range_and_if_range() -> None:
    assert ByteRange(90, 100).content_range(100) == "bytes 90-99/100"
    assert ByteRange(90, 100).length == 10
    tag = file_etag("ab" * 32)
    assert tag == f'"{"ab" * 32}"'
    assert if_range_holds(None, tag) and if_range_holds(tag, tag)
    assert not if_range_holds('"other"', tag)
    assert not if_range_holds("Wed, 21 Oct 2015 07:28:00 GMT", tag)
