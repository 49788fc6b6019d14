"""The job state machine: allowed and illegal moves, terminal finality, late events."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jobwire.errors import IllegalTransition, JobwireError
from jobwire.status import (
    ACTIVE,
    LIVE,
    TERMINAL,
    TRANSITIONS,
    JobState,
    JobStatus,
    StateMachine,
    Transition,
    apply,
    check,
)

S = JobStatus

ALLOWED = [
    (S.QUEUED, S.RUNNING),
    (S.QUEUED, S.CANCELLED),
    (S.QUEUED, S.FAILED),
    (S.RUNNING, S.SUCCEEDED),
    (S.RUNNING, S.FAILED),
    (S.RUNNING, S.CANCELLED),
    (S.RUNNING, S.WAITING),
    (S.RUNNING, S.QUEUED),
    (S.WAITING, S.RUNNING),
    (S.WAITING, S.SUCCEEDED),
    (S.WAITING, S.FAILED),
    (S.WAITING, S.CANCELLED),
    (S.WAITING, S.QUEUED),
]

ILLEGAL = [
    (S.QUEUED, S.SUCCEEDED),
    (S.QUEUED, S.WAITING),
]


def test_status_sets() -> None:
    assert {S.SUCCEEDED, S.FAILED, S.CANCELLED} == TERMINAL
    assert {S.QUEUED, S.RUNNING, S.WAITING} == LIVE
    assert {S.RUNNING, S.WAITING} == ACTIVE
    assert TERMINAL.isdisjoint(LIVE)
    assert set(TRANSITIONS) == set(S)
    for status in S:
        assert status.terminal == (status in TERMINAL)


def test_status_is_a_string() -> None:
    assert S.RUNNING == "running"
    assert str(S.RUNNING) == "running"
    assert S("cancelled") is S.CANCELLED


def test_the_table_is_exactly_the_diagram() -> None:
    allowed = {(a, b) for a, targets in TRANSITIONS.items() for b in targets}
    assert allowed == set(ALLOWED)


@pytest.mark.parametrize(("start", "to"), ALLOWED)
def test_allowed_transition_applies(start: JobStatus, to: JobStatus) -> None:
    state = JobState(status=start, attempt=1, seq=5)
    outcome = apply(state, Transition(to))
    assert outcome.applied
    assert outcome.ignored is None
    assert outcome.state.status == to
    assert outcome.state.seq == 6


@pytest.mark.parametrize(("start", "to"), ILLEGAL)
def test_illegal_transition_raises(start: JobStatus, to: JobStatus) -> None:
    with pytest.raises(IllegalTransition) as info:
        apply(JobState(status=start), Transition(to))
    err = info.value
    assert isinstance(err, JobwireError)
    assert err.code == "illegal_transition"
    assert err.details == {"from_status": start.value, "to_status": to.value}
    assert start.value in err.message and to.value in err.message


@pytest.mark.parametrize("terminal", sorted(TERMINAL))
@pytest.mark.parametrize("to", list(S))
def test_terminal_is_final(terminal: JobStatus, to: JobStatus) -> None:
    machine = StateMachine(JobState(status=terminal, attempt=2, seq=9))
    assert machine.send(Transition(to, attempt=2, seq=10)) is False
    assert machine.state == JobState(status=terminal, attempt=2, seq=9)
    assert machine.ignored == {"terminal": 1}


def test_start_from_queue_is_a_new_attempt() -> None:
    outcome = apply(JobState(S.QUEUED, attempt=0, seq=1), Transition(S.RUNNING))
    assert outcome.state == JobState(S.RUNNING, attempt=1, seq=2)
    # Resuming from waiting is the same attempt.
    outcome = apply(JobState(S.WAITING, attempt=1, seq=4), Transition(S.RUNNING, attempt=1))
    assert outcome.state == JobState(S.RUNNING, attempt=1, seq=5)


def test_retry_cycle() -> None:
    machine = StateMachine()
    assert machine.send(Transition(S.RUNNING))
    assert machine.send(Transition(S.QUEUED, attempt=1))
    assert machine.send(Transition(S.RUNNING))
    assert machine.state.attempt == 2
    # A late failure from attempt 1 must not end attempt 2.
    assert not machine.send(Transition(S.FAILED, attempt=1))
    assert machine.state.status == S.RUNNING
    assert machine.send(Transition(S.SUCCEEDED, attempt=2))
    assert machine.state == JobState(S.SUCCEEDED, attempt=2, seq=4)
    assert machine.ignored == {"stale_attempt": 1}


def test_repeated_status_is_ignored_and_counted() -> None:
    machine = StateMachine(JobState(S.RUNNING, attempt=1, seq=3))
    assert not machine.send(Transition(S.RUNNING, attempt=1))
    assert not machine.send(Transition(S.RUNNING))
    assert machine.state == JobState(S.RUNNING, attempt=1, seq=3)
    assert machine.ignored == {"repeated": 2}


def test_stale_seq_is_ignored() -> None:
    machine = StateMachine(JobState(S.RUNNING, attempt=1, seq=7))
    assert not machine.send(Transition(S.SUCCEEDED, seq=7))
    assert not machine.send(Transition(S.SUCCEEDED, seq=3))
    assert machine.state.status == S.RUNNING
    assert machine.ignored == {"stale_seq": 2}
    # A newer seq is taken as the new seq, not state.seq + 1.
    assert machine.send(Transition(S.SUCCEEDED, seq=20))
    assert machine.state == JobState(S.SUCCEEDED, attempt=1, seq=20)


def test_stale_event_is_ignored_even_if_it_would_be_illegal() -> None:
    # A late "succeeded" from an old attempt arrives while the retry is queued: it is
    # ignored as stale, not raised as queued -> succeeded.
    state = JobState(S.QUEUED, attempt=2, seq=8)
    assert check(state, Transition(S.SUCCEEDED, attempt=1)) == "stale_attempt"
    assert check(state, Transition(S.SUCCEEDED, seq=8)) == "stale_seq"


def test_user_cancel_is_not_tied_to_an_attempt() -> None:
    machine = StateMachine(JobState(S.RUNNING, attempt=3, seq=10))
    assert machine.send(Transition(S.CANCELLED))  # attempt=0: from a user
    assert machine.state == JobState(S.CANCELLED, attempt=3, seq=11)


def test_ignored_counts_accumulate_by_reason() -> None:
    machine = StateMachine(JobState(S.RUNNING, attempt=2, seq=5))
    machine.send(Transition(S.RUNNING))  # repeated
    machine.send(Transition(S.FAILED, attempt=1))  # stale attempt
    machine.send(Transition(S.FAILED, seq=2))  # stale seq
    machine.send(Transition(S.FAILED, attempt=2))  # applied
    machine.send(Transition(S.RUNNING))  # terminal
    machine.send(Transition(S.QUEUED))  # terminal
    assert machine.ignored == {"repeated": 1, "stale_attempt": 1, "stale_seq": 1, "terminal": 2}
    assert machine.state.status == S.FAILED


def test_illegal_send_leaves_the_machine_untouched() -> None:
    machine = StateMachine()
    with pytest.raises(IllegalTransition):
        machine.send(Transition(S.SUCCEEDED))
    assert machine.state == JobState()
    assert sum(machine.ignored.values()) == 0


# -- properties ---------------------------------------------------------------------------

transitions = st.builds(
    Transition,
    to=st.sampled_from(list(S)),
    attempt=st.integers(min_value=0, max_value=6),
    seq=st.one_of(st.just(0), st.integers(min_value=0, max_value=40)),
)

states = st.builds(
    JobState,
    status=st.sampled_from(list(S)),
    attempt=st.integers(min_value=0, max_value=5),
    seq=st.integers(min_value=0, max_value=30),
)


def _expected(state: JobState, t: Transition) -> str:
    """An independent statement of the rules: 'apply', 'raise' or the ignore reason."""
    if state.status in TERMINAL:
        return "terminal"
    if 0 < t.attempt < state.attempt:
        return "stale_attempt"
    if 0 < t.seq <= state.seq:
        return "stale_seq"
    if t.to == state.status:
        return "repeated"
    return "apply" if t.to in TRANSITIONS[state.status] else "raise"


@settings(deadline=None)  # pure and fast; a loaded CI machine must not make it flaky
@given(state=states, transition=transitions)
def test_apply_matches_the_rules(state: JobState, transition: Transition) -> None:
    expected = _expected(state, transition)
    if expected == "raise":
        with pytest.raises(IllegalTransition):
            apply(state, transition)
        assert transition.to not in TRANSITIONS[state.status]
        return
    outcome = apply(state, transition)
    if expected == "apply":
        assert outcome.applied and outcome.ignored is None
        assert outcome.state.status == transition.to
        assert outcome.state.seq > state.seq
        assert outcome.state.seq == (transition.seq or state.seq + 1)
        bump = state.status == S.QUEUED and transition.to == S.RUNNING
        assert outcome.state.attempt == state.attempt + (1 if bump else 0)
    else:
        assert not outcome.applied
        assert outcome.ignored == expected
        assert outcome.state == state


@settings(deadline=None)  # pure and fast; a loaded CI machine must not make it flaky
@given(events=st.lists(transitions, max_size=60))
def test_random_sequences_keep_the_invariants(events: list[Transition]) -> None:
    machine = StateMachine()
    reached_terminal: JobState | None = None
    applied = ignored = raised = 0
    for t in events:
        before = machine.state
        try:
            changed = machine.send(t)
        except IllegalTransition:
            raised += 1
            assert t.to not in TRANSITIONS[before.status]
            assert before.status not in TERMINAL
            assert machine.state == before
            continue
        after = machine.state
        # seq never decreases, and strictly grows on every applied transition.
        assert after.seq >= before.seq
        # attempt never decreases.
        assert after.attempt >= before.attempt
        if changed:
            applied += 1
            assert after.seq > before.seq
            assert after.status == t.to
            assert t.to in TRANSITIONS[before.status]
        else:
            ignored += 1
            assert after == before
        # Terminal statuses never change once reached.
        if reached_terminal is not None:
            assert after == reached_terminal
        elif after.status in TERMINAL:
            reached_terminal = after
    assert sum(machine.ignored.values()) == ignored
    assert applied + ignored + raised == len(events)
