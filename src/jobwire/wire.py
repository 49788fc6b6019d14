"""The messages sent to watchers. Pure: no I/O.

WebSocket frames, SSE ``data:`` lines and the polling answer all come from here: a message is
``{"type": …, "seq": …, "job": <snapshot>}`` (plus ``log`` for log lines), and the polling
answer is the snapshot itself. A message is encoded once and the same text goes to every
listener.
"""

from __future__ import annotations

from typing import Literal, NotRequired, TypedDict

from .snapshot import Event, Snapshot, dumps

MessageType = Literal["connected", "progress", "status", "log", "completed", "failed", "cancelled"]

TERMINAL_TYPES: dict[str, MessageType] = {
    "succeeded": "completed",
    "failed": "failed",
    "cancelled": "cancelled",
}


class Message(TypedDict):
    type: MessageType
    seq: int
    job: Snapshot
    log: NotRequired[str]


def message_type(event: Event) -> MessageType:
    kind = event["kind"]
    if kind == "status":
        return TERMINAL_TYPES.get(event["job"]["status"], "status")
    return "progress" if kind == "progress" else "log"


def message(event: Event, *, connected: bool = False) -> Message:
    """The message for ``event``; ``connected`` marks the first one a stream sends."""
    msg: Message = {
        "type": "connected" if connected else message_type(event),
        "seq": event["seq"],
        "job": event["job"],
    }
    if event["kind"] == "log" and event.get("log") is not None:
        msg["log"] = event["log"] or ""
    return msg


def encode(msg: Message) -> str:
    return dumps(msg)


def is_terminal(event: Event) -> bool:
    return event["kind"] == "status" and event["job"]["status"] in TERMINAL_TYPES


PING = dumps({"type": "ping"})


def error(code: str, message: str, job_id: str | None = None) -> str:
    """An ``error`` message, encoded: what a WebSocket client is told before a close, or
    about one request it made."""
    body: dict[str, object] = {"type": "error", "error": {"code": code, "message": message}}
    if job_id is not None:
        body["job_id"] = job_id
    return dumps(body)
