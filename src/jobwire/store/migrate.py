"""Apply jobwire's Alembic migrations to a database, safely from several processes at once."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

logger = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"
VERSION_TABLE = "jobwire_alembic_version"


def _config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def head() -> str:
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


def pending(engine: Engine) -> list[str]:
    """Revisions not yet applied, oldest first."""
    script = ScriptDirectory.from_config(_config())
    current = _current(engine)
    revs = [r.revision for r in script.walk_revisions("base", "heads")]
    revs.reverse()
    if current is None:
        return revs
    return revs[revs.index(current) + 1 :] if current in revs else []


def _current(engine: Engine) -> str | None:
    with engine.connect() as conn:
        if not sa.inspect(conn).has_table(VERSION_TABLE):
            return None
        return conn.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()


def upgrade(
    engine: Engine,
    dialect: str,
    *,
    on_apply: Callable[[str, str], None] | None = None,
) -> list[str]:
    """Bring the schema to head. Returns the revisions applied (empty when up to date).

    The whole upgrade runs in one write transaction (``BEGIN IMMEDIATE`` on SQLite, an
    advisory lock on PostgreSQL), so two processes starting at once do not both migrate.
    """
    target = head()
    if _current(engine) == target:
        return []
    applied: list[str] = []

    def _on_version_apply(**kw: Any) -> None:
        step = kw["step"]
        rev = step.up_revision_id or ""
        applied.append(rev)
        if on_apply is not None:
            on_apply(rev, step.up_revision.doc if step.up_revision is not None else "")

    cfg = _config()
    cfg.attributes["on_version_apply"] = _on_version_apply
    with engine.begin() as conn:
        if dialect == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(7340031)"))
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    if applied:
        logger.info("jobwire schema upgraded: %s", ", ".join(applied))
    return applied
