"""One contract for every Bus implementation, run against MemoryBus and RedisBus.

The tests use the bus only through its public methods, so the same class checks any
implementation: subclass :class:`BusContract` and provide a ``bus`` fixture. Delivery may be
asynchronous (Redis), so tests wait for events with a deadline instead of reading at once.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from jobwire.bus import Bus, MemoryBus, RedisBus, Subscription, open_bus
from jobwire.bus.base import LISTENER_BUFFER
from jobwire.errors import ConfigurationError
from jobwire.snapshot import Event, JobRecord, make_event
from jobwire.status import JobStatus
from tests.conftest import finishes_within, require_service

REDIS_URL = os.environ.get("JOBWIRE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
TERMINAL = ("succeeded", "failed", "cancelled")
WAIT = 5.0  # seconds to wait for an event that should arrive


def event(job_id: str, seq: int, status: str = "running", kind: str | None = None) -> Event:
    record = JobRecord(
        id=job_id, task="classify", owner="alice", status=JobStatus(status), seq=seq, current=seq
    )
    if kind is None:
        kind = "status" if status in TERMINAL or seq == 1 else "progress"
    return make_event(record, kind, "line" if kind == "log" else None)  # type: ignore[arg-type]


def ids(prefix: str = "job") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def drain(sub: Subscription, count: int, timeout: float = WAIT) -> list[Event]:
    """Read ``count`` events from ``sub``, failing if they do not all arrive in time."""
    got: list[Event] = []
    deadline = time.monotonic() + timeout
    while len(got) < count:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        ev = sub.get(left)
        if ev is not None:
            got.append(ev)
    assert len(got) == count, f"expected {count} events, got {len(got)}: {keys(got)}"
    return got


def keys(events: list[Event]) -> list[tuple[str, int]]:
    return [(e["job"]["id"], e["seq"]) for e in events]


def is_terminal(ev: Event) -> bool:
    return ev["kind"] == "status" and ev["job"]["status"] in TERMINAL


def assert_per_job_order(events: list[Event]) -> None:
    last: dict[str, int] = {}
    for ev in events:
        job = ev["job"]["id"]
        assert ev["seq"] > last.get(job, 0), f"{job} went back to seq {ev['seq']}"
        last[job] = ev["seq"]


def listener_stats(bus: Bus) -> dict[str, int]:
    """The part of ``bus.stats()`` every bus has: counts of this process's listeners."""
    stats = bus.stats()
    names = ("subscriptions", "wildcard_subscriptions", "watched_jobs", "queued_events")
    return {name: stats[name] for name in names}


