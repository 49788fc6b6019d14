"""CoalescingQueue: the one rule by which a slow reader of job events skips ahead, shared by
bus subscriptions (threads) and the server's stream listeners (the event loop)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jobwire.bus import MemoryBus, Subscription
from jobwire.coalesce import LISTENER_BUFFER, CoalescingQueue
from jobwire.server.hub import Hub, Listener
from jobwire.snapshot import Event, JobRecord, make_event
from jobwire.status import JobStatus
from jobwire.wire import encode, is_terminal, message

Item = tuple[str, int, bool]  # (job id, seq, final): items that are their own facts


def facts(item: Item) -> Item:
    return item


def make(maxlen: int = 4) -> CoalescingQueue[Item]:
    return CoalescingQueue(facts, maxlen)


def test_a_reader_that_keeps_up_gets_everything_in_order() -> None:
    queue = make(maxlen=4)
    for seq in range(1, 4):
        queue.put(("a", seq, False))
    assert len(queue) == 3 and queue
    assert queue.get() == ("a", 1, False)
    queue.put(("a", 4, True))
    assert queue.take(1) == [("a", 2, False)]
    assert queue.take() == [("a", 3, False), ("a", 4, True)]
    assert queue.get() is None and queue.take() == [] and not queue
    assert queue.coalesced == 0


def test_past_its_bound_it_keeps_the_newest_of_each_job_and_every_final_one() -> None:
    queue = make(maxlen=4)
    for item in [
        ("a", 1, False),
        ("b", 1, False),
        ("a", 2, False),
        ("c", 1, True),
        ("b", 2, False),
    ]:
        queue.put(item)
    assert queue.take() == [("a", 2, False), ("c", 1, True), ("b", 2, False)]
    assert queue.coalesced == 2


def test_a_quiet_job_keeps_its_only_snapshot_among_busy_ones() -> None:
    # What dropping the oldest item would lose: the newest (only) state of job "quiet".
    queue = make(maxlen=4)
    queue.put(("quiet", 7, False))
    for seq in range(1, 50):
        queue.put(("busy", seq, False))
    assert queue.take() == [("quiet", 7, False), ("busy", 49, False)]


def test_a_late_older_event_is_the_one_dropped() -> None:
    # Two processes publish for one job: seq 5 arrives before seq 3. The newest snapshot is
    # the highest seq, not the last to arrive, and a reader never goes back to 3 after 5.
    queue = make(maxlen=2)
    queue.put(("a", 5, False))
    queue.put(("a", 3, False))
    queue.put(("b", 1, False))
    assert queue.take() == [("a", 5, False), ("b", 1, False)]
    queue.put(("a", 9, True))
    queue.put(("a", 8, False))
    queue.put(("a", 7, False))
    assert queue.take() == [("a", 9, True)]


def test_the_bound_doubles_while_it_cannot_shrink_and_comes_back_once_drained() -> None:
    queue = make(maxlen=4)
    for i in range(100):  # 100 live jobs, one event each: nothing to drop
        queue.put((f"job{i}", 1, False))
    assert len(queue) == 100 and queue.coalesced == 0
    assert len(queue.take()) == 100
    for seq in range(1, 20):
        queue.put(("a", seq, False))
    assert len(queue) <= 4


def test_items_are_looked_at_only_when_the_queue_coalesces() -> None:
    # put() is on the hot path of every event to every listener: an append and a length check.
    looked: list[Item] = []

    def counting(item: Item) -> Item:
        looked.append(item)
        return item

    queue: CoalescingQueue[Item] = CoalescingQueue(counting, 8)
    for seq in range(1, 9):
        queue.put(("a", seq, False))
    assert looked == []
    queue.put(("a", 9, False))
    assert len(looked) == 9 and queue.take() == [("a", 9, False)]


def test_maxlen_must_be_positive() -> None:
    with pytest.raises(ValueError, match="maxlen"):
        make(maxlen=0)


@st.composite
def histories(draw: st.DrawFn) -> list[Item]:
    """Events of a few jobs, interleaved; a job's seqs mostly grow but may arrive out of
    order (several publishers); some jobs end with a final event."""
    jobs = draw(st.integers(1, 5))
    streams: list[list[Item]] = []
    for j in range(jobs):
        length = draw(st.integers(1, 30))
        seqs = list(range(1, length + 1))
        if draw(st.booleans()):  # a few swapped neighbours
            for i in draw(st.lists(st.integers(0, max(length - 2, 0)), max_size=3)):
                if i + 1 < length:
                    seqs[i], seqs[i + 1] = seqs[i + 1], seqs[i]
        stream = [(f"j{j}", seq, False) for seq in seqs]
        if draw(st.booleans()):
            stream.append((f"j{j}", length + 1, True))
        streams.append(stream)
    order = draw(st.permutations([j for j, s in enumerate(streams) for _ in s]))
    cursors = [0] * jobs
    merged: list[Item] = []
    for j in order:
        merged.append(streams[j][cursors[j]])
        cursors[j] += 1
    return merged


@settings(max_examples=200, deadline=None)
@given(history=histories(), maxlen=st.integers(1, 12), reads=st.integers(0, 4))
def test_the_rule_holds_whatever_the_history(history: list[Item], maxlen: int, reads: int) -> None:
    queue = make(maxlen=maxlen)
    got: list[Item] = []
    for i, item in enumerate(history):
        queue.put(item)
        assert len(queue) <= max(maxlen, 2 * len(history))
        if reads and i % (reads + 2) == 0:
            got.extend(queue.take(reads))
    got.extend(queue.take())

    # Only skipping: what arrives is what was sent, in the order it was sent...
    where = [history.index(item) for item in got]
    assert where == sorted(where) and len(set(where)) == len(where)
    assert len(got) + queue.coalesced == len(history)
    # ...every final event arrives, and the highest seq of every job.
    assert [i for i in history if i[2]] == [i for i in got if i[2]]
    for job in {i[0] for i in history}:
        assert max(s for j, s, _ in history if j == job) == max(s for j, s, _ in got if j == job)


# -- the two wrappers apply the same rule ------------------------------------------------


def event(job_id: str, seq: int, status: str = "running") -> Event:
    record = JobRecord(id=job_id, task="t", owner="o", status=JobStatus(status), seq=seq)
    return make_event(record, "status" if status != "running" else "progress")


HISTORY = [
    event("a", 1),
    event("quiet", 4),
    *(event("a", seq) for seq in range(2, 12)),
    event("b", 1),
    event("b", 2, "succeeded"),
    *(event("a", seq) for seq in range(12, 30)),
    event("a", 30, "failed"),
]


def through_the_queue(maxlen: int) -> list[tuple[str, int]]:
    queue: CoalescingQueue[Event] = CoalescingQueue(
        lambda e: (e["job"]["id"], e["seq"], is_terminal(e)), maxlen
    )
    for ev in HISTORY:
        queue.put(ev)
    return [(e["job"]["id"], e["seq"]) for e in queue.take()]


def through_a_subscription(maxlen: int) -> list[tuple[str, int]]:
    sub = Subscription(MemoryBus(), None, maxlen)
    for ev in HISTORY:
        sub.put(ev)
    return [(e["job"]["id"], e["seq"]) for e in sub.get_nowait_batch()]


def through_a_listener(maxlen: int) -> list[tuple[str, int]]:
    async def read() -> list[tuple[str, int]]:
        listener = Listener(Hub(MemoryBus()), None, size=maxlen)
        for ev in HISTORY:
            listener.push((ev["seq"], is_terminal(ev), encode(message(ev)), ev))
        got: list[tuple[str, int]] = []
        while (item := await listener.get(0)) is not None:
            got.append((item[3]["job"]["id"], item[0]))
        assert listener.coalesced == len(HISTORY) - len(got)
        return got

    return asyncio.run(read())


@pytest.mark.parametrize("maxlen", [1, 4, 16, LISTENER_BUFFER])
def test_subscriptions_and_stream_listeners_coalesce_alike(maxlen: int) -> None:
    expected = through_the_queue(maxlen)
    assert through_a_subscription(maxlen) == expected
    assert through_a_listener(maxlen) == expected
    assert ("a", 30) in expected and ("b", 2) in expected and ("quiet", 4) in expected
    if maxlen < len(HISTORY):
        assert len(expected) < len(HISTORY)


def test_a_listener_waits_for_an_item_or_its_timeout() -> None:
    async def go() -> list[Any]:
        listener = Listener(Hub(MemoryBus()), "a")
        loop = asyncio.get_running_loop()
        started = loop.time()
        nothing = await listener.get(0.05)
        waited = loop.time() - started
        ev = event("a", 1)
        loop.call_later(0.02, listener.push, (1, False, encode(message(ev)), ev))
        item = await listener.get(5)
        loop.call_later(0.02, listener.wake)
        woken = await listener.get(5)
        return [nothing, waited >= 0.04, item is not None and item[0], woken]

    assert asyncio.run(go()) == [None, True, 1, None]
