"""Progress: throttling, steps, flush, cancellation and iteration, with a fake clock."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import pairwise
from typing import Any

import pytest

from jobwire.errors import JobCancelled
from jobwire.progress import MAX_LOG_LINES, Progress

INTERVAL = 0.1


class Recorder:
    """A sink that keeps what each event carried."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def __call__(self, progress: Progress, kind: str, log: str | None) -> None:
        self.events.append({"kind": kind, "log": log, **progress.state})

    def kinds(self) -> list[str]:
        return [e["kind"] for e in self.events]

    @property
    def last(self) -> dict[str, Any]:
        return self.events[-1]


@pytest.fixture
def sink() -> Recorder:
    return Recorder()


@pytest.fixture
def progress(sink: Recorder, clock) -> Progress:
    return Progress("job-1", sink=sink, interval=INTERVAL, clock=clock)


def _gen(n: int) -> Iterator[int]:
    yield from range(n)


# -- throttling -----------------------------------------------------------------------


def test_first_update_emits(progress: Progress, sink: Recorder) -> None:
    progress.update(1, total=10, message="hello")
    assert sink.events == [
        {
            "kind": "progress",
            "log": None,
            "current": 1,
            "total": 10,
            "step": None,
            "message": "hello",
        }
    ]


def test_a_burst_within_one_interval_gives_one_event(
    progress: Progress, sink: Recorder, clock
) -> None:
    for i in range(1, 501):
        progress.update(i, total=500)
        clock.advance(INTERVAL / 1000)  # 500 calls span half an interval
    assert len(sink.events) == 1
    assert sink.last["current"] == 1
    assert progress.current == 500  # the counters are current even when not sent

    clock.advance(INTERVAL)
    progress.advance()
    assert len(sink.events) == 2
    assert sink.last["current"] == 501


def test_advance_is_throttled_too(progress: Progress, sink: Recorder, clock) -> None:
    for _ in range(100):
        progress.advance(2)
    assert len(sink.events) == 1
    assert progress.current == 200
    clock.advance(INTERVAL * 1.5)
    progress.advance(2)
    assert [e["current"] for e in sink.events] == [2, 202]


def test_steady_calls_give_at_most_one_event_per_interval(clock) -> None:
    # 10 seconds of calls every millisecond: about 100 events, never two within an interval.
    times: list[float] = []
    progress = Progress(
        "j", sink=lambda p, kind, log: times.append(clock()), interval=INTERVAL, clock=clock
    )
    for i in range(10_000):
        progress.update(i)
        clock.advance(0.001)
    gaps = [b - a for a, b in pairwise(times)]
    assert min(gaps) >= INTERVAL - 1e-9
    assert 90 <= len(times) <= 101


def test_every_step_change_emits(progress: Progress, sink: Recorder) -> None:
    progress.update(0, total=10)  # first event
    progress.step("init")
    progress.step("processing", total=500)
    progress.update(5, step="processing")  # same step: throttled
    progress.update(6, step="aggregating")  # a new step through update
    progress.step("saving")
    assert [e["step"] for e in sink.events] == [None, "init", "processing", "aggregating", "saving"]
    assert sink.events[2]["current"] == 0 and sink.events[2]["total"] == 500
    assert sink.events[3]["current"] == 6


def test_step_without_total_keeps_the_counters(progress: Progress, sink: Recorder) -> None:
    progress.update(7, total=9)
    progress.step("saving", message="writing")
    assert sink.last == {
        "kind": "progress",
        "log": None,
        "current": 7,
        "total": 9,
        "step": "saving",
        "message": "writing",
    }


def test_update_with_none_keeps_fields(progress: Progress) -> None:
    progress.update(3, total=10, message="m", step="s")
    progress.update(message="n")
    assert progress.state == {"current": 3, "total": 10, "step": "s", "message": "n"}


# -- flush ----------------------------------------------------------------------------


