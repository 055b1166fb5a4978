"""The statistics of an A/B report: means, Welch intervals, the ratio's interval, and the
sample-ratio-mismatch test.

Figures enter as exact decimals; the statistics are computed in binary floating point (a
standard error has no exact value to keep) and leave as decimals rounded to a stated number
of places. Intervals are the large-sample normal ones at 95%:

- the difference of two means, with Welch's standard error ``sqrt(s1²/n1 + s2²/n2)`` (the
  two variants' variances are not assumed equal);
- the uplift, the ratio of the means less one, by the delta method on the log of the ratio:
  ``exp(log(m2/m1) ± z·sqrt(s1²/(n1·m1²) + s2²/(n2·m2²))) - 1``;
- the split, by Pearson's chi-square of the members seen in each variant against the stated
  shares, with ``k - 1`` degrees of freedom; a p-value under 0.001 is a mismatch.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

__all__ = ["Moments", "Interval", "welch", "uplift", "chi_square", "srm", "Z95", "SRM_ALPHA", "decimal"]

Z95 = 1.959963984540054  # the standard normal's 97.5% point: a two-sided 95% interval
SRM_ALPHA = 0.001  # a split this unlikely under the stated shares is called a mismatch
_EPS = 1e-15
_FOR_VARIANCE = 2  # members a sample variance needs
_MAX_ITER = 500


def decimal(value: float | None, places: int) -> Decimal | None:
    """A float as a decimal of ``places`` decimals; None for no value (or not a finite one)."""
    if value is None or not math.isfinite(value):
        return None
    return Decimal(repr(value)).quantize(Decimal(1).scaleb(-places))


@dataclass(frozen=True)
class Moments:
    """Count, sum and sum of squares of one figure over one variant's members: all a mean and a
    variance need, and they add up across partitions."""

    n: int = 0
    total: Decimal = Decimal(0)
    squares: Decimal = Decimal(0)

    @classmethod
    def of(cls, values: Sequence[Decimal]) -> Moments:
        return cls(len(values), sum(values, Decimal(0)), sum((v * v for v in values), Decimal(0)))

    @property
    def mean(self) -> float | None:
        return float(self.total) / self.n if self.n else None

    @property
    def variance(self) -> float | None:
        """The sample variance (n - 1 in the denominator), from the exact sums."""
        if self.n < _FOR_VARIANCE:
            return None
        spread = self.squares - self.total * self.total / self.n  # exact: no cancellation in floats
        return max(float(spread) / (self.n - 1), 0.0)


@dataclass(frozen=True)
class Interval:
    estimate: float | None
    low: float | None
    high: float | None


def welch(control: Moments, variant: Moments) -> Interval:
    """The difference of means, variant - control, with its 95% interval."""
    if control.mean is None or variant.mean is None or control.variance is None or variant.variance is None:
        return Interval(None, None, None)
    diff = variant.mean - control.mean
    se = math.sqrt(control.variance / control.n + variant.variance / variant.n)
    return Interval(diff, diff - Z95 * se, diff + Z95 * se)


def uplift(control: Moments, variant: Moments) -> Interval:
    """The relative change of the mean, variant / control - 1, with its 95% interval."""
    m1, m2, v1, v2 = control.mean, variant.mean, control.variance, variant.variance
    if m1 is None or m2 is None or v1 is None or v2 is None or m1 <= 0 or m2 <= 0:
        return Interval(None, None, None)
    ratio = m2 / m1
    se = math.sqrt(v1 / (control.n * m1 * m1) + v2 / (variant.n * m2 * m2))
    return Interval(ratio - 1, ratio * math.exp(-Z95 * se) - 1, ratio * math.exp(Z95 * se) - 1)


def chi_square(observed: Sequence[int], shares: Sequence[Decimal]) -> tuple[float, int, float]:
    """Pearson's statistic of ``observed`` counts against ``shares`` (percent), its degrees of
    freedom and its p-value. Variants with share 0 are left out (nobody may be in them)."""
    pairs = [(o, float(s) / 100) for o, s in zip(observed, shares, strict=True) if s > 0]
    total = sum(o for o, _ in pairs)
    df = len(pairs) - 1
    if total == 0 or df < 1:
        return 0.0, max(df, 0), 1.0
    statistic = sum((o - total * p) ** 2 / (total * p) for o, p in pairs)
    return statistic, df, _upper_gamma(df / 2, statistic / 2)


def srm(observed: Sequence[int], shares: Sequence[Decimal]) -> dict[str, object]:
    statistic, df, p_value = chi_square(observed, shares)
    return {"chi_square": decimal(statistic, 4), "df": df, "p_value": decimal(p_value, 6),
            "mismatch": p_value < SRM_ALPHA, "alpha": decimal(SRM_ALPHA, 3)}


def _upper_gamma(a: float, x: float) -> float:
    """The regularized upper incomplete gamma Q(a, x): the chi-square's survival function at
    2x with 2a degrees of freedom. A series below a + 1, a continued fraction above."""
    if x <= 0:
        return 1.0
    log_front = a * math.log(x) - x - math.lgamma(a)
    if x < a + 1:
        return 1.0 - _lower_series(a, x, log_front)
    return _upper_fraction(a, x, log_front)


def _lower_series(a: float, x: float, log_front: float) -> float:
    term = total = 1.0 / a
    for n in range(1, _MAX_ITER):
        term *= x / (a + n)
        total += term
        if abs(term) < abs(total) * _EPS:
            break
    return total * math.exp(log_front)


def _upper_fraction(a: float, x: float, log_front: float) -> float:
    """Lentz's method for the continued fraction of Q(a, x)."""
    tiny = 1e-300
    b = x + 1 - a
    c, d = 1 / tiny, 1 / b
    h = d
    for i in range(1, _MAX_ITER):
        an = -i * (i - a)
        b += 2
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1 / d
        h *= d * c
        if abs(d * c - 1) < _EPS:
            break
    return math.exp(log_front) * h
