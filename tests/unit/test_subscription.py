"""Subscription: the bounded, coalescing queue between a bus and one listener."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jobwire.bus import MemoryBus, Subscription
from jobwire.snapshot import Event, JobRecord, make_event
from jobwire.status import JobStatus

TERMINAL = ("succeeded", "failed", "cancelled")


def event(job_id: str, seq: int, status: str = "running", kind: str = "progress") -> Event:
    record = JobRecord(id=job_id, task="t", owner="o", status=JobStatus(status), seq=seq)
    if status in TERMINAL:
        kind = "status"
    return make_event(record, kind)  # type: ignore[arg-type]


def keys(events: list[Event]) -> list[tuple[str, int]]:
    return [(e["job"]["id"], e["seq"]) for e in events]


def is_terminal(ev: Event) -> bool:
    return ev["kind"] == "status" and ev["job"]["status"] in TERMINAL


def make(maxlen: int = 8) -> Subscription:
    return Subscription(MemoryBus(), None, maxlen=maxlen)


def test_queue_and_read_in_order() -> None:
    sub = make()
    for seq in range(1, 6):
        sub.put(event("a", seq))
    assert sub.qsize() == 5
    assert sub.get(0)["seq"] == 1  # type: ignore[index]
    assert keys(sub.get_nowait_batch(2)) == [("a", 2), ("a", 3)]
    assert keys(sub.get_nowait_batch()) == [("a", 4), ("a", 5)]
    assert sub.get_nowait_batch() == [] and sub.get(0) is None
    assert sub.coalesced == 0


def test_get_waits_for_an_event_or_the_timeout() -> None:
    sub = make()
    started = time.monotonic()
    assert sub.get(0.05) is None
    assert time.monotonic() - started >= 0.04
    threading.Timer(0.05, lambda: sub.put(event("a", 1))).start()
    got = sub.get(5)
    assert got is not None and got["seq"] == 1


def test_full_queue_keeps_the_newest_event_of_each_job() -> None:
    sub = make(maxlen=4)
    for seq in range(1, 10):
        sub.put(event("a", seq))
        sub.put(event("b", seq))
    got = sub.get_nowait_batch()
    assert keys(got)[-2:] == [("a", 9), ("b", 9)]
    assert len(got) <= 4
    assert sub.coalesced == 18 - len(got)


def test_full_queue_never_drops_a_final_event_nor_reorders_a_job() -> None:
    sub = make(maxlen=4)
    sub.put(event("a", 1))
    sub.put(event("a", 2, "succeeded"))
    for seq in range(1, 50):
        sub.put(event("b", seq))
    sub.put(event("b", 50, "failed"))
    got = sub.get_nowait_batch()
    assert ("a", 2) in keys(got) and keys(got)[-1] == ("b", 50)
    assert [k for k in keys(got) if k[0] == "b"] == sorted(k for k in keys(got) if k[0] == "b")


def test_final_events_beyond_the_limit_are_all_kept() -> None:
    # A wildcard listener behind on more jobs than its buffer holds: every final event stays.
    sub = make(maxlen=4)
    for i in range(100):
        sub.put(event(f"job{i}", 1))
        sub.put(event(f"job{i}", 2, "cancelled"))
    got = sub.get_nowait_batch()
    assert sorted(e["job"]["id"] for e in got if is_terminal(e)) == sorted(
        f"job{i}" for i in range(100)
    )
    assert sub.coalesced > 0


class Counted(dict[str, Any]):
    """An event that counts how often it is read, in ``reads`` (shared by all of them)."""

    reads = [0]

    def __getitem__(self, key: str) -> Any:
        self.reads[0] += 1
        return super().__getitem__(key)


def test_coalescing_stays_cheap_when_it_cannot_shrink_the_queue() -> None:
    # 5,000 live jobs, each with one event: nothing can be coalesced away. The limit doubles
    # so the queue is not scanned on every put: each event is read a few times in all, not
    # once per later put (some 12 million reads). bench/hot_paths.py times it.
    sub = make(maxlen=16)
    events = [Counted(event(f"job{i}", 1)) for i in range(5_000)]
    Counted.reads[0] = 0
    for ev in events:
        sub.put(ev)  # type: ignore[arg-type]
    assert Counted.reads[0] <= 100 * len(events), f"{Counted.reads[0]:,} reads of the events"
    assert sub.qsize() == 5_000 and sub.coalesced == 0
    assert len(sub.get_nowait_batch()) == 5_000
    # Once drained, the buffer is back to its normal size.
    for seq in range(1, 100):
        sub.put(event("a", seq))
    assert sub.qsize() <= 16


def test_close_wakes_the_reader_and_ignores_later_events() -> None:
    bus = MemoryBus()
    sub = bus.subscribe("a")
    sub.put(event("a", 1))
    got: list[Any] = []
    sub.close()
    sub.put(event("a", 2))
    assert keys(sub.get_nowait_batch()) == [("a", 1)]  # what was queued can still be read

    sub2 = bus.subscribe("a")
    reader = threading.Thread(target=lambda: got.append(sub2.get(30)))
    reader.start()
    time.sleep(0.02)
    sub2.close()
    reader.join(5)
    assert got == [None]
    assert bus.stats()["subscriptions"] == 0 and bus._by_job == {}


def test_maxlen_must_be_positive() -> None:
    with pytest.raises(ValueError, match="maxlen"):
        make(maxlen=0)


def test_publishing_reaches_a_thousand_listeners() -> None:
    # How fast it does is measured by bench/hot_paths.py.
    bus = MemoryBus()
    subs = [bus.subscribe("a") for _ in range(500)] + [bus.subscribe() for _ in range(500)]
    ev = event("a", 1)
    for _ in range(100):
        bus.publish([ev])
    assert all(sub.qsize() == 100 for sub in subs)


def test_concurrent_producers_and_a_consumer() -> None:
    sub = make(maxlen=32)
    producers = 4
    per_producer = 2_000

    def produce(n: int) -> None:
        job = f"job{n}"
        for seq in range(1, per_producer):
            sub.put(event(job, seq))
        sub.put(event(job, per_producer, "succeeded"))

    got: list[Event] = []

    def consume() -> None:
        deadline = time.monotonic() + 20
        while sum(is_terminal(e) for e in got) < producers and time.monotonic() < deadline:
            first = sub.get(0.1)
            if first is not None:
                got.append(first)
                got.extend(sub.get_nowait_batch(16))

    threads = [threading.Thread(target=produce, args=(n,)) for n in range(producers)]
    reader = threading.Thread(target=consume)
    reader.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    reader.join()
    assert sum(is_terminal(e) for e in got) == producers
    assert len(got) + sub.coalesced == producers * per_producer
    for n in range(producers):
        seqs = [e["seq"] for e in got if e["job"]["id"] == f"job{n}"]
        assert seqs == sorted(seqs) and seqs[-1] == per_producer


@st.composite
def histories(draw: st.DrawFn) -> list[Event]:
    """Interleaved events of a few jobs: seq grows per job; some jobs end with a final one."""
    jobs = draw(st.integers(1, 6))
    lengths = [draw(st.integers(1, 40)) for _ in range(jobs)]
    ends = [draw(st.sampled_from((None, *TERMINAL))) for _ in range(jobs)]
    streams: list[list[Event]] = []
    for j, (length, end) in enumerate(zip(lengths, ends, strict=True)):
        kinds = draw(
            st.lists(
                st.sampled_from(("progress", "log", "status")), min_size=length, max_size=length
            )
        )
        stream = [event(f"j{j}", seq + 1, kind=kind) for seq, kind in enumerate(kinds)]
        if end is not None:
            stream.append(event(f"j{j}", length + 1, end))
        streams.append(stream)
    order = draw(st.permutations([j for j, s in enumerate(streams) for _ in s]))
    cursors = [0] * jobs
    merged: list[Event] = []
    for j in order:
        merged.append(streams[j][cursors[j]])
        cursors[j] += 1
    return merged


@settings(max_examples=100, deadline=None)
@given(history=histories(), maxlen=st.integers(1, 20), reads=st.integers(0, 5))
def test_coalescing_properties(history: list[Event], maxlen: int, reads: int) -> None:
    sub = make(maxlen=maxlen)
    got: list[Event] = []
    for i, ev in enumerate(history):
        sub.put(ev)
        if reads and i % (reads + 3) == 0:
            got.extend(sub.get_nowait_batch(reads))
    got.extend(sub.get_nowait_batch())

    position = {id(ev): i for i, ev in enumerate(history)}
    # Only skipping: what arrives is a subsequence of what was sent...
    indexes = [position[id(ev)] for ev in got]
    assert indexes == sorted(indexes) and len(set(indexes)) == len(indexes)
    # ...every final event arrives, and every job's newest state arrives.
    assert [e for e in history if is_terminal(e)] == [e for e in got if is_terminal(e)]
    last_of_job = {ev["job"]["id"]: id(ev) for ev in history}
    assert set(last_of_job.values()) <= {id(ev) for ev in got}
    assert len(got) + sub.coalesced == len(history)
    # The queue stays within its bound, or within twice the jobs it has to keep track of.
    jobs = len(last_of_job)
    terminals = sum(is_terminal(e) for e in history)
    sub2 = make(maxlen=maxlen)
    for ev in history:
        sub2.put(ev)
        assert sub2.qsize() <= max(maxlen, 2 * (jobs + terminals))