def test_flush_sends_held_back_state_only_after_the_interval(
    progress: Progress, sink: Recorder, clock
) -> None:
    for i in range(1, 51):
        progress.update(i, total=50)
    assert len(sink.events) == 1
    assert progress.flush() is False  # still within the interval
    clock.advance(INTERVAL / 2)
    assert progress.flush() is False
    assert len(sink.events) == 1
    clock.advance(INTERVAL)
    assert progress.flush() is True
    assert len(sink.events) == 2
    assert sink.last["current"] == 50
    # Nothing new held back: nothing to send, however long we wait.
    clock.advance(10 * INTERVAL)
    assert progress.flush() is False
    assert len(sink.events) == 2


def test_flush_without_changes_sends_nothing(progress: Progress, sink: Recorder, clock) -> None:
    assert progress.flush() is False
    progress.update(1)
    clock.advance(1.0)
    assert progress.flush() is False
    assert len(sink.events) == 1


def test_an_event_after_a_burst_clears_the_held_back_state(
    progress: Progress, sink: Recorder, clock
) -> None:
    progress.update(1)
    progress.update(2)  # held back
    progress.step("next")  # forced: carries current=2
    assert sink.last["current"] == 2
    clock.advance(1.0)
    assert progress.flush() is False


# -- logs -----------------------------------------------------------------------------


def test_log_lines_are_sent_unthrottled(progress: Progress, sink: Recorder) -> None:
    progress.update(1)
    progress.log("one")
    progress.log(2)  # type: ignore[arg-type]
    assert [(e["kind"], e["log"]) for e in sink.events] == [
        ("progress", None),
        ("log", "one"),
        ("log", "2"),
    ]


def test_log_is_capped(progress: Progress, sink: Recorder) -> None:
    for i in range(MAX_LOG_LINES + 25):
        progress.log(f"line {i}")
    logs = [e["log"] for e in sink.events if e["kind"] == "log"]
    assert MAX_LOG_LINES == 1000
    assert len(logs) == MAX_LOG_LINES
    assert logs[0] == "line 0" and logs[-1] == f"line {MAX_LOG_LINES - 1}"
    # Progress still flows after the cap.
    progress.step("after")
    assert sink.last["kind"] == "progress" and sink.last["step"] == "after"


# -- cancellation ---------------------------------------------------------------------


def test_cancel_makes_every_call_raise(progress: Progress) -> None:
    progress.update(1, total=10)
    assert progress.cancelled is False
    progress.check()  # no-op before a cancel
    progress.request_cancel()
    assert progress.cancelled is True
    calls = [
        lambda: progress.update(2),
        lambda: progress.update(message="x"),
        lambda: progress.advance(),
        lambda: progress.step("saving"),
        lambda: progress.log("text"),
        lambda: progress.check(),
        lambda: progress.iter([1, 2, 3]),
    ]
    for call in calls:
        with pytest.raises(JobCancelled):
            call()
    assert progress.current == 1  # nothing was counted after the cancel


def test_cancel_stops_an_unsized_iteration_at_the_next_item(progress: Progress) -> None:
    seen: list[int] = []
    with pytest.raises(JobCancelled):
        for item in progress.iter(_gen(100)):
            seen.append(item)
            if item == 5:
                progress.request_cancel()
    assert seen == [0, 1, 2, 3, 4, 5]


def test_cancel_stops_a_sized_iteration_of_slow_items_at_the_next_item(
    progress: Progress, clock
) -> None:
    seen: list[int] = []
    with pytest.raises(JobCancelled):
        for item in progress.iter(list(range(100))):
            clock.advance(INTERVAL / 2)  # each item takes half an interval of work
            seen.append(item)
            if item == 5:
                progress.request_cancel()
    assert seen == [0, 1, 2, 3, 4, 5]


def test_cancel_stops_a_sized_iteration_of_fast_items_soon(progress: Progress) -> None:
    # Fast items flow in chunks; the cancel is seen at the end of the current chunk.
    seen: list[int] = []
    with pytest.raises(JobCancelled):
        for item in progress.iter(range(100_000)):
            seen.append(item)
            if item == 100:
                progress.request_cancel()
    assert seen[:101] == list(range(101))
    assert len(seen) - 101 <= 101


