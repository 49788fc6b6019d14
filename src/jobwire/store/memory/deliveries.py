"""Notifications of jobs' ends, in memory: added with the job's end (``_event``), claimed
under a lease, each attempt recorded, as the SQL stores keep them."""

from __future__ import annotations

import builtins
import dataclasses

from ..notifying import MAX_ERROR, Delivery, DeliveryAttempt, DeliveryStore, status_after
from .state import MemoryBase


class MemoryDeliveryStore(MemoryBase, DeliveryStore):
    """The DeliveryStore part of MemoryStore."""

    def claim_deliveries(
        self, owner: str, limit: int, lease_seconds: float
    ) -> builtins.list[Delivery]:
        now = self.clock()
        with self._lock:
            due = sorted(
                (
                    d
                    for d in self._deliveries.values()
                    if d.status == "pending"
                    and d.next_attempt_at is not None
                    and d.next_attempt_at <= now
                    and self._delivery_leases.get(d.id, ("", -1.0))[1] < now
                ),
                key=lambda d: (d.next_attempt_at or 0.0, d.id),
            )[: max(limit, 0)]
            for d in due:
                self._delivery_leases[d.id] = (owner, now + lease_seconds)
        return due

    def record_attempt(
        self,
        owner: str,
        delivery_id: str,
        attempt: DeliveryAttempt,
        next_attempt_at: float | None = None,
    ) -> bool:
        status = status_after(attempt.outcome)
        now = self.clock()
        with self._lock:
            d = self._deliveries.get(delivery_id)
            lease = self._delivery_leases.get(delivery_id)
            if d is None or d.status != "pending" or lease is None or lease[0] != owner:
                return False
            del self._delivery_leases[delivery_id]
            n = d.attempts + 1
            self._deliveries[delivery_id] = dataclasses.replace(
                d,
                status=status,
                attempts=n,
                updated_at=now,
                next_attempt_at=next_attempt_at if status == "pending" else None,
            )
            error = None if attempt.error is None else attempt.error[:MAX_ERROR]
            recorded = dataclasses.replace(attempt, n=n, error=error)
            self._attempts.setdefault(delivery_id, []).append(recorded)
        return True

    def deliveries(self, job_id: str) -> builtins.list[Delivery]:
        with self._lock:
            found = [
                dataclasses.replace(d, history=tuple(self._attempts.get(d.id, ())))
                for d in self._deliveries.values()
                if d.job_id == job_id
            ]
        return sorted(found, key=lambda d: (d.created_at, d.id))
