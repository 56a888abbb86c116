"""Figures of a measurement: percentiles of latencies."""

from __future__ import annotations

from collections.abc import Sequence

from crm.common.percentiles import percentile_cont


def percentile(values: Sequence[float], p: float) -> float:
    """The ``p``-th percentile (0-100) of ``values``, 0 when there are none.

    Interpolated between the two closest ranks, as PostgreSQL's
    ``percentile_cont`` does (``crm.common.percentiles``).
    """
    return percentile_cont(values, p / 100) or 0.0
