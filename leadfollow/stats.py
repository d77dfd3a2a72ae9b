"""Small, pure statistics for the outcome report: no Django, no database.

* :func:`wilson_interval`: the Wilson score interval of a proportion (Wilson 1927), which
  stays inside [0, 1] and behaves for small samples and rates near 0 or 1, unlike the
  normal ("Wald") interval;
* :func:`rate_ratio`: the ratio of two proportions with the Katz log interval (Katz et al.
  1978), the usual interval for a risk ratio.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Z_95", "Interval", "RateRatio", "percentile", "rate_ratio", "wilson_interval"]

#: The standard normal quantile for a two-sided 95% interval.
Z_95 = 1.959963984540054


def percentile(sorted_values: Sequence[float], fraction: float) -> float | None:
    """``percentile_cont`` in Python: linear interpolation between closest ranks."""
    n = len(sorted_values)
    if n == 0:
        return None
    position = fraction * (n - 1)
    low = math.floor(position)
    high = min(low + 1, n - 1)
    weight = position - low
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * weight


@dataclass(frozen=True)
class Interval:
    low: float
    high: float


@dataclass(frozen=True)
class RateRatio:
    ratio: float
    low: float
    high: float


def wilson_interval(successes: int, trials: int, z: float = Z_95) -> Interval | None:
    """The Wilson score interval for ``successes`` out of ``trials`` (None when trials = 0).

    ``(p + z²/2n ± z·√(p(1−p)/n + z²/4n²)) / (1 + z²/n)`` with ``p = successes / trials``.
    """
    if trials < 0 or not 0 <= successes <= trials:
        raise ValueError("need 0 <= successes <= trials")
    if trials == 0:
        return None
    n = trials
    p = successes / n
    z2 = z * z
    denominator = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denominator
    # Without rounding noise: at p = 0 the low end is exactly 0, at p = 1 the high end 1.
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == trials else min(1.0, centre + half)
    return Interval(low, high)


def rate_ratio(
    successes_a: int, trials_a: int, successes_b: int, trials_b: int, z: float = Z_95
) -> RateRatio | None:
    """``(a / n_a) / (b / n_b)`` with the Katz log interval
    ``exp(ln r ± z·√(1/a − 1/n_a + 1/b − 1/n_b))``.

    None when either group has no successes (the ratio or its logarithm is undefined).
    """
    for successes, trials in ((successes_a, trials_a), (successes_b, trials_b)):
        if trials < 0 or not 0 <= successes <= trials:
            raise ValueError("need 0 <= successes <= trials")
    if successes_a == 0 or successes_b == 0:
        return None
    ratio = (successes_a / trials_a) / (successes_b / trials_b)
    se = math.sqrt(1 / successes_a - 1 / trials_a + 1 / successes_b - 1 / trials_b)
    log_ratio = math.log(ratio)
    return RateRatio(ratio, math.exp(log_ratio - z * se), math.exp(log_ratio + z * se))
