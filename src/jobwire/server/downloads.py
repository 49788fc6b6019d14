"""Downloads: the files a job saved (listed, and streamed with ``Range``) and the job's
export as JSON, CSV or ZIP. A job's stream token reaches these for its own job, so that a
browser can download through a plain link (``<a href="…?token=…">`` carries no header)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query, Response
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from ..errors import FileNotFound
from ..export import content_disposition
from .deps import State, Who
from .errors import error_responses
from .etag import etag_matches
from .models import FileList
from .ranges import file_etag, if_range_holds, parse_range

logger = logging.getLogger(__name__)

router = APIRouter()

#: A download is saved, never shown: a saved HTML or SVG file must not run as a page of
#: this server's origin.
DOWNLOAD_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "sandbox; default-src 'none'",
}
BINARY = {"schema": {"type": "string", "format": "binary"}}
_TAG = {"ETag": {"description": "The SHA-256 of the bytes, quoted", "schema": {"type": "string"}}}
_DISPOSITION = {
    "Content-Disposition": {
        "description": "`attachment; filename=\"…\"` (ASCII), with `filename*=UTF-8''…` "
        "(RFC 5987) for other names",
        "schema": {"type": "string"},
    }
}


@router.get(
    "/api/jobs/{job_id}/files",
    response_model=FileList,
    tags=["files"],
    responses=error_responses(401, 403, 404, 422),
)
def list_files(job_id: str, state: State, who: Who) -> dict[str, Any]:
    """The files the job saved (its current attempt's), by name."""
    state.visible(who, job_id, "download")
    return {"files": [info.entry() for info in state.app.files(job_id)]}


@router.get(
    "/api/jobs/{job_id}/files/{name}",
    tags=["files"],
    response_class=Response,
    responses={
        200: {
            "description": "The file's bytes, with its `Content-Type`",
            "content": {"*/*": BINARY},
            "headers": {**_TAG, **_DISPOSITION},
        },
        206: {
            "description": "The range asked for (`Content-Range: bytes START-END/SIZE`)",
            "content": {"*/*": BINARY},
            "headers": {
                "Content-Range": {"schema": {"type": "string"}},
                **_TAG,
                **_DISPOSITION,
            },
        },
        304: {"description": "Not modified (If-None-Match names the ETag)", "headers": _TAG},
        **error_responses(401, 404, 416, 422),
    },
)
async def download_file(
    job_id: str,
    name: str,
    state: State,
    who: Who,
    range_: Annotated[
        str | None,
        Header(
            alias="Range",
            description="One byte range: `bytes=START-END`, `bytes=START-`, `bytes=-LAST`. "
            "Several ranges, or another unit: the whole file",
        ),
    ] = None,
    if_range: Annotated[
        str | None,
        Header(alias="If-Range", description="Apply Range only while the ETag is this one"),
    ] = None,
    if_none_match: Annotated[
        str | None, Header(alias="If-None-Match", description="An ETag held: 304 if current")
    ] = None,
) -> Response:
    """One file the job saved, streamed, as a download. `Range` asks for part of it (206,
    or 416 when the range is outside it); the `ETag` is its SHA-256."""
    await state.avisible(who, job_id, "download")
    info = await run_in_threadpool(state.app.store.file, job_id, name)
    if info is None:
        raise FileNotFound(f"Job {job_id} has no file named {name!r}", job_id=job_id, name=name)
    tag = file_etag(info.sha256)
    headers = {
        "ETag": tag,
        "Accept-Ranges": "bytes",
        "Content-Disposition": content_disposition(info.name),
        **DOWNLOAD_HEADERS,
    }
    if etag_matches(if_none_match, tag):
        return Response(status_code=304, headers=headers)
    wanted = parse_range(range_, info.size) if if_range_holds(if_range, tag) else None
    start, end = (wanted.start, wanted.end) if wanted else (0, info.size)
    _, chunks = await run_in_threadpool(state.app.open_file, job_id, name, start, end)
    headers["Content-Type"] = info.content_type
    headers["Content-Length"] = str(end - start)
    if wanted is not None:
        headers["Content-Range"] = wanted.content_range(info.size)
    return StreamingResponse(stream(chunks), status_code=206 if wanted else 200, headers=headers)


@router.get(
    "/api/jobs/{job_id}/export",
    tags=["files"],
    response_class=Response,
    responses={
        200: {
            "description": "The job as a download: `json` (the result, indented, UTF-8), "
            "`csv` (the task's rows, UTF-8 with a byte order mark) or `zip` (the result, "
            "the CSV, every file and a README.md)",
            "content": {
                "application/json": {"schema": {}},
                "text/csv": {"schema": {"type": "string"}},
                "application/zip": BINARY,
            },
            "headers": _DISPOSITION,
        },
        **error_responses(401, 403, 404, 409, 422),
    },
)
async def export_job(
    job_id: str,
    state: State,
    who: Who,
    format: Annotated[
        Literal["json", "csv", "zip"], Query(description="What to download")
    ] = "json",
) -> Response:
    """A succeeded job as a download named `{task}-{short id}.{format}`: 409
    `result_not_available` until it succeeded, 409 `export_not_available` for a CSV of a
    task that declares no rows (and whose result is not a list of flat objects)."""
    await state.avisible(who, job_id, "download")
    export = await run_in_threadpool(state.app.export, job_id, format)
    headers = {"Content-Disposition": content_disposition(export.filename), **DOWNLOAD_HEADERS}
    if export.size is not None:
        headers["Content-Length"] = str(export.size)
    return StreamingResponse(stream(export.chunks), media_type=export.media_type, headers=headers)


async def stream(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    """``chunks``, each read in a worker thread (they read the store or the file storage);
    closed when the answer ends, the client gone or not."""
    try:
        while (chunk := await run_in_threadpool(next, chunks, None)) is not None:
            if chunk:
                yield chunk
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            # Not in a thread: a cancelled answer cannot wait for one. Closing a generator
            # runs its cleanup (a connection back to its pool), which does not block.
            try:
                close()
            except ValueError as exc:  # still running in its thread: it ends with it
                logger.warning("a download's reader could not be closed: %s", exc)
