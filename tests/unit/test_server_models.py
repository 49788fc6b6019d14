"""The response models are derived from the TypedDicts the code builds, not written again."""

from __future__ import annotations

from typing import get_args, get_type_hints

import pytest

from jobwire.server.models import SnapshotModel, StreamMessage, SubmitAnswer, model_of
from jobwire.snapshot import JobRecord, Snapshot, StatusName, snapshot
from jobwire.status import JobStatus
from jobwire.wire import Message, MessageType


def test_the_snapshot_model_has_the_snapshots_keys_in_order() -> None:
    assert list(SnapshotModel.model_fields) == list(get_type_hints(Snapshot))
    assert list(SubmitAnswer.model_fields)[: len(Snapshot.__annotations__)] == list(
        get_type_hints(Snapshot)
    )
    assert list(StreamMessage.model_fields) == list(get_type_hints(Message))


def test_status_is_an_enum_of_the_six_statuses() -> None:
    assert list(get_args(StatusName)) == [status.value for status in JobStatus]
    schema = SnapshotModel.model_json_schema()
    assert schema["properties"]["status"]["enum"] == [status.value for status in JobStatus]
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) == set(Snapshot.__annotations__)
    message = StreamMessage.model_json_schema()
    assert message["properties"]["type"]["enum"] == list(get_args(MessageType))


def test_a_snapshot_is_a_valid_snapshot_model() -> None:
    record = JobRecord(id="j1", task="t", owner="o", status=JobStatus.FAILED, seq=3)
    record.error_code, record.error_message = "boom", "it broke"
    snap = snapshot(record)
    assert SnapshotModel.model_validate(snap).model_dump() == snap
    with pytest.raises(ValueError, match="extra"):
        SnapshotModel.model_validate({**snap, "surprise": 1})


def test_model_of_refuses_a_field_the_typeddict_lacks() -> None:
    with pytest.raises(TypeError, match="no colour"):
        model_of(Snapshot, "Wrong", None, colour=(str, ...))
