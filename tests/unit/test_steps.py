"""StepClock: steps timed as they change, the open one kept over a wait, the replay of a
resumed attempt not recording its earlier steps again; typical seconds from history."""

from __future__ import annotations

from jobwire.steps import (
    StepClock,
    StepTime,
    durations,
    steps_from_json,
    steps_to_json,
    typical_seconds,
)
from tests.conftest import FakeClock


def timed(clock: StepClock) -> list[tuple[str, float | None, float | None]]:
    return [(s.name, s.started_at, s.finished_at) for s in clock.listing()]


def test_steps_open_and_close_as_they_change() -> None:
    t = FakeClock(100.0)
    c = StepClock([], declared=("a", "b", "c"), typical={"c": 5.0}, clock=t)
    assert c.take() is not None and c.take() is None  # written once, then when changed
    assert c.change("a") is True
    t.advance(2)
    assert c.change("a") is False
    assert c.change("b") is True
    t.advance(1)
    assert c.change(None) is True  # no step: the last one ends
    assert timed(c) == [("a", 100.0, 102.0), ("b", 102.0, 103.0), ("c", None, None)]
    assert c.listing()[2].typical == 5.0
    assert c.close() is False


def test_a_resumed_attempt_replays_without_recording_again() -> None:
    t = FakeClock(200.0)
    stored = [StepTime("submit", 100.0, 101.0), StepTime("dreaming", 101.0)]
    c = StepClock(stored, typical={"dreaming": 70.0}, clock=t)
    assert c.eta() == 0.0  # 99 s in a step that usually takes 70
    assert c.change("submit") is False  # replayed
    assert c.change("dreaming") is False  # back where it waited: the replay is over
    assert c.change("submit") is True  # now a real change
    assert [s.name for s in c.listing()] == ["submit", "dreaming", "submit"]
    assert c.listing()[1].finished_at == 200.0


def test_a_replay_that_reaches_a_new_step_ends_the_open_one() -> None:
    t = FakeClock(300.0)
    stored = [StepTime("submit", 100.0, 101.0), StepTime("dreaming", 101.0)]
    c = StepClock(stored, clock=t)
    assert c.change("submit") is False
    assert c.change("download") is True  # the wait's step was set without a report
    assert timed(c) == [
        ("submit", 100.0, 101.0),
        ("dreaming", 101.0, 300.0),
        ("download", 300.0, None),
    ]


def test_json_durations_and_typical_seconds() -> None:
    steps = [StepTime("a", 1.0, 3.0, 2.0), StepTime("b", 3.0), StepTime("a", 4.0, 5.0)]
    assert steps_from_json(steps_to_json(steps)) == steps
    assert steps_from_json(None) == [] and steps_from_json([{"x": 1}]) == []
    assert durations(steps) == {"a": 3.0}
    assert typical_seconds([{"a": 1.0}, {"a": 3.0, "b": 2.0}, {"a": 10.0}]) == {
        "a": 3.0,
        "b": 2.0,
    }
