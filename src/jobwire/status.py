"""Job statuses and the state machine. Pure: no I/O, no clock.

```
queued ──▶ running ──▶ succeeded
   │          │ ▲  └──▶ failed
   │          ▼ │  └──▶ cancelled
   │        waiting
   └──────────────────▶ cancelled
```

Terminal statuses are final. A transition that arrives late (from an older attempt, with an
older ``seq``, or after the job ended) or repeats the current status is *ignored* and counted;
a transition the diagram does not allow *raises* :class:`~jobwire.errors.IllegalTransition`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Literal

from .errors import IllegalTransition


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    WAITING = "waiting"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL


TERMINAL = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED})
LIVE = frozenset({JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.WAITING})
ACTIVE = frozenset({JobStatus.RUNNING, JobStatus.WAITING})

#: Allowed moves. running/waiting -> queued is a retry or a requeue after a lost worker or a
#: graceful shutdown; queued -> failed covers a job whose task is no longer registered.
TRANSITIONS: dict[JobStatus, frozenset[JobStatus]] = {
    JobStatus.QUEUED: frozenset({JobStatus.RUNNING, JobStatus.CANCELLED, JobStatus.FAILED}),
    JobStatus.RUNNING: frozenset(
        {
            JobStatus.SUCCEEDED,
            JobStatus.FAILED,
            JobStatus.CANCELLED,
            JobStatus.WAITING,
            JobStatus.QUEUED,
        }
    ),
    JobStatus.WAITING: frozenset(
        {
            JobStatus.RUNNING,
            JobStatus.SUCCEEDED,
            JobStatus.FAILED,
            JobStatus.CANCELLED,
            JobStatus.QUEUED,
        }
    ),
    JobStatus.SUCCEEDED: frozenset(),
    JobStatus.FAILED: frozenset(),
    JobStatus.CANCELLED: frozenset(),
}


def sources(*targets: JobStatus) -> frozenset[JobStatus]:
    """The statuses a job may move from to reach every one of ``targets``:
    ``sources(RUNNING) == {QUEUED, WAITING}``. The stores build the ``status IN (…)`` of
    their updates from it, so that SQL and this diagram cannot disagree."""
    if not targets:
        raise ValueError("Expected at least one target status, but got none")
    return frozenset(s for s, allowed in TRANSITIONS.items() if allowed.issuperset(targets))


IgnoreReason = Literal["terminal", "repeated", "stale_attempt", "stale_seq"]


@dataclass(frozen=True, slots=True)
class JobState:
    """The part of a job the state machine looks at."""

    status: JobStatus = JobStatus.QUEUED
    attempt: int = 0
    seq: int = 0


@dataclass(frozen=True, slots=True)
class Transition:
    """A request to move a job to ``to``, made by ``attempt`` (0 = not tied to an attempt,
    e.g. a cancel from a user) and carrying event ``seq`` (0 = let the machine assign one)."""

    to: JobStatus
    attempt: int = 0
    seq: int = 0


@dataclass(frozen=True, slots=True)
class Outcome:
    state: JobState
    applied: bool
    ignored: IgnoreReason | None = None


def check(state: JobState, transition: Transition) -> IgnoreReason | None:
    """Why ``transition`` must be ignored in ``state``, or None when it applies.

    Raises IllegalTransition when the move is not in the diagram.
    """
    if state.status in TERMINAL:
        return "terminal"
    if transition.attempt and transition.attempt < state.attempt:
        return "stale_attempt"
    if transition.seq and transition.seq <= state.seq:
        return "stale_seq"
    if transition.to == state.status:
        return "repeated"
    if transition.to not in TRANSITIONS[state.status]:
        raise IllegalTransition(
            f"A job cannot go from {state.status.value!r} to {transition.to.value!r}",
            from_status=state.status.value,
            to_status=transition.to.value,
        )
    return None


def apply(state: JobState, transition: Transition) -> Outcome:
    """Apply one transition: the new state, or the old one and why it was ignored."""
    reason = check(state, transition)
    if reason is not None:
        return Outcome(state, applied=False, ignored=reason)
    attempt = state.attempt
    if transition.to == JobStatus.RUNNING and state.status == JobStatus.QUEUED:
        attempt += 1  # every start from the queue is a new attempt
    seq = transition.seq or state.seq + 1
    return Outcome(replace(state, status=transition.to, attempt=attempt, seq=seq), applied=True)


class StateMachine:
    """Applies transitions to one job and counts the ones it ignored."""

    def __init__(self, state: JobState | None = None) -> None:
        self.state = state or JobState()
        self.ignored: Counter[str] = Counter()

    def send(self, transition: Transition) -> bool:
        outcome = apply(self.state, transition)
        if outcome.ignored:
            self.ignored[outcome.ignored] += 1
        self.state = outcome.state
        return outcome.applied
