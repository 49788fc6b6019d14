"""Which functions of a module are pure.

The rule, as the example's README and exports quote it (:data:`RULE`):

A function is **pure** when calling it does nothing but compute its result:

1. **No I/O.** It calls nothing that reads or writes outside the program (``open``,
   ``print``, ``input``…, functions of ``os``, ``sys``, ``io``, ``socket``, ``subprocess``,
   ``logging``…), and it has no ``await``, ``async for``, ``async with`` or ``with``.
2. **No global writes.** It assigns no name it declares ``global`` or ``nonlocal``, and
   changes no module-level object (``CACHE[k] = v``, ``CACHE.append(v)``).
3. **No mutation of its arguments.** It assigns no attribute or item of an argument, or of
   anything reached from one (``arg.x = …``, ``arg[i] = …``, ``+=``, ``del``), and calls
   no mutating method on one (``append``, ``extend``, ``insert``, ``update``, ``pop``,
   ``clear``, ``sort``, ``setdefault``… :data:`~.known.MUTATING_METHODS`). ``self`` is an
   argument, except in ``__init__``, ``__new__`` and ``__post_init__``, where the object is
   new. A local name bound to an argument (``y = arg``, ``for y in arg``) counts as it.
4. **It calls only functions known to be pure:** the pure builtins (``len``, ``min``,
   ``max``, ``sorted``, ``isinstance``, ``str``, ``int``, ``tuple``…
   :data:`~.known.PURE_BUILTINS`) and the built-in exceptions; the functions of pure
   modules (``math``, ``cmath``, ``itertools``, ``operator``… :data:`~.known.PURE_MODULES`,
   :data:`~.known.PURE_FUNCTIONS`), however imported; methods known by name (``strip``,
   ``split``, ``join``, ``get``, ``match``… :data:`~.known.PURE_METHODS`) on any value, and
   mutating ones on values the function made itself; and the functions of the same file
   that are pure themselves (``helper()``, ``self.method()``, ``Class.method()`` for a
   method of its own class, ``Class()`` when the class's ``__init__`` is pure and its bases
   are built-in or such classes). Functions of the same file passed without being called
   (``sorted(xs, key=helper)``) count as called.

Purity within a file is a greatest fixed point: every function starts pure, and one that
calls an impure function is struck out, until nothing changes; so recursion and mutual
recursion stay pure. Anything else, a function of another module, a callable argument, a
method of an unknown object, is not known to be pure, and neither is its caller.

Stubs, whose body is only a docstring, ``pass``, ``...`` or ``raise NotImplementedError``,
are not counted: they compute nothing.

What is listed: module-level functions and methods (``Class.method``, ``Outer.Inner.method``),
async or not. A function nested in another is part of its parent, as lambdas are: its body is
checked as the parent's. Decorators, default values and annotations are not checked (they run
when the function is defined, not when it is called).

The check reads the source, it runs nothing: methods are known by their name, not by the type
of their object; an alias is followed one assignment deep; ``x += y`` on an argument counts as
rebinding ``x`` (it would mutate a list, which the source does not say); a method called on
``self`` must be defined in its class (an inherited one is unknown).
"""

from __future__ import annotations

import ast
import builtins
from collections import Counter, deque
from dataclasses import dataclass, field

from .known import (
    BUILTIN_EXCEPTIONS,
    CONSTRUCTORS,
    IO_BUILTINS,
    MUTATING_METHODS,
    PURE_BUILTINS,
    PURE_METHODS,
    check_dotted,
)
from .syntax import (
    FunctionNode,
    bind_imports,
    binding,
    dotted,
    root_of,
    scope_nodes,
    walk,
)

#: The rule in five lines, as the README and the exports quote it.
RULE = """\
A function is pure when calling it does nothing but compute its result:
1. no I/O: no open, print, input, no functions of os, sys, io, socket, subprocess, logging…,
   no await, async for, async with or with;
2. no global writes: no assignment to a global or nonlocal name, no change to a module-level object;
3. no mutation of its arguments: no arg.x = …, arg[i] = …, +=, del, no arg.append(…),
   extend, update, pop, clear, sort, setdefault… (self is an argument, except in __init__);
4. it calls only functions known to be pure: pure builtins (len, min, max, sorted, isinstance,
   str, int, tuple…), math, cmath, itertools, operator…, non-mutating methods (strip, split,
   join, get…), and functions of the same file that are pure themselves (a fixed point, so
   recursion stays pure).
Stubs (only a docstring, pass, ... or raise NotImplementedError) are not counted."""


