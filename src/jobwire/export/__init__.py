"""Exports: a succeeded job as a download, in JSON, CSV (UTF-8 with a byte order mark, for
Excel) or a streamed ZIP with its files and a README.

```python
export = app.export(job.id, "zip")          # an Export: filename, media_type, size, chunks
with open(export.filename, "wb") as f:
    for chunk in export:
        f.write(chunk)
```

A task says what its CSV holds with ``export_rows=`` (and ``export_columns=``), and may
replace any format with its own exporter (:meth:`Task.exporter <jobwire.Task.exporter>`),
which receives an :class:`ExportContext`; :func:`zip_stream` builds a streamed ZIP from
``(name, data)`` pairs. Over HTTP: ``GET /api/jobs/{id}/export?format=…`` (docs/http.md).
"""

from __future__ import annotations

from .archive import ZipMember, zip_stream
from .context import ExportContext, Source
from .formats import MEDIA_TYPES, Export, export_job, pretty_json
from .names import content_disposition, download_name, safe_name
from .readme import Entry
from .tabular import BOM, Table, csv_chunks

__all__ = [
    "BOM",
    "MEDIA_TYPES",
    "Entry",
    "Export",
    "ExportContext",
    "Source",
    "Table",
    "ZipMember",
    "content_disposition",
    "csv_chunks",
    "download_name",
    "export_job",
    "pretty_json",
    "safe_name",
    "zip_stream",
]
