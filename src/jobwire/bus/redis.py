"""The Redis bus: events cross processes and machines through Redis pub/sub.

Every process publishes on one channel (``{prefix}:events``). Each :class:`RedisBus` holds
one pub/sub connection, opened by its first subscribe and read by one daemon thread that
decodes each message once and fans it out to the process's listeners. Pub/sub keeps
nothing: an event published while a listener is reconnecting is not delivered to it, so
watchers fall back to the store (which every event is written to before it is published).
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
import uuid
from collections.abc import Iterable
from types import ModuleType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from ..errors import MissingDependency
from ..snapshot import Event, dumps, loads
from ..wire import is_terminal
from .base import Bus

if TYPE_CHECKING:
    import redis as redis_module

logger = logging.getLogger(__name__)

#: Seconds to wait between reconnect attempts: the first delay, and the cap it doubles to.
RECONNECT_DELAY = 0.1
RECONNECT_MAX_DELAY = 5.0
#: Seconds a blocked read waits before the listener looks at its stop flag again.
POLL_SECONDS = 1.0
#: After a failed publish, progress is not published for twice as long as the failure took
#: (at least the first, at most the second of these seconds), so an unreachable Redis costs
#: the worker at most about a third of its time; final events are always tried.
PUBLISH_PAUSE = 0.1
PUBLISH_MAX_PAUSE = 5.0
#: Seconds the publishing client waits to connect: on a network that drops packets, each
#: publish would otherwise hold the worker for the whole connect timeout (and its retries).
PUBLISH_CONNECT_TIMEOUT = 1.0


def _import_redis() -> ModuleType:
    try:
        import redis
    except ImportError as exc:  # pragma: no cover - redis is installed in the test env
        raise MissingDependency(
            "The Redis bus needs the redis package: pip install 'jobwire[redis]'",
            package="redis",
        ) from exc
    return redis


def redact(url: str) -> str:
    """``url`` without its password, for logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))


def _is_event(value: Any) -> bool:
    """Enough of an event's shape for the fan-out to handle it without raising."""
    if not isinstance(value, dict) or not isinstance(value.get("kind"), str):
        return False
    job = value.get("job")
    return isinstance(job, dict) and isinstance(job.get("id"), str) and "status" in job


