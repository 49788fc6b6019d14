"""The code-analysis example's pure modules: the purity rule, UI detection, classification,
lines of code, sources, extraction and CSV rows, on small snippets, then on the real ``json``
package of the running Python and on jobwire itself."""

from __future__ import annotations

import ast
import json
import textwrap
from pathlib import Path

import pytest

from jobwire.examples.code_analysis import analysis, sources
from jobwire.examples.code_analysis.analysis import (
    FileReport,
    analyse,
    classify,
    is_web_ready,
    lines_of_code,
    parse,
    parse_source,
    summarise,
    tree_ui_modules,
)
from jobwire.examples.code_analysis.extract import (
    CSV_COLUMNS,
    csv_rows,
    extract,
    pure_file_name,
    readme,
)
from jobwire.examples.code_analysis.purity import RULE, verdicts
from jobwire.examples.code_analysis.sources import (
    TreeNotInstalled,
    UnknownTree,
    fingerprint,
    locate,
    scan,
)


def reasons(source: str) -> dict[str, str | None]:
    """Every function of ``source`` by name, with why it is not pure (None: it is)."""
    return {v.name: v.reason for v in verdicts(ast.parse(textwrap.dedent(source)))}


def report(path: str, source: str, tree_ui: frozenset[str] = frozenset()) -> FileReport:
    return classify(parse_source(path, textwrap.dedent(source)), tree_ui)


# -- purity ----------------------------------------------------------------------------


def test_pure_builtins_math_and_local_state_are_pure() -> None:
    found = reasons(
        """
        import math
        from math import sqrt as root

        def norm(v):
            return math.sqrt(sum(x * x for x in v))

        def spread(values):
            out = []
            for v in sorted(values):
                out.append(round(abs(v), 2))
            out.sort(reverse=True)
            return tuple(out), max(out, default=0), root(len(out))

        def words(text):
            return [w.strip().lower() for w in text.split(",") if isinstance(w, str)]

        def bump(n):
            n += 1  # rebinding an argument is not mutating it
            return n
        """
    )
    assert found == {"norm": None, "spread": None, "words": None, "bump": None}


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("print(x)", "does I/O: calls print"),
        ("return open(x).read()", "does I/O: calls open"),
        ("return input(x)", "does I/O: calls input"),
        ("os.remove(x)", "does I/O: calls os.remove"),
        ("logging.info(x)", "does I/O: calls logging.info"),
        ("return list(map(print, x))", "does I/O: uses print"),
        ("with x:\n        return 1", "enters a context (with)"),
    ],
)
def test_io_makes_a_function_impure(body: str, reason: str) -> None:
    source = f"import os\nimport logging\n\ndef f(x):\n    {body}\n"
    assert reasons(source) == {"f": reason}


def test_awaiting_is_io() -> None:
    assert reasons("async def f(x):\n    return await x\n") == {"f": "does I/O: awaits"}


def test_global_and_nonlocal_writes_are_impure() -> None:
    found = reasons(
        """
        COUNT = 0
        CACHE = {}
        SEEN = []

        def count():
            global COUNT
            COUNT += 1

        def remember(k, v):
            CACHE[k] = v

        def see(x):
            SEEN.append(x)

        def reads():
            return COUNT + len(CACHE)

        def outer():
            total = 0
            def add(x):
                nonlocal total
                total += x
            add(1)
            return total
        """
    )
    assert found == {
        "count": "writes global COUNT",
        "remember": "changes module-level CACHE",
        "see": "changes module-level SEEN",
        "reads": None,
        "outer": "writes nonlocal total",
    }


@pytest.mark.parametrize(
    ("body", "name"),
    [
        ("arg.x = 1", "arg"),
        ("arg[0] = 1", "arg"),
        ("arg.items += [1]", "arg"),
        ("del arg[0]", "arg"),
        ("arg.append(1)", "arg"),
        ("arg.sort()", "arg"),
        ("arg.setdefault('k', []).append(1)", "arg"),
        ("arg.inner.update(a=1)", "arg"),
        ("alias = arg\n    alias.clear()", "alias"),
        ("for row in arg:\n        row.pop()", "row"),
    ],
)
def test_mutating_an_argument_is_impure(body: str, name: str) -> None:
    assert reasons(f"def f(arg):\n    {body}\n") == {"f": f"mutates its argument {name}"}