@dataclass(frozen=True)
class Verdict:
    """One function or method, and why it is not pure (``reason`` is None when it is)."""

    name: str
    lineno: int
    end_lineno: int
    reason: str | None

    @property
    def pure(self) -> bool:
        return self.reason is None


def verdicts(module: ast.Module) -> list[Verdict]:
    """Every module-level function and method of ``module``, in source order, with its
    verdict under the rule above."""
    facts = _Module(module)
    units = [_check(facts, name, node, cls) for name, node, cls in facts.functions]
    units += [_constructor(facts, name, node) for name, node in facts.classes]
    dependents: dict[str, list[_Unit]] = {}
    for unit in units:
        for key in unit.deps:
            dependents.setdefault(key, []).append(unit)
    queue = deque(u for u in units if u.reason is not None)
    while queue:
        impure = queue.popleft()
        for unit in dependents.get(impure.key, ()):
            if unit.reason is None:
                unit.reason = f"calls {impure.key}, which is not pure"
                queue.append(unit)
    listed = [
        Verdict(u.key, u.node.lineno, u.node.end_lineno or u.node.lineno, u.reason)
        for u in units
        if u.listed
    ]
    return sorted(listed, key=lambda v: v.lineno)


def pure_functions(module: ast.Module) -> list[Verdict]:
    """The pure functions and methods of ``module``, in source order."""
    return [v for v in verdicts(module) if v.pure]


@dataclass
class _Unit:
    key: str
    node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef
    listed: bool
    reason: str | None = None
    deps: set[str] = field(default_factory=set)


class _Module:
    """What a module binds at its top level, and its functions and classes."""

    def __init__(self, module: ast.Module) -> None:
        self.imports: dict[str, str] = {}
        self.names: set[str] = set()
        self.functions: list[tuple[str, FunctionNode, str | None]] = []
        self.classes: list[tuple[str, ast.ClassDef]] = []
        for node in scope_nodes(module):
            if isinstance(node, ast.Import | ast.ImportFrom):
                bind_imports(node, self.imports)
            elif isinstance(node, FunctionNode):
                self.functions.append((node.name, node, None))
            elif isinstance(node, ast.ClassDef):
                self._class(node, node.name)
            elif isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
                self.names.add(node.id)
        self.function_names = {name for name, _, _ in self.functions}
        self.class_nodes = {name: node for name, node in self.classes}

    def _class(self, node: ast.ClassDef, qualname: str) -> None:
        self.classes.append((qualname, node))
        for child in scope_nodes(node):
            if isinstance(child, FunctionNode):
                self.functions.append((f"{qualname}.{child.name}", child, qualname))
            elif isinstance(child, ast.ClassDef):
                self._class(child, f"{qualname}.{child.name}")


def _constructor(facts: _Module, qualname: str, node: ast.ClassDef) -> _Unit:
    """Building an instance of a class of the file: pure when its bases are built-in
    (``object``, exceptions, NamedTuple) or such classes, and its own constructors are."""
    unit = _Unit(qualname, node, listed=False)
    for base in node.bases:
        name = base.id if isinstance(base, ast.Name) else ""
        if name in facts.class_nodes:
            unit.deps.add(name)
        elif name not in BUILTIN_EXCEPTIONS | {"object", "NamedTuple"} and (
            facts.imports.get(name) != "typing.NamedTuple"
        ):
            unit.reason = f"subclasses {ast.unparse(base)}, not known to be pure to build"
    if node.keywords:
        unit.reason = "has a metaclass or class keywords"
    for method in CONSTRUCTORS:
        if f"{qualname}.{method}" in facts.function_names:
            unit.deps.add(f"{qualname}.{method}")
    return unit


