"""What the server says about itself: ``/openapi.json``, and the ``Allow`` of each path.

FastAPI describes the routes as they are declared; this module makes the description exact
enough for a client generator (and schemathesis) to trust:

- one submit operation per registered task, ``POST /api/tasks/{name}/jobs``, whose body
  schema is the task's arguments (:meth:`jobwire.tasks.Task.schema`, no other properties);
- credentials as security schemes (with ``auth=token``): a bearer API key or JWT, and the
  ``?token=`` stream token only where it is accepted;
- optional parameters as the strings they are on the wire (FastAPI's ``anyOf: [..., null]``
  would invite ``?wait=null``), the cursor's exact form, the SSE stream as
  ``text/event-stream`` with the schema of its ``data:``, every error as the one JSON shape,
  and the headers and links that answers carry.
"""

from __future__ import annotations

import copy
import json
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.routing import iter_route_contexts
from starlette.routing import Match

from ..store.sql import CURSOR_PATTERN
from ..wire import TERMINAL_TYPES
from .models import StreamMessage

if TYPE_CHECKING:
    from ..app import App
    from ..tasks import Task

SUBMIT = "/api/tasks/{task}/jobs"
EVENTS = "/api/jobs/{job_id}/events"
#: The operations a job's stream token may call (deps.refuse_stream_token refuses the rest).
STREAM_TOKEN_OPERATIONS = {
    ("get", "/api/jobs/{job_id}"),
    ("get", EVENTS),
    ("post", "/api/jobs/{job_id}/cancel"),
    ("get", "/api/jobs/{job_id}/result"),
    ("get", "/api/jobs/{job_id}/files"),
    ("get", "/api/jobs/{job_id}/files/{name}"),
    ("get", "/api/jobs/{job_id}/export"),
    ("get", "/api/jobs/{job_id}/access"),
    ("get", "/api/jobs/{job_id}/deliveries"),
}
#: Text without NUL: the stores refuse it (PostgreSQL cannot keep it) in any argument.
NO_NUL = "^[^\\u0000]*$"
ERROR_REF = {"$ref": "#/components/schemas/ErrorResponse"}
#: What a path segment holds as it is (RFC 3986 pchar); the rest is percent-encoded.
PATH_SAFE = "!$&'()*+,;=:@-._~"


def install(api: FastAPI, app: App) -> None:
    """Serve the description below at ``/openapi.json`` (and ``/docs``). Built on first use
    and again when the registered tasks or the authentication mode change."""
    cache: dict[Any, dict[str, Any]] = {}

    def openapi() -> dict[str, Any]:
        base = FastAPI.openapi(api)  # FastAPI's own, cached by FastAPI
        key = (id(base), tuple(sorted(app.tasks)), app.settings.auth)
        if key not in cache:
            cache.clear()
            cache[key] = describe(base, app)
        return cache[key]

    api.openapi = openapi  # type: ignore[method-assign]


def describe(base: dict[str, Any], app: App) -> dict[str, Any]:
    """``base`` (FastAPI's description of the routes) made exact for ``app``."""
    spec = copy.deepcopy(base)
    schemas: dict[str, Any] = spec.setdefault("components", {}).setdefault("schemas", {})
    auth = app.settings.auth != "none"
    operation_ids = {
        (method, path): op["operationId"]
        for path, item in spec["paths"].items()
        for method, op in item.items()
    }
    for path, item in spec["paths"].items():
        for method, op in item.items():
            _parameters(op, path, method, auth)
            for status, answer in op["responses"].items():
                if status == "422" and "HTTPValidationError" in json.dumps(answer):
                    answer["content"] = {"application/json": {"schema": ERROR_REF}}
                    answer["description"] = "Invalid parameters"
    _stream(spec["paths"].get(EVENTS, {}).get("get"), schemas)
    _headers(spec["paths"])
    generic = spec["paths"].pop(SUBMIT, {}).get("post")
    if generic is not None:
        for task in sorted(app.tasks.values(), key=lambda t: t.name):
            if "/" not in task.name:  # no route reaches such a name
                path, item = _submit(task, generic, schemas, operation_ids)
                spec["paths"][path] = item
    schemas["StorableJSON"] = STORABLE
    hook = spec["paths"].get("/api/hooks/{job_id}", {}).get("post")
    if hook is not None:
        hook["requestBody"] = {
            "required": False,
            "description": "Any JSON; the waiting task receives it",
            "content": {"application/json": {"schema": STORABLE_REF}},
        }
    if auth:
        spec["components"]["securitySchemes"] = {
            "bearer": {
                "type": "http",
                "scheme": "bearer",
                "description": "An API key (`jobwire keys create`) or a JWT",
            },
            "streamToken": {
                "type": "apiKey",
                "in": "query",
                "name": "token",
                "description": "A job's stream token (`stream_token` of the submit answer, "
                "or `GET /api/jobs/{job_id}/token`): that one job only",
            },
        }
    for unused in ("HTTPValidationError", "ValidationError"):  # in this order
        if f'#/components/schemas/{unused}"' not in json.dumps(spec):
            schemas.pop(unused, None)
    return spec


