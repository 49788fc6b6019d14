"""The REST API (see docs/http.md)."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from ..errors import DuplicateJob, ResultNotAvailable
from ..notify.policy import MAX_URL, URL_PATTERN
from ..snapshot import JobRecord, snapshot
from ..status import JobStatus
from . import bodies
from .auth import Principal
from .deps import State, Who, refuse_stream_token
from .errors import error_responses
from .etag import etag, etag_matches, unchanged
from .models import (
    HealthModel,
    JobPage,
    SnapshotModel,
    StatsModel,
    SubmitAnswer,
    TaskList,
)
from .state import ServerState, require

router = APIRouter()


def links(request: Request, job_id: str) -> dict[str, str]:
    root = request.scope.get("root_path", "")
    base = f"{root}/api/jobs/{job_id}"
    return {
        "self": base,
        "events": f"{base}/events",
        "ws": f"{root}/ws/jobs/{job_id}",
        "cancel": f"{base}/cancel",
        "result": f"{base}/result",
        "files": f"{base}/files",
        "export": f"{base}/export",
        "deliveries": f"{base}/deliveries",
    }


@router.get(
    "/api/health",
    response_model=HealthModel,
    tags=["server"],
    responses={503: {"model": HealthModel, "description": "The store cannot be written"}},
)
async def health(request: Request) -> JSONResponse:
    """Whether this server can do its work: 200 when the job store can be written, 503 with
    the reason when it cannot (a database that is unreachable, read-only or full). Also says
    whether the bus is connected (without it, streams read the store: slower, not broken)."""
    state: ServerState = request.app.state.jobwire
    store = await state.store_health()
    body = {
        "status": "ok" if store["writable"] else "unavailable",
        "store": store,
        "bus": {"connected": state.app.bus.connected},
    }
    return JSONResponse(body, status_code=200 if store["writable"] else 503)


@router.get(
    "/api/tasks", response_model=TaskList, tags=["tasks"], responses=error_responses(401, 403)
)
def list_tasks(state: State, who: Who) -> dict[str, Any]:
    """The registered tasks and the JSON Schema of their arguments."""
    refuse_stream_token(who, "listing the tasks")
    return {
        "tasks": [
            {
                "name": t.name,
                "description": t.options.description,
                "steps": list(t.options.steps),
                "schema": t.schema(),
                "options": {
                    "max_concurrency": t.options.max_concurrency,
                    "per_owner_limit": t.options.per_owner_limit,
                    "cache_ttl": t.options.cache_ttl,
                    "retries": t.options.retries,
                    "timeout": t.options.timeout,
                    "dedupe": t.options.dedupe_key is not None,
                },
            }
            for t in sorted(state.app.tasks.values(), key=lambda t: t.name)
        ]
    }


@router.post(
    "/api/tasks/{task}/jobs",
    status_code=202,
    response_model=SubmitAnswer,
    tags=["jobs"],
    responses={
        200: {
            "model": SubmitAnswer,
            "description": "An existing job: a live one "
            "with the same dedupe key, or a fresh cached result",
        },
        **error_responses(400, 401, 403, 404, 409, 413, 415, 422, 429),
    },
)
async def submit(
    task: str,
    request: Request,
    state: State,
    who: Who,
    fresh: Annotated[
        bool,
        Query(
            description="Run a new job even when a cached result would answer "
            "(the task's `cache_ttl`); counted as a cache miss"
        ),
    ] = False,
    notify_url: Annotated[
        str | None,
        Query(
            max_length=MAX_URL,
            pattern=URL_PATTERN,
            description="Where the job's end is notified: a Standard-Webhooks-signed "
            "`job.succeeded`, `job.failed` or `job.cancelled` event is POSTed there, retried "
            "until answered 2xx or 410 (`GET /api/jobs/{id}/deliveries`). An `http(s)` URL "
            "with a host name (not an IP address); default: the task's, else the server's",
        ),
    ] = None,
) -> JSONResponse:
    """Submit a job. The body is the task's arguments (see `GET /api/tasks`), sent as JSON;
    no body means no arguments."""
    refuse_stream_token(who, "submitting a job")
    spec = state.app.get_task(task)  # 404 before spending a rate-limit token
    args = await bodies.arguments(request)
    bodies.check_types(spec, args or {})
    state.limiter.take(who.user)
    job = await run_in_threadpool(
        state.app.submit, task, args or {}, owner=who.user, fresh=fresh, notify_url=notify_url
    )
    if not job.created and not state.may_see_now(who, job.id, job.owner):
        # A shared dedupe key matched someone else's job: say so without handing it over.
        raise DuplicateJob(
            f"A {task!r} job with the same key is already "
            + ("running" if not job.record.terminal else "done (its result is cached)")
            + " for another user. Wait for it to finish, or ask its owner to share it.",
            task=task,
        )
    state.hub.note(job.id, job.record.seq, job.owner)
    body: dict[str, Any] = dict(snapshot(job.record))
    body["outcome"] = job.outcome
    body["links"] = links(request, job.id)
    body["stream_token"] = state.auth.stream_token(who, job.id)
    return JSONResponse(
        body,
        status_code=202 if job.created else 200,
        headers={"Location": body["links"]["self"], "ETag": etag(job.id, job.record.seq)},
    )


@router.get(
    "/api/jobs/{job_id}",
    response_model=SnapshotModel,
    tags=["jobs"],
    responses={
        304: {"description": "Not modified (If-None-Match matched)"},
        **error_responses(400, 401, 404, 422),
    },
)
async def get_job(
    job_id: str,
    request: Request,
    state: State,
    who: Who,
    wait: Annotated[
        float | None,
        Query(
            ge=0,
            le=30,
            description="Long-poll: hold the request up to this many seconds for a change",
        ),
    ] = None,
) -> Response:
    """The job's snapshot, with an ETag; 304 when `If-None-Match` matches."""
    inm = request.headers.get("if-none-match")
    if inm and not wait:  # what the fast path did not answer (credentials not in memory)
        current = unchanged(state, job_id, inm, lambda: who)
        if current is not None:
            return Response(status_code=304, headers={"ETag": current})
    if inm and wait:
        return await _long_poll(request, state, who, job_id, inm, wait)
    record = await state.avisible(who, job_id)
    tag = etag(record.id, record.seq)
    if etag_matches(inm, tag):
        return Response(status_code=304, headers={"ETag": tag})
    return JSONResponse(snapshot(record), headers={"ETag": tag})