def _check(facts: _Module, qualname: str, fn: FunctionNode, cls: str | None) -> _Unit:
    """A function's own verdict (rules 1 to 3, calls outside the file) and the functions of
    the file it calls (rule 4, settled by :func:`verdicts`)."""
    unit = _Unit(qualname, fn, listed=True)
    reasons: list[str] = []
    nodes = list(walk(fn.body))
    own = [*fn.args.posonlyargs, *fn.args.args, *fn.args.kwonlyargs]
    own += [a for a in (fn.args.vararg, fn.args.kwarg) if a is not None]
    static = any(isinstance(d, ast.Name) and d.id == "staticmethod" for d in fn.decorator_list)
    me = own[0].arg if cls is not None and own and not static else None
    constructor = cls is not None and fn.name in CONSTRUCTORS

    signature = {a.arg for a in own}
    params = set(signature)
    local: set[str] = set()
    local_imports: dict[str, str] = {}
    declared: dict[str, str] = {}
    for node in nodes:
        if isinstance(node, ast.arguments):
            params.update(a.arg for a in (*node.posonlyargs, *node.args, *node.kwonlyargs))
            params.update(a.arg for a in (node.vararg, node.kwarg) if a is not None)
        elif isinstance(node, ast.Global | ast.Nonlocal):
            word = "global" if isinstance(node, ast.Global) else "nonlocal"
            declared.update(dict.fromkeys(node.names, word))
        elif isinstance(node, FunctionNode | ast.ClassDef):
            local.add(node.name)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            bind_imports(node, local_imports)
        elif isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            local.add(node.id)
        elif isinstance(node, ast.ExceptHandler | ast.MatchAs | ast.MatchStar) and node.name:
            local.add(node.name)
    if constructor and me:
        params.discard(me)  # the object is new: setting its attributes changes nothing else
        local.add(me)
    for _ in range(2):  # aliases of aliases, one more step
        for node in nodes:
            value, targets = binding(node)
            root = None if value is None else root_of(value, calls=False)
            if root is not None and _kind_of(root, params, local, facts) == "param":
                params.update(t.id for t in targets if t.id not in declared)
    local -= params | set(declared)

    nested = {n.name for n in nodes if isinstance(n, FunctionNode | ast.ClassDef)}
    stores = Counter(
        n.id for n in nodes if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load)
    )
    bound = {  # names bound once, to a method: "_append = chunks.append"
        t.id: n.value
        for n in nodes
        if isinstance(n, ast.Assign) and isinstance(n.value, ast.Attribute)
        for t in n.targets
        if isinstance(t, ast.Name) and stores[t.id] == 1 and t.id not in signature
    }

    def kind(name: str) -> str:
        if name in params:
            return "param"
        if name in declared:
            return "global"
        if name in local_imports or (name not in local and name in facts.imports):
            return "import"
        return _kind_of(ast.Name(name), params, local, facts)

    def touch(expr: ast.expr) -> str | None:
        root = root_of(expr)
        if not isinstance(root, ast.Name):
            return None
        what = kind(root.id)
        if what == "param":
            return f"mutates its argument {root.id}"
        if what in ("global", "import", "def"):
            return f"changes module-level {root.id}"
        return None

    def imported(name: str) -> str:
        return local_imports.get(name) or facts.imports[name]

    def call(node: ast.Call) -> str | None:
        func = node.func
        if isinstance(func, ast.Name) and func.id in bound:  # _append = chunks.append
            return call(ast.Call(bound[func.id], node.args, node.keywords))
        if isinstance(func, ast.Name):
            what = kind(func.id)
            if what == "param":
                return f"calls its argument {func.id}"
            if what == "import":
                return check_dotted(imported(func.id))
            if what == "def":
                unit.deps.add(func.id)
                return None
            if what == "local":
                return None if func.id in nested else f"calls {func.id}, not known to be pure"
            if func.id in IO_BUILTINS:
                return f"does I/O: calls {func.id}"
            if func.id == "next" and node.args and touch(node.args[0]):
                return f"advances its argument {ast.unparse(node.args[0])}"
            if what == "builtin" and (func.id in PURE_BUILTINS or func.id in BUILTIN_EXCEPTIONS):
                return None
            return f"calls {func.id}, not known to be pure"
        if not isinstance(func, ast.Attribute):
            return f"calls {ast.unparse(func)}, a computed function"
        chain = dotted(func)
        if chain is not None:
            what = kind(chain[0])
            if what == "import":
                return check_dotted(".".join([imported(chain[0]), *chain[1:]]))
            if len(chain) == 2 and chain[0] == me and cls is not None:
                if f"{cls}.{chain[1]}" in facts.function_names:
                    unit.deps.add(f"{cls}.{chain[1]}")
                    return None
                return f"calls {'.'.join(chain)}, not defined in {cls}"
            if len(chain) == 2 and what == "def" and chain[0] in facts.class_nodes:
                key = ".".join(chain)
                if key in facts.function_names or chain[1] in CONSTRUCTORS:
                    unit.deps.add(key if key in facts.function_names else chain[0])
                    return None
            if constructor and chain[0] in BUILTIN_EXCEPTIONS and chain[1:] == ["__init__"]:
                return None  # ValueError.__init__(self, message) in an exception's __init__
        elif constructor and cls is not None and _is_super(func):
            return _super_call(facts, cls, unit)
        if func.attr in PURE_METHODS:
            return None
        if func.attr in MUTATING_METHODS:
            return touch(func.value)
        return f"calls {ast.unparse(func)}, not known to be pure"

    for node in nodes:
        if isinstance(node, ast.Await | ast.AsyncFor | ast.AsyncWith):
            reasons.append("does I/O: awaits")
        elif isinstance(node, ast.With):
            reasons.append("enters a context (with)")
        elif isinstance(node, ast.Name):
            if not isinstance(node.ctx, ast.Load) and node.id in declared:
                reasons.append(f"writes {declared[node.id]} {node.id}")
            elif node.id in facts.function_names and kind(node.id) == "def":
                unit.deps.add(node.id)
            elif node.id in IO_BUILTINS and kind(node.id) == "builtin":
                reasons.append(f"does I/O: uses {node.id}")
        elif isinstance(node, ast.Attribute | ast.Subscript):
            if not isinstance(node.ctx, ast.Load):
                reasons.append(touch(node) or "")
            elif (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == me
                and f"{cls}.{node.attr}" in facts.function_names
            ):
                unit.deps.add(f"{cls}.{node.attr}")
        elif isinstance(node, ast.Call):
            reasons.append(call(node) or "")
    if _is_stub(fn):
        reasons.insert(0, "is a stub: it computes nothing")
    unit.reason = min(filter(None, reasons), key=_rank, default=None)
    return unit


