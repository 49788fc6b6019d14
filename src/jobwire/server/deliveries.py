"""The notifications of a job's end, as its viewers see them:
``GET /api/jobs/{id}/deliveries`` (who may see the job may see them, its stream token
included). The URL is shown without what may be a credential in it."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from ..notify.policy import redact
from ..snapshot import iso
from ..store.notifying import Delivery
from .deps import State, Who
from .errors import error_responses
from .models import DeliveryList

router = APIRouter()


def delivery_json(d: Delivery) -> dict[str, Any]:
    return {
        "id": d.id,
        "event": d.event,
        "url": redact(d.url),
        "status": d.status,
        "attempts": d.attempts,
        "created_at": iso(d.created_at),
        "updated_at": iso(d.updated_at),
        "next_attempt_at": iso(d.next_attempt_at),
        "history": [
            {
                "n": a.n,
                "at": iso(a.at),
                "duration_ms": round(a.duration * 1000, 1),
                "status_code": a.status_code,
                "error": a.error,
                "outcome": a.outcome,
            }
            for a in d.history
        ],
    }


@router.get(
    "/api/jobs/{job_id}/deliveries",
    response_model=DeliveryList,
    tags=["jobs"],
    responses=error_responses(401, 404, 422),
)
async def job_deliveries(job_id: str, state: State, who: Who) -> dict[str, Any]:
    """The notifications of the job's end (a signed `job.*` event POSTed to its
    `notify_url`), oldest first, each with its attempts: none while it runs, or when it has
    no `notify_url`. Whoever may see the job may see them."""
    await state.avisible(who, job_id)
    found = await run_in_threadpool(state.app.store.deliveries, job_id)
    return {"deliveries": [delivery_json(d) for d in found]}
