"""The analysis of a source tree, one file at a time, in the steps a task reports:

- **scanning**: :func:`~.sources.scan` lists the tree's ``.py`` files;
- **parsing**: :func:`parse` reads and parses each one (a file that does not parse is kept,
  with its ``error``);
- **classifying**: :func:`tree_ui_modules` finds the tree's own UI modules, then
  :func:`classify` measures each file: lines of code, UI share, pure functions, class;
- **summarising**: :func:`summarise` adds the files up.

```python
root = locate("json")
parsed = [parse(root, path) for path in scan(root)]
tree_ui = tree_ui_modules(parsed)
reports = [classify(p, tree_ui) for p in parsed]
print(summarise(reports).to_dict())
```

**Lines of code** are the lines that hold part of a Python token other than a comment: blank
lines, comment-only lines and docstrings (the string that opens a module, class or function)
do not count; every line of any other string, of a bracketed expression continued over
several lines, and of a backslash continuation does.

**Classification**, by the share of UI lines (see :mod:`.ui`): ``UI`` from 60 % up,
``Logic`` up to 10 %, ``Mixed`` in between; ``Error`` for a file that does not parse.
**Web ready**: the file's logic can move to a web service without its UI. It is ``Logic``,
or ``Mixed`` with at least 3 pure functions (see :mod:`.purity`) to move.

Everything here is pure but for reading the files; results are frozen dataclasses whose
``to_dict()`` is JSON-ready.
"""

from __future__ import annotations

import ast
import importlib.util
import io
import tokenize
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypedDict, get_args

from .purity import verdicts
from .sources import scan
from .ui import imports_toolkit, module_name, ui_lines

UI_AT_LEAST = 60.0
"""A file is ``UI`` when at least this share (%) of its lines of code is UI code."""
LOGIC_AT_MOST = 10.0
"""A file is ``Logic`` when at most this share (%) of its lines of code is UI code."""
WEB_READY_PURE = 3
"""A ``Mixed`` file is web ready when it has at least this many pure functions."""
MAX_BYTES = 5_000_000
"""Larger files are recorded with an error rather than parsed (generated data, mostly)."""

Classification = Literal["UI", "Logic", "Mixed", "Error"]
CLASSIFICATIONS: tuple[Classification, ...] = get_args(Classification)


class PureFunctionDict(TypedDict):
    name: str
    lineno: int
    end_lineno: int


class FileReportDict(TypedDict):
    path: str
    loc: int
    ui_loc: int
    ui_percent: float
    functions: int
    pure_functions: list[PureFunctionDict]
    classification: Classification
    web_ready: bool
    error: str | None


class SummaryDict(TypedDict):
    files: int
    errors: int
    loc: int
    ui_loc: int
    ui_percent: float
    functions: int
    pure_functions: int
    files_with_pure_functions: int
    web_ready: int
    classifications: dict[str, int]
    loc_by_classification: dict[str, int]


@dataclass(frozen=True)
class PureFunction:
    name: str
    """``function``, ``Class.method`` or ``Outer.Inner.method``."""
    lineno: int
    """The line of its ``def`` (after any decorators)."""
    end_lineno: int


@dataclass(frozen=True)
class FileReport:
    """One file's figures."""

    path: str
    loc: int
    ui_loc: int
    ui_percent: float
    functions: int
    """Module-level functions and methods, pure or not."""
    pure_functions: tuple[PureFunction, ...]
    classification: Classification
    web_ready: bool
    error: str | None = None
    """Why the file could not be analysed (its counts are then zero)."""

    def to_dict(self) -> FileReportDict:
        return FileReportDict(
            path=self.path,
            loc=self.loc,
            ui_loc=self.ui_loc,
            ui_percent=self.ui_percent,
            functions=self.functions,
            pure_functions=[
                PureFunctionDict(name=f.name, lineno=f.lineno, end_lineno=f.end_lineno)
                for f in self.pure_functions
            ],
            classification=self.classification,
            web_ready=self.web_ready,
            error=self.error,
        )

    @classmethod
    def from_dict(cls, data: FileReportDict | dict[str, Any]) -> FileReport:
        """The report a :meth:`to_dict` gave, read back (from a job's stored result)."""
        return cls(
            path=data["path"],
            loc=data["loc"],
            ui_loc=data.get("ui_loc", 0),
            ui_percent=data["ui_percent"],
            functions=data.get("functions", len(data["pure_functions"])),
            pure_functions=tuple(
                PureFunction(f["name"], f["lineno"], f["end_lineno"])
                for f in data["pure_functions"]
            ),
            classification=data["classification"],
            web_ready=data["web_ready"],
            error=data.get("error"),
        )


