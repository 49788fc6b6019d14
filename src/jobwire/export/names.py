"""File names for downloads: the name an export is saved under, and the
``Content-Disposition`` header that carries any name, Korean included (RFC 6266, RFC 5987).
Pure: no I/O."""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

from ..snapshot import short_id

#: Longest download name before its extension.
MAX_STEM = 50
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(text: str, *, limit: int = MAX_STEM) -> str:
    """``text`` in ASCII letters, digits and ``.-_`` only, at most ``limit`` characters:
    accents are dropped (``é`` → ``e``), every other run of characters becomes one ``_``,
    and leading dots go (no hidden files). ``"file"`` when nothing is left."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    cleaned = _UNSAFE.sub("_", ascii_text).lstrip(".")[:limit]
    return cleaned if cleaned.strip("_") else "file"


def download_name(task: str, job_id: str, extension: str) -> str:
    """``{task}-{short id}.{extension}``, sanitised (:func:`safe_name`), the part before the
    extension at most :data:`MAX_STEM` characters: the task's name is cut, the id kept."""
    short = safe_name(short_id(job_id), limit=8)
    stem = f"{safe_name(task, limit=MAX_STEM - len(short) - 1)}-{short}"
    return f"{stem}.{safe_name(extension, limit=10)}"


def ascii_fallback(name: str) -> str:
    """The name for clients that do not read ``filename*``: :func:`safe_name` of the stem
    and of the extension, each alone (``보고서.csv`` → ``file.csv``)."""
    stem, dot, extension = name.rpartition(".")
    if not dot or not stem:
        return safe_name(name, limit=100)
    return f"{safe_name(stem, limit=100)}.{safe_name(extension, limit=20)}"


def content_disposition(name: str, disposition: str = "attachment") -> str:
    """``attachment; filename="<ASCII>"`` and, when the name is not plain ASCII,
    ``filename*=UTF-8''<percent-encoded>`` (RFC 5987), which browsers prefer."""
    fallback = ascii_fallback(name)
    header = f'{disposition}; filename="{fallback}"'
    if fallback != name:
        header += f"; filename*=UTF-8''{quote(name.encode('utf-8', 'replace'), safe='')}"
    return header
