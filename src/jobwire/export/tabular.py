"""CSV exports: a task's rows as UTF-8 with a byte order mark (so that Excel reads Korean,
or any non-ASCII text, as UTF-8), written row by row into a small buffer. Pure: no I/O.

```python
table = Table.of(lambda: [{"file": "a.py", "loc": 120}], None, "task 'scan'")
b"".join(csv_chunks(table))        # b'\\xef\\xbb\\xbffile,loc\\r\\na.py,120\\r\\n'
```
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import ExportNotAvailable

#: What starts a UTF-8 CSV for Excel.
BOM = "\ufeff".encode()
#: Characters written before the buffer is handed on.
BUFFER = 64 * 1024
#: Text starting with one of these is a formula to a spreadsheet: such cells get a leading
#: ``'`` (OWASP, "CSV injection"), so that opening an export never runs what a job's input
#: put there.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

Rows = Callable[[], Iterable[Mapping[str, Any]]]


@dataclass(frozen=True, slots=True)
class Table:
    """Rows to write as CSV, checked: ``rows()`` gives them again at each call."""

    rows: Rows
    columns: tuple[str, ...]
    count: int
    """How many rows there are."""

    @classmethod
    def of(
        cls, rows: Callable[[], Iterable[Any]], columns: Sequence[str] | None, what: str
    ) -> Table:
        """Read ``rows()`` once to check that every row is a mapping and to count them. The
        columns are ``columns`` when given (other keys are left out), else every key in the
        order first met: the first row's keys, then new keys as later rows bring them (a
        row without a key gets an empty cell)."""
        seen: dict[str, None] = dict.fromkeys(columns or ())
        count = 0
        for count, row in enumerate(rows(), start=1):
            if not isinstance(row, Mapping):
                raise ExportNotAvailable(
                    f"Expected the rows of {what} as mappings (dicts), but row {count} is "
                    f"{type(row).__name__}: {row!r:.80}"
                )
            if columns is None:
                for key in row:
                    seen.setdefault(key, None)
        return cls(rows, tuple(seen), count)


def csv_chunks(table: Table, *, bom: bool = True) -> Iterator[bytes]:
    """The CSV of ``table``: the byte order mark (unless ``bom=False``), a header row, then
    one line per row (``\\r\\n``, quoted as Excel does), in chunks of about
    :data:`BUFFER` characters."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    if bom:
        yield BOM
    columns = table.columns
    if columns:
        writer.writerow([cell(c) for c in columns])
    for row in table.rows():
        writer.writerow([cell(row.get(c)) for c in columns])
        if buffer.tell() >= BUFFER:
            yield _take(buffer)
    if buffer.tell():
        yield _take(buffer)


def csv_size(table: Table, *, bom: bool = True) -> int:
    """The length in bytes of :func:`csv_chunks` (written once, kept nowhere)."""
    return sum(len(chunk) for chunk in csv_chunks(table, bom=bom))


def cell(value: Any) -> str:
    """One cell: ``""`` for None, ``true``/``false``, numbers as Python writes them, text as
    it is (with ``'`` before a formula), lists and objects as compact JSON."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        text = value
    elif isinstance(value, Mapping | list | tuple):
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    else:
        text = str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def flat_rows(result: Any) -> list[Mapping[str, Any]] | None:
    """``result`` itself when it is a list of flat objects (every value text, a number, a
    boolean or null): the rows of a task that declares none. None otherwise."""
    if not isinstance(result, list):
        return None
    for row in result:
        if not isinstance(row, Mapping):
            return None
        if any(isinstance(v, Mapping | list) for v in row.values()):
            return None
    return result


def _take(buffer: io.StringIO) -> bytes:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    # A lone surrogate (which no stored result holds, but export_rows may make) becomes "?".
    return text.encode("utf-8", "replace")