@dataclass(frozen=True)
class Summary:
    files: int
    errors: int
    loc: int
    ui_loc: int
    ui_percent: float
    functions: int
    pure_functions: int
    files_with_pure_functions: int
    web_ready: int
    classifications: dict[str, int]
    """Files per class, every class present: ``{"UI": 0, "Logic": 9, …}``."""
    loc_by_classification: dict[str, int]

    def to_dict(self) -> SummaryDict:
        return SummaryDict(
            files=self.files,
            errors=self.errors,
            loc=self.loc,
            ui_loc=self.ui_loc,
            ui_percent=self.ui_percent,
            functions=self.functions,
            pure_functions=self.pure_functions,
            files_with_pure_functions=self.files_with_pure_functions,
            web_ready=self.web_ready,
            classifications=dict(self.classifications),
            loc_by_classification=dict(self.loc_by_classification),
        )


@dataclass(frozen=True)
class Parsed:
    """A file read and parsed: ``module`` is its syntax tree, or None with an ``error``."""

    path: str
    source: str
    module: ast.Module | None
    error: str | None = None


def parse_source(path: str, source: str | bytes) -> Parsed:
    """Parse ``source``, the file at ``path`` (``json/decoder.py``), never raising: a file
    that cannot be decoded or parsed comes back with its ``error``."""
    if len(source) > MAX_BYTES:
        return Parsed(path, "", None, f"too large to analyse ({len(source):,} bytes)")
    try:
        text = importlib.util.decode_source(source) if isinstance(source, bytes) else source
    except (SyntaxError, UnicodeDecodeError) as error:  # a bad coding cookie, or bytes
        return Parsed(path, "", None, f"cannot decode: {error}")
    try:
        module = ast.parse(text, filename=path)
    except SyntaxError as error:
        where = f" (line {error.lineno})" if error.lineno else ""
        return Parsed(path, text, None, f"{type(error).__name__}: {error.msg}{where}")
    except ValueError as error:  # null bytes, before Python 3.12
        return Parsed(path, text, None, f"ValueError: {error}")
    except (RecursionError, MemoryError):
        return Parsed(path, text, None, "too deeply nested to parse")
    return Parsed(path, text, module)


def parse(root: Path, path: str) -> Parsed:
    """Read and parse ``path``, a file of the tree at ``root`` as :func:`~.sources.scan`
    gives it (relative to the tree's parent)."""
    try:
        data = (root.parent / path).read_bytes()
    except OSError as error:
        return Parsed(path, "", None, f"cannot read: {error.strerror or error}")
    return parse_source(path, data)


def tree_ui_modules(parsed: Iterable[Parsed]) -> frozenset[str]:
    """The modules of the tree that import a UI toolkit themselves (``idlelib.config``):
    the rest of the tree counts them as UI modules."""
    found = set()
    for file in parsed:
        name, package = module_name(file.path)
        if file.module is not None and imports_toolkit(file.module, name, package):
            found.add(name)
    return frozenset(found)


