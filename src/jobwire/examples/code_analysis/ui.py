"""Which lines of a module are UI code.

The rule, as the example's README quotes it:

A **UI module** is a GUI or terminal-UI toolkit, or any of its submodules: ``tkinter``
(``_tkinter``, ``Tkinter``), ``turtle``, ``turtledemo``, ``curses``, Qt (``PyQt5``, ``PyQt6``,
``PySide2``, ``PySide6``, ``qtpy``), ``wx``, ``gi`` (GTK), ``kivy``, ``pygame``, ``pyglet``,
``toga``, ``flet``, ``dearpygui``, ``PySimpleGUI``, ``urwid``, ``textual``…
(:data:`TOOLKITS`); and a module of the analysed tree that imports a toolkit itself (so
the modules of ``idlelib`` that build windows are UI modules to the rest of ``idlelib``).
The modules of a toolkit (the files of ``tkinter``) are UI code throughout.

A name is **UI-bound** when an import of a UI module binds it (``import tkinter as tk``,
``from tkinter import ttk``), when a module-level statement that is UI binds it
(``root = tk.Tk()``, a function that opens a window, a class deriving from a widget), and,
after ``from tkinter import *``, when the file uses it without binding it.

The file is cut into statements: every module-level statement, except that a class that does
not derive from a UI-bound name is cut into the statements of its body (each method apart,
nested classes alike). A statement is **UI** when it imports a UI module, uses a UI-bound
name, or, in a class, uses an attribute of ``self`` that a UI statement of the class assigns
(``self.canvas = tk.Canvas(…)`` in ``__init__`` makes ``self.canvas.create_line(…)`` UI).

UI lines are the lines of code of UI statements (decorators included); ``ui_percent`` is
UI lines / lines of code * 100.
"""

from __future__ import annotations

import ast
import builtins
from collections.abc import Iterable, Iterator

TOOLKITS = frozenset(
    {
        "tkinter",
        "_tkinter",
        "Tkinter",
        "turtle",
        "turtledemo",
        "curses",
        "_curses",
        "PyQt5",
        "PyQt6",
        "PySide2",
        "PySide6",
        "qtpy",
        "wx",
        "gi",
        "kivy",
        "pygame",
        "pyglet",
        "toga",
        "flet",
        "dearpygui",
        "PySimpleGUI",
        "customtkinter",
        "ttkbootstrap",
        "urwid",
        "textual",
    }
)

Unit = tuple[ast.stmt, str | None]
"""A statement, and the class whose body holds it (None at module level)."""


def module_name(path: str) -> tuple[str, bool]:
    """The dotted name of the module at ``path`` (``idlelib/config.py``), and whether it is
    a package (``idlelib/__init__.py`` is ``("idlelib", True)``)."""
    parts = path.removesuffix(".py").split("/")
    if parts[-1] == "__init__":
        return ".".join(parts[:-1]), True
    return ".".join(parts), False


