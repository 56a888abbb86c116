"""Moments as Django's ``date`` filter words them, for presenters that word a
list's times once in Python instead of through the filter per row."""

from __future__ import annotations

import datetime as dt


def zone_name(local: dt.datetime) -> str:
    """What the ``date`` filter's ``e`` prints for the aware ``local``: its
    time zone's abbreviation ("CET", "UTC"), or "" at a wall time its zone
    holds twice (the hour a clock goes back), as Django leaves it out there."""
    zone = local.tzinfo
    if zone is None or zone.utcoffset(local.replace(fold=not local.fold)) != (
        zone.utcoffset(local)
    ):
        return ""
    return local.tzname() or ""