def _rank(reason: str) -> int:
    """The reason given when there are several: a stub, then I/O, then global writes, then
    mutations, then calls; the first in the source among equals."""
    for rank, start in enumerate(("is a stub", "does I/O", "writes", "changes", "mutates")):
        if reason.startswith(start):
            return rank
    return 5


def _is_stub(fn: FunctionNode) -> bool:
    """A body of only a docstring, ``pass``, ``...`` or ``raise NotImplementedError``."""
    for stmt in fn.body:
        if isinstance(stmt, ast.Pass) or (
            isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)
        ):
            continue
        if isinstance(stmt, ast.Raise) and stmt.exc is not None:
            exc = stmt.exc.func if isinstance(stmt.exc, ast.Call) else stmt.exc
            if isinstance(exc, ast.Name) and exc.id == "NotImplementedError":
                continue
        return False
    return True


def _kind_of(expr: ast.expr, params: set[str], local: set[str], facts: _Module) -> str:
    """What a name stands for in a function: ``param``, ``local``, ``import`` (a module or
    something imported), ``def`` (a function or class of the file), ``global`` (another
    module-level name) or ``builtin``; ``fresh`` for an expression that is not a name."""
    if not isinstance(expr, ast.Name):
        return "fresh"
    name = expr.id
    if name in params:
        return "param"
    if name in local:
        return "local"
    if name in facts.imports:
        return "import"
    if name in facts.function_names or name in facts.class_nodes:
        return "def"
    if name in facts.names or not hasattr(builtins, name):
        return "global"
    return "builtin"


def _is_super(func: ast.Attribute) -> bool:
    value = func.value
    return (
        func.attr in CONSTRUCTORS
        and isinstance(value, ast.Call)
        and isinstance(value.func, ast.Name)
        and value.func.id == "super"
    )


def _super_call(facts: _Module, cls: str, unit: _Unit) -> str | None:
    """``super().__init__(…)`` in a constructor: pure when every base's constructor is."""
    for base in facts.class_nodes[cls].bases:
        name = base.id if isinstance(base, ast.Name) else ""
        if name in facts.class_nodes:
            unit.deps.add(name)
        elif name not in BUILTIN_EXCEPTIONS | {"object"}:
            return f"calls the constructor of {ast.unparse(base)}, not known to be pure"
    return None
