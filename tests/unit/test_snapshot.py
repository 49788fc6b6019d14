"""The job snapshot: the one JSON payload every channel sends."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest

from jobwire.snapshot import (
    JobRecord,
    dumps,
    format_line,
    format_seconds,
    iso,
    loads,
    make_event,
    percent,
    snapshot,
)
from jobwire.status import JobStatus

ISO_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")

REQUIRED = {
    "id",
    "task",
    "status",
    "step",
    "current",
    "total",
    "percent",
    "message",
    "eta_seconds",
    "rate",
    "owner",
    "created_at",
    "started_at",
    "finished_at",
    "attempt",
    "cancel_requested",
    "seq",
    "error",
    "result_url",
    "files_url",
}

T0 = datetime(2024, 5, 17, 9, 30, 15, 250000, tzinfo=UTC).timestamp()


def record(**changes) -> JobRecord:
    base = JobRecord(
        id="abc123", task="tickets.classify", owner="alice", args={"file_id": "f1"}, created_at=T0
    )
    return base.copy(**changes)


def running(**changes) -> JobRecord:
    """A job 150/500 into its processing step."""
    values = {
        "status": JobStatus.RUNNING,
        "current": 150,
        "total": 500,
        "step": "processing",
        "eta_seconds": 20.04,
        "rate": 7.12345,
        "seq": 4,
        "attempt": 1,
    }
    return record(**{**values, **changes})


def test_snapshot_of_a_new_job() -> None:
    snap = snapshot(record())
    assert set(snap) >= REQUIRED
    assert snap["id"] == "abc123"
    assert snap["task"] == "tickets.classify"
    assert snap["owner"] == "alice"
    assert snap["status"] == "queued"
    assert snap["current"] == 0
    assert snap["total"] is None
    assert snap["percent"] is None  # indeterminate, never a made-up number
    assert snap["eta_seconds"] is None and snap["rate"] is None
    assert snap["created_at"] == "2024-05-17T09:30:15.250Z"
    assert snap["started_at"] is None and snap["finished_at"] is None
    assert snap["attempt"] == 0
    assert snap["cancel_requested"] is False
    assert snap["error"] is None
    assert snap["result_url"] is None
    assert "args" not in snap  # the snapshot stays small


def test_snapshot_is_plain_json() -> None:
    snap = snapshot(running(started_at=T0 + 1))
    assert isinstance(snap["status"], str) and type(snap["status"]) is str
    assert json.loads(json.dumps(snap)) == snap
    assert loads(dumps(snap)) == snap


def test_running_snapshot_fields() -> None:
    snap = snapshot(running(started_at=T0 + 2.5, message="ticket 150"))
    assert snap["status"] == "running"
    assert snap["percent"] == 30.0
    assert isinstance(snap["percent"], float)
    assert snap["eta_seconds"] == 20.0
    assert snap["rate"] == 7.123
    assert snap["started_at"] == "2024-05-17T09:30:17.750Z"
    assert snap["seq"] == 4
    assert snap["message"] == "ticket 150"
    assert snap["result_url"] is None


@pytest.mark.parametrize(
    ("current", "total", "expected"),
    [
        (0, None, None),
        (5, None, None),
        (0, 0, None),
        (3, -1, None),
        (0, 10, 0.0),
        (1, 3, 33.3),
        (2, 3, 66.7),
        (10, 10, 100.0),
        (15, 10, 100.0),  # clamped
        (-1, 10, 0.0),
    ],
)
def test_percent(current: int, total: int | None, expected: float | None) -> None:
    assert percent(current, total) == expected
    assert snapshot(record(current=current, total=total))["percent"] == expected


@pytest.mark.parametrize("ts", [0.0, T0, T0 + 0.0004, 4102444800.0])
def test_times_are_iso_utc_with_z(ts: float) -> None:
    text = iso(ts)
    assert text is not None and ISO_Z.match(text), text
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    assert parsed.tzinfo is not None and parsed.utcoffset().total_seconds() == 0
    assert abs(parsed.timestamp() - ts) < 0.001


def test_iso_of_none() -> None:
    assert iso(None) is None


def test_result_url_only_when_succeeded() -> None:
    for status in JobStatus:
        snap = snapshot(record(status=status))
        if status == JobStatus.SUCCEEDED:
            assert snap["result_url"] == "/api/jobs/abc123/result"
        else:
            assert snap["result_url"] is None, status


def test_files_url_whatever_the_status() -> None:
    # A running job may have saved files already; a failed one keeps those it saved.
    for status in JobStatus:
        assert snapshot(record(status=status))["files_url"] == "/api/jobs/abc123/files"


def test_error_shape() -> None:
    snap = snapshot(
        record(
            status=JobStatus.FAILED,
            finished_at=T0 + 60,
            error_code="boom",
            error_message="It broke",
            error_details={"line": 3},
        )
    )
    assert snap["error"] == {"code": "boom", "message": "It broke", "details": {"line": 3}}
    assert snap["finished_at"] == "2024-05-17T09:31:15.250Z"
    snap = snapshot(record(status=JobStatus.FAILED, error_code="worker_lost"))
    assert snap["error"] == {"code": "worker_lost", "message": "", "details": None}


def test_event_carries_the_whole_snapshot() -> None:
    job = record(status=JobStatus.RUNNING, seq=7, current=3, total=9)
    event = make_event(job, "log", "hello")
    assert event == {"kind": "log", "seq": 7, "job": snapshot(job), "log": "hello"}
    assert make_event(job, "progress")["log"] is None


def test_dumps_is_compact_and_keeps_unicode() -> None:
    assert dumps({"a": [1, 2], "b": "é"}) == '{"a":[1,2],"b":"é"}'


# -- one line -------------------------------------------------------------------------


def test_format_line_running() -> None:
    snap = snapshot(
        record(
            status=JobStatus.RUNNING, current=150, total=500, step="processing", eta_seconds=20.2
        )
    )
    assert format_line(snap) == "150/500 (30%) · processing · about 20 s left"


def test_format_line_fractional_percent_and_no_eta() -> None:
    snap = snapshot(record(status=JobStatus.RUNNING, current=1, total=3))
    assert format_line(snap) == "1/3 (33.3%)"


def test_format_line_unknown_total() -> None:
    snap = snapshot(record(status=JobStatus.RUNNING, current=42, step="scanning"))
    assert format_line(snap) == "42 · scanning"


def test_format_line_shows_non_running_status() -> None:
    assert format_line(snapshot(record())) == "queued"
    snap = snapshot(
        record(status=JobStatus.SUCCEEDED, current=500, total=500, step="saving", eta_seconds=0.0)
    )
    assert format_line(snap) == "500/500 (100%) · saving · succeeded"
    snap = snapshot(record(status=JobStatus.WAITING, step="dreaming", eta_seconds=30.0))
    assert format_line(snap) == "dreaming · waiting"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "<1 s"),
        (0.4, "<1 s"),
        (1, "1 s"),
        (20.4, "20 s"),
        (59.4, "59 s"),
        (60, "1 min"),
        (95, "1 min 35 s"),
        (3600, "1 h 0 min"),
        (3725, "1 h 2 min"),
    ],
)
def test_format_seconds(seconds: float, text: str) -> None:
    assert format_seconds(seconds) == text


def test_record_copy_is_independent() -> None:
    a = record()
    b = a.copy(status=JobStatus.RUNNING, current=3)
    assert a.status == JobStatus.QUEUED and a.current == 0
    assert b.status == JobStatus.RUNNING and b.current == 3 and b.id == a.id
    assert b.terminal is False and a.copy(status=JobStatus.CANCELLED).terminal is True
