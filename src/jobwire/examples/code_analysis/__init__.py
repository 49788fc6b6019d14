"""Code analysis: how much of a real Python source tree is UI code, and which of its
functions are pure enough to move to a web service.

It analyses a tree picked from :data:`~.sources.TREES` (packages of the running Python's
standard library, and jobwire itself) file by file, with :mod:`ast` only: lines of code, the
share of UI code (:mod:`.ui`), the pure functions (:mod:`.purity`), a class (UI, Logic,
Mixed) and whether the file is web ready (:mod:`.analysis`); the exports hold a CSV of the
files and a ZIP of the pure functions with a guide to moving them (:mod:`.extract`).

The task ``pycode.analyse`` (:mod:`.task`) runs them with live progress, caches the
result and exports it; ``/examples/code-analysis`` is its page, with a share panel and demo
users (:mod:`.web`). Run it with ``jobwire serve --examples``.

```python
from jobwire import App
from jobwire.examples import code_analysis

app = App()
code_analysis.register(app)
with app:
    job = app.submit("pycode.analyse", {"tree": "json"})
    print(job.result()["summary"])

reports, summary = code_analysis.analyse(code_analysis.locate("json"))  # without a job
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
from .task import STEPS, TASK, analyse_tree, register
from .web import DEMO_USERS, routes

__all__ = [
    "CSV_COLUMNS",
    "DEMO_USERS",
    "RULE",
    "STEPS",
    "TASK",
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
    "analyse_tree",
    "availability",
    "classify",
    "csv_rows",
    "extract",
    "fingerprint",
    "locate",
    "parse",
    "readme",
    "register",
    "routes",
    "scan",
    "summarise",
    "tree_ui_modules",
    "verdicts",
]
