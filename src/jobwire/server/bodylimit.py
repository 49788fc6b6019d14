"""The request body limit: a body over ``max_body_bytes`` answers 413 before it is read
whole, whether it declares its length or not (chunked)."""

from __future__ import annotations

import contextlib

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..snapshot import dumps


class BodyLimit:
    """Refuse request bodies over ``max_bytes`` with 413, before they are read whole."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await _too_large(send, self.max_bytes)
            return
        received = 0
        too_large = responded = False

        async def limited() -> Message:
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    too_large = True
                    raise _TooLarge()
            return message

        async def guarded(message: Message) -> None:
            # FastAPI turns an error raised while it reads the body into its own 400
            # ("There was an error parsing the body"): drop that answer, the 413 goes instead.
            nonlocal responded
            if too_large:
                return
            responded = True
            await send(message)

        with contextlib.suppress(_TooLarge):  # answered below
            await self.app(scope, limited, guarded)
        if too_large and not responded:
            await _too_large(send, self.max_bytes)


class _TooLarge(Exception):
    pass


async def _too_large(send: Send, limit: int) -> None:
    body = dumps(
        {
            "error": {
                "code": "payload_too_large",
                "message": f"The body is larger than {limit} bytes.",
                "details": {"limit": limit},
            }
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
