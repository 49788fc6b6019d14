"""Time-left estimates. Pure: the clock is injected, nothing here does I/O.

While a job runs, the rate is an exponential moving average of items per second (the same
smoothing tqdm uses), taken once a few items are done. Before that, a *prior* from history
(the median seconds per item of the task's recent successful runs) gives the estimate. With
neither, the answer is ``None``: jobwire never shows a made-up number.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

Clock = Callable[[], float]


@dataclass(frozen=True, slots=True)
class Estimate:
    rate: float | None
    """Items per second, smoothed; None until there is a basis."""
    eta_seconds: float | None
    """Seconds left, None when the total is unknown or there is no basis."""


class EtaEstimator:
    """Smoothed rate and time left for one run (or one step) of a job.

    >>> t = iter([0.0, 1.0, 2.0, 3.0]).__next__
    >>> eta = EtaEstimator(clock=t, min_items=1)
    >>> eta.start(total=10)
    >>> eta.update(2).eta_seconds
    4.0
    """

    def __init__(
        self,
        *,
        clock: Clock = time.monotonic,
        smoothing: float = 0.3,
        min_items: int = 3,
        min_seconds: float = 0.5,
        prior_seconds_per_item: float | None = None,
    ) -> None:
        if not 0 < smoothing <= 1:
            raise ValueError(f"Expected 0 < smoothing <= 1, but got {smoothing!r}")
        self._clock = clock
        self._smoothing = smoothing
        self._min_items = min_items
        self._min_seconds = min_seconds
        self.prior = prior_seconds_per_item
        self.total: int | None = None
        self._t0 = 0.0
        self._last_t = 0.0
        self._last_n = 0
        self._start_n = 0
        self._rate: float | None = None

    def start(self, total: int | None = None, current: int = 0) -> None:
        """(Re)start measuring, e.g. at the job's start or when a step begins."""
        now = self._clock()
        self.total = total
        self._t0 = self._last_t = now
        self._last_n = self._start_n = current
        self._rate = None

    def update(self, current: int, total: int | None = None) -> Estimate:
        """Record that ``current`` items are done and return the estimate."""
        if total is not None:
            self.total = total
        now = self._clock()
        dn = current - self._last_n
        dt = now - self._last_t
        if dn > 0 and dt > 0:
            sample = dn / dt
            if self._rate is None:
                done = current - self._start_n
                elapsed = now - self._t0
                # Wait for a few items (or some time) before trusting the measured rate.
                if done >= self._min_items or (done > 0 and elapsed >= self._min_seconds):
                    self._rate = done / elapsed if elapsed > 0 else sample
            else:
                self._rate = self._smoothing * sample + (1 - self._smoothing) * self._rate
            self._last_n, self._last_t = current, now
        elif dn < 0:  # the task moved backwards (a new step reusing the counter): restart
            self.start(self.total, current)
        return self.estimate(current)

    def estimate(self, current: int) -> Estimate:
        total = self.total
        if total is None or total <= 0:
            return Estimate(self._rate, None)
        remaining = max(total - current, 0)
        if self._rate is not None and self._rate > 0:
            return Estimate(self._rate, remaining / self._rate)
        if self.prior is not None and self.prior > 0:
            return Estimate(1 / self.prior, remaining * self.prior)
        return Estimate(None, None)


def median_or_none(values: Iterable[float]) -> float | None:
    """The median of the finite, non-negative values, or None when there are none."""
    clean = [v for v in values if v is not None and v >= 0 and v == v and v != float("inf")]
    return statistics.median(clean) if clean else None


def prior_from_history(runs: Iterable[tuple[float, int | None]]) -> float | None:
    """Median seconds per item over ``(duration_seconds, total_items)`` of past runs."""
    return median_or_none(d / n for d, n in runs if n)


def estimated_duration(runs: Iterable[tuple[float, int | None]]) -> float | None:
    """Median duration of past runs: the estimate for a job that has not started."""
    return median_or_none(d for d, _ in runs)


Runs = Iterable[tuple[float, int | None]]


class FromHistory:
    """A figure computed from a task's run history (:func:`estimated_duration`,
    :func:`prior_from_history`), kept ``ttl`` seconds per task so that a burst of submits or
    claims does not read the history each time. ``history`` does the reading.

    >>> reads = []
    >>> guess = FromHistory(lambda t: reads.append(t) or [(4.0, 2)], estimated_duration, ttl=10)
    >>> guess("eda"), guess("eda"), reads
    (4.0, 4.0, ['eda'])
    """

    def __init__(
        self,
        history: Callable[[str], Runs],
        figure: Callable[[Runs], float | None],
        *,
        ttl: float,
        clock: Clock = time.monotonic,
    ) -> None:
        self.history = history
        self.figure = figure
        self.ttl = ttl
        self.clock = clock
        self._kept: dict[str, tuple[float, float | None]] = {}

    def __call__(self, task: str) -> float | None:
        now = self.clock()
        kept = self._kept.get(task)
        if kept is None or now - kept[0] > self.ttl:
            kept = (now, self.figure(self.history(task)))
            self._kept[task] = kept
        return kept[1]

    def clear(self) -> None:
        """Forget what was kept: the next call reads the history again."""
        self._kept.clear()
