"""Helpers on Python's syntax tree that the purity and extraction rules share."""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator

FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef


def bind_imports(node: ast.Import | ast.ImportFrom, into: dict[str, str]) -> None:
    """Record the names an import binds, each with what it stands for: ``import os.path``
    binds ``os`` to ``os``, ``from math import sqrt as s`` ``s`` to ``math.sqrt``, and
    ``from . import x`` ``x`` to ``.x`` (relative names keep their dots)."""
    if isinstance(node, ast.Import):
        for alias in node.names:
            if alias.asname:
                into[alias.asname] = alias.name
            else:
                top = alias.name.partition(".")[0]
                into[top] = top
        return
    base = "." * node.level + (node.module or "")
    for alias in node.names:
        if alias.name != "*":
            full = base + alias.name if base.endswith(".") else f"{base}.{alias.name}"
            into[alias.asname or alias.name] = full


def scope_nodes(root: ast.AST) -> Iterator[ast.AST]:
    """The nodes under ``root`` in its own scope: a def, lambda or class is yielded, what
    it holds is not."""
    stack = list(ast.iter_child_nodes(root))[::-1]
    while stack:
        node = stack.pop()
        yield node
        if not isinstance(node, FunctionNode | ast.Lambda | ast.ClassDef):
            stack.extend(list(ast.iter_child_nodes(node))[::-1])


def walk(roots: Iterable[ast.AST]) -> Iterator[ast.AST]:
    """Every node under ``roots`` in source order, nested scopes included, annotations
    left out."""
    stack = list(roots)[::-1]
    while stack:
        node = stack.pop()
        yield node
        children: list[ast.AST] = []
        for name, value in ast.iter_fields(node):
            if name in ("annotation", "returns"):
                continue
            if isinstance(value, ast.AST):
                children.append(value)
            elif isinstance(value, list):
                children.extend(v for v in value if isinstance(v, ast.AST))
        stack.extend(children[::-1])


def root_of(expr: ast.expr, *, calls: bool = True) -> ast.expr:
    """The object an expression starts from: ``x`` for ``x.a[0].b``, and for ``x.get(k).y``
    unless not through ``calls`` (the result of a call is then a new object)."""
    while True:
        if isinstance(expr, ast.Attribute | ast.Subscript | ast.Starred):
            expr = expr.value
        elif isinstance(expr, ast.Call) and calls:
            expr = expr.func
        else:
            return expr


def dotted(expr: ast.expr) -> list[str] | None:
    """``["os", "path", "join"]`` for ``os.path.join``; None if not names and dots."""
    parts: list[str] = []
    while isinstance(expr, ast.Attribute):
        parts.append(expr.attr)
        expr = expr.value
    if not isinstance(expr, ast.Name):
        return None
    parts.append(expr.id)
    return parts[::-1]


def binding(node: ast.AST) -> tuple[ast.expr | None, list[ast.Name]]:
    """For ``y = value`` and ``for y in value``: the value, and the names it binds."""
    if isinstance(node, ast.Assign):
        targets = [t for t in node.targets if isinstance(t, ast.Name)]
        return node.value, targets
    if isinstance(node, ast.For | ast.comprehension):
        return node.iter, [n for n in ast.walk(node.target) if isinstance(n, ast.Name)]
    return None, []
