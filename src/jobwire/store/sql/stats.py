"""Figures about tasks: run history (for ETAs), counts by status, and the result cache's
hits and misses per task (counted by submit, in its own transaction)."""

from __future__ import annotations

import builtins

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from ...snapshot import loads
from ...status import JobStatus
from ..base import CacheStats, StatsStore
from ..tables import history, jobs, task_stats
from .engine import SQLBase


def count_cache(conn: Connection, dialect: str, task: str, *, hit: bool) -> None:
    """Add one hit or one miss to ``task``'s counters, in the caller's transaction: an
    upsert (``INSERT … ON CONFLICT DO UPDATE``), which SQLite and PostgreSQL both have, so
    concurrent first submits of a task never collide on its row."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    column = "cache_hits" if hit else "cache_misses"
    stmt = insert(task_stats).values(
        task=task, cache_hits=1 if hit else 0, cache_misses=0 if hit else 1
    )
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=[task_stats.c.task],
            set_={column: task_stats.c[column] + 1},
        )
    )


class SQLStatsStore(SQLBase, StatsStore):
    """The StatsStore part of SQLStore."""

    def history(self, task: str, limit: int = 20) -> builtins.list[tuple[float, int | None]]:
        with self._read() as conn:
            rows = conn.execute(
                sa.select(history.c.duration, history.c.total)
                .where(history.c.task == task)
                .order_by(history.c.finished_at.desc())
                .limit(limit)
            ).all()
        return [(r.duration, r.total) for r in rows]

    def step_history(self, task: str, limit: int = 20) -> builtins.list[dict[str, float]]:
        with self._read() as conn:
            rows = conn.execute(
                sa.select(history.c.steps)
                .where(history.c.task == task, history.c.steps.is_not(None))
                .order_by(history.c.finished_at.desc())
                .limit(limit)
            ).all()
        return [loads(r.steps) for r in rows]

    def counts(self, owner: str | None = None) -> dict[str, int]:
        query = sa.select(jobs.c.status, sa.func.count()).group_by(jobs.c.status)
        if owner is not None:
            query = query.where(jobs.c.owner == owner)
        with self._read() as conn:
            rows = conn.execute(query).all()
        out = {s.value: 0 for s in JobStatus}
        out.update({status: n for status, n in rows})
        return out

    def cache_stats(self) -> dict[str, CacheStats]:
        with self._read() as conn:
            rows = conn.execute(
                sa.select(task_stats.c.task, task_stats.c.cache_hits, task_stats.c.cache_misses)
            ).all()
        return {r.task: CacheStats(int(r.cache_hits), int(r.cache_misses)) for r in rows}
