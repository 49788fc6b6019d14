"""What the exports hold: the CSV's rows, and the ZIP's ``*_pure.py`` files and README.

Functions of text only; the task's exporters write the files. Reports may be
:class:`~.analysis.FileReport` objects or the dicts a job's result stores.

- :func:`csv_rows`: one row per file, with the columns :data:`CSV_COLUMNS`.
- :func:`extract`: for a file with pure functions, ``json/decoder_pure.py`` (the folders of
  the tree are kept in the ZIP) holding their source, each under a comment naming the file
  and lines it comes from (``# from json/decoder.py, lines 59-67``); methods stay in a class
  of their class's name; the imports they use come first.
- :func:`readme`: the README.md: the summary, the files, the rules, and how to move the
  logic to a web service.
"""

from __future__ import annotations

import ast
import sys
import textwrap
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from .analysis import (
    LOGIC_AT_MOST,
    UI_AT_LEAST,
    WEB_READY_PURE,
    FileReport,
    Summary,
)
from .purity import RULE
from .syntax import scope_nodes

CSV_COLUMNS = ("File Path", "LOC", "UI %", "Pure Functions", "Classification", "Web Ready")

ReportLike = FileReport | Mapping[str, Any]


@dataclass(frozen=True)
class ExtractedFile:
    """One file of the ZIP: its path in the archive, and its text."""

    name: str
    text: str


def as_report(report: ReportLike) -> FileReport:
    return report if isinstance(report, FileReport) else FileReport.from_dict(dict(report))


def csv_rows(reports: Iterable[ReportLike]) -> list[dict[str, Any]]:
    """One row per file: its path, lines of code, UI share (%), number of pure functions,
    classification and whether it is web ready, under the headers :data:`CSV_COLUMNS`."""
    rows = []
    for report in map(as_report, reports):
        values = (
            report.path,
            report.loc,
            report.ui_percent,
            len(report.pure_functions),
            report.classification,
            report.web_ready,
        )
        rows.append(dict(zip(CSV_COLUMNS, values, strict=True)))
    return rows


def pure_file_name(path: str) -> str:
    """The ZIP member for the pure functions of ``path``: ``json/decoder.py`` gives
    ``json/decoder_pure.py`` (``json/__init__.py``, ``json/__init___pure.py``)."""
    return path.removesuffix(".py") + "_pure.py"


def extract(report: ReportLike, source: str) -> ExtractedFile | None:
    """The ``*_pure.py`` file of one analysed file, from its ``source`` (read again by the
    exporter); None when it has no pure function. A function whose lines no longer hold
    it (the file changed since the analysis) is left out, and a comment says so."""
    report = as_report(report)
    if not report.pure_functions:
        return None
    try:
        module = ast.parse(source)
    except (SyntaxError, ValueError):
        return None
    lines = source.replace("\r\n", "\n").replace("\r", "\n").split("\n")  # as ast counts
    defs = {
        node.lineno: node
        for node in ast.walk(module)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    }
    classes = dict(_classes(module.body, ""))
    blocks: list[str] = []
    defined: set[str] = set()
    missing: list[str] = []
    used: set[str] = set()
    current_class: str | None = None
    for function in report.pure_functions:
        node = defs.get(function.lineno)
        if node is None or node.name != function.name.rpartition(".")[2]:
            missing.append(function.name)
            continue
        used |= _free_names(node)
        start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
        end = node.end_lineno or node.lineno
        comment = f"# from {report.path}, lines {start}-{end}"
        owner = function.name.rpartition(".")[0] or None
        indent = "    " if owner else ""
        code = _reindent(lines[start - 1 : end], node.col_offset, indent)
        if owner is None:
            current_class = None
            defined.add(function.name)
            blocks.append(f"{comment}\n{code}")
            continue
        method = f"{indent}{comment}\n{code}"
        if owner == current_class:
            blocks[-1] += f"\n\n{method}"
        else:
            current_class = owner
            node_class = classes.get(owner)
            bases = ", ".join(ast.unparse(b) for b in node_class.bases) if node_class else ""
            header = owner.rpartition(".")[2] + (f"({bases})" if bases else "")
            blocks.append(f"class {header}:  # its pure methods\n{method}")
            defined.add(header.partition("(")[0])

    imports, names = _module_level(module, used - defined)
    parts = [
        f'"""Pure functions of {report.path}, extracted by jobwire\'s code-analysis example.\n\n'
        "Each is copied as the source has it, under a comment saying where from; methods stay\n"
        'in a class of their class\'s name. README.md says what "pure" means."""'
    ]
    if imports:
        parts.append("\n".join(imports))
    if names:
        parts.append(
            f"# Module-level names of {report.path} these functions use (copy them from it):\n"
            + "\n".join(
                textwrap.wrap(
                    ", ".join(sorted(names)), 88, initial_indent="#   ", subsequent_indent="#   "
                )
            )
        )
    if missing:
        parts.append(f"# Left out, the file changed since the analysis: {', '.join(missing)}")
    text = "\n\n".join(parts) + "\n\n\n" + "\n\n\n".join(blocks) + "\n"
    return ExtractedFile(pure_file_name(report.path), text)


