"""The source trees the example analyses, their ``.py`` files, and a fingerprint for caching.

A tree is a package of the running Python's standard library (``json``, ``email``,
``asyncio``, and the Tk ones, ``idlelib`` and ``tkinter``, which some Linux distributions
package apart) or jobwire itself. A tree that is not installed is reported by
:func:`availability` and refused by :func:`locate` with :class:`TreeNotInstalled`, whose
message says what to install or pick instead.

Paths are relative to the tree's parent folder and use ``/``: ``json/decoder.py``.
"""

from __future__ import annotations

import hashlib
import os
import sys
import sysconfig
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypedDict

#: Bump when the analysis rules change, so that cached results are computed again.
RULES_VERSION = 1
#: Folders never scanned: byte code, and the test suites a package may carry.
SKIPPED = frozenset({"__pycache__"})
TEST_FOLDERS = frozenset({"test", "tests", "idle_test"})
JOBWIRE_DIR = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Tree:
    """One tree that can be analysed."""

    id: str
    label: str
    package: str
    """The top-level package: a folder of the standard library, or ``jobwire``."""
    kind: Literal["stdlib", "jobwire"]
    description: str


TREES: tuple[Tree, ...] = (
    Tree("json", "json (standard library)", "json", "stdlib", "encoder and decoder: pure logic"),
    Tree("email", "email (standard library)", "email", "stdlib", "parsing and generating mail"),
    Tree("asyncio", "asyncio (standard library)", "asyncio", "stdlib", "event loop and I/O"),
    Tree("idlelib", "IDLE (standard library)", "idlelib", "stdlib", "Python's editor, on Tk"),
    Tree("tkinter", "tkinter (standard library)", "tkinter", "stdlib", "the Tk toolkit itself"),
    Tree("jobwire", "jobwire", "jobwire", "jobwire", "this library, examples included"),
)
TREE_IDS: tuple[str, ...] = tuple(t.id for t in TREES)


class UnknownTree(ValueError):
    """Not a tree this example knows: pick one of ``TREE_IDS``."""


class TreeNotInstalled(ValueError):
    """The tree is not installed with this Python: install it, or pick another tree."""


class TreeStatus(TypedDict):
    id: str
    label: str
    description: str
    available: bool
    path: str | None
    reason: str | None
    """Why it cannot be analysed, when it cannot."""


def get_tree(tree_id: str) -> Tree:
    """The tree called ``tree_id``; raises UnknownTree (a ValueError) for anything else."""
    for tree in TREES:
        if tree.id == tree_id:
            return tree
    raise UnknownTree(f"Expected a tree among {', '.join(TREE_IDS)}, but got {tree_id!r}")


def stdlib_dir() -> Path:
    """The folder of the running Python's standard library (``…/lib/python3.11``)."""
    return Path(sysconfig.get_paths()["stdlib"])


def locate(tree: Tree | str) -> Path:
    """The folder of ``tree``, a package folder holding ``__init__.py``. Raises
    TreeNotInstalled, saying what to do, when this Python has no such folder."""
    if isinstance(tree, str):
        tree = get_tree(tree)
    if tree.kind == "jobwire":
        return JOBWIRE_DIR
    # The standard library's own folder, not importlib.util.find_spec(): a folder called
    # "json" in the working directory or in site-packages would shadow it.
    folder = stdlib_dir() / tree.package
    if not (folder / "__init__.py").is_file():
        version = ".".join(map(str, sys.version_info[:2]))
        hint = {
            "idlelib": " (Debian and Ubuntu package it as idle-python" + version + ")",
            "tkinter": " (Debian and Ubuntu package it as python3-tk)",
        }.get(tree.package, "")
        raise TreeNotInstalled(
            f"Expected the standard library package {tree.package!r} in {folder.parent}, but "
            f"this Python {version} does not have it{hint}: install it, or pick another tree"
        )
    return folder


def availability() -> list[TreeStatus]:
    """Every tree, whether it can be analysed here, and where it is (for a page's menu)."""
    statuses: list[TreeStatus] = []
    for tree in TREES:
        try:
            path: str | None = str(locate(tree))
            reason = None
        except TreeNotInstalled as error:
            path, reason = None, str(error)
        statuses.append(
            TreeStatus(
                id=tree.id,
                label=tree.label,
                description=tree.description,
                available=reason is None,
                path=path,
                reason=reason,
            )
        )
    return statuses


def is_test(relative: Sequence[str]) -> bool:
    """Whether a path's parts (inside the tree) name a test suite or a test module."""
    *folders, name = relative
    return (
        any(part in TEST_FOLDERS for part in folders)
        or name.startswith("test_")
        or name == "conftest.py"
    )


def scan(root: Path, *, include_tests: bool = False) -> list[str]:
    """The ``.py`` files of the tree at ``root``, sorted, as paths relative to its parent
    (``json/decoder.py``). ``__pycache__`` folders are skipped, and so are test suites
    (``test``, ``tests``, ``idle_test`` folders, ``test_*.py``, ``conftest.py``) unless
    ``include_tests``. Symbolic links to folders are not followed."""
    found: list[str] = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED and not d.startswith("."))
        inside = Path(folder).relative_to(root).parts
        for name in files:
            if not name.endswith(".py"):
                continue
            if not include_tests and is_test((*inside, name)):
                continue
            found.append("/".join((root.name, *inside, name)))
    return sorted(found)


def fingerprint(
    root: Path,
    paths: Sequence[str],
    *,
    contents: bool = False,
    python: tuple[int, int] | None = None,
) -> str:
    """A SHA-256 (hex) of the files ``paths`` of the tree at ``root`` (as :func:`scan`
    gives them), of the Python version (``python``, by default the running one's major and
    minor: an analysis depends on the grammar and on which standard library it reads) and of
    :data:`RULES_VERSION`.

    By default each file counts by its path, size and modification time, which costs one
    ``stat`` per file; ``contents=True`` hashes the bytes instead, for trees whose times
    mean nothing (a checkout, a container image). Analysing the same tree at the same
    Python version again gives the same fingerprint."""
    digest = hashlib.sha256()
    major, minor = python or sys.version_info[:2]
    digest.update(f"python {major}.{minor}\n".encode())
    digest.update(f"rules {RULES_VERSION}\n".encode())
    for path in sorted(paths):
        file = root.parent / path
        digest.update(path.encode("utf-8", "surrogateescape") + b"\0")
        if contents:
            digest.update(hashlib.sha256(file.read_bytes()).digest())
        else:
            info = file.stat()
            digest.update(f"{info.st_size} {info.st_mtime_ns}\n".encode())
    return digest.hexdigest()