def test_calls_must_be_known_pure_a_fixed_point_within_the_file() -> None:
    found = reasons(
        """
        import requests
        from .helpers import tidy

        def shout(text):
            print(text)

        def greet(name):
            return shout(name)

        def twice(name):
            return greet(name) * 2

        def square(x):
            return x * x

        def area(w):
            return square(w)

        def fetch(url):
            return requests.get(url)

        def cleaned(text):
            return tidy(text)

        def apply(f, x):
            return f(x)

        def by_key(rows):
            return sorted(rows, key=shout)

        def stub(x):
            '''Subclasses compute this.'''
            raise NotImplementedError
        """
    )
    assert found == {
        "shout": "does I/O: calls print",
        "greet": "calls shout, which is not pure",
        "twice": "calls greet, which is not pure",
        "square": None,
        "area": None,
        "fetch": "does I/O: calls requests.get",
        "cleaned": "calls .helpers.tidy, from another module",
        "apply": "calls its argument f",
        "by_key": "calls shout, which is not pure",
        "stub": "is a stub: it computes nothing",
    }


def test_recursion_and_mutual_recursion_stay_pure() -> None:
    found = reasons(
        """
        def factorial(n):
            return 1 if n <= 1 else n * factorial(n - 1)

        def is_even(n):
            return n == 0 or is_odd(n - 1)

        def is_odd(n):
            return n != 0 and is_even(n - 1)

        def countdown(n):
            print(n)
            return countdown(n - 1) if n else 0

        def ping(n):
            return pong(n - 1) if n else 0

        def pong(n):
            print(n)
            return ping(n)
        """
    )
    assert found == {
        "factorial": None,
        "is_even": None,
        "is_odd": None,
        "countdown": "does I/O: calls print",
        "ping": "calls pong, which is not pure",
        "pong": "does I/O: calls print",
    }


def test_methods_nested_functions_and_lambdas() -> None:
    found = reasons(
        """
        class NotFound(KeyError):
            pass

        class Shape:
            def __init__(self, w, h):
                self.w = w
                self.h = h
                self.tags = []
                self.tags.append("new")

            def area(self):
                return self.w * self.h

            def double(self):
                return self.area() * 2

            def grow(self):
                self.w += 1

            def show(self):
                return self.render()

            @staticmethod
            def unit(x):
                return Shape.scale(x, 1)

            @staticmethod
            def scale(x, k):
                return x * k

            def copy(self):
                return Shape(self.w, self.h)

            class Corner:
                def flip(self, point):
                    return point[::-1]

        def ranked(rows):
            def score(row):
                return row[1] * 2
            return sorted(rows, key=lambda r: (score(r), r[0]))

        def lookup(table, key):
            if key not in table:
                raise NotFound(key)
            return table[key]
        """
    )
    assert found == {
        "Shape.__init__": None,  # self is new in a constructor
        "Shape.area": None,
        "Shape.double": None,
        "Shape.grow": "mutates its argument self",
        "Shape.show": "calls self.render, not defined in Shape",
        "Shape.unit": None,
        "Shape.scale": None,
        "Shape.copy": None,
        "Shape.Corner.flip": None,
        "ranked": None,  # score and the lambda are part of it, not listed
        "lookup": None,
    }


def test_a_constructor_that_is_not_pure_spoils_its_callers() -> None:
    found = reasons(
        """
        class Loud(ValueError):
            def __init__(self, message):
                print(message)
                super().__init__(message)

        def check(x):
            if x < 0:
                raise Loud("negative")
            return x
        """
    )
    assert found["check"] == "calls Loud, which is not pure"


# -- lines of code and UI --------------------------------------------------------------


