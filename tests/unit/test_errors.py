"""Each error class carries its code and HTTP status; the server and the client derive from them."""

from __future__ import annotations

import pytest

from jobwire import errors as e
from jobwire.client import error_from


def _all_classes() -> list[type[e.JobwireError]]:
    found: list[type[e.JobwireError]] = []
    todo: list[type[e.JobwireError]] = [e.JobwireError]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return found


@pytest.mark.parametrize("cls", _all_classes(), ids=lambda c: c.__name__)
def test_every_error_round_trips_through_its_code(cls: type[e.JobwireError]) -> None:
    assert 400 <= cls.status < 600
    rebuilt = error_from(cls.code, "the message", {"job_id": "j1"})
    assert type(rebuilt) is e.registry()[cls.code]
    assert rebuilt.code == cls.code
    assert rebuilt.message == "the message"
    assert rebuilt.details == {"job_id": "j1"}


def test_codes_are_unique() -> None:
    codes = [cls.code for cls in _all_classes()]
    assert len(codes) == len(set(codes))


def test_the_client_knows_duplicate_job() -> None:
    assert isinstance(error_from("duplicate_job", "taken"), e.DuplicateJob)