def lines_of_code(source: str, module: ast.Module) -> set[int]:
    """The numbers of the lines of code of ``source`` (see the module's docstring)."""
    docstrings = [
        (node.body[0].lineno, node.body[0].col_offset)
        for node in ast.walk(module)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
        and isinstance(node.body[0].value.value, str)
    ]
    starts = set(docstrings)
    lines: set[int] = set()
    skipped = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT}
    skipped |= {tokenize.DEDENT, tokenize.ENDMARKER, tokenize.ENCODING}
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type in skipped or (token.type == tokenize.STRING and token.start in starts):
                continue
            lines.update(range(token.start[0], token.end[0] + 1))
    except (tokenize.TokenError, SyntaxError):  # parsed by ast, so not expected: count simply
        return {
            number
            for number, line in enumerate(source.split("\n"), 1)
            if line.strip() and not line.lstrip().startswith("#")
        }
    return lines


def classification(ui_percent: float) -> Classification:
    """``UI`` from :data:`UI_AT_LEAST` %, ``Logic`` up to :data:`LOGIC_AT_MOST` %,
    ``Mixed`` in between."""
    if ui_percent >= UI_AT_LEAST:
        return "UI"
    if ui_percent <= LOGIC_AT_MOST:
        return "Logic"
    return "Mixed"


def is_web_ready(kind: Classification, pure_functions: int) -> bool:
    """Whether a file's logic can move to a web service without its UI: it is ``Logic``, or
    ``Mixed`` with at least :data:`WEB_READY_PURE` pure functions to move."""
    return kind == "Logic" or (kind == "Mixed" and pure_functions >= WEB_READY_PURE)


def classify(parsed: Parsed, tree_ui: frozenset[str] = frozenset()) -> FileReport:
    """Measure one parsed file: lines of code, UI lines (with ``tree_ui`` from
    :func:`tree_ui_modules`), pure functions, classification, web readiness."""
    if parsed.module is None:
        return FileReport(parsed.path, 0, 0, 0.0, 0, (), "Error", False, parsed.error)
    code = lines_of_code(parsed.source, parsed.module)
    name, package = module_name(parsed.path)
    ui = len(code & ui_lines(parsed.module, name, package, tree_ui))
    percent = round(100 * ui / len(code), 1) if code else 0.0
    found = verdicts(parsed.module)
    pure = tuple(PureFunction(v.name, v.lineno, v.end_lineno) for v in found if v.pure)
    kind = classification(percent)
    return FileReport(
        path=parsed.path,
        loc=len(code),
        ui_loc=ui,
        ui_percent=percent,
        functions=len(found),
        pure_functions=pure,
        classification=kind,
        web_ready=is_web_ready(kind, len(pure)),
    )


def summarise(reports: Iterable[FileReport]) -> Summary:
    """The tree's figures: files, lines of code, UI share, pure functions, files per class
    and lines of code per class."""
    reports = list(reports)
    loc = sum(r.loc for r in reports)
    ui = sum(r.ui_loc for r in reports)
    return Summary(
        files=len(reports),
        errors=sum(r.error is not None for r in reports),
        loc=loc,
        ui_loc=ui,
        ui_percent=round(100 * ui / loc, 1) if loc else 0.0,
        functions=sum(r.functions for r in reports),
        pure_functions=sum(len(r.pure_functions) for r in reports),
        files_with_pure_functions=sum(bool(r.pure_functions) for r in reports),
        web_ready=sum(r.web_ready for r in reports),
        classifications={c: sum(r.classification == c for r in reports) for c in CLASSIFICATIONS},
        loc_by_classification={
            c: sum(r.loc for r in reports if r.classification == c) for c in CLASSIFICATIONS
        },
    )


def analyse(root: Path, *, include_tests: bool = False) -> tuple[list[FileReport], Summary]:
    """All four steps at once, for the tree at ``root``: its reports and its summary."""
    parsed = [parse(root, path) for path in scan(root, include_tests=include_tests)]
    tree_ui = tree_ui_modules(parsed)
    reports = [classify(file, tree_ui) for file in parsed]
    return reports, summarise(reports)