def test_lines_of_code_leave_out_blanks_comments_and_docstrings() -> None:
    source = textwrap.dedent(
        '''\
        """Module docstring,
        on two lines."""

        # a comment
        import os  # a trailing comment

        def f(x):
            """Docstring."""
            text = """a string
            over two lines"""
            return (x +
                    1)
        '''
    )
    lines = lines_of_code(source, ast.parse(source))
    assert sorted(lines) == [5, 7, 9, 10, 11, 12]


TK_APP = """\
import tkinter as tk


def parse_price(text):
    return round(float(text.strip()), 2)


class App(tk.Frame):
    def __init__(self, master):
        super().__init__(master)
        self.entry = tk.Entry(self)
        self.entry.pack()


def main():
    root = tk.Tk()
    App(root).mainloop()
"""


def test_ui_code_is_what_uses_a_toolkit() -> None:
    found = report("app.py", TK_APP)
    assert (found.loc, found.ui_loc) == (11, 9)  # all but parse_price
    assert found.ui_percent == 81.8
    assert found.classification == "UI"
    assert [f.name for f in found.pure_functions] == ["parse_price"]
    assert not found.web_ready


def test_ui_attributes_of_self_and_star_imports() -> None:
    controller = report(
        "controller.py",
        """
        import tkinter as tk

        class Controller:
            def __init__(self, root):
                self.canvas = tk.Canvas(root)

            def draw(self, points):
                self.canvas.create_line(*points)

            def scale(self, points, k):
                return [(x * k, y * k) for x, y in points]

            def size(self, points):
                return len(points)
        """,
    )
    # The import, __init__ and draw are UI: 5 lines of 10.
    assert (controller.loc, controller.ui_loc, controller.classification) == (10, 5, "Mixed")
    assert {f.name for f in controller.pure_functions} == {"Controller.scale", "Controller.size"}

    turtle = report("spiral.py", "from turtle import *\n\nfor i in range(9):\n    forward(i)\n")
    assert turtle.ui_percent == 100.0


def test_modules_of_the_tree_that_import_a_toolkit_are_ui_modules() -> None:
    window = parse_source(
        "pkg/window.py", "import curses\n\ndef run(screen):\n    screen.clear()\n"
    )
    logic = parse_source(
        "pkg/logic.py",
        textwrap.dedent(
            """
            from .window import run

            def total(xs):
                return sum(xs)

            def start(screen):
                run(screen)
            """
        ),
    )
    plain = parse_source("pkg/plain.py", "def one():\n    return 1\n")
    tree_ui = tree_ui_modules([window, logic, plain])
    assert tree_ui == {"pkg.window"}
    found = classify(logic, tree_ui)
    assert (found.loc, found.ui_loc) == (5, 3)  # the import and start
    assert classify(logic).ui_loc == 0  # without the tree's UI modules


def test_classification_thresholds_and_web_ready() -> None:
    assert analysis.classification(60.0) == "UI"
    assert analysis.classification(59.9) == "Mixed"
    assert analysis.classification(10.1) == "Mixed"
    assert analysis.classification(10.0) == "Logic"
    assert analysis.classification(0.0) == "Logic"
    assert is_web_ready("Logic", 0)
    assert is_web_ready("Mixed", 3)
    assert not is_web_ready("Mixed", 2)
    assert not is_web_ready("UI", 10)
    assert not is_web_ready("Error", 0)


@pytest.mark.parametrize(
    ("source", "error"),
    [
        (b"def f(:\n    pass\n", "SyntaxError: invalid syntax (line 1)"),
        (b"x = 1\x00\n", "source code string cannot contain null bytes"),
        (b"# -*- coding: nope -*-\nx = 1\n", "cannot decode: unknown encoding: nope"),
        (b"x = '\xff'\n", "cannot decode"),
    ],
)
def test_a_file_that_does_not_parse_is_recorded_with_its_error(source: bytes, error: str) -> None:
    parsed = parse_source("broken.py", source)
    found = classify(parsed)
    assert found.error is not None
    assert error in found.error
    assert (found.loc, found.ui_percent, found.pure_functions) == (0, 0.0, ())
    assert (found.classification, found.web_ready) == ("Error", False)
    summary = summarise([found, report("ok.py", "def f():\n    return 1\n")])
    assert (summary.files, summary.errors, summary.loc) == (2, 1, 2)
    assert summary.classifications == {"UI": 0, "Logic": 1, "Mixed": 0, "Error": 1}