def test_cancel_source_is_asked_after_each_event(sink: Recorder, clock) -> None:
    flag = {"cancel": False}
    progress = Progress(
        "j", sink=sink, interval=INTERVAL, clock=clock, cancel_source=lambda: flag["cancel"]
    )
    progress.update(1)
    assert not progress.cancelled
    flag["cancel"] = True
    progress.update(2)  # throttled: no event, so the source is not asked yet
    assert not progress.cancelled
    clock.advance(INTERVAL * 2)
    progress.update(3)  # an event: the source is asked
    assert progress.cancelled
    with pytest.raises(JobCancelled):
        progress.advance()


# -- iteration ------------------------------------------------------------------------


@pytest.mark.parametrize("n", [0, 1, 2, 7, 1000, 5000])
def test_iter_sized_yields_every_item_in_order(progress: Progress, sink: Recorder, n: int) -> None:
    items = [f"item{i}" for i in range(n)]
    out = []
    for item in progress.iter(items):
        # While an item is handled, the ones before it are counted done.
        assert progress.current <= len(out)
        out.append(item)
    assert out == items
    assert progress.current == n
    assert progress.total == n
    currents = [e["current"] for e in sink.events]
    assert currents == sorted(currents)


@pytest.mark.parametrize("n", [0, 1, 3, 1000])
def test_iter_unsized_yields_every_item_in_order(progress: Progress, n: int) -> None:
    out = []
    for item in progress.iter(_gen(n)):
        assert progress.current == len(out)
        out.append(item)
    assert out == list(range(n))
    assert progress.current == n
    assert progress.total is None


def test_iter_unsized_with_a_total(progress: Progress, sink: Recorder) -> None:
    assert list(progress.iter(_gen(4), total=4, step="reading")) == [0, 1, 2, 3]
    assert progress.total == 4 and progress.current == 4
    assert sink.events[0]["step"] == "reading" and sink.events[0]["total"] == 4


def test_iter_over_dict_and_range(progress: Progress) -> None:
    data = {"a": 1, "b": 2, "c": 3}
    assert list(progress.iter(data)) == ["a", "b", "c"]
    assert progress.current == progress.total == 3
    assert list(progress.iter(range(10, 20))) == list(range(10, 20))
    assert progress.current == progress.total == 10


def test_iter_restarts_the_counter_and_emits_its_step(progress: Progress, sink: Recorder) -> None:
    progress.update(40, total=40, step="loading")
    list(progress.iter(range(5), step="processing"))
    step_events = [e for e in sink.events if e["step"] == "processing"]
    assert step_events[0]["current"] == 0 and step_events[0]["total"] == 5
    assert progress.current == 5 and progress.step_name == "processing"


def test_flush_after_iteration_reports_the_final_count(
    progress: Progress, sink: Recorder, clock
) -> None:
    for _ in progress.iter(range(300)):
        pass
    clock.advance(INTERVAL)
    progress.flush()
    assert sink.last["current"] == 300 and sink.last["total"] == 300


@pytest.mark.parametrize("make", [list, _gen], ids=["sized", "unsized"])
def test_iter_works_with_break(progress: Progress, make) -> None:
    seen = []
    for item in progress.iter(make(range(50)) if make is list else make(50)):
        seen.append(item)
        if item == 9:
            break
    assert seen == list(range(10))
    assert progress.current <= 10
    # The progress object is still usable, and a new iteration starts from 0.
    progress.update(message="after break")
    assert list(progress.iter(make(range(3)) if make is list else make(3))) == [0, 1, 2]
    assert progress.current == 3


def test_a_progress_outside_a_worker_discards_events() -> None:
    progress = Progress()
    progress.step("init", total=3)
    assert list(progress.iter([1, 2, 3])) == [1, 2, 3]
    progress.log("nobody listens")
    assert progress.state == {"current": 3, "total": 3, "step": "init", "message": None}
