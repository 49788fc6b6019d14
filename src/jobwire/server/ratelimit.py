"""Per-owner submit rate limit: a token bucket per owner, in this server process."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict

from ..errors import RateLimited

MAX_OWNERS = 100_000


class RateLimiter:
    def __init__(self, rate: float, burst: int, clock: object = time.monotonic) -> None:
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, owner: str) -> None:
        """Spend one submit for ``owner``; raise RateLimited when none is left."""
        now = self._clock()  # type: ignore[operator]
        with self._lock:
            tokens, last = self._buckets.pop(owner, (float(self.burst), now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens < 1:
                self._buckets[owner] = (tokens, now)
                wait = (1 - tokens) / self.rate
                raise RateLimited(
                    f"Too many submits for {owner!r}: at most {self.rate:g} per second "
                    f"(bursts of {self.burst}). Retry in {wait:.1f} s.",
                    retry_after=wait,
                )
            self._buckets[owner] = (tokens - 1, now)
            if len(self._buckets) > MAX_OWNERS:
                self._buckets.popitem(last=False)
