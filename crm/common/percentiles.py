"""PostgreSQL's ``percentile_cont``: as an aggregate, and the same in Python.

The aggregate runs where the rows are (PostgreSQL); the Python function
gives the same floats where the database has no such aggregate (SQLite), so
a report reads the same on both.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from django.db.models import Aggregate, FloatField


class PercentileSeconds(Aggregate):
    """PostgreSQL's ``percentile_cont`` over a span between two timestamps, in seconds.

    An ordered-set aggregate: NULL spans are ignored, and a ``filter=`` becomes
    ``FILTER (WHERE ...)`` after the ``WITHIN GROUP`` clause, which is where
    PostgreSQL wants it.
    """

    function = "percentile_cont"
    name = "PercentileSeconds"
    template = (
        "%(function)s(%(fraction)s) WITHIN GROUP "
        "(ORDER BY EXTRACT(EPOCH FROM %(expressions)s)::double precision)"
    )
    output_field = FloatField()

    def __init__(self, span: Any, *, fraction: float, **extra: Any) -> None:
        if not 0 <= fraction <= 1:
            raise ValueError(f"fraction must lie in [0, 1], got {fraction!r}.")
        # A literal built from a float, never from input: safe to inline.
        super().__init__(span, fraction=repr(float(fraction)), **extra)


class PercentileWholeHours(PercentileSeconds):
    """``percentile_cont`` over a span between two timestamps truncated to whole
    hours (the floor of its seconds over 3600), in hours.

    Whole hours make the median additive: a histogram of hours per day can be
    summed over any period and give the same median (``percentile_cont_counted``).
    """

    name = "PercentileWholeHours"
    template = (
        "%(function)s(%(fraction)s) WITHIN GROUP "
        "(ORDER BY floor(EXTRACT(EPOCH FROM %(expressions)s) / 3600)::double precision)"
    )


def percentile_cont(values: Sequence[float], fraction: float) -> float | None:
    """PostgreSQL's ``percentile_cont`` in Python (None for no values).

    The value at rank ``fraction * (n - 1)``, interpolated linearly between
    the two closest ranks with PostgreSQL's ``lo + (hi - lo) * fraction``, so
    both databases give the same float.
    """
    if not values:
        return None
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    lower = math.floor(position)
    low, high = ordered[lower], ordered[math.ceil(position)]
    return low + (high - low) * (position - lower)


def percentile_cont_counted(counts: Mapping[int, int], fraction: float) -> float | None:
    """``percentile_cont`` over a histogram: ``counts`` maps each value to how
    many times it occurs (None when nothing occurs).

    The same float as ``percentile_cont`` over the values written out, without
    writing them out: the two middle ranks are found by walking the values in
    order with their running count.
    """
    n = sum(counts.values())
    if n == 0:
        return None
    position = fraction * (n - 1)
    lower = math.floor(position)
    upper = math.ceil(position)
    low = high = None
    seen = 0
    for value in sorted(v for v, c in counts.items() if c):
        seen += counts[value]
        if low is None and lower < seen:
            low = value
        if upper < seen:
            high = value
            break
    assert low is not None
    assert high is not None
    return low + (high - low) * (position - lower)
