"""The status changes a store makes, declared once against the state machine.

Every store builds the ``status IN (…)`` of its updates from these (SQL ``WHERE``, or a set
test in memory), and ``tests/unit/test_moves.py`` checks each one against
:data:`~jobwire.status.TRANSITIONS` with :func:`~jobwire.status.check`. Finishes go through
:func:`~jobwire.status.apply` one by one instead, as a worker may send a late or repeated one.
Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..status import ACTIVE, JobStatus, sources

S = JobStatus


@dataclass(frozen=True, slots=True)
class Move:
    """Jobs in one of ``sources`` end in one of ``targets``."""

    name: str
    sources: frozenset[JobStatus]
    targets: frozenset[JobStatus]
    stays: bool = False
    """A job may also keep its status (a progress report keeps ``running``)."""

    @property
    def values(self) -> tuple[str, ...]:
        """The sources as the strings a store keeps, sorted (so SQL built from them is
        always the same text)."""
        return tuple(sorted(s.value for s in self.sources))


def move(name: str, *targets: JobStatus) -> Move:
    """The move to ``targets`` from every status that may reach all of them."""
    return Move(name, sources(*targets), frozenset(targets))


#: A worker takes a due job from the queue: a new attempt. (``waiting`` may also go to
#: ``running``, but that is its own attempt reporting, not a claim.)
CLAIM = Move("claim", sources(S.RUNNING) - ACTIVE, frozenset({S.RUNNING}))
#: The attempt holding the lease reports progress, and goes from running to waiting and back.
REPORT = Move("report", ACTIVE, frozenset({S.RUNNING, S.WAITING}), stays=True)
#: A user cancels a queued job at once (a running one is only flagged: no status change).
CANCEL = Move("cancel", sources(S.CANCELLED) - ACTIVE, frozenset({S.CANCELLED}))
#: A lease ran out: retried, failed (``worker_lost``) or, when asked, cancelled.
RECOVER = move("recover", S.QUEUED, S.FAILED, S.CANCELLED)
#: A worker shuts down: its jobs go back to the queue, or end cancelled when asked.
RELEASE = move("release", S.QUEUED, S.CANCELLED)
#: An attempt ends: terminal, or queued again for a retry (checked job by job with apply).
FINISH = move("finish", S.QUEUED, S.SUCCEEDED, S.FAILED, S.CANCELLED)

MOVES = (CLAIM, REPORT, CANCEL, RECOVER, RELEASE, FINISH)
