"""Notifications out: when a job with a ``notify_url`` ends, a signed ``job.succeeded``,
``job.failed`` or ``job.cancelled`` event is POSTed there (a *delivery*), retried until it
is answered 2xx, refused for good (410, a refused address) or too old.

:class:`DeliveryStore` is the part of the store that keeps them: a delivery is added in the
same transaction that ends its job (so none is lost when a process dies right after), then
claimed under a short lease by one sender at a time, and every attempt is recorded. What a
delivery holds is decided here, purely (:func:`new_delivery`): no I/O, no clock of its own.
"""

from __future__ import annotations

import builtins
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Literal

from ..snapshot import JobRecord, dumps, iso, new_job_id, snapshot

DeliveryStatus = Literal["pending", "delivered", "gone", "refused", "failed"]
"""``pending`` (an attempt is due at ``next_attempt_at``), ``delivered`` (answered 2xx),
``gone`` (answered 410: no more attempts), ``refused`` (the address is not allowed) or
``failed`` (no 2xx within ``notify_retry_hours``)."""
AttemptOutcome = Literal["delivered", "retry", "gone", "refused", "failed"]
"""What an attempt led to: as :data:`DeliveryStatus`, with ``retry`` for ``pending``."""

#: Longest error text kept for an attempt.
MAX_ERROR = 500


@dataclass(frozen=True, slots=True)
class DeliveryAttempt:
    """One POST of a delivery (or the refusal to make it)."""

    n: int
    """1 for the first attempt."""
    at: float
    duration: float
    """Seconds the attempt took (resolving the name, connecting, the answer's headers)."""
    status_code: int | None
    """The HTTP status answered; None when there was no answer."""
    error: str | None
    """Why it did not succeed, when it did not."""
    outcome: AttemptOutcome


@dataclass(frozen=True, slots=True)
class Delivery:
    """A notification of one job's end to one URL. Its ``id`` is the ``webhook-id`` of every
    attempt, so that the receiver recognises a retry."""

    id: str
    job_id: str
    event: str
    """``job.succeeded``, ``job.failed`` or ``job.cancelled``."""
    url: str
    payload: str
    """The body POSTed, JSON text: ``{"type", "timestamp", "data": <the job's snapshot>}``."""
    status: DeliveryStatus
    attempts: int
    created_at: float
    updated_at: float
    next_attempt_at: float | None
    """When the next attempt is due (pending only)."""
    history: tuple[DeliveryAttempt, ...] = ()
    """Its attempts, oldest first (filled by :meth:`DeliveryStore.deliveries` only)."""


def new_delivery(job: JobRecord, now: float) -> Delivery | None:
    """The delivery owed for ``job`` as it ends (None without a ``notify_url``, or when it
    has not ended): due at once."""
    if job.notify_url is None or not job.terminal:
        return None
    event = f"job.{job.status.value}"
    body = {"type": event, "timestamp": iso(now), "data": snapshot(job)}
    return Delivery(
        id=new_job_id(),
        job_id=job.id,
        event=event,
        url=job.notify_url,
        payload=dumps(body),
        status="pending",
        attempts=0,
        created_at=now,
        updated_at=now,
        next_attempt_at=now,
    )


def status_after(outcome: AttemptOutcome) -> DeliveryStatus:
    return "pending" if outcome == "retry" else outcome


class DeliveryStore(ABC):
    """Notifications of jobs' ends: added with the job's end (by the store itself), claimed,
    attempted and recorded by senders."""

    @abstractmethod
    def claim_deliveries(
        self, owner: str, limit: int, lease_seconds: float
    ) -> builtins.list[Delivery]:
        """Up to ``limit`` pending deliveries that are due and whose lease is free (never
        taken, or ran out), oldest due first, each now leased to ``owner`` for
        ``lease_seconds``: no other sender claims them meanwhile."""

    @abstractmethod
    def record_attempt(
        self,
        owner: str,
        delivery_id: str,
        attempt: DeliveryAttempt,
        next_attempt_at: float | None = None,
    ) -> bool:
        """Record an attempt of a delivery ``owner`` holds the lease of, and release the
        lease: the delivery becomes pending again until ``next_attempt_at`` (outcome
        ``retry``), or takes the outcome as its final status. ``attempt.n`` is ignored: it is
        numbered after the recorded ones. False, and nothing recorded, when ``owner`` does not
        hold the lease (it ran out and another sender took it)."""

    @abstractmethod
    def deliveries(self, job_id: str) -> builtins.list[Delivery]:
        """The job's deliveries, oldest first, with their attempts."""
