"""The outcome report's statistics against values worked out by hand (4 decimals)."""

import math

import pytest

from leadfollow.stats import Z_95, percentile, rate_ratio, wilson_interval

# z = 1.959964, z² = 3.841459.


def test_z():
    assert pytest.approx(1.959964, abs=1e-6) == Z_95


@pytest.mark.parametrize(
    ("successes", "trials", "low", "high"),
    [
        # p = 0.75, z²/n = 0.096037: centre 0.798018 / 1.096037 = 0.728114,
        # half 1.959964 · √(0.0046875 + 0.000600) / 1.096037 = 0.130036.
        (30, 40, 0.598078, 0.858150),
        # p = 0.6, z²/n = 0.192073: centre 0.696037 / 1.192073 = 0.583893,
        # half 1.959964 · √(0.012 + 0.002401) / 1.192073 = 0.197306.
        (12, 20, 0.386587, 0.781199),
        # p = 0.2, n = 25: centre (0.2 + 0.076829) / 1.153658 = 0.239961,
        # half 1.959964 · √(0.0064 + 0.001537) / 1.153658 = 0.151374.
        (5, 25, 0.088587, 0.391335),
        # p = 1/3, n = 3: centre (0.333333 + 0.640243) / 2.280486 = 0.426916,
        # half 1.959964 · √(0.074074 + 0.106707) / 2.280486 = 0.365425.
        (1, 3, 0.061491, 0.792341),
        # p = 0: the low end is 0, the high end z²/n / (1 + z²/n) = 0.384146 / 1.384146.
        (0, 10, 0.0, 0.277533),
        # p = 1, n = 1: low = 1 / (1 + z²) = 1 / 4.841459.
        (1, 1, 0.206549, 1.0),
    ],
)
def test_wilson_interval_by_hand(successes, trials, low, high):
    interval = wilson_interval(successes, trials)
    assert interval.low == pytest.approx(low, abs=1e-4)
    assert interval.high == pytest.approx(high, abs=1e-4)


def test_wilson_interval_ends_are_exact_at_zero_and_one():
    assert wilson_interval(0, 7).low == 0.0
    assert wilson_interval(7, 7).high == 1.0


def test_wilson_interval_of_nothing_is_none():
    assert wilson_interval(0, 0) is None


@pytest.mark.parametrize(("successes", "trials"), [(-1, 3), (4, 3), (0, -1)])
def test_wilson_interval_refuses_impossible_counts(successes, trials):
    with pytest.raises(ValueError):
        wilson_interval(successes, trials)


@pytest.mark.parametrize(
    ("a", "n_a", "b", "n_b", "ratio", "low", "high"),
    [
        # 0.75 / 0.2 = 3.75; se = √(1/30 − 1/40 + 1/5 − 1/25) = √0.168333 = 0.410284;
        # ln 3.75 = 1.321756 ± 0.804142.
        (30, 40, 5, 25, 3.75, 1.678018, 8.380424),
        # 0.75 / (1/3) = 2.25; se = √(1/30 − 1/40 + 1 − 1/3) = √0.675 = 0.821584;
        # ln 2.25 = 0.810930 ± 1.610275.
        (30, 40, 1, 3, 2.25, 0.449633, 11.259400),
        # Equal rates: ratio 1, se = √(2 · (1/10 − 1/20)) = 0.316228; e^±0.619795.
        (10, 20, 10, 20, 1.0, 0.538040, 1.858598),
    ],
)
def test_rate_ratio_by_hand(a, n_a, b, n_b, ratio, low, high):
    found = rate_ratio(a, n_a, b, n_b)
    assert found.ratio == pytest.approx(ratio, abs=1e-9)
    assert found.low == pytest.approx(low, abs=1e-4)
    assert found.high == pytest.approx(high, abs=1e-4)
    assert math.log(found.ratio) - math.log(found.low) == pytest.approx(
        math.log(found.high) - math.log(found.ratio)
    )


def test_rate_ratio_without_successes_is_none():
    assert rate_ratio(0, 10, 3, 10) is None
    assert rate_ratio(3, 10, 0, 10) is None


def test_percentile_interpolates():
    assert percentile([], 0.5) is None
    assert percentile([1, 2, 3, 4], 0.5) == 2.5
    assert percentile([1, 2, 3, 4, 10], 0.9) == pytest.approx(7.6)
