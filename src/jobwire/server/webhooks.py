"""The webhook endpoint: ``POST /api/hooks/{job_id}``, where external systems deliver what
a job waits for (``progress.wait_for_callback()``), authenticated by the signed URL the
task handed out, and by the provider's Standard Webhooks signature for a provider that
signs (``progress.callback_url_for``). See docs/http.md, "Webhooks"."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from .. import hooks
from ..errors import JobAlreadyFinished, Unauthorized
from ..snapshot import dumps
from . import bodies
from .deps import State
from .errors import error_responses
from .models import HookAnswer
from .state import ServerState

logger = logging.getLogger(__name__)

router = APIRouter()


@router.post(
    "/api/hooks/{job_id}",
    status_code=202,
    response_model=HookAnswer,
    tags=["hooks"],
    responses={
        200: {"model": HookAnswer, "description": "A repeat, or a job that already ended"},
        **error_responses(400, 401, 404, 413),
    },
)
async def hook(
    job_id: str,
    request: Request,
    state: State,
    sig: Annotated[str | None, Query(description="The signature in the callback URL")] = None,
    provider: Annotated[
        str | None,
        Query(
            pattern=hooks.PROVIDER_PATTERN,
            description="The provider of a URL from `progress.callback_url_for(provider)`: "
            "the delivery must then carry a valid Standard Webhooks signature under its "
            "secret (`webhook_secrets`)",
        ),
    ] = None,
    webhook_id: Annotated[
        str | None,
        Header(description="Standard Webhooks: the delivery's id (its idempotency key)"),
    ] = None,
    webhook_timestamp: Annotated[
        str | None,
        Header(description="Standard Webhooks: UNIX seconds, within 5 minutes of now"),
    ] = None,
    webhook_signature: Annotated[
        str | None,
        Header(description="Standard Webhooks: `v1,<base64 HMAC-SHA256>`, space-separated"),
    ] = None,
) -> Any:
    """A webhook from an external system for a job that waits on it
    (`progress.wait_for_callback()`). Authenticated by the `sig` of the URL the task handed
    out (`progress.callback_url`), not by user credentials. Idempotent: a delivery with the
    same `Idempotency-Key` header (or, without one, the same body) is recorded once. The body
    must be JSON; the waiting task receives it.

    With `provider` (a URL from `progress.callback_url_for(provider)`), the delivery must
    also be signed the Standard Webhooks way under that provider's secret, with a timestamp
    within 5 minutes (401 otherwise); its `webhook-id` is its idempotency key."""
    if not hooks.verify(state.auth.secret, job_id, sig, provider):
        raise Unauthorized("Missing or wrong callback signature (?sig=)")
    body = await request.body()
    if provider is None:
        delivery = request.headers.get("idempotency-key")
    else:
        delivery = signed_delivery(state, job_id, provider, body, request.headers)
    payload = bodies.payload(body)
    key = hooks.delivery_key(delivery, body)
    try:
        added = await run_in_threadpool(state.app.deliver, job_id, key, dumps(payload))
    except JobAlreadyFinished:
        return JSONResponse({"job_id": job_id, "accepted": False, "reason": "job_finished"})
    if not added:
        return JSONResponse({"job_id": job_id, "accepted": False, "reason": "duplicate"})
    return {"job_id": job_id, "accepted": True, "reason": None}


def signed_delivery(
    state: ServerState, job_id: str, provider: str, body: bytes, headers: Mapping[str, str]
) -> str:
    """The ``webhook-id`` of a Standard Webhooks delivery from ``provider``; Unauthorized
    when no secret is set for it, or its signature or timestamp does not verify."""
    secret = state.settings.webhook_secrets.get(provider)
    if secret is None:
        raise Unauthorized(f"No webhook secret is set for provider {provider!r}")
    try:
        return hooks.verify_signed(secret, body, headers)
    except hooks.BadSignature as exc:
        logger.info(
            "refused a webhook from %s for job %s: %s",
            provider,
            job_id,
            exc,
            extra={"action": "hook_refused"},
        )
        raise Unauthorized(
            f"The webhook's Standard Webhooks signature does not verify ({exc})"
        ) from None
