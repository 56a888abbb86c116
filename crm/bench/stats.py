"""Figures of a measurement: percentiles of latencies."""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(values: Sequence[float], p: float) -> float:
    """The ``p``-th percentile (0-100) of ``values``, 0 when there are none.

    Interpolated linearly between the two closest ranks, as PostgreSQL's
    ``percentile_cont`` and ``statistics.quantiles(method="inclusive")`` do.
    """
    if not values:
        return 0.0
    ordered = sorted(values)
    position = p / 100 * (len(ordered) - 1)
    lower = math.floor(position)
    low, high = ordered[lower], ordered[math.ceil(position)]
    return low + (high - low) * (position - lower)