def imported(node: ast.Import | ast.ImportFrom, name: str, package: bool) -> list[str]:
    """The absolute names an import refers to, in the module ``name``: ``a.b`` for
    ``import a.b``; ``a`` and ``a.b`` for ``from a import b`` (``b`` may be a module)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:
        parts = name.split(".")[: len(name.split(".")) - node.level + (1 if package else 0)]
        base = ".".join([*parts, base] if base else parts)
    return [base, *(f"{base}.{alias.name}" for alias in node.names if alias.name != "*")]


def is_ui_module(name: str, tree_ui: frozenset[str] = frozenset()) -> bool:
    return name.partition(".")[0] in TOOLKITS or name in tree_ui


def imports_toolkit(module: ast.Module, name: str, package: bool) -> bool:
    """Whether ``module`` imports a toolkit anywhere (at its top, in a function, in a
    ``try``): what makes a module of the tree a UI module to the others."""
    return any(
        is_ui_module(target)
        for node in ast.walk(module)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for target in imported(node, name, package)
    )


def ui_lines(
    module: ast.Module, name: str, package: bool, tree_ui: frozenset[str] = frozenset()
) -> set[int]:
    """The line numbers of the UI statements of ``module`` (code, comments and blank lines
    alike: intersect with the lines of code), under the rule above. ``name`` and ``package``
    place the module in its tree (:func:`module_name`), for its relative imports;
    ``tree_ui`` names the tree's own UI modules."""

    def ui_import(node: ast.AST) -> bool:
        return isinstance(node, ast.Import | ast.ImportFrom) and any(
            is_ui_module(target, tree_ui) for target in imported(node, name, package)
        )

    if name.partition(".")[0] in TOOLKITS:  # the toolkit's own code
        return set(range(1, (module.body[-1].end_lineno or 0) + 1)) if module.body else set()
    names: set[str] = set()
    star = False
    for node in module.body:
        if ui_import(node) and isinstance(node, ast.Import | ast.ImportFrom):
            names.update(_bound(node))
            star = star or any(alias.name == "*" for alias in node.names)
    unbound = _unbound(module) if star else set()
    attributes: dict[str, set[str]] = {}
    found: dict[int, ast.stmt] = {}

    def is_ui(stmt: ast.stmt, cls: str | None) -> bool:
        mine = attributes.get(cls or "", set())
        for node in ast.walk(stmt):
            if isinstance(node, ast.Name) and (node.id in names or node.id in unbound):
                return True
            if (
                isinstance(node, ast.Attribute)
                and node.attr in mine
                and isinstance(node.value, ast.Name)
                and node.value.id == "self"
            ):
                return True
            if ui_import(node):
                return True
        return False

    changed = True
    while changed:
        changed = False
        for stmt, cls in _units(module.body, None, names):
            if id(stmt) in found or not is_ui(stmt, cls):
                continue
            found[id(stmt)] = stmt
            changed = True
            if cls is None:
                names.update(_bound(stmt))
            else:
                attributes.setdefault(cls, set()).update(_self_attributes(stmt))
    lines: set[int] = set()
    for stmt, _ in _units(module.body, None, names):
        if id(stmt) in found:
            decorators = getattr(stmt, "decorator_list", [])
            start = min([stmt.lineno, *(d.lineno for d in decorators)])
            lines.update(range(start, (stmt.end_lineno or stmt.lineno) + 1))
    return lines


def _units(body: Iterable[ast.stmt], cls: str | None, names: set[str]) -> Iterator[Unit]:
    for stmt in body:
        if isinstance(stmt, ast.ClassDef) and not any(
            isinstance(node, ast.Name) and node.id in names
            for base in (*stmt.bases, *stmt.keywords)
            for node in ast.walk(base)
        ):
            qualname = f"{cls}.{stmt.name}" if cls else stmt.name
            yield from _units(stmt.body, qualname, names)
        else:
            yield stmt, cls


def _bound(stmt: ast.stmt) -> set[str]:
    """The names a module-level statement binds (not those bound inside a function)."""
    found: set[str] = set()
    stack: list[ast.AST] = [stmt]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            found.add(node.name)
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.update(
                (alias.asname or alias.name).partition(".")[0]
                for alias in node.names
                if alias.name != "*"
            )
        elif isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            found.add(node.id)
        elif isinstance(node, ast.Lambda):
            continue
        stack.extend(ast.iter_child_nodes(node))
    return found


def _unbound(module: ast.Module) -> set[str]:
    """The names ``module`` uses but never binds, builtins aside: after a star import of a
    toolkit, they come from it."""
    bound: set[str] = set()
    used: set[str] = set()
    for node in ast.walk(module):
        if isinstance(node, ast.Name):
            (used if isinstance(node.ctx, ast.Load) else bound).add(node.id)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            bound.add(node.name)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            bound.update((a.asname or a.name).partition(".")[0] for a in node.names)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
    return {name for name in used - bound if not hasattr(builtins, name)}


def _self_attributes(stmt: ast.stmt) -> set[str]:
    """The attributes of ``self`` a statement assigns: ``canvas`` for ``self.canvas = …``."""
    return {
        node.attr
        for node in ast.walk(stmt)
        if isinstance(node, ast.Attribute)
        and not isinstance(node.ctx, ast.Load)
        and isinstance(node.value, ast.Name)
        and node.value.id == "self"
    }