def _parameters(op: dict[str, Any], path: str, method: str, auth: bool) -> None:
    params: list[dict[str, Any]] = op.get("parameters", [])
    takes_credentials = any(p["name"] == "token" and p["in"] == "query" for p in params)
    stream_token = (method, path) in STREAM_TOKEN_OPERATIONS
    if takes_credentials and (auth or not stream_token):
        # With auth on, the stream token is a security scheme; elsewhere it is refused.
        params = [p for p in params if not (p["name"] == "token" and p["in"] == "query")]
    for p in params:
        p["schema"] = schema = _not_null(p.get("schema", {}))
        if schema.get("type") == "string" and not {"pattern", "enum", "format"} & schema.keys():
            schema["pattern"] = NO_NUL  # deps.no_nul: 400
        if p["name"] == "cursor" and p["in"] == "query":
            p["schema"]["pattern"] = f"^$|{CURSOR_PATTERN}"
            p["description"] = "The `next_cursor` of the previous page (none: the first)"
    if params:
        op["parameters"] = params
    else:
        op.pop("parameters", None)
    if auth:
        if not takes_credentials:
            op["security"] = []  # public: health, and webhooks (signed URLs)
        elif stream_token:
            op["security"] = [{"bearer": []}, {"streamToken": []}]
        else:
            op["security"] = [{"bearer": []}]
    if takes_credentials:
        answers = op["responses"]
        for status, text in (
            ("400", "Malformed request (a query parameter holding NUL, for one)"),
            ("401", "Missing or invalid credentials"),
        ):
            if status not in answers:
                answers[status] = {
                    "description": text,
                    "content": {"application/json": {"schema": ERROR_REF}},
                }


def _not_null(schema: dict[str, Any]) -> dict[str, Any]:
    """``anyOf: [X, {type: null}]`` as X: an optional parameter is absent, never null."""
    options = schema.get("anyOf")
    if not isinstance(options, list):
        return schema
    kept = [o for o in options if o != {"type": "null"}]
    if len(kept) != 1:
        return schema
    rest = {k: v for k, v in schema.items() if k != "anyOf"}
    return {**kept[0], **rest}


def _stream(op: dict[str, Any] | None, schemas: dict[str, Any]) -> None:
    if op is None:
        return
    message = StreamMessage.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, schema in message.pop("$defs", {}).items():
        schemas.setdefault(name, schema)
    schemas["StreamMessage"] = message
    # As OpenAPI 3.2's `itemSchema` (which 3.1 lacks) and schemathesis read it: one event.
    event = {
        "type": "object",
        "description": "One event. Comments (`: ping`) keep the connection open; the stream "
        "ends after the final message.",
        "required": ["id", "event", "data"],
        "properties": {
            "id": {"type": "string", "pattern": "^[0-9]+$", "description": "The seq"},
            "event": {
                "type": "string",
                "enum": ["connected", "progress", "status", "log", *TERMINAL_TYPES.values()],
            },
            "data": {
                "type": "string",
                "contentMediaType": "application/json",
                "contentSchema": {"$ref": "#/components/schemas/StreamMessage"},
            },
        },
    }
    op["responses"]["200"] = {
        "description": "The job's messages as Server-Sent Events",
        "content": {"text/event-stream": {"schema": event}},
    }


def _headers(paths: dict[str, Any]) -> None:
    tag = {"ETag": {"description": '`"{id}.{seq}"`', "schema": {"type": "string"}}}
    job = paths.get("/api/jobs/{job_id}", {}).get("get")
    if job is not None:
        for status in ("200", "304"):
            if status in job["responses"]:
                job["responses"][status]["headers"] = dict(tag)
    submit = paths.get(SUBMIT, {}).get("post")
    if submit is not None:
        for status in ("200", "202"):
            submit["responses"][status]["headers"] = {
                "Location": {"description": "The job's URL", "schema": {"type": "string"}},
                **tag,
            }
        if "429" in submit["responses"]:
            submit["responses"]["429"]["headers"] = {
                "Retry-After": {"description": "Seconds", "schema": {"type": "string"}}
            }


