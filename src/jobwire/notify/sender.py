"""The sender: a thread of the worker's that claims due deliveries under a lease, POSTs each
one (signed, on a thread of its own so that a slow receiver holds up nobody), records the
attempt and schedules the next one.

A delivery is sent at least once: a sender that dies mid-attempt leaves its lease to run out,
and another sender (of this process after a restart, or of another one) tries again. Every
attempt carries the delivery's id as ``webhook-id``, so that the receiver drops a repeat.
"""

from __future__ import annotations

import base64
import importlib.metadata
import logging
import random
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from standardwebhooks import Webhook

from ..errors import StoreUnavailable
from ..store.notifying import Delivery, DeliveryAttempt
from .policy import next_attempt, outcome_of, redact

if TYPE_CHECKING:
    import httpx

    from ..settings import Settings
    from ..store import Store

logger = logging.getLogger(__name__)

#: Deliveries attempted at once by one sender.
CONCURRENCY = 4
#: Seconds the sender waits after the store failed it.
BACKOFF = 1.0
#: Seconds between two looks for due deliveries when nothing woke the sender: a job that
#: ends in this process wakes it at once; this is for retries coming due and other
#: processes' jobs. Notifications are not urgent to the second, and each look is a write.
IDLE_LOOK = 2.0


def stored_secret(store: Store, settings: Settings) -> str:
    """The secret notifications are signed with: ``notify_secret`` when set, else a random
    one kept in the database (made by the first process that needs it)."""
    if settings.notify_secret is not None:
        return settings.notify_secret
    return store.keys.meta_value("notify_secret", new_secret)


