"""Code analysis: how much of a real Python source tree is UI code, and which of its
functions are pure enough to move to a web service.

It analyses a tree picked from :data:`~.sources.TREES` (packages of the running Python's
standard library, and jobwire itself) file by file, with :mod:`ast` only: lines of code, the
share of UI code (:mod:`.ui`), the pure functions (:mod:`.purity`), a class (UI, Logic,
Mixed) and whether the file is web ready (:mod:`.analysis`); the exports hold a CSV of the
files and a ZIP of the pure functions with a guide to moving them (:mod:`.extract`).

These are the pure modules; the task that runs them with live progress, and its page, come
next.

```python
from jobwire.examples.code_analysis import analyse, locate

reports, summary = analyse(locate("json"))
print(summary.classifications, summary.pure_functions)
```
"""

from __future__ import annotations

from .analysis import (
    FileReport,
    Parsed,
    PureFunction,
    Summary,
    analyse,
    classify,
    parse,
    summarise,
    tree_ui_modules,
)
from .extract import CSV_COLUMNS, ExtractedFile, csv_rows, extract, readme
from .purity import RULE, verdicts
from .sources import (
    TREE_IDS,
    TREES,
    TreeNotInstalled,
    UnknownTree,
    availability,
    fingerprint,
    locate,
    scan,
)

__all__ = [
    "CSV_COLUMNS",
    "RULE",
    "TREES",
    "TREE_IDS",
    "ExtractedFile",
    "FileReport",
    "Parsed",
    "PureFunction",
    "Summary",
    "TreeNotInstalled",
    "UnknownTree",
    "analyse",
    "availability",
    "classify",
    "csv_rows",
    "extract",
    "fingerprint",
    "locate",
    "parse",
    "readme",
    "scan",
    "summarise",
    "tree_ui_modules",
    "verdicts",
]
