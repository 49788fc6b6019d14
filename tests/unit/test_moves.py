"""Every status change the stores make is one the state machine allows.

The stores build their ``status IN (…)`` from :mod:`jobwire.store.moves`; these tests check
each move against ``TRANSITIONS`` with ``status.check``, and that the SQL statements carry
exactly those statuses.
"""

from __future__ import annotations

import pytest

from jobwire.status import (
    ACTIVE,
    TERMINAL,
    TRANSITIONS,
    JobState,
    JobStatus,
    Transition,
    check,
    sources,
)
from jobwire.store.moves import (
    CANCEL,
    CLAIM,
    FINISH,
    MOVES,
    RECOVER,
    RELEASE,
    REPORT,
    RESUME,
    START,
    SUSPEND,
    Move,
)

S = JobStatus


def test_sources_are_read_from_the_diagram() -> None:
    assert sources(S.RUNNING) == {S.QUEUED, S.WAITING}
    assert sources(S.WAITING) == {S.RUNNING}
    assert sources(S.QUEUED) == ACTIVE
    assert sources(S.CANCELLED) == {S.QUEUED, S.RUNNING, S.WAITING}
    assert sources(S.QUEUED, S.FAILED) == ACTIVE  # every target reachable
    for status in TERMINAL:
        assert status not in sources(*JobStatus)
    for to in JobStatus:
        assert sources(to) == {s for s in JobStatus if to in TRANSITIONS[s]}
    with pytest.raises(ValueError):
        sources()


@pytest.mark.parametrize("move", MOVES, ids=lambda m: m.name)
def test_every_move_is_allowed_by_the_state_machine(move: Move) -> None:
    assert move.sources and move.targets
    for source in move.sources:
        for target in move.targets:
            reason = check(JobState(source, attempt=1, seq=5), Transition(target))
            if move.stays and source == target:
                assert reason == "repeated"  # a progress report that keeps the status
            else:
                assert reason is None, (move.name, source, target)


def test_the_moves_are_the_ones_the_store_documents() -> None:
    assert CLAIM.sources == {S.QUEUED, S.WAITING} and CLAIM.targets == {S.RUNNING}
    assert START.sources == {S.QUEUED} and RESUME.sources == {S.WAITING}
    assert SUSPEND.sources == {S.RUNNING} and SUSPEND.targets == {S.WAITING}
    assert REPORT.sources == ACTIVE and REPORT.targets == ACTIVE
    assert CANCEL.sources == {S.QUEUED, S.WAITING} and CANCEL.targets == {S.CANCELLED}
    assert RECOVER.sources == ACTIVE and RECOVER.targets == {S.QUEUED, S.FAILED, S.CANCELLED}
    assert RELEASE.sources == ACTIVE and RELEASE.targets == {S.QUEUED, S.CANCELLED}
    assert FINISH.sources == ACTIVE and FINISH.targets == TERMINAL | {S.QUEUED}
    assert CLAIM.values == ("queued", "waiting")
    assert REPORT.values == ("running", "waiting")  # sorted: the SQL text never changes


def test_no_move_leaves_a_terminal_status() -> None:
    for move in MOVES:
        assert not move.sources & TERMINAL, move.name


def statuses_in(statement: object) -> set[str]:
    """The status values a compiled SQL statement compares with."""
    compiled = statement.compile()  # type: ignore[attr-defined]
    return {v for k, v in compiled.params.items() if k.startswith("status_")}


def test_the_sql_statements_are_built_from_the_moves() -> None:
    from jobwire.store.sql import statements as sql

    for move in MOVES:
        assert statuses_in(sql.status_in(move)) == set(move.values), move.name
    assert statuses_in(sql.CANDIDATES) == set(START.values)
    assert statuses_in(sql.WAKE_CANDIDATES) == set(RESUME.values)
    assert statuses_in(sql.CLAIM_IDS) == set(CLAIM.values)
    assert statuses_in(sql.CLAIM_ONE) == set(CLAIM.values)
    assert statuses_in(sql.REPORT_PROGRESS.whereclause) == set(REPORT.values)
    held = sql.held("w1", ["a"], RELEASE)
    assert set().union(*(statuses_in(c) for c in held)) == set(RELEASE.values)
