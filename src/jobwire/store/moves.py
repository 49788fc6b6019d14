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


#: A worker takes a due job: from the queue (a new attempt), or a waiting one whose webhook
#: came or whose poll or timeout is due (the same attempt goes on).
CLAIM = Move("claim", sources(S.RUNNING), frozenset({S.RUNNING}))
#: ...the first of them: a new attempt.
START = Move("start", frozenset({S.QUEUED}), frozenset({S.RUNNING}))
#: ...the second: a waiting attempt goes on.
RESUME = Move("resume", frozenset({S.WAITING}), frozenset({S.RUNNING}))
#: The attempt holding the lease reports progress (a waiting job holds no lease: it has
#: none to report).
REPORT = Move("report", ACTIVE, frozenset({S.RUNNING, S.WAITING}), stays=True)
#: A user cancels a queued or waiting job at once (a running one is only flagged: no status
#: change until its code stops).
CANCEL = Move("cancel", sources(S.CANCELLED) - {S.RUNNING}, frozenset({S.CANCELLED}))
#: A lease ran out: retried, failed (``worker_lost``) or, when asked, cancelled.
RECOVER = move("recover", S.QUEUED, S.FAILED, S.CANCELLED)
#: A worker shuts down: its jobs go back to the queue, or end cancelled when asked.
RELEASE = move("release", S.QUEUED, S.CANCELLED)
#: An attempt ends: terminal, or queued again for a retry (checked job by job with apply).
FINISH = move("finish", S.QUEUED, S.SUCCEEDED, S.FAILED, S.CANCELLED)

#: An attempt stops at a wait: it holds no worker until the wait can go on.
SUSPEND = Move("suspend", frozenset({S.RUNNING}), frozenset({S.WAITING}))

MOVES = (CLAIM, START, RESUME, REPORT, CANCEL, RECOVER, RELEASE, FINISH, SUSPEND)
