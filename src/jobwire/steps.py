"""Time per step: when each step of an attempt started and ended, and how long each step of a
task usually takes. Pure: no I/O (the worker gives the clock and the history).

An attempt's steps are recorded by its worker as the step it reports changes. When the
attempt stops at a wait, its step stays open (the waiting time counts in it); when the task
runs again from the top, the steps it goes through again (the replay) are not recorded twice.
"""

from __future__ import annotations

import statistics
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

#: Seconds a task's step history is reused before it is read again.
HISTORY_TTL = 30.0


@dataclass(frozen=True, slots=True)
class StepTime:
    """One step of an attempt. Times are UNIX seconds; ``started_at`` is None for a step the
    task declares that has not started yet, ``finished_at`` None while the step is open."""

    name: str
    started_at: float | None = None
    finished_at: float | None = None
    typical: float | None = None
    """How long this step of the task usually takes (the median of recent runs)."""

    @property
    def seconds(self) -> float | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return max(self.finished_at - self.started_at, 0.0)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "typical_seconds": self.typical,
        }

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> StepTime:
        return cls(
            str(value["name"]),
            value.get("started_at"),
            value.get("finished_at"),
            value.get("typical_seconds"),
        )


def steps_to_json(steps: Sequence[StepTime]) -> list[dict[str, Any]]:
    return [s.to_json() for s in steps]


def steps_from_json(value: Any) -> list[StepTime]:
    """Steps as stored (a list of objects); anything else is no steps."""
    if not isinstance(value, list):
        return []
    return [StepTime.from_json(v) for v in value if isinstance(v, dict) and "name" in v]


def durations(steps: Iterable[StepTime]) -> dict[str, float]:
    """Seconds per step name of the finished steps (a step run twice counts both times): what
    a succeeded run leaves in the task's history."""
    out: dict[str, float] = {}
    for s in steps:
        took = s.seconds
        if took is not None:
            out[s.name] = round(out.get(s.name, 0.0) + took, 3)
    return out


def typical_seconds(runs: Iterable[Mapping[str, float]]) -> dict[str, float]:
    """Median seconds per step over the step durations of past runs."""
    seen: dict[str, list[float]] = {}
    for run in runs:
        for name, took in run.items():
            if isinstance(took, int | float) and took >= 0 and took == took:
                seen.setdefault(name, []).append(float(took))
    return {name: round(statistics.median(values), 3) for name, values in seen.items()}


class TypicalSteps:
    """:func:`typical_seconds` of a task's recent runs, kept ``ttl`` seconds per task (a burst
    of claims does not read the history each time). ``history`` does the reading."""

    def __init__(
        self,
        history: Callable[[str], Iterable[Mapping[str, float]]],
        *,
        ttl: float = HISTORY_TTL,
        clock: Callable[[], float],
    ) -> None:
        self.history = history
        self.ttl = ttl
        self.clock = clock
        self._kept: dict[str, tuple[float, dict[str, float]]] = {}

    def __call__(self, task: str) -> dict[str, float]:
        now = self.clock()
        kept = self._kept.get(task)
        if kept is None or now - kept[0] > self.ttl:
            kept = (now, typical_seconds(self.history(task)))
            self._kept[task] = kept
        return kept[1]

    def forget(self, task: str) -> None:
        """The task has a new run in its history: read it again next time."""
        self._kept.pop(task, None)


class StepClock:
    """The steps of one attempt, as its worker records them.

    ``stored`` are the steps the store has for the attempt: none for a new attempt, those of
    the earlier runs when a waiting attempt goes on. Then step changes are ignored until the
    run gets back to the step that was open (or to a step it never went through), so that
    the replay neither restarts nor repeats a step.

    >>> t = iter([10.0, 12.5, 20.0])
    >>> c = StepClock([], declared=("a", "b"), typical={"b": 7.0}, clock=lambda: next(t))
    >>> c.change("a"), c.change("b"), c.close()
    (True, True, True)
    >>> [(s.name, s.seconds, s.typical) for s in c.listing()]
    [('a', 2.5, None), ('b', 7.5, 7.0)]
    """

    def __init__(
        self,
        stored: Sequence[StepTime],
        *,
        declared: Sequence[str] = (),
        typical: Mapping[str, float] | None = None,
        clock: Callable[[], float],
    ) -> None:
        self.clock = clock
        self.declared = tuple(declared)
        self.typical = dict(typical or {})
        self._steps = [s for s in stored if s.started_at is not None]
        opened = self._open()
        self._resume_at = opened.name if opened is not None else None
        self.replaying = bool(self._steps)
        self.dirty = True
        """Steps changed since :meth:`take` last gave them."""
        self._lock = threading.Lock()

    def _open(self) -> StepTime | None:
        if self._steps and self._steps[-1].finished_at is None:
            return self._steps[-1]
        return None

    def change(self, name: str | None) -> bool:
        """The attempt reports step ``name`` (None: no step). True when the steps changed."""
        with self._lock:
            opened = self._open()
            if opened is not None and opened.name == name:
                self.replaying = False
                return False
            if self.replaying:
                if name is None or any(s.name == name for s in self._steps):
                    return False  # a step of the earlier runs, done again on the way back
                self.replaying = False
            now = self.clock()
            if opened is not None:
                self._steps[-1] = StepTime(opened.name, opened.started_at, now, opened.typical)
            if name is not None:
                self._steps.append(StepTime(name, now, None, self.typical.get(name)))
            self.dirty = True
            return True

    def close(self) -> bool:
        """The attempt ended: its open step ends now. True when the steps changed."""
        with self._lock:
            opened = self._open()
            if opened is None:
                return False
            self._steps[-1] = StepTime(opened.name, opened.started_at, self.clock(), opened.typical)
            self.dirty = True
            return True

    def listing(self) -> list[StepTime]:
        """The steps so far, then the declared steps not reached yet (with their typical
        seconds, when known)."""
        with self._lock:
            out = [
                StepTime(s.name, s.started_at, s.finished_at, self.typical.get(s.name, s.typical))
                for s in self._steps
            ]
        seen = {s.name for s in out}
        out += [StepTime(n, typical=self.typical.get(n)) for n in self.declared if n not in seen]
        return out

    def take(self) -> list[StepTime] | None:
        """The steps to write when they changed since the last call, else None."""
        if not self.dirty:
            return None
        self.dirty = False
        return self.listing()

    def eta(self) -> float | None:
        """Seconds the open step has left by its typical duration (at least 0), or None."""
        opened = self._open()
        if opened is None or opened.started_at is None:
            return None
        typical = opened.typical if opened.typical is not None else self.typical.get(opened.name)
        if typical is None:
            return None
        return max(typical - (self.clock() - opened.started_at), 0.0)