def _reindent(lines: list[str], column: int, indent: str) -> str:
    """Lines moved from ``column`` to ``indent``; a line indented less (inside a string) is
    kept as it is."""
    cut = [
        indent + line[column:] if line[:column].isspace() or not column else line for line in lines
    ]
    return "\n".join(line.rstrip() if not line.strip() else line for line in cut)


def _classes(body: list[ast.stmt], prefix: str) -> Iterator[tuple[str, ast.ClassDef]]:
    """The classes of a module by qualified name, nested ones included."""
    for node in body:
        if isinstance(node, ast.ClassDef):
            yield prefix + node.name, node
            yield from _classes(node.body, f"{prefix}{node.name}.")


def _free_names(node: ast.FunctionDef | ast.AsyncFunctionDef) -> set[str]:
    """The names a function uses but does not bind: globals, imports, builtins."""
    bound = {a.arg for a in ast.walk(node.args) if isinstance(a, ast.arg)}
    used: set[str] = set()
    for child in ast.walk(ast.Module(body=node.body, type_ignores=[])):
        if isinstance(child, ast.Name):
            (used if isinstance(child.ctx, ast.Load) else bound).add(child.id)
        elif isinstance(child, ast.arg):
            bound.add(child.arg)
        elif isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            bound.add(child.name)
    defaults = [*node.args.defaults, *(d for d in node.args.kw_defaults if d is not None)]
    used |= {n.id for d in defaults for n in ast.walk(d) if isinstance(n, ast.Name)}
    return used - bound


def _module_level(module: ast.Module, used: set[str]) -> tuple[list[str], set[str]]:
    """The import statements that bind names of ``used`` (one per name, as the source
    writes it), and the other module-level names of ``used`` (constants, classes)."""
    imports: dict[str, str] = {}
    names: set[str] = set()
    for node in scope_nodes(module):
        if isinstance(node, ast.Import | ast.ImportFrom):
            for alias in node.names:
                name = (alias.asname or alias.name).partition(".")[0]
                if name in used and name not in imports and alias.name != "*":
                    single: ast.stmt = (
                        ast.Import([alias])
                        if isinstance(node, ast.Import)
                        else ast.ImportFrom(node.module, [alias], node.level)
                    )
                    imports[name] = ast.unparse(single)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            names.add(node.id)
    return sorted(set(imports.values())), (names & used) - set(imports)


