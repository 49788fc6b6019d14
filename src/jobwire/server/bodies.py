"""The JSON that clients send: request bodies and WebSocket messages.

One strict parser for all of them. Python's ``json`` accepts what JSON does not (``NaN``,
``Infinity``) and raises ``RecursionError`` on deep nesting; here the first is refused, the
second is a malformed request, and nesting is bounded well before either parser or encoder
could run out of stack. A submit body must also say it is JSON: a cross-site page can POST
``text/plain`` without a CORS preflight, never ``application/json``.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pydantic
from fastapi import Request
from fastapi.exceptions import RequestValidationError

from ..errors import BadRequest, InvalidArguments, UnsupportedMediaType

if TYPE_CHECKING:
    from ..tasks import Task

#: Deepest nesting of arrays and objects accepted in a body or a message.
MAX_DEPTH = 64


class NotFinite(ValueError):
    """The JSON held ``NaN``, ``Infinity`` or ``-Infinity``."""

    def __init__(self, constant: str) -> None:
        super().__init__(f"{constant} is not a JSON number (JSON has no NaN or Infinity)")
        self.constant = constant


class TooDeep(ValueError):
    """The JSON nests arrays and objects deeper than :data:`MAX_DEPTH`."""

    def __init__(self) -> None:
        super().__init__(f"nested deeper than {MAX_DEPTH} levels")


def _refuse_constant(name: str) -> Any:
    raise NotFinite(name)


def loads(data: str | bytes) -> Any:
    """Parse JSON strictly. Raises :class:`NotFinite`, :class:`TooDeep`, or another
    ``ValueError`` (invalid JSON or text that is not UTF-8)."""
    try:
        value = json.loads(data, parse_constant=_refuse_constant)
    except RecursionError:
        raise TooDeep() from None
    if _depth_exceeds(value, MAX_DEPTH):
        raise TooDeep()
    return value


def _depth_exceeds(value: Any, limit: int) -> bool:
    # Iterative: the value may be nested as deep as the parser allowed.
    todo: list[tuple[Any, int]] = [(value, 0)]
    while todo:
        item, depth = todo.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth >= limit:
            return True
        todo.extend((child, depth + 1) for child in children)
    return False


def is_json(content_type: str | None) -> bool:
    """``application/json`` or ``application/<anything>+json``, parameters ignored."""
    media = (content_type or "").partition(";")[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


async def arguments(request: Request) -> dict[str, Any] | None:
    """A submit's body: the task's arguments as an object, or None for no body. 415 when it
    is not sent as JSON, 400 when it is not valid JSON, 422 when it holds NaN or Infinity or
    is not an object (``null`` included)."""
    body = await request.body()
    if not body.strip():
        return None
    content_type = request.headers.get("content-type")
    if not is_json(content_type):
        raise UnsupportedMediaType(
            "Expected a JSON body sent with `Content-Type: application/json`, but got "
            + (f"`Content-Type: {content_type}`" if content_type else "no Content-Type"),
            content_type=content_type,
        )
    try:
        value = loads(body)
    except NotFinite as exc:
        raise InvalidArguments(
            f"Invalid arguments: {exc}",
            errors=[{"loc": [], "msg": str(exc), "type": "finite_number"}],
        ) from None
    except TooDeep as exc:
        raise BadRequest(f"The body is {exc}.") from None
    except ValueError as exc:
        raise BadRequest(f"The body is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise RequestValidationError(
            [
                {
                    "loc": ("body",),
                    "msg": "The arguments must be a JSON object",
                    "type": "dict_type",
                    "input": None,
                }
            ]
        )
    return value


def check_types(task: Task, args: dict[str, Any]) -> None:
    """422 unless ``args`` has exactly the JSON types of the task's schema (``GET /api/tasks``,
    ``/openapi.json``): ``"5"`` is not an integer and ``1`` is not ``true`` over HTTP, though
    :meth:`Task.validate <jobwire.tasks.Task.validate>` converts them for Python callers."""
    task.validate(args)  # its messages first: unknown or missing arguments, unstorable text
    try:
        task.model.model_validate_json(json.dumps(args), strict=True)
    except pydantic.ValidationError as exc:
        errors = [
            {"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]}
            for e in exc.errors()
            if not _integral(e)
        ]
        if not errors:
            return
        where = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in errors)
        raise InvalidArguments(
            f"Invalid arguments for task {task.name!r}: {where}", errors=errors
        ) from None


def _integral(error: Any) -> bool:
    # JSON Schema's integers include 2.0 (pydantic's strict mode does not; its lax mode,
    # which the job is created with, takes it as 2).
    value = error.get("input")
    return error["type"] == "int_type" and isinstance(value, float) and value.is_integer()


def payload(body: bytes) -> Any:
    """A webhook's body as JSON (None when empty); 400 for anything that is not JSON every
    store can keep: invalid, too deep, NaN or Infinity, or text with a lone surrogate."""
    if not body.strip():
        return None
    try:
        value = loads(body)
        # A lone surrogate ("\ud800" escaped in the JSON) parses, but is not UTF-8 text.
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except ValueError as exc:  # UnicodeEncodeError included
        raise BadRequest(f"Expected a JSON body: {exc}") from None
    return value


def message(data: str | bytes, limit: int) -> Any:
    """A WebSocket message as JSON; BadRequest, whose message the client is sent back, when
    it is larger than ``limit``, nested too deeply or not JSON."""
    if len(data) > limit:
        raise BadRequest(f"The message is larger than {limit} bytes.")
    try:
        return loads(data)
    except TooDeep:
        raise BadRequest("Expected a JSON message, but it is nested too deeply") from None
    except ValueError as exc:
        raise BadRequest(f"Expected a JSON message: {exc}"[:200]) from None