class BusContract:
    """What every bus does. Subclasses provide ``bus`` (and ``other_bus`` for a second
    handle on the same bus, as another process would have one)."""

    #: Seconds to wait for a publish to reach a subscriber, after which it is "not coming".
    settle = 0.0

    @pytest.fixture
    def bus(self) -> Iterator[Bus]:  # pragma: no cover - provided by subclasses
        raise NotImplementedError
        yield

    def assert_nothing(self, sub: Subscription) -> None:
        assert sub.get(self.settle) is None

    def test_per_job_subscription_gets_only_its_events_in_order(self, bus: Bus) -> None:
        a, b = ids("a"), ids("b")
        with bus.subscribe(a) as sub_a, bus.subscribe(b) as sub_b:
            bus.publish([event(a, 1), event(b, 1), event(a, 2)])
            bus.publish([event(b, 2)])
            bus.publish([event(a, 3), event(a, 4, "succeeded")])
            assert keys(drain(sub_a, 4)) == [(a, 1), (a, 2), (a, 3), (a, 4)]
            assert keys(drain(sub_b, 2)) == [(b, 1), (b, 2)]
            self.assert_nothing(sub_a)
            self.assert_nothing(sub_b)

    def test_events_arrive_whole(self, bus: Bus) -> None:
        job = ids()
        sent = event(job, 7, kind="log")
        with bus.subscribe(job) as sub:
            bus.publish([sent])
            (got,) = drain(sub, 1)
        assert got == sent

    def test_wildcard_gets_every_job_in_order(self, bus: Bus) -> None:
        a, b = ids("a"), ids("b")
        sent = [event(a, 1), event(b, 1), event(b, 2), event(a, 2), event(a, 3, "failed")]
        with bus.subscribe() as everything, bus.subscribe(a) as only_a:
            bus.publish(sent[:2])
            for ev in sent[2:]:
                bus.publish([ev])
            assert keys(drain(everything, 5)) == keys(sent)
            assert keys(drain(only_a, 3)) == [(a, 1), (a, 2), (a, 3)]

    def test_publishing_nothing_is_fine(self, bus: Bus) -> None:
        job = ids()
        with bus.subscribe(job) as sub, bus.subscribe() as everything:
            bus.publish([])
            bus.publish(iter(()))
            self.assert_nothing(sub)
            self.assert_nothing(everything)
            bus.publish([event(job, 1)])  # and the bus still delivers afterwards
            assert keys(drain(sub, 1)) == keys(drain(everything, 1)) == [(job, 1)]

    def test_close_stops_delivery_and_leaves_nothing_behind(self, bus: Bus) -> None:
        a, b = ids("a"), ids("b")
        before = listener_stats(bus)
        witness = bus.subscribe()
        subs = [bus.subscribe(a), bus.subscribe(a), bus.subscribe(b), bus.subscribe()]
        assert bus.stats()["subscriptions"] == before["subscriptions"] + 5
        assert bus.stats()["watched_jobs"] == before["watched_jobs"] + 2

        subs[0].close()
        bus.unsubscribe(subs[2])  # the direct way leaves the bus clean too
        with subs[3]:
            pass
        bus.publish([event(a, 1), event(b, 1)])
        drain(witness, 2)  # the events went out; the closed subscriptions got none
        assert keys(drain(subs[1], 1)) == [(a, 1)]
        for sub in (subs[0], subs[2], subs[3]):
            self.assert_nothing(sub)
        assert subs[0].closed and subs[3].closed

        subs[1].close()
        subs[1].close()  # closing twice is harmless
        witness.close()
        assert listener_stats(bus) == before == dict.fromkeys(before, 0)

    def test_close_wakes_a_waiting_reader(self, bus: Bus) -> None:
        sub = bus.subscribe(ids())
        got: list[Any] = []
        reader = threading.Thread(target=lambda: got.append(sub.get(30)))
        reader.start()
        time.sleep(0.05)
        sub.close()
        reader.join(5)  # unwoken, the reader would wait its 30 s
        assert not reader.is_alive(), "close() did not wake the reader"
        assert got == [None]

    def test_many_subscribers_each_get_every_event(self, bus: Bus) -> None:
        job = ids()
        per_job = [bus.subscribe(job) for _ in range(40)]
        wildcard = [bus.subscribe() for _ in range(10)]
        sent = [event(job, seq) for seq in range(1, 21)] + [event(job, 21, "cancelled")]
        try:
            bus.publish(sent[:10])
            bus.publish(sent[10:])
            for sub in per_job + wildcard:
                assert keys(drain(sub, 21)) == keys(sent)
        finally:
            for sub in per_job + wildcard:
                sub.close()
        assert bus.stats()["subscriptions"] == 0

    def test_slow_subscriber_coalesces_and_keeps_every_final_event(self, bus: Bus) -> None:
        jobs = [ids("x"), ids("y"), ids("z")]
        ends = dict(zip(jobs, TERMINAL, strict=True))
        slow_all = bus.subscribe()  # never read until the end
        slow_x = bus.subscribe(jobs[0])
        fast = bus.subscribe(jobs[0])
        fast_got: list[Event] = []
        batches, size = 20, 60
        total = batches * size

        try:
            seq = 0
            for _ in range(batches):
                batch = []
                for _ in range(size // len(jobs)):
                    seq += 1
                    batch.extend(event(job, seq) for job in jobs)
                bus.publish(batch)
                # The fast reader keeps up with the publisher while the slow ones never read:
                # if a full slow queue held anything up, this would time out.
                fast_got.extend(drain(fast, size // len(jobs)))
            seq += 1
            bus.publish([event(job, seq, ends[job]) for job in jobs])
            fast_got.extend(drain(fast, 1))  # fails after WAIT seconds if held up

            # The fast reader saw everything of its job, in order, ending with the final event.
            assert len(fast_got) == total // len(jobs) + 1 and fast.coalesced == 0
            assert_per_job_order(fast_got)
            assert fast_got[-1]["job"]["status"] == "succeeded"

            for slow, watched in ((slow_all, jobs), (slow_x, jobs[:1])):
                deadline = time.monotonic() + WAIT
                got: list[Event] = []
                while time.monotonic() < deadline:
                    got.extend(slow.get_nowait_batch(1000))
                    if sum(is_terminal(e) for e in got) == len(watched):
                        break
                    time.sleep(0.01)
                assert slow.coalesced > 0
                assert len(got) <= 2 * LISTENER_BUFFER
                assert_per_job_order(got)
                finals = [e for e in got if is_terminal(e)]
                assert sorted((e["job"]["id"], e["job"]["status"]) for e in finals) == sorted(
                    (job, ends[job]) for job in watched
                )
                for job in watched:  # each job's final event is the last of that job
                    last = [e for e in got if e["job"]["id"] == job][-1]
                    assert last["job"]["status"] in TERMINAL
                assert len(got) + slow.coalesced == (total + len(jobs)) * len(watched) // len(jobs)
        finally:
            for sub in (slow_all, slow_x, fast):
                sub.close()

    def test_buffer_size_is_per_subscription(self, bus: Bus) -> None:
        job = ids()
        with bus.subscribe(job, maxlen=4) as small, bus.subscribe(job) as normal:
            bus.publish([event(job, seq) for seq in range(1, 21)])
            bus.publish([event(job, 21, "succeeded")])
            drain(normal, 21)
            wait_until(lambda: small.qsize() + small.coalesced == 21)
            got = small.get_nowait_batch()
        assert len(got) <= 4 and keys(got)[-1] == (job, 21)
        assert_per_job_order(got)

    def test_publish_does_not_wait_for_readers(self, bus: Bus) -> None:
        job = ids()
        subs = [bus.subscribe(job) for _ in range(5)]
        try:
            count = 10 * LISTENER_BUFFER

            def publish() -> None:
                for seq in range(1, count + 1):
                    bus.publish([event(job, seq)])

            finishes_within(10, publish, f"publishing {count} events to readers that never read")
            # Their queues stayed bounded: each was coalesced, and kept the newest event.
            wait_until(lambda: all(sub.qsize() + sub.coalesced == count for sub in subs))
            for sub in subs:
                assert sub.qsize() <= 2 * LISTENER_BUFFER
                assert keys(sub.get_nowait_batch())[-1] == (job, count)
        finally:
            for sub in subs:
                sub.close()

    def test_subscribe_from_many_threads(self, bus: Bus) -> None:
        job = ids()
        made: list[Subscription] = []
        lock = threading.Lock()

        def work() -> None:
            for _ in range(20):
                sub = bus.subscribe(job)
                with lock:
                    made.append(sub)
                bus.subscribe(job).close()

        threads = [threading.Thread(target=work) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert bus.stats()["subscriptions"] == 160
        bus.publish([event(job, 1)])
        for sub in made:
            drain(sub, 1)
            sub.close()
        assert bus.stats()["subscriptions"] == 0 and bus.stats()["watched_jobs"] == 0


# -- memory ---------------------------------------------------------------------------


class TestMemoryBus(BusContract):
    @pytest.fixture
    def bus(self) -> Iterator[Bus]:
        bus = MemoryBus()
        yield bus
        bus.close()

    def test_delivery_is_synchronous(self, bus: Bus) -> None:
        job = ids()
        with bus.subscribe(job) as sub:
            bus.publish([event(job, 1)])
            assert sub.get(0) is not None


def test_open_bus_picks_the_implementation_from_the_url() -> None:
    assert isinstance(open_bus(None), MemoryBus)
    assert isinstance(open_bus("memory://"), MemoryBus)
    for url in ("redis://127.0.0.1:6379/0", "rediss://example.invalid:6380/1"):
        bus = open_bus(url)
        assert isinstance(bus, RedisBus)
        bus.close()
    with pytest.raises(ConfigurationError, match="redis://"):
        open_bus("kafka://broker")


# -- Redis ----------------------------------------------------------------------------


def _ping_redis() -> None:
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.ping()
    finally:
        client.close()


@pytest.fixture
def redis_url() -> str:
    """A Redis URL, or a skip (a failure under JOBWIRE_REQUIRE_SERVICES=1) when Redis is not
    running."""
    require_service(f"Redis at {REDIS_URL}", _ping_redis)
    return REDIS_URL


@pytest.fixture
def admin(redis_url: str) -> Iterator[Any]:
    """A plain redis client, to act on the server behind the bus's back."""
    import redis

    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture
def channel_prefix() -> str:
    # A prefix per test: concurrent test runs on the same Redis never see each other's events.
    return f"jobwire-test-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def make_redis_bus(redis_url: str, channel_prefix: str) -> Iterator[Callable[[], RedisBus]]:
    made: list[RedisBus] = []

    def make() -> RedisBus:
        bus = RedisBus(redis_url, channel_prefix=channel_prefix)
        made.append(bus)
        return bus

    yield make
    for bus in made:
        bus.close()


def wait_until(check: Callable[[], bool], timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def kill_listener(admin: Any, bus: RedisBus) -> int:
    """Kill the bus's pub/sub connection (only this bus's, not other runs' listeners)."""
    clients = [c for c in admin.client_list(_type="pubsub") if c.get("name") == bus.client_name]
    assert clients, "the bus has no pub/sub connection"
    for client in clients:
        admin.execute_command("CLIENT", "KILL", "TYPE", "pubsub", "ID", client["id"])
    return len(clients)


class TestRedisBus(BusContract):
    settle = 0.2

    @pytest.fixture
    def bus(self, make_redis_bus: Callable[[], RedisBus]) -> Bus:
        return make_redis_bus()

    def test_one_connection_and_one_thread_for_every_subscription(
        self, make_redis_bus: Callable[[], RedisBus], admin: Any
    ) -> None:
        def listeners() -> int:
            return sum(t.name == "jobwire-redis-bus" for t in threading.enumerate())

        bus = make_redis_bus()
        before = listeners()
        for _ in range(3):
            bus.publish([event(ids(), 1)])  # publishing alone starts no thread
        assert listeners() == before
        subs = [bus.subscribe(ids()) for _ in range(20)] + [bus.subscribe() for _ in range(5)]
        named = [c for c in admin.client_list(_type="pubsub") if c["name"] == bus.client_name]
        assert len(named) == 1
        assert listeners() == before + 1
        for sub in subs:
            sub.close()
        bus.close()
        assert listeners() == before
        wait_until(
            lambda: (
                not [c for c in admin.client_list(_type="pubsub") if c["name"] == bus.client_name]
            )
        )

    def test_another_process_receives_what_one_publishes(
        self, make_redis_bus: Callable[[], RedisBus]
    ) -> None:
        worker, server = make_redis_bus(), make_redis_bus()
        job = ids()
        with server.subscribe(job) as one, server.subscribe() as every:
            worker.publish([event(job, 1), event(job, 2)])
            worker.publish([event(job, 3, "succeeded")])
            assert keys(drain(one, 3)) == [(job, 1), (job, 2), (job, 3)]
            assert keys(drain(every, 3)) == [(job, 1), (job, 2), (job, 3)]
        # ...and the other way, with listeners on both sides.
        with worker.subscribe(job) as back, server.subscribe(job) as here:
            server.publish([event(job, 4)])
            assert keys(drain(back, 1)) == keys(drain(here, 1)) == [(job, 4)]

    def test_other_prefixes_are_other_buses(
        self, redis_url: str, make_redis_bus: Callable[[], RedisBus]
    ) -> None:
        ours = make_redis_bus()
        theirs = RedisBus(redis_url, channel_prefix=f"jobwire-other-{uuid.uuid4().hex[:8]}")
        try:
            job = ids()
            with ours.subscribe(job) as sub:
                theirs.publish([event(job, 1)])
                ours.publish([event(job, 2)])
                assert keys(drain(sub, 1)) == [(job, 2)]
        finally:
            theirs.close()

    def test_listener_reconnects_after_its_connection_is_killed(
        self,
        make_redis_bus: Callable[[], RedisBus],
        admin: Any,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        caplog.set_level(logging.INFO, logger="jobwire.bus.redis")
        listener, publisher = make_redis_bus(), make_redis_bus()
        job = ids()
        with listener.subscribe(job) as sub:
            publisher.publish([event(job, 1)])
            assert keys(drain(sub, 1)) == [(job, 1)]

            assert kill_listener(admin, listener) == 1
            wait_until(lambda: listener.reconnects >= 1)
            assert listener.connected
            # Pub/sub keeps nothing for a disconnected listener; what is published once it
            # is back arrives, in order.
            publisher.publish([event(job, 2), event(job, 3, "succeeded")])
            assert keys(drain(sub, 2)) == [(job, 2), (job, 3)]

            kill_listener(admin, listener)  # and again
            wait_until(lambda: listener.reconnects >= 2)
            publisher.publish([event(job, 4)])
            assert keys(drain(sub, 1)) == [(job, 4)]
        messages = [r.getMessage() for r in caplog.records]
        assert any("lost" in m and "reconnecting" in m for m in messages), messages
        assert any("listening on" in m and "again" in m for m in messages), messages

    def test_a_message_that_is_not_an_event_is_skipped(
        self,
        make_redis_bus: Callable[[], RedisBus],
        admin: Any,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        bus = make_redis_bus()
        job = ids()
        with bus.subscribe() as sub:
            for junk in (b"not json", b"[1, 2]", b'{"kind": "progress", "job": {"id": 3}}'):
                admin.publish(bus.channel, junk)
            bus.publish([event(job, 1)])
            assert keys(drain(sub, 1)) == [(job, 1)]
        assert sum("not a jobwire event" in r.getMessage() for r in caplog.records) == 3

    def test_close_then_subscribe_again(self, make_redis_bus: Callable[[], RedisBus]) -> None:
        bus, other = make_redis_bus(), make_redis_bus()
        bus.subscribe(ids()).close()
        bus.close()
        assert not bus.connected
        job = ids()
        with bus.subscribe(job) as sub:
            other.publish([event(job, 1)])
            assert keys(drain(sub, 1)) == [(job, 1)]


def test_redis_bus_survives_a_redis_that_is_not_there(caplog: pytest.LogCaptureFixture) -> None:
    # Nothing listens on port 1: publishing logs once and does not raise, subscribing returns
    # after the connect timeout, and close() stops the retrying listener.
    bus = RedisBus("redis://127.0.0.1:1/0", connect_timeout=0.3)
    job = ids()
    bus.publish([event(job, 1)])
    bus.publish([event(job, 2)])
    assert sum("could not publish" in r.getMessage() for r in caplog.records) == 1
    sub = finishes_within(3, lambda: bus.subscribe(job), "subscribing without Redis")
    assert not bus.connected and sub.get(0.05) is None
    sub.close()
    thread = bus._thread
    assert thread is not None and thread.is_alive()  # it keeps trying in the background
    finishes_within(3, bus.close, "closing a bus that keeps reconnecting")
    assert not thread.is_alive()