def _submit(
    task: Task,
    generic: dict[str, Any],
    schemas: dict[str, Any],
    operation_ids: dict[tuple[str, str], str],
) -> tuple[str, dict[str, Any]]:
    """The submit operation of one task: its path, and its arguments as the body schema."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", task.name)
    name = f"{safe}.arguments"
    arguments = copy.deepcopy(task.schema())
    defs = arguments.pop("$defs", {})
    renamed = {f"#/$defs/{d}": f"#/components/schemas/{safe}.{d}" for d in defs}
    for d, schema in defs.items():
        schemas[f"{safe}.{d}"] = _strict(schema, renamed)
    arguments = _strict(arguments, renamed)
    arguments.setdefault("additionalProperties", False)
    arguments.setdefault("type", "object")
    schemas[name] = arguments
    op = copy.deepcopy(generic)
    op["operationId"] = f"submit_{safe}"
    op["summary"] = f"Submit a {task.name} job"
    if task.options.description:
        op["description"] = task.options.description
    params = [p for p in op.get("parameters", []) if p["name"] != "task"]
    if params:
        op["parameters"] = params
    else:
        op.pop("parameters", None)
    op["requestBody"] = {
        "required": bool(arguments.get("required")),
        "description": "The task's arguments; no body means none (each takes its default)",
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}},
    }
    op["responses"].pop("404", None)
    job_id = {"job_id": "$response.body#/id"}
    links = {
        label: {"operationId": operation_ids[key], "parameters": job_id}
        for label, key in (
            ("job", ("get", "/api/jobs/{job_id}")),
            ("events", ("get", EVENTS)),
            ("cancel", ("post", "/api/jobs/{job_id}/cancel")),
            ("result", ("get", "/api/jobs/{job_id}/result")),
            ("files", ("get", "/api/jobs/{job_id}/files")),
            ("export", ("get", "/api/jobs/{job_id}/export")),
            ("deliveries", ("get", "/api/jobs/{job_id}/deliveries")),
            ("token", ("get", "/api/jobs/{job_id}/token")),
            ("delete", ("delete", "/api/jobs/{job_id}")),
        )
        if key in operation_ids
    }
    for status in ("200", "202"):
        op["responses"][status]["links"] = links
    path = f"/api/tasks/{quote(task.name, safe=PATH_SAFE)}/jobs"
    return path, {"post": op}


#: Where a schema takes any JSON value (an `Any` argument, extra keys of a nested model).
STORABLE_REF = {"$ref": "#/components/schemas/StorableJSON"}
STORABLE = {
    "description": "Any JSON value the stores keep: no NUL in text or in keys",
    "anyOf": [
        {"type": ["null", "boolean", "number"]},
        {"type": "string", "pattern": NO_NUL},
        {"type": "array", "items": STORABLE_REF},
        {
            "type": "object",
            "propertyNames": {"pattern": NO_NUL},
            "additionalProperties": STORABLE_REF,
        },
    ],
}
_SUBSCHEMA = ("items", "additionalProperties", "not", "contains", "if", "then", "else")
_SUBSCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")
_SUBSCHEMA_MAPS = ("properties", "patternProperties", "dependentSchemas")
_SAYS_WHAT = {"type", "$ref", "anyOf", "oneOf", "allOf", "not", "enum", "const", "properties"}


def _strict(schema: Any, renamed: dict[str, str]) -> Any:
    """A copy of a task's JSON Schema with ``$ref`` pointing into the components, and text
    (values and keys, wherever any JSON is taken) that may not hold NUL, as the stores
    require (``Task.validate`` refuses it in any argument, extra keys included)."""
    if schema is True:
        return STORABLE_REF
    if not isinstance(schema, dict):
        return schema
    out = dict(schema)
    for key in _SUBSCHEMA:
        if key in out:
            out[key] = _strict(out[key], renamed)
    for key in _SUBSCHEMA_LISTS:
        if key in out:
            out[key] = [_strict(s, renamed) for s in out[key]]
    for key in _SUBSCHEMA_MAPS:
        if key in out:
            out[key] = {name: _strict(s, renamed) for name, s in out[key].items()}
    if out.get("$ref") in renamed:
        out["$ref"] = renamed[out["$ref"]]
    if not _SAYS_WHAT & out.keys():  # any JSON value
        return {**out, **STORABLE_REF}
    kind = out.get("type")
    kinds = kind if isinstance(kind, list) else [kind]
    if "string" in kinds and not {"pattern", "enum", "const", "format"} & out.keys():
        out["pattern"] = NO_NUL
    if "object" in kinds or "properties" in out:
        if "additionalProperties" not in out:  # pydantic's default: extra keys ignored
            out["additionalProperties"] = STORABLE_REF
        if out["additionalProperties"] is not False:
            out.setdefault("propertyNames", {"pattern": NO_NUL})
    if "array" in kinds and "items" not in out and "prefixItems" not in out:
        out["items"] = STORABLE_REF
    return out


def allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at the request's path (plus OPTIONS), for ``Allow``."""
    methods: set[str] = set()
    # Routes of included routers too (FastAPI wraps them).
    for route in iter_route_contexts(request.app.router.routes):
        if route.methods:
            match, _ = route.matches(request.scope)
            if match != Match.NONE:
                methods |= route.methods
    return sorted(methods | {"OPTIONS"}) if methods else []