async def _long_poll(
    request: Request, state: ServerState, who: Principal, job_id: str, inm: str, wait: float
) -> Response:
    with state.hub.listen(job_id) as listener:  # listen first: no change slips between
        record = await state.avisible(who, job_id)
        tag = etag(record.id, record.seq)
        if not etag_matches(inm, tag):
            return JSONResponse(snapshot(record), headers={"ETag": tag})
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        epoch = state.hub.epoch
        while (left := deadline - loop.time()) > 0:
            # Wake at least every second to notice a client that went away; read the store
            # when the bus may miss changes, and once after its connection changed (the hub
            # wakes every listener then).
            step = 1.0 if state.trust_bus else state.settings.poll_interval
            item = await listener.get(min(step, left))
            if item is None and await request.is_disconnected():
                return Response(status_code=304, headers={"ETag": tag})
            if item is not None and item[0] > record.seq:
                snap = item[3]["job"]
                return JSONResponse(snap, headers={"ETag": etag(job_id, snap["seq"])})
            if item is None and (epoch != state.hub.epoch or not state.trust_bus):
                epoch = state.hub.epoch
                fresh = await state.avisible(who, job_id)
                if fresh.seq > record.seq:
                    return JSONResponse(snapshot(fresh), headers={"ETag": etag(job_id, fresh.seq)})
    return Response(status_code=304, headers={"ETag": tag})


@router.get(
    "/api/jobs",
    response_model=JobPage,
    tags=["jobs"],
    responses=error_responses(400, 401, 403, 422),
)
def list_jobs(
    state: State,
    who: Who,
    status: Annotated[list[JobStatus] | None, Query()] = None,
    task: Annotated[str | None, Query(max_length=200)] = None,
    owner: Annotated[str | None, Query(max_length=200, description="Admins only")] = None,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    shared: Annotated[
        bool,
        Query(
            description="The jobs shared with your teams instead of your own (each says "
            "through which team, and who shared it, in `shared`)"
        ),
    ] = False,
) -> dict[str, Any]:
    """Jobs, newest first, paged by cursor. Users see their own; admins see all. With
    `shared=true`: the jobs that others shared with any of your teams, while the share
    lasts."""
    refuse_stream_token(who, "listing jobs")
    if shared:
        return shared_jobs(state, who, status, task, owner, cursor, limit)
    if not who.admin:
        owner = who.user
    page = state.app.store.list(
        status=[s.value for s in status] if status else None,
        task=task,
        owner=owner,
        cursor=cursor,
        limit=limit,
    )
    return {"jobs": [snapshot(j) for j in page.jobs], "next_cursor": page.next_cursor}


