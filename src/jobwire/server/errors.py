"""One place that maps errors to HTTP status codes and the JSON error shape."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from .. import errors as e
from ..errors import Unauthorized
from .openapi import allowed_methods

logger = logging.getLogger(__name__)

HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    416: "range_not_satisfiable",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
}


class ErrorBody(BaseModel):
    code: str
    message: str
    details: dict[str, Any] = {}


class ErrorResponse(BaseModel):
    """Every error answer has this shape."""

    error: ErrorBody


#: What each error status means, as the OpenAPI description says it.
MEANINGS = {
    400: "Malformed request",
    401: "Missing or invalid credentials",
    403: "A stream token outside its job, or not an admin",
    404: "Unknown job or task (or another user's job)",
    409: "Conflict with the job's state or the owner's limit",
    413: "Body too large",
    416: "The range is not within the file (`Content-Range: bytes */SIZE` gives its size)",
    415: "The body is not sent as JSON (`Content-Type: application/json`)",
    422: "Invalid arguments or parameters",
    429: "Rate limited (see Retry-After)",
}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` of a route that may answer these error statuses."""
    return {c: {"model": ErrorResponse, "description": MEANINGS[c]} for c in codes}


def status_of(exc: e.JobwireError) -> int:
    """The HTTP status of a jobwire error: its class says (``JobwireError.status``)."""
    return exc.status


def error_response(
    status: int,
    code: str,
    message: str,
    details: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = {"error": {"code": code, "message": message, "details": details or {}}}
    return JSONResponse(body, status_code=status, headers=headers)


def install(api: FastAPI) -> None:
    @api.exception_handler(e.JobwireError)
    async def jobwire_error(request: Request, exc: e.JobwireError) -> JSONResponse:
        status = status_of(exc)
        headers = None
        if isinstance(exc, e.RateLimited):
            headers = {"Retry-After": str(max(1, round(exc.retry_after + 0.49)))}
        if isinstance(exc, Unauthorized):
            headers = {"WWW-Authenticate": "Bearer"}
        if isinstance(exc, e.RangeNotSatisfiable):
            headers = {"Content-Range": f"bytes */{exc.details.get('size', '*')}"}
        if status >= 500:
            logger.error("server error: %s", exc.message)
        return error_response(status, exc.code, exc.message, _jsonable(exc.details), headers)

    @api.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {
                "loc": [str(p) for p in err.get("loc", ())],
                "msg": err.get("msg", ""),
                "type": err.get("type", ""),
            }
            for err in exc.errors()
        ]
        if any(err["type"] == "json_invalid" for err in errors):
            return error_response(
                400, "bad_request", "The body is not valid JSON.", {"errors": errors}
            )
        where = "; ".join(f"{'.'.join(err['loc'])}: {err['msg']}" for err in errors)
        return error_response(
            422, "validation_error", f"Invalid request: {where}", {"errors": errors}
        )

    @api.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        code = HTTP_CODES.get(exc.status_code, "error")
        message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
        headers = dict(exc.headers) if exc.headers else None
        if exc.status_code == 405 and (methods := allowed_methods(request)):
            # Starlette's Allow names the first route that matched the path; say them all.
            # And OPTIONS, which no route serves, is this answer: what the path allows. (A
            # CORS preflight never gets here: the CORS middleware answers it.)
            headers = {**(headers or {}), "Allow": ", ".join(methods)}
            if request.method == "OPTIONS":
                return Response(status_code=204, headers=headers)
        return error_response(exc.status_code, code, message, headers=headers)

    @api.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception) -> JSONResponse:
        # The last resort: a bug, never bad input (that is a 4xx above). The client gets the
        # JSON shape; the log gets the traceback.
        logger.error(
            "unexpected error answering %s %s",
            request.method,
            request.url.path,
            exc_info=exc,
            extra={"action": "http_error"},
        )
        return error_response(
            500, "internal_error", "The server failed to answer this request; it is logged."
        )


def _jsonable(details: dict[str, Any]) -> dict[str, Any]:
    from pydantic_core import to_jsonable_python

    return to_jsonable_python(details, fallback=str)  # type: ignore[no-any-return]