def new_secret() -> str:
    """A new Standard Webhooks secret: ``whsec_`` and the base64 of 32 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def user_agent() -> str:
    try:
        return f"jobwire/{importlib.metadata.version('jobwire')}"
    except importlib.metadata.PackageNotFoundError:  # run from a source tree
        return "jobwire"


class Notifier:
    """Sends the notifications of jobs' ends. Started and stopped with the worker.

    ```python
    notifier = Notifier(store, settings, secret=lambda: app.notify_secret)
    notifier.start()
    ...
    notifier.stop()
    ```
    """

    def __init__(
        self,
        store: Store,
        settings: Settings,
        *,
        secret: Callable[[], str],
        rng: Callable[[], float] | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.secret = secret
        """The ``whsec_`` secret every delivery is signed with."""
        # A generator of its own: the jitter never moves the random module's shared state.
        self.rng = rng or random.Random().random
        self.owner = f"notify-{uuid.uuid4().hex[:16]}"
        self.stats = {"delivered": 0, "retry": 0, "gone": 0, "refused": 0, "failed": 0}
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._client: httpx.Client | None = None
        self._busy: set[str] = set()
        self._lock = threading.Lock()

    @property
    def lease_seconds(self) -> float:
        """How long a claimed delivery is this sender's: longer than an attempt can take
        (each of resolving, connecting, sending and reading the answer within the timeout)."""
        return 4 * self.settings.notify_timeout + 30.0

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stopping.clear()
        self._thread = threading.Thread(target=self._loop, name=self.owner, daemon=True)
        self._thread.start()

    def poke(self) -> None:
        """Deliveries may be due: look now, not at the next poll."""
        self._wake.set()

    def stop(self, timeout: float = 2.0) -> None:
        """Stop claiming; give the attempts under way ``timeout`` seconds. One still under
        way then is left to its lease: tried again, here after a restart or elsewhere."""
        if self._thread is None:
            return
        self._stopping.set()
        self._wake.set()
        self._thread.join(timeout)
        self._thread = None
        deadline = time.monotonic() + timeout
        while self._busy and time.monotonic() < deadline:
            time.sleep(0.01)
        if self._client is not None and not self._busy:
            self._client.close()
            self._client = None

    def _loop(self) -> None:
        down: str | None = None
        while not self._stopping.is_set():
            claimed = 0
            try:
                claimed = self.run_once()
                if down is not None:
                    logger.warning("notifications: the store is back", extra={"action": "notify"})
                    down = None
            except StoreUnavailable as exc:
                if exc.message != down:
                    logger.warning("notifications: %s", exc.message, extra={"action": "notify"})
                down = exc.message
                self._stopping.wait(BACKOFF * 2)  # the database is away: leave it be a while
                continue
            except Exception:
                # The sender must outlive anything else too: log it, back off, go on.
                logger.exception("notification sender error", extra={"action": "notify"})
                self._stopping.wait(BACKOFF)
                continue
            if claimed == 0:
                self._wake.wait(max(self.settings.poll_interval, IDLE_LOOK))
                self._wake.clear()

    # -- sending ------------------------------------------------------------------------

    def run_once(self) -> int:
        """Claim the deliveries that are due (as many as there are free places) and start
        an attempt of each on a thread of its own; how many."""
        with self._lock:
            free = CONCURRENCY - len(self._busy)
        if free <= 0:
            return 0
        claimed = self.store.claim_deliveries(self.owner, free, self.lease_seconds)
        for delivery in claimed:
            with self._lock:
                self._busy.add(delivery.id)
            threading.Thread(
                target=self._attempt, args=(delivery,), name=f"{self.owner}-send", daemon=True
            ).start()
        return len(claimed)

    def _attempt(self, delivery: Delivery) -> None:
        try:
            attempt, due = self.attempt(delivery)
            if not self.store.record_attempt(self.owner, delivery.id, attempt, due):
                logger.warning(
                    "notification %s of job %s: the lease ran out during the attempt; "
                    "its outcome (%s) was not recorded",
                    delivery.id,
                    delivery.job_id,
                    attempt.outcome,
                    extra={"job_id": delivery.job_id, "action": "notify"},
                )
                return
            self.stats[attempt.outcome] += 1
            log = logger.info if attempt.outcome in ("delivered", "retry") else logger.warning
            log(
                "notification %s (%s) of job %s to %s: %s%s",
                delivery.id,
                delivery.event,
                delivery.job_id,
                redact(delivery.url),
                attempt.outcome,
                f" ({attempt.error})" if attempt.error else "",
                extra={"job_id": delivery.job_id, "action": "notify"},
            )
        except Exception:
            # Unrecorded, the lease runs out and the delivery is tried again: log why.
            logger.exception(
                "notification %s of job %s: the attempt could not be recorded",
                delivery.id,
                delivery.job_id,
                extra={"job_id": delivery.job_id, "action": "notify"},
            )
        finally:
            with self._lock:
                self._busy.discard(delivery.id)
            self._wake.set()  # a place is free

    def attempt(self, delivery: Delivery) -> tuple[DeliveryAttempt, float | None]:
        """POST ``delivery`` once: the attempt as it went, and when to try again (None: no
        more)."""
        from .guard import AddressRefused

        started, at = time.monotonic(), self.store.clock()
        code: int | None = None
        try:
            body, headers = delivery.payload.encode(), self.headers(delivery)
            with self.client().stream("POST", delivery.url, content=body, headers=headers) as r:
                code = r.status_code  # the body is not read: the status says it all
            outcome = outcome_of(code)
            error = None if outcome == "delivered" else f"answered HTTP {code}"
        except AddressRefused as exc:
            outcome, error = "refused", str(exc)
        except Exception as exc:  # no answer (unreachable, timed out, a broken reply): again
            outcome, error = "retry", f"{type(exc).__name__}: {exc}".rstrip(": ")
        duration = time.monotonic() - started
        due: float | None = None
        if outcome == "retry":
            s = self.settings
            due = next_attempt(
                delivery.created_at,
                delivery.attempts + 1,
                self.store.clock(),
                base=s.notify_backoff,
                cap=s.notify_backoff_max,
                window=s.notify_retry_hours * 3600,
                rng=self.rng,
            )
            if due is None:
                outcome = "failed"
                error = f"{error}; no 2xx answer within {s.notify_retry_hours:g} h, giving up"
        return DeliveryAttempt(delivery.attempts + 1, at, duration, code, error, outcome), due

    def headers(self, delivery: Delivery) -> dict[str, str]:
        """The Standard Webhooks headers of an attempt: its id (the same at every attempt),
        the time now and the signature of both with the body."""
        now = datetime.now(UTC)
        return {
            "content-type": "application/json",
            "user-agent": user_agent(),
            "webhook-id": delivery.id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": Webhook(self.secret()).sign(delivery.id, now, delivery.payload),
        }

    def client(self) -> httpx.Client:
        if self._client is None:
            with self._lock:
                if self._client is None:
                    from .guard import client

                    self._client = client(
                        self.settings.notify_timeout,
                        allow_private=self.settings.notify_allow_private,
                    )
        return self._client
