"""Time-left estimates with an injected clock."""

from __future__ import annotations

import math

import pytest

from jobwire.eta import (
    Estimate,
    EtaEstimator,
    estimated_duration,
    median_or_none,
    prior_from_history,
)


def test_no_total_means_no_eta(clock) -> None:
    eta = EtaEstimator(clock=clock, min_items=1)
    eta.start(total=None)
    clock.advance(1.0)
    estimate = eta.update(10)
    assert estimate.eta_seconds is None
    # The rate is still measured: an indeterminate bar can show items/s.
    assert estimate.rate == pytest.approx(10.0)


@pytest.mark.parametrize("total", [0, -5])
def test_non_positive_total_means_no_eta(clock, total: int) -> None:
    eta = EtaEstimator(clock=clock, min_items=1)
    eta.start(total=total)
    clock.advance(1.0)
    assert eta.update(3).eta_seconds is None


def test_no_basis_means_none_not_a_guess(clock) -> None:
    eta = EtaEstimator(clock=clock)  # min_items=3, min_seconds=0.5, no prior
    eta.start(total=100)
    assert eta.estimate(0) == Estimate(None, None)
    clock.advance(0.1)
    assert eta.update(1) == Estimate(None, None)  # 1 item in 0.1 s: not enough to trust
    clock.advance(0.1)
    assert eta.update(2) == Estimate(None, None)


def test_no_progress_means_no_rate(clock) -> None:
    eta = EtaEstimator(clock=clock, min_items=1)
    eta.start(total=10)
    clock.advance(5.0)
    assert eta.update(0) == Estimate(None, None)


def test_prior_is_used_before_enough_items(clock) -> None:
    eta = EtaEstimator(clock=clock, prior_seconds_per_item=0.5)
    eta.start(total=100)
    assert eta.estimate(0) == Estimate(rate=2.0, eta_seconds=50.0)
    clock.advance(0.1)
    # One item done quickly: the measured rate is not trusted yet, the prior answers.
    estimate = eta.update(1)
    assert estimate.rate == 2.0
    assert estimate.eta_seconds == pytest.approx(99 * 0.5)


def test_measured_rate_replaces_the_prior(clock) -> None:
    eta = EtaEstimator(clock=clock, min_items=3, prior_seconds_per_item=10.0)
    eta.start(total=100)
    clock.advance(1.0)
    estimate = eta.update(4)  # 4 items in 1 s: enough items
    assert estimate.rate == pytest.approx(4.0)
    assert estimate.eta_seconds == pytest.approx(96 / 4.0)


def test_min_seconds_allows_a_slow_first_item(clock) -> None:
    eta = EtaEstimator(clock=clock, min_items=3, min_seconds=0.5)
    eta.start(total=10)
    clock.advance(2.0)
    estimate = eta.update(1)  # one item, but 2 s passed: trusted
    assert estimate.rate == pytest.approx(0.5)
    assert estimate.eta_seconds == pytest.approx(18.0)


def test_rate_is_smoothed_after_the_first_measure(clock) -> None:
    eta = EtaEstimator(clock=clock, min_items=1, smoothing=0.3)
    eta.start(total=1000)
    clock.advance(1.0)
    assert eta.update(10).rate == pytest.approx(10.0)
    clock.advance(1.0)
    # Sample 30 items/s: 0.3 * 30 + 0.7 * 10 = 16.
    estimate = eta.update(40)
    assert estimate.rate == pytest.approx(16.0)
    assert estimate.eta_seconds == pytest.approx(960 / 16.0)
    clock.advance(2.0)
    # Sample 5 items/s: 0.3 * 5 + 0.7 * 16 = 12.7.
    assert eta.update(50).rate == pytest.approx(12.7)


def test_a_steady_rate_converges(clock) -> None:
    eta = EtaEstimator(clock=clock, min_items=1)
    eta.start(total=500)
    for i in range(1, 200):
        clock.advance(0.5)
        estimate = eta.update(i * 2)  # 4 items/s
    assert estimate.rate == pytest.approx(4.0)
    assert estimate.eta_seconds == pytest.approx((500 - 398) / 4.0)


def test_time_without_items_keeps_the_rate_but_counts_for_the_next_sample(clock) -> None:
    eta = EtaEstimator(clock=clock, min_items=1, smoothing=1.0)
    eta.start(total=100)
    clock.advance(1.0)
    assert eta.update(10).rate == pytest.approx(10.0)
    clock.advance(1.0)
    assert eta.update(10).rate == pytest.approx(10.0)  # nothing new: rate unchanged
    clock.advance(1.0)
    # 10 items over the 2 s since the last item: 5 items/s.
    assert eta.update(20).rate == pytest.approx(5.0)