class RedisBus(Bus):
    """A bus shared by every process that uses the same Redis and ``channel_prefix``.

    ```python
    bus = RedisBus("redis://localhost:6379/0")
    with bus.subscribe(job_id) as sub:   # first subscribe: connects and starts the reader
        event = sub.get(timeout=1.0)
    bus.close()
    ```

    Publishing never raises for a Redis failure: it logs, and watchers read the store.
    """

    shared = True

    def __init__(
        self,
        url: str,
        *,
        channel_prefix: str = "jobwire",
        connect_timeout: float = 5.0,
    ) -> None:
        super().__init__()
        redis = _import_redis()
        from redis.backoff import ExponentialBackoff, NoBackoff
        from redis.retry import Retry

        self.url = url
        self.channel = f"{channel_prefix}:events"
        self.connect_timeout = connect_timeout
        #: How many times the listener connected again after losing Redis.
        self.reconnects = 0
        self._errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError)
        self._channel_b = self.channel.encode()
        token = uuid.uuid4().hex[:12]
        #: The name the listener's connection shows in Redis's CLIENT LIST.
        self.client_name = f"{channel_prefix}-bus-{os.getpid()}-{token}"
        # Each listener has a private channel that close() publishes to, to wake it at once.
        self._wake_channel = f"{channel_prefix}:wake:{token}"
        # Publishing retries briefly on a dropped connection; it runs on the worker's engine
        # thread and must not stall it for long.
        self._client: redis_module.Redis = redis.Redis.from_url(
            url,
            socket_connect_timeout=min(connect_timeout, PUBLISH_CONNECT_TIMEOUT),
            socket_timeout=connect_timeout,
            retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), 2),
        )
        # The listener reconnects itself (with backoff and a log line), so its client does
        # not retry behind its back.
        self._listen_client: redis_module.Redis = redis.Redis.from_url(
            url,
            socket_connect_timeout=connect_timeout,
            socket_timeout=connect_timeout + POLL_SECONDS,
            socket_keepalive=True,
            health_check_interval=15,
            client_name=self.client_name,
            retry=Retry(NoBackoff(), 0),
        )
        self._state_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._publish_failing = False
        self._publish_paused_until = 0.0
        #: Events not published because Redis could not be reached (they are in the store).
        self.unpublished = 0

    @property
    def connected(self) -> bool:
        """Whether the listener is subscribed right now."""
        return self._ready.is_set()

    def stats(self) -> dict[str, int]:
        return {
            **super().stats(),
            "connected": int(self.connected),
            "reconnects": self.reconnects,
            "unpublished": self.unpublished,
        }

    def publish(self, events: Iterable[Event]) -> None:
        batch = list(events)
        if not batch:
            return
        paused = self._publish_failing and time.monotonic() < self._publish_paused_until
        if paused and not any(is_terminal(event) for event in batch):
            # Progress during an outage: a newer event supersedes it, and watchers read the
            # store while their listener is disconnected.
            self.unpublished += len(batch)
            return
        payloads = [dumps(event) for event in batch]
        started = time.monotonic()
        try:
            if len(payloads) == 1:
                self._client.publish(self.channel, payloads[0])
            else:
                with self._client.pipeline(transaction=False) as pipe:
                    for payload in payloads:
                        pipe.publish(self.channel, payload)
                    pipe.execute()
        except self._errors as exc:
            # The events are in the store already; watchers fall back to it. Say so once
            # per outage rather than on every progress tick.
            now = time.monotonic()
            pause = min(PUBLISH_MAX_PAUSE, max(PUBLISH_PAUSE, 2 * (now - started)))
            self._publish_paused_until = now + pause
            self.unpublished += len(payloads)
            if not self._publish_failing:
                self._publish_failing = True
                logger.warning(
                    "redis bus: could not publish %d event(s) to %s: %s; watchers will read "
                    "the store until Redis is back",
                    len(payloads),
                    redact(self.url),
                    exc,
                    extra={"action": "bus_publish_failed"},
                )
            return
        if self._publish_failing:
            self._publish_failing = False
            logger.info(
                "redis bus: publishing to %s again",
                redact(self.url),
                extra={"action": "bus_publish_recovered"},
            )

    def close(self) -> None:
        """Stop the listener thread and close the connections. A later subscribe opens
        them again."""
        with self._state_lock:
            thread, self._thread = self._thread, None
            stop = self._stop
        if thread is not None:
            stop.set()
            try:
                self._client.publish(self._wake_channel, b"")
            except self._errors:
                # Redis is gone: the listener notices the stop flag within POLL_SECONDS.
                logger.debug("redis bus: could not wake the listener", exc_info=True)
            thread.join(timeout=self.connect_timeout + 2 * POLL_SECONDS)
            if thread.is_alive():
                logger.warning("redis bus: the listener thread did not stop in time")
        self._client.close()
        self._listen_client.close()

    # -- the listener thread -------------------------------------------------------------

    def _listen(self) -> None:
        with self._state_lock:
            if self._thread is not None:
                return
            self._stop = stop = threading.Event()
            self._ready = ready = threading.Event()
            self._thread = threading.Thread(
                target=self._run, args=(stop, ready), name="jobwire-redis-bus", daemon=True
            )
            self._thread.start()
        # Only the first subscribe waits: once it returns, events published anywhere reach
        # it. If Redis is down it goes on after the timeout; the thread keeps trying.
        ready.wait(self.connect_timeout)

    def _run(self, stop: threading.Event, ready: threading.Event) -> None:
        failures = 0
        while not stop.is_set():
            pubsub = self._listen_client.pubsub()  # type: ignore[no-untyped-call]
            try:
                pubsub.subscribe(self.channel, self._wake_channel)
                while not stop.is_set():
                    message = pubsub.get_message(timeout=POLL_SECONDS)
                    if message is None:
                        continue
                    if message["type"] == "message":
                        if message["channel"] == self._channel_b:
                            self._receive(message["data"])
                    elif message["type"] == "subscribe" and message["channel"] == self._channel_b:
                        ready.set()
                        if failures:
                            self.reconnects += 1
                            logger.info(
                                "redis bus: listening on %s again after %d attempt(s)",
                                redact(self.url),
                                failures,
                                extra={"action": "bus_reconnected"},
                            )
                        failures = 0
            except self._errors as exc:
                if stop.is_set():
                    break
                ready.clear()
                failures += 1
                delay = min(RECONNECT_MAX_DELAY, RECONNECT_DELAY * 2 ** (failures - 1))
                delay *= random.uniform(0.5, 1.0)  # so many processes do not all retry at once
                log = logger.warning if failures == 1 or failures % 10 == 0 else logger.debug
                log(
                    "redis bus: lost %s (%s: %s); reconnecting in %.1f s (attempt %d)",
                    redact(self.url),
                    type(exc).__name__,
                    exc,
                    delay,
                    failures,
                    extra={"action": "bus_disconnected"},
                )
                stop.wait(delay)
            except Exception:
                # A bug here must not silently end delivery to every listener of the process.
                logger.exception("redis bus: listener error; restarting it")
                ready.clear()
                failures += 1
                stop.wait(RECONNECT_MAX_DELAY)
            finally:
                try:
                    pubsub.close()
                except self._errors:
                    # The connection is being dropped anyway; a failed goodbye changes nothing.
                    logger.debug("redis bus: error closing the pub/sub connection", exc_info=True)
        ready.clear()

    def _receive(self, data: Any) -> None:
        try:
            event = loads(data)
            valid = _is_event(event)
        except ValueError:
            valid = False
        if not valid:
            logger.warning(
                "redis bus: skipped a message on %s that is not a jobwire event: %.200r",
                self.channel,
                data,
                extra={"action": "bus_bad_message"},
            )
            return
        self._deliver(event)
