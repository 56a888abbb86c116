"""The statistics of rule analytics: pure functions over counts.

- a rate's 95% interval is Wilson's score interval, which stays inside
  [0, 1] and stays wide for a small sample;
- a lift (the ratio of two rates, a risk ratio) has the log-method
  interval: ``exp(ln(lift) +- z * sqrt(1/a - 1/n1 + 1/c - 1/n0))`` with ``a``
  of ``n1`` and ``c`` of ``n0`` the successes; it is undefined (None) when
  either side has no success;
- ROC AUC is the Mann-Whitney statistic from counts of positives and
  negatives at each score: the share of (positive, negative) pairs where the
  positive scores higher, a tie counting one half. Exact (a Fraction).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

#: The 97.5th percentile of the standard normal: a two-sided 95% interval.
Z95 = 1.959963984540054


@dataclass(frozen=True)
class Rate:
    """``hits`` of ``total``, with Wilson's 95% interval (None when empty)."""

    hits: int
    total: int

    @property
    def value(self) -> float | None:
        return self.hits / self.total if self.total else None

    @property
    def interval(self) -> tuple[float, float] | None:
        return wilson_interval(self.hits, self.total)

    @property
    def low(self) -> float | None:
        interval = self.interval
        return interval[0] if interval else None

    @property
    def high(self) -> float | None:
        interval = self.interval
        return interval[1] if interval else None


@dataclass(frozen=True)
class Lift:
    """A rate among the leads a rule fired on over the rate among the rest."""

    value: float | None
    low: float | None
    high: float | None

    @property
    def bounds(self) -> tuple[float | None, float | None]:
        return self.low, self.high

    @property
    def includes_one(self) -> bool | None:
        """Whether the interval holds 1 (no clear lift); None without one."""
        if self.low is None or self.high is None:
            return None
        return self.low <= 1 <= self.high


def wilson_interval(
    hits: int, total: int, z: float = Z95
) -> tuple[float, float] | None:
    """Wilson's score interval for ``hits`` of ``total``; None for no trials."""
    if total <= 0:
        return None
    if not 0 <= hits <= total:
        raise ValueError(f"{hits} successes of {total} trials is impossible.")
    p = hits / total
    z2 = z * z
    denominator = 1 + z2 / total
    centre = (p + z2 / (2 * total)) / denominator
    half = z / denominator * math.sqrt(p * (1 - p) / total + z2 / (4 * total * total))
    # At 0 or all successes the bound is exactly 0 or 1; floats miss by 1e-17.
    low = 0.0 if hits == 0 else max(0.0, centre - half)
    high = 1.0 if hits == total else min(1.0, centre + half)
    return low, high


def lift(fired: Rate, rest: Rate, z: float = Z95) -> Lift:
    """``fired``'s rate over ``rest``'s, with the log-method 95% interval.

    The lift is None when either side is empty or the rest's rate is 0; the
    interval is None also when the fired side has no success (the log of 0).
    """
    if not fired.total or not rest.total or not rest.hits:
        return Lift(None, None, None)
    ratio = (fired.hits / fired.total) / (rest.hits / rest.total)
    if not fired.hits:
        return Lift(ratio, None, None)
    spread = z * math.sqrt(
        1 / fired.hits - 1 / fired.total + 1 / rest.hits - 1 / rest.total
    )
    centre = math.log(ratio)
    return Lift(ratio, math.exp(centre - spread), math.exp(centre + spread))


def roc_auc(groups: Iterable[tuple[Decimal, int, int]]) -> Fraction | None:
    """ROC AUC from ``(score, positives, negatives)`` per score (a score may
    repeat: its counts add up). None unless there are both positives and
    negatives."""
    by_score: dict[Decimal, list[int]] = {}
    for score, positives, negatives in groups:
        counts = by_score.setdefault(score, [0, 0])
        counts[0] += positives
        counts[1] += negatives
    total_pos = sum(c[0] for c in by_score.values())
    total_neg = sum(c[1] for c in by_score.values())
    if not total_pos or not total_neg:
        return None
    below = 0
    # Twice the Mann-Whitney U, so a tie's half stays an integer.
    twice_u = 0
    for score in sorted(by_score):
        positives, negatives = by_score[score]
        twice_u += positives * (2 * below + negatives)
        below += negatives
    return Fraction(twice_u, 2 * total_pos * total_neg)
