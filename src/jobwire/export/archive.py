"""Streamed ZIP archives: each member is compressed and sent as its bytes arrive, so an
archive of large files is never whole in memory (`stream-zip
<https://stream-zip.docs.trade.gov.uk/>`_ writes the format).

```python
from jobwire.export import zip_stream

chunks = zip_stream([
    ("README.md", "# Report\\n"),
    ("data/big.bin", open_chunks()),            # any iterable of bytes
])
```

A member whose size is known (bytes, text, or a :class:`ZipMember` with ``size``) is written
as ZIP32 unless it or its offset passes 4 GiB; one of unknown size as ZIP64, which every
current unzip reads (macOS Archive Utility reads ZIP32 only: give the size when you know it).
"""

from __future__ import annotations

import logging
import stat
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from stream_zip import Method

logger = logging.getLogger(__name__)

#: Compression of members (zlib's level; 0 stores the bytes in deflate's stored blocks).
LEVEL = 6
MODE = stat.S_IFREG | 0o644
#: Media types whose bytes are compressed already: deflating them again costs time and
#: saves nothing.
PACKED = ("image/", "video/", "audio/", "application/zip", "application/gzip", "font/woff")

Data = bytes | str | Iterable[bytes]
_FIRST = datetime(1980, 1, 1, tzinfo=UTC)
_LAST = datetime(2107, 12, 31, 23, 59, 58, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class ZipMember:
    """One member of :func:`zip_stream`, with what a ``(name, data)`` pair cannot say."""

    name: str
    """Its path in the archive (``/`` separates folders; ``..`` and leading ``/`` are
    dropped, so that unzipping never writes outside its folder)."""
    data: Data
    size: int | None = None
    """Its length in bytes, when ``data`` is an iterable and the length is known."""
    modified: datetime | None = None
    compress: bool = True
    """False for bytes that are compressed already (images, video, archives)."""


def zip_stream(
    members: Iterable[ZipMember | tuple[str, Data]], *, modified: datetime | None = None
) -> Iterator[bytes]:
    """A ZIP archive of ``members``, as chunks of bytes. ``members`` is read lazily: each
    one (and its data) is taken when the archive reaches it. ``modified`` is the date of
    members that give none (default: now). Text is written as UTF-8."""
    from stream_zip import stream_zip

    when = modified or datetime.now(UTC)

    def files() -> Iterator[tuple[str, datetime, int, Method, Iterable[bytes]]]:
        for item in members:
            member = item if isinstance(item, ZipMember) else ZipMember(*item)
            chunks, method = _method(member)
            date = _dos_range(member.modified or when)
            yield member_name(member.name), date, MODE, method, chunks

    return iter(
        stream_zip(
            files(), get_compressobj=lambda: zlib.compressobj(level=LEVEL, wbits=-zlib.MAX_WBITS)
        )
    )


def member_name(name: str) -> str:
    """``name`` as a safe relative path: backslashes as ``/``, no empty, ``.`` or ``..``
    part (``../../etc/x`` → ``etc/x``), ``file`` when nothing is left."""
    parts = [p for p in name.replace("\\", "/").split("/") if p not in ("", ".", "..")]
    return "/".join(parts) or "file"


def packed(content_type: str) -> bool:
    """Whether bytes of this media type are compressed already."""
    return content_type.lower().startswith(PACKED)


def _dos_range(when: datetime) -> datetime:
    # ZIP dates are MS-DOS dates: 1980 to 2107.
    return min(max(when, _FIRST), _LAST)


def _method(member: ZipMember) -> tuple[Iterable[bytes], Method]:
    from stream_zip import ZIP_64, ZIP_AUTO

    level = LEVEL if member.compress else 0
    data = member.data
    if isinstance(data, str):
        data = data.encode("utf-8")
    if isinstance(data, bytes | bytearray | memoryview):
        return (bytes(data),), ZIP_AUTO(len(data), level=level)
    if member.size is not None:
        return data, ZIP_AUTO(member.size, level=level)
    return data, ZIP_64