def shared_jobs(
    state: ServerState,
    who: Principal,
    status: list[JobStatus] | None,
    task: str | None,
    owner: str | None,
    cursor: str | None,
    limit: int,
) -> dict[str, Any]:
    page = state.app.store.shared_with(
        sorted(who.teams),
        now=state.app.store.clock(),
        status=[s.value for s in status] if status else None,
        task=task,
        owner=owner,
        not_owner=who.user,
        cursor=cursor,
        limit=limit,
    )
    jobs = []
    for job in page.jobs:
        state.hub.note(job.id, job.seq, job.owner)
        item: dict[str, Any] = dict(snapshot(job))
        item["shared"] = page.shares[job.id].via()
        jobs.append(item)
    return {"jobs": jobs, "next_cursor": page.next_cursor}


@router.post(
    "/api/jobs/{job_id}/cancel",
    status_code=202,
    response_model=SnapshotModel,
    tags=["jobs"],
    responses=error_responses(401, 403, 404, 409, 422),
)
def cancel_job(job_id: str, state: State, who: Who) -> JSONResponse:
    """Ask to cancel: a queued job ends at once, a running one at its next progress call.
    Its owner and admins may (and its stream token); a team it is shared with may not."""
    state.visible(who, job_id, "cancel")
    job = state.app.cancel(job_id)
    return JSONResponse(snapshot(job.record), status_code=202)


@router.delete(
    "/api/jobs/{job_id}",
    status_code=204,
    tags=["jobs"],
    responses=error_responses(401, 403, 404, 409, 422),
)
def delete_job(job_id: str, state: State, who: Who) -> Response:
    """Forget a finished job, its result, files and shares. Its owner and admins only."""
    _, access = state.access(who, job_id)
    refuse_stream_token(who, "deleting a job")
    require(access, "manage", job_id)
    state.app.delete(job_id)
    state.hub.forget(job_id)
    state.shares.forget_job(job_id)
    return Response(status_code=204)


@router.get(
    "/api/jobs/{job_id}/result",
    tags=["jobs"],
    responses={
        200: {
            "description": "The result, as the task returned it (JSON)",
            "content": {"application/json": {"schema": {}}},
        },
        **error_responses(401, 404, 409, 422),
    },
)
def job_result(job_id: str, state: State, who: Who) -> Response:
    """The result of a succeeded job; 409 while it has not succeeded."""
    record: JobRecord = state.visible(who, job_id)
    if record.status != JobStatus.SUCCEEDED:
        raise ResultNotAvailable(
            f"Job {job_id} is {record.status.value}; only a succeeded job has a result.",
            job_id=job_id,
            status=record.status.value,
        )
    text = state.app.store.result(job_id)
    return Response(text or "null", media_type="application/json")


@router.get(
    "/api/jobs/{job_id}/token", tags=["jobs"], responses=error_responses(401, 403, 404, 422)
)
def job_token(job_id: str, state: State, who: Who) -> dict[str, str]:
    """A fresh stream token for this job (for `?token=` on its SSE and WebSocket URLs, and
    its downloads). Made for a member of a team the job is shared with, it is worth what the
    share grants, and only while it lasts."""
    _, access = state.access(who, job_id)
    refuse_stream_token(who, "a fresh stream token")  # else it could renew itself forever
    return {"token": state.auth.stream_token(who, job_id, access.share)}


@router.get(
    "/api/stats", response_model=StatsModel, tags=["server"], responses=error_responses(401, 403)
)
def stats(state: State, who: Who) -> dict[str, Any]:
    """Your jobs by status (everyone's for an admin), the result cache of each task (hits
    and misses of everyone's submits: per task, never per user), and for admins this
    process's worker and stream counters."""
    refuse_stream_token(who, "the statistics")
    cache = {
        task: {"hits": c.hits, "misses": c.misses, "hit_rate": hit_rate(c.hits, c.misses)}
        for task, c in sorted(state.app.store.cache_stats().items())
    }
    if not who.admin:
        jobs = state.app.store.counts(owner=who.user)
        return {"jobs": jobs, "worker": None, "streams": None, "cache": cache}
    worker = state.app.worker
    return {
        "jobs": state.app.store.counts(),
        "worker": dict(worker.stats) if worker is not None else None,
        "streams": {"listeners": state.hub.listeners, "delivered": state.hub.delivered},
        "cache": cache,
    }


def hit_rate(hits: int, misses: int) -> float | None:
    """hits / (hits + misses), rounded to 4 digits; None before any submit."""
    return round(hits / (hits + misses), 4) if hits + misses else None