def test_a_file_too_large_is_not_parsed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(analysis, "MAX_BYTES", 10)
    assert (
        classify(parse_source("big.py", b"x = 1\n" * 5)).error == "too large to analyse (30 bytes)"
    )


def test_reports_are_json_ready_and_read_back() -> None:
    found = report("app.py", TK_APP)
    data = json.loads(json.dumps(found.to_dict()))
    assert data["pure_functions"] == [{"name": "parse_price", "lineno": 4, "end_lineno": 5}]
    assert FileReport.from_dict(data) == found
    summary = summarise([found]).to_dict()
    assert json.loads(json.dumps(summary)) == summary
    assert summary["loc_by_classification"] == {"UI": 11, "Logic": 0, "Mixed": 0, "Error": 0}


# -- sources ---------------------------------------------------------------------------


def make_tree(root: Path) -> Path:
    tree = root / "pkg"
    for path in (
        "__init__.py",
        "core.py",
        "sub/__init__.py",
        "sub/deep.py",
        "__pycache__/core.cpython-311.py",
        "tests/test_core.py",
        "test_other.py",
        "notes.txt",
    ):
        (tree / path).parent.mkdir(parents=True, exist_ok=True)
        (tree / path).write_text("x = 1\n")
    return tree


def test_scan_lists_python_files_sorted_relative_to_the_parent(tmp_path: Path) -> None:
    tree = make_tree(tmp_path)
    assert scan(tree) == [
        "pkg/__init__.py",
        "pkg/core.py",
        "pkg/sub/__init__.py",
        "pkg/sub/deep.py",
    ]
    assert scan(tree, include_tests=True) == [
        "pkg/__init__.py",
        "pkg/core.py",
        "pkg/sub/__init__.py",
        "pkg/sub/deep.py",
        "pkg/test_other.py",
        "pkg/tests/test_core.py",
    ]
    assert parse(tree, "pkg/core.py").module is not None
    assert parse(tree, "pkg/gone.py").error is not None


def test_fingerprint_changes_with_the_files_and_the_python_version(tmp_path: Path) -> None:
    tree = make_tree(tmp_path)
    files = scan(tree)
    first = fingerprint(tree, files)
    assert fingerprint(tree, list(reversed(files))) == first
    assert fingerprint(tree, files, python=(3, 99)) != first
    assert fingerprint(tree, files[:-1]) != first
    by_contents = fingerprint(tree, files, contents=True)
    (tree / "core.py").write_text("x = 2\n")  # same size
    assert fingerprint(tree, files, contents=True) != by_contents
    (tree / "core.py").write_text("x = 22\n")
    assert fingerprint(tree, files) != first


