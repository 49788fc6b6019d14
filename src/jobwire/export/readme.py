"""The README.md of a ZIP export: what the job was (task, arguments, times) and what the
archive holds. Pure: no I/O."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..snapshot import JobRecord, format_seconds, iso, short_id


@dataclass(frozen=True, slots=True)
class Entry:
    """One line of the README's table of contents."""

    name: str
    size: int | None
    about: str


def readme(
    record: JobRecord, contents: Sequence[Entry], summary: Sequence[str], *, exported_at: float
) -> str:
    """Markdown: a title, the job's facts, its arguments as JSON, ``summary`` (one
    paragraph each), and ``contents`` as a table."""
    duration = "unknown"
    if record.started_at is not None and record.finished_at is not None:
        seconds = record.finished_at - record.started_at
        duration = f"{format_seconds(seconds)} ({seconds:.1f} s)"
    facts = [
        ("Task", f"`{record.task}`"),
        ("Job", f"`{record.id}`"),
        ("Owner", record.owner),
        ("Created", iso(record.created_at)),
        ("Started", iso(record.started_at)),
        ("Finished", iso(record.finished_at)),
        ("Duration", duration),
        ("Attempt", f"{record.attempt} of {record.max_attempts}"),
        ("Exported", iso(exported_at)),
    ]
    lines = [
        f"# {_text(record.task)} — job {short_id(record.id)}",
        "",
        "| | |",
        "| --- | --- |",
        *(f"| {label} | {_cell(value or '—')} |" for label, value in facts),
        "",
        "## Arguments",
        "",
        *_code(json.dumps(record.args, indent=2, ensure_ascii=False, default=str)),
        "",
        "## Summary",
        "",
        *(line for text in summary for line in (text, "")),
        "## Contents",
        "",
        "| file | size | what |",
        "| --- | ---: | --- |",
        *(f"| `{_cell(e.name)}` | {size_text(e.size)} | {_cell(e.about)} |" for e in contents),
        "",
    ]
    return "\n".join(lines)


def plural(n: int, word: str) -> str:
    """``1 file``, ``2 files``, ``1,000 rows``."""
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def size_text(n: int | None) -> str:
    """``950 B``, ``1.2 kB``, ``50.0 MB`` (powers of 1000); ``?`` when unknown."""
    if n is None:
        return "?"
    value = float(n)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000:
            return f"{n} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} TB"


def _cell(value: Any) -> str:
    # A table cell: one line, no column separator.
    return str(value).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _text(value: str) -> str:
    return value.replace("\n", " ")


def _code(text: str) -> list[str]:
    # A fence longer than any run of backticks inside.
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return [f"{fence}json", text, fence]
