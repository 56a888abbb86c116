"""The dashboard's "Today" figures: leads by current stage, touchpoints of the
last seven days, MQLs now.

Each is a count over a whole table (a million leads, millions of
touchpoints: a second or more), and none needs to be exact to the second. So
they are counted once a minute by ``crm.refresh_today`` and kept in the cache
with the moment they were counted, which the page shows. A page that finds
no figures, or figures older than ``MAX_AGE`` (no beat running, a cache
flushed), counts them itself and stores them for the next one.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from django.core.cache import cache

from leads import selectors as lead_selectors
from leads.models import Stage

CACHE_KEY = "crm:marketing:today:v1"
#: Figures older than this are counted again by the page that wants them.
MAX_AGE = dt.timedelta(minutes=5)
#: The touchpoints card counts this far back.
TOUCHPOINT_WINDOW = dt.timedelta(days=7)


@dataclasses.dataclass(frozen=True)
class Today:
    """Where leads stand, as counted at ``as_of``."""

    as_of: dt.datetime
    #: ``{"stage", "label", "count"}`` per stage, lifecycle order, zeros kept.
    stage_counts: list[dict[str, object]]
    touchpoints_week: int

    @property
    def lead_total(self) -> int:
        return sum(int(row["count"]) for row in self.stage_counts)

    @property
    def mql_count(self) -> int:
        return next(
            int(row["count"]) for row in self.stage_counts if row["stage"] == Stage.MQL
        )


def today_count(*, now: dt.datetime) -> Today:
    """Count the figures now (reads only)."""
    return Today(
        as_of=now,
        stage_counts=[
            {
                "stage": str(row["stage"]),
                "label": str(row["label"]),
                "count": row["count"],
            }
            for row in lead_selectors.lead_stage_counts()
        ],
        touchpoints_week=lead_selectors.touchpoint_count_since(
            since=now - TOUCHPOINT_WINDOW
        ),
    )


def today_refresh(*, now: dt.datetime) -> Today:
    """Count the figures and keep them for the pages; return them."""
    figures = today_count(now=now)
    cache.set(CACHE_KEY, figures, timeout=int(MAX_AGE.total_seconds()) * 2)
    return figures


def today_figures(*, now: dt.datetime) -> Today:
    """The latest figures, counted afresh when none are at most MAX_AGE old."""
    figures = cache.get(CACHE_KEY)
    if isinstance(figures, Today) and dt.timedelta(0) <= now - figures.as_of <= MAX_AGE:
        return figures
    return today_refresh(now=now)