def test_trees_are_located_or_reported(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert locate("json").name == "json"
    assert (locate("jobwire") / "__init__.py").is_file()
    with pytest.raises(UnknownTree, match="Expected a tree among json, email"):
        locate("numpy")
    monkeypatch.setattr(sources, "stdlib_dir", lambda: tmp_path)
    with pytest.raises(TreeNotInstalled, match="install it, or pick another tree"):
        locate("tkinter")
    statuses = {s["id"]: s for s in sources.availability()}
    assert statuses["jobwire"]["available"]
    assert not statuses["json"]["available"]
    assert "does not have it" in (statuses["json"]["reason"] or "")


# -- exports ---------------------------------------------------------------------------

MIXED = """\
import re
import tkinter as tk

LIMIT = 100


def words(text):
    return re.findall(r"\\w+", text.lower())[:LIMIT]


class Counter:
    def count(self, text):
        return len(words(text))

    def show(self, root):
        tk.Label(root, text="hello").pack()
"""


def test_extract_copies_pure_functions_under_a_comment_naming_their_lines() -> None:
    found = report("pkg/mixed.py", MIXED)
    assert [f.name for f in found.pure_functions] == ["words", "Counter.count"]
    extracted = extract(found.to_dict(), MIXED)
    assert extracted is not None
    assert extracted.name == "pkg/mixed_pure.py"
    text = extracted.text
    assert "import re\n" in text
    assert "import tkinter" not in text
    assert "#   LIMIT" in text  # a module-level name to copy
    assert "# from pkg/mixed.py, lines 7-8\ndef words(text):" in text
    assert "class Counter:  # its pure methods\n    # from pkg/mixed.py, lines 12-13\n" in text
    assert "def show" not in text
    ast.parse(text)

    assert extract(report("pkg/ui.py", "import tkinter\ntkinter.Tk()\n"), "") is None
    changed = extract(found, MIXED.replace("def words", "\ndef words"))
    assert changed is not None
    assert "Left out, the file changed since the analysis: words" in changed.text


def test_pure_file_names_keep_the_folders() -> None:
    assert pure_file_name("json/decoder.py") == "json/decoder_pure.py"
    assert pure_file_name("json/__init__.py") == "json/__init___pure.py"


def test_csv_rows_have_the_export_columns() -> None:
    found = report("pkg/mixed.py", MIXED)
    rows = csv_rows([found, found.to_dict()])
    assert CSV_COLUMNS == (
        "File Path",
        "LOC",
        "UI %",
        "Pure Functions",
        "Classification",
        "Web Ready",
    )
    assert list(rows[0]) == list(CSV_COLUMNS)
    assert (
        rows[0]
        == rows[1]
        == {
            "File Path": "pkg/mixed.py",
            "LOC": 10,
            "UI %": 30.0,
            "Pure Functions": 2,
            "Classification": "Mixed",
            "Web Ready": False,
        }
    )


def test_readme_has_the_summary_the_rules_and_the_guide() -> None:
    found = report("pkg/mixed.py", MIXED)
    extracted = extract(found, MIXED)
    assert extracted is not None
    text = readme(summarise([found]), [found], [extracted], tree="pkg", python="3.11.7")
    assert "Analysed with Python 3.11.7" in text
    assert "| `pkg/mixed_pure.py` | `pkg/mixed.py` | 2 | Mixed | no |" in text
    assert RULE in text
    assert "from logic.pkg.mixed_pure import words" in text
    assert "FastAPI" in text


# -- real trees ------------------------------------------------------------------------


def test_the_json_package_is_logic_with_pure_functions() -> None:
    root = locate("json")
    reports, summary = analyse(root)
    paths = {r.path for r in reports}
    assert {"json/__init__.py", "json/decoder.py", "json/encoder.py"} <= paths
    assert summary.errors == 0
    assert summary.loc > 500
    assert summary.ui_loc == 0
    assert all(r.classification == "Logic" and r.web_ready for r in reports)
    assert summary.pure_functions > 0
    encoder = next(r for r in reports if r.path == "json/encoder.py")
    assert "py_encode_basestring_ascii" in {f.name for f in encoder.pure_functions}
    for found in reports:
        extracted = extract(found, (root.parent / found.path).read_text(encoding="utf-8"))
        if extracted is not None:
            ast.parse(extracted.text)


def test_jobwire_has_no_ui_code() -> None:
    reports, summary = analyse(locate("jobwire"))
    assert "jobwire/examples/code_analysis/purity.py" in {r.path for r in reports}
    assert summary.errors == 0
    assert summary.ui_loc == 0
    assert summary.classifications["Logic"] == summary.files > 50
    assert summary.pure_functions > 50


def test_idle_is_mostly_ui() -> None:
    try:
        root = locate("idlelib")
    except TreeNotInstalled as error:
        pytest.skip(str(error))
    found = classify(parse(root, "idlelib/textview.py"))
    assert found.classification == "UI"
