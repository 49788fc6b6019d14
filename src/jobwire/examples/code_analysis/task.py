"""The task ``pycode.analyse``: analyse a Python source tree, file by file, live.

It goes through four steps, as the page shows them:

- ``scanning``: list the tree's ``.py`` files (test suites left out);
- ``parsing``: read and parse each file, counting each one as it is done;
- ``classifying``: lines of code, UI share, pure functions, class and web readiness of each
  file;
- ``summarising``: the tree's figures.

The result is cached for a day (``cache_ttl``) under a key made of the tree and its
fingerprint (:func:`~.sources.fingerprint`: the files' paths, sizes and times, the Python
version and the rules' version): analysing the same tree at the same Python version again
answers at once with the earlier job, and ``GET /api/stats`` counts a cache hit.

Exports: JSON (the result), CSV (one row per file, :data:`~.extract.CSV_COLUMNS`) and a ZIP
of the pure functions, ``{file}_pure.py`` per file that has some, with a README.md on moving
them to a web service.
"""

from __future__ import annotations

import importlib.util
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import AfterValidator, Field

from ...progress import Progress
from .analysis import classify, parse, summarise, tree_ui_modules
from .extract import CSV_COLUMNS, ExtractedFile, csv_rows, extract, readme
from .sources import fingerprint, get_tree, locate, scan

if TYPE_CHECKING:
    from ...app import App
    from ...export import ExportContext

TASK = "pycode.analyse"
"""The task's name (the dashboard opens the first task by name: the demo's comes first)."""
STEPS = ("scanning", "parsing", "classifying", "summarising")
PATH = "/examples/code-analysis"
PAGE = Path(__file__).resolve().parent / "page.html"
CACHE_TTL = 24 * 3600.0
"""Seconds an analysis answers for the same tree, files and Python version."""

TreeName = Literal["json", "email", "asyncio", "idlelib", "tkinter", "jobwire"]
"""``sources.TREE_IDS``, spelled out for the schema (a test checks they agree)."""


def _installed(tree: str) -> str:
    locate(tree)  # raises TreeNotInstalled, a ValueError: pydantic reports its message
    return tree


Tree = Annotated[
    TreeName,
    Field(description="The source tree to analyse: a package of the standard library, or jobwire"),
    AfterValidator(_installed),
]


def cache_key(tree: str) -> str:
    """The dedupe and cache key of an analysis: the tree and its fingerprint, so that a
    change to its files or to the Python version runs a new analysis."""
    root = locate(tree)
    return f"{tree}:{fingerprint(root, scan(root))}"


def analyse_tree(progress: Progress, tree: Tree) -> dict[str, Any]:
    """Analyse a Python source tree: lines of code, UI share, pure functions per file."""
    started = time.perf_counter()
    root = locate(tree)
    progress.step("scanning", message=f"listing the .py files of {tree}")
    paths = scan(root)
    digest = fingerprint(root, paths)
    progress.update(message=f"{len(paths)} files")

    parsed = []
    for path in progress.iter(paths, step="parsing"):
        progress.message = path
        parsed.append(parse(root, path))

    tree_ui = tree_ui_modules(parsed)
    reports = []
    for file in progress.iter(parsed, step="classifying"):
        progress.message = file.path
        reports.append(classify(file, tree_ui))

    progress.step("summarising", message=f"{len(reports)} files")
    summary = summarise(reports)
    # The last message stays on the job: lists of jobs show it.
    progress.update(
        message=f"{tree} · {summary.files} files · {summary.pure_functions} pure functions"
    )
    return {
        "tree": tree,
        "label": get_tree(tree).label,
        "python": ".".join(map(str, sys.version_info[:3])),
        "fingerprint": digest,
        "summary": summary.to_dict(),
        "files": [r.to_dict() for r in reports],
        "seconds": round(time.perf_counter() - started, 3),
    }


def pure_functions_zip(ctx: ExportContext) -> Iterator[bytes]:
    """The ZIP export: ``{file}_pure.py`` for each file with pure functions (read again from
    the tree: each function under a comment naming its file and lines), then README.md."""
    result: dict[str, Any] = ctx.result
    return ctx.zip(_members(result))


def _members(result: dict[str, Any]) -> Iterator[tuple[str, str]]:
    extracted: list[ExtractedFile] = []
    unread: list[str] = []
    try:
        root: Path | None = locate(result["tree"])
    except ValueError:
        root = None  # exported on a machine without that tree: only the README
    for report in result["files"]:
        if not report["pure_functions"]:
            continue
        source = _read(root, report["path"]) if root is not None else None
        if source is None:
            unread.append(report["path"])
            continue
        file = extract(report, source)
        if file is not None:
            extracted.append(file)
            yield file.name, file.text
    text = readme(
        result["summary"], result["files"], extracted, tree=result["tree"], python=result["python"]
    )
    if unread:
        text += (
            "\n## Left out\n\nThese files could not be read again when the ZIP was made, so "
            "their pure functions are not in it:\n\n" + "".join(f"- `{p}`\n" for p in unread)
        )
    yield "README.md", text


def _read(root: Path, path: str) -> str | None:
    """The text of ``path`` (``json/decoder.py``) in the tree at ``root``; None when it is
    not a file of that tree or cannot be read."""
    file = (root.parent / path).resolve()
    if not file.is_relative_to(root.resolve()):
        return None
    try:
        return importlib.util.decode_source(file.read_bytes())
    except (OSError, SyntaxError, UnicodeDecodeError):
        return None


def register(app: App) -> dict[str, Path]:
    """Register ``pycode.analyse`` on ``app`` (one run per owner at a time, results
    cached for a day, CSV rows and a ZIP of pure functions); return its page,
    ``{"/examples/code-analysis": page.html}``."""
    task = app.task(
        name=TASK,
        per_owner_limit=1,
        steps=STEPS,
        dedupe_key=cache_key,
        cache_ttl=CACHE_TTL,
        export_rows=lambda result: csv_rows(result["files"]),
        export_columns=CSV_COLUMNS,
    )(analyse_tree)
    task.exporter("zip")(pure_functions_zip)
    return {PATH: PAGE}