def readme(
    summary: Summary | Mapping[str, Any],
    reports: Iterable[ReportLike],
    files: Iterable[ExtractedFile],
    *,
    tree: str,
    python: str | None = None,
) -> str:
    """The ZIP's README.md: what was analysed, the summary, the extracted files, the rules,
    and a guide to moving the logic to a web service."""
    s: Mapping[str, Any] = summary.to_dict() if isinstance(summary, Summary) else summary
    python = python or ".".join(map(str, sys.version_info[:3]))
    known = [as_report(r) for r in reports]
    files = list(files)
    by_name = {pure_file_name(r.path): r for r in known}
    counts = s["classifications"]
    out = [
        f"# Pure functions of {tree}",
        "",
        f"Analysed with Python {python} by jobwire's code-analysis example: "
        f"{s['files']} files, {s['loc']:,} lines of code, {s['ui_percent']} % of them UI code.",
        "",
        "## Summary",
        "",
        f"- Files: UI {counts.get('UI', 0)}, Logic {counts.get('Logic', 0)}, "
        f"Mixed {counts.get('Mixed', 0)}" + (f", not parsed {s['errors']}" if s["errors"] else ""),
        f"- Pure functions: {s['pure_functions']} of {s['functions']}, "
        f"in {s['files_with_pure_functions']} files",
        f"- Web-ready files: {s['web_ready']} of {s['files']}",
        "",
        "## Files",
        "",
        "| File | From | Pure functions | Classification | Web ready |",
        "|---|---|---|---|---|",
    ]
    for file in files:
        report = by_name.get(file.name)
        if report is not None:
            ready = "yes" if report.web_ready else "no"
            out.append(
                f"| `{file.name}` | `{report.path}` | {len(report.pure_functions)} "
                f"| {report.classification} | {ready} |"
            )
    if not files:
        out.append("| (none: no file has a pure function) | | | | |")
    out += [
        "",
        "## The rules",
        "",
        "```text",
        RULE,
        "```",
        "",
        f"A file is **UI** when at least {UI_AT_LEAST:g} % of its lines of code are UI code "
        f"(code using tkinter, curses, turtle, Qt, wx, GTK…), **Logic** at most "
        f"{LOGIC_AT_MOST:g} %, **Mixed** in between. It is **web ready** when its logic can "
        f"move to a web service without its UI: it is Logic, or Mixed with at least "
        f"{WEB_READY_PURE} pure functions.",
        "",
        _guide(known),
    ]
    return "\n".join(out) + "\n"


def _guide(reports: list[FileReport]) -> str:
    """How to move the logic to a web service, with one of the extracted functions."""
    example = next(
        (
            (r, f)
            for r in sorted(reports, key=lambda r: -len(r.pure_functions))
            for f in r.pure_functions
            if "." not in f.name and not f.name.startswith("__")
        ),
        None,
    )
    name, module = "your_function", "logic.module_pure"
    if example is not None:
        name = example[1].name
        module = "logic." + pure_file_name(example[0].path).removesuffix(".py").replace("/", ".")
    return textwrap.dedent(
        f"""\
        ## Moving the logic to a web service

        Pure functions need nothing but their arguments: no window, no file, no shared
        state. They are the part of the code that can move first.

        1. **Make a package of them.** Copy these files into the service (say under
           `logic/`), add the imports each one lists, and copy the module-level names it
           mentions from the source. Test them as they are: `assert f(x) == y`.
        2. **Wrap them in endpoints**, one per operation the UI needs, taking and returning
           JSON. With FastAPI:

           ```python
           from fastapi import FastAPI
           from {module} import {name}

           app = FastAPI()

           @app.post("/{name.strip("_")}")
           def {name.strip("_")}_endpoint(arguments: dict) -> dict:
               return {{"result": {name}(**arguments)}}
           ```

           A pure endpoint can run in any worker, be retried, and be cached by its
           arguments. Give it a pydantic model of its arguments once they settle.
        3. **Keep the UI as a client.** Windows, widgets and event handlers stay where they
           are (the UI files); where a handler called a moved function, it sends a request
           instead. Logic files can move whole.
        4. **Split the Mixed files.** Move their pure functions first; then pull the
           computation out of each event handler into a function that takes values and
           returns values, and move it too.
        5. **Run long work as jobs.** An operation that takes seconds runs as a background
           task with live progress, as this analysis did: the UI submits it, shows its
           progress and downloads the result."""
    )
