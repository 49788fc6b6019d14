"""Notifications of jobs' ends: added in the transaction that ends the job
(:func:`add_deliveries`, called by every write that ends one), claimed under a lease by one
sender at a time, each attempt recorded."""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from ...snapshot import JobRecord
from ..common import impossible_id
from ..notifying import (
    MAX_ERROR,
    Delivery,
    DeliveryAttempt,
    DeliveryStore,
    new_delivery,
    status_after,
)
from ..tables import deliveries, delivery_attempts, jobs
from .engine import SQLBase


def add_deliveries(conn: Connection, ended: Iterable[JobRecord], now: float) -> None:
    """The deliveries owed for these jobs, which end in the caller's transaction."""
    rows = []
    for job in ended:
        made = new_delivery(job, now)
        if made is not None:
            rows.append(
                {
                    "id": made.id,
                    "job_id": made.job_id,
                    "event": made.event,
                    "url": made.url,
                    "payload": made.payload,
                    "status": made.status,
                    "attempts": 0,
                    "created_at": now,
                    "updated_at": now,
                    "next_attempt_at": made.next_attempt_at,
                    "lease_owner": None,
                    "lease_expires_at": None,
                }
            )
    if rows:
        conn.execute(deliveries.insert(), rows)


def _finished(ids: Sequence[str] | None = None) -> Any:
    done = deliveries.c.status != "pending"
    return done if ids is None else sa.and_(done, deliveries.c.job_id.in_(builtins.list(ids)))


def delete_job_deliveries(conn: Connection, job_ids: Sequence[str]) -> None:
    """Forget the finished deliveries of these jobs (being deleted), and their attempts. A
    pending one is still owed: it is kept, and goes at retention once it is finished."""
    _delete(conn, _finished(job_ids))


def purge_deliveries(conn: Connection) -> None:
    """Forget the finished deliveries whose job is gone (deleted, or purged by retention)."""
    _delete(conn, sa.and_(_finished(), ~sa.exists().where(jobs.c.id == deliveries.c.job_id)))


def _delete(conn: Connection, where: Any) -> None:
    ids = sa.select(deliveries.c.id).where(where).scalar_subquery()
    conn.execute(delivery_attempts.delete().where(delivery_attempts.c.delivery_id.in_(ids)))
    conn.execute(deliveries.delete().where(where))


def delivery_from_row(row: Row[Any], history: Sequence[DeliveryAttempt] = ()) -> Delivery:
    return Delivery(
        id=row.id,
        job_id=row.job_id,
        event=row.event,
        url=row.url,
        payload=row.payload,
        status=row.status,
        attempts=row.attempts,
        created_at=row.created_at,
        updated_at=row.updated_at,
        next_attempt_at=row.next_attempt_at,
        history=tuple(history),
    )


def _claimable(now: float) -> Any:
    return sa.and_(
        deliveries.c.status == "pending",
        deliveries.c.next_attempt_at <= now,
        sa.or_(deliveries.c.lease_expires_at.is_(None), deliveries.c.lease_expires_at < now),
    )


class SQLDeliveryStore(SQLBase, DeliveryStore):
    """The DeliveryStore part of SQLStore."""

    def claim_deliveries(
        self, owner: str, limit: int, lease_seconds: float
    ) -> builtins.list[Delivery]:
        if limit <= 0:
            return []
        now = self.clock()
        due = (
            sa.select(deliveries.c.id)
            .where(_claimable(now))
            .order_by(deliveries.c.next_attempt_at, deliveries.c.id)
            .limit(limit)
        )
        with self._read() as conn:  # most looks find nothing: no write lock for them
            if not conn.execute(due).first():
                return []
        with self._write() as conn:
            ids = conn.execute(due).scalars().all()
            if not ids:
                return []
            # The WHERE is evaluated again on each row: a sender that claimed it meanwhile
            # (PostgreSQL, another process) leaves it out.
            rows = conn.execute(
                sa.update(deliveries)
                .where(deliveries.c.id.in_(ids), _claimable(now))
                .values(lease_owner=owner, lease_expires_at=now + lease_seconds)
                .returning(*deliveries.c)
            ).all()
        found = [delivery_from_row(r) for r in rows]
        return sorted(found, key=lambda d: (d.next_attempt_at or 0.0, d.id))

    def record_attempt(
        self,
        owner: str,
        delivery_id: str,
        attempt: DeliveryAttempt,
        next_attempt_at: float | None = None,
    ) -> bool:
        status = status_after(attempt.outcome)
        now = self.clock()
        with self._write() as conn:
            row = conn.execute(
                sa.update(deliveries)
                .where(
                    deliveries.c.id == delivery_id,
                    deliveries.c.lease_owner == owner,
                    deliveries.c.status == "pending",
                )
                .values(
                    status=status,
                    attempts=deliveries.c.attempts + 1,
                    updated_at=now,
                    next_attempt_at=next_attempt_at if status == "pending" else None,
                    lease_owner=None,
                    lease_expires_at=None,
                )
                .returning(deliveries.c.attempts)
            ).first()
            if row is None:
                return False
            conn.execute(
                delivery_attempts.insert().values(
                    delivery_id=delivery_id,
                    n=row.attempts,
                    at=attempt.at,
                    duration=attempt.duration,
                    status_code=attempt.status_code,
                    error=None if attempt.error is None else attempt.error[:MAX_ERROR],
                    outcome=attempt.outcome,
                )
            )
        return True

    def deliveries(self, job_id: str) -> builtins.list[Delivery]:
        if impossible_id(job_id):
            return []
        with self._read() as conn:
            rows = conn.execute(
                sa.select(deliveries)
                .where(deliveries.c.job_id == job_id)
                .order_by(deliveries.c.created_at, deliveries.c.id)
            ).all()
            if not rows:
                return []
            tried = conn.execute(
                sa.select(delivery_attempts)
                .where(delivery_attempts.c.delivery_id.in_([r.id for r in rows]))
                .order_by(delivery_attempts.c.delivery_id, delivery_attempts.c.n)
            ).all()
        history: dict[str, builtins.list[DeliveryAttempt]] = {}
        for a in tried:
            history.setdefault(a.delivery_id, []).append(
                DeliveryAttempt(a.n, a.at, a.duration, a.status_code, a.error, a.outcome)
            )
        return [delivery_from_row(r, history.get(r.id, ())) for r in rows]