def test_eta_never_negative_when_current_exceeds_total(clock) -> None:
    eta = EtaEstimator(clock=clock, min_items=1)
    eta.start(total=10)
    clock.advance(1.0)
    assert eta.update(15).eta_seconds == 0.0


def test_update_can_set_the_total(clock) -> None:
    eta = EtaEstimator(clock=clock, min_items=1)
    eta.start()
    clock.advance(1.0)
    assert eta.update(5).eta_seconds is None
    clock.advance(1.0)
    assert eta.update(10, total=30).eta_seconds == pytest.approx(20 / eta.update(10).rate)
    assert eta.total == 30


def test_going_backwards_restarts(clock) -> None:
    eta = EtaEstimator(clock=clock, min_items=3, min_seconds=10.0)
    eta.start(total=100)
    clock.advance(1.0)
    assert eta.update(50).rate == pytest.approx(50.0)
    clock.advance(1.0)
    # A new step reuses the counter: the old rate is dropped, not averaged in.
    assert eta.update(0) == Estimate(None, None)
    clock.advance(1.0)
    assert eta.update(2) == Estimate(None, None)  # 2 items since the restart: too few
    clock.advance(1.0)
    estimate = eta.update(3)  # 3 items in 2 s since the restart
    assert estimate.rate == pytest.approx(1.5)
    assert estimate.eta_seconds == pytest.approx(97 / 1.5)


def test_restart_measures_from_the_restart_point(clock) -> None:
    eta = EtaEstimator(clock=clock, min_items=3, min_seconds=10.0)
    eta.start(total=100)
    clock.advance(1.0)
    assert eta.update(60).rate == pytest.approx(60.0)
    clock.advance(1.0)
    eta.update(5)  # backwards: restart at 5
    clock.advance(2.0)
    estimate = eta.update(9)  # 4 items in 2 s since the restart
    assert estimate.rate == pytest.approx(2.0)
    assert estimate.eta_seconds == pytest.approx(91 / 2.0)


def test_start_resets_the_rate(clock) -> None:
    eta = EtaEstimator(clock=clock, min_items=1)
    eta.start(total=10)
    clock.advance(1.0)
    assert eta.update(5).rate == pytest.approx(5.0)
    eta.start(total=20)
    assert eta.estimate(0) == Estimate(None, None)
    assert eta.total == 20


@pytest.mark.parametrize("smoothing", [0.0, -0.1, 1.5])
def test_smoothing_out_of_range(smoothing: float) -> None:
    with pytest.raises(ValueError, match="smoothing"):
        EtaEstimator(smoothing=smoothing)


def test_docstring_example() -> None:
    t = iter([0.0, 1.0, 2.0, 3.0]).__next__
    eta = EtaEstimator(clock=t, min_items=1)
    eta.start(total=10)
    assert eta.update(2).eta_seconds == 4.0


# -- history --------------------------------------------------------------------------


def test_prior_from_history_is_the_median_seconds_per_item() -> None:
    runs = [(10.0, 100), (30.0, 100), (20.0, 100)]  # 0.1, 0.3, 0.2 s/item
    assert prior_from_history(runs) == pytest.approx(0.2)
    runs = [(10.0, 10), (100.0, 50), (1.0, 1), (40.0, 10)]  # 1, 2, 1, 4
    assert prior_from_history(runs) == pytest.approx(1.5)


def test_prior_from_history_skips_runs_without_a_total() -> None:
    assert prior_from_history([(10.0, None), (5.0, 0), (8.0, 4)]) == pytest.approx(2.0)
    assert prior_from_history([(10.0, None), (5.0, 0)]) is None
    assert prior_from_history([]) is None


def test_estimated_duration_is_the_median_duration() -> None:
    assert estimated_duration([(50.0, 500), (70.0, None), (10.0, 10)]) == 50.0
    assert estimated_duration([(4.0, 1), (6.0, 1)]) == 5.0
    assert estimated_duration([]) is None


def test_median_ignores_values_that_are_not_durations() -> None:
    assert median_or_none([1.0, -1.0, math.nan, math.inf, 3.0]) == 2.0
    assert median_or_none([math.nan, -2.0]) is None


def test_prior_feeds_the_estimator(clock) -> None:
    prior = prior_from_history([(60.0, 500), (40.0, 500), (50.0, 500)])  # 0.1 s/item
    eta = EtaEstimator(clock=clock, prior_seconds_per_item=prior)
    eta.start(total=500)
    assert eta.estimate(150).eta_seconds == pytest.approx(35.0)
