"""The SLA clocks of a handoff: where each stands at a given moment.

Two clocks run on a handoff. The SDR's clock runs while it is pending: on
track, at risk from ``at_risk_at`` (the SLA's reminder point), breached from
``due_at`` (until the escalation run expires it). The sales rep's follow-up
clock runs after acceptance: done once followed up, breached once overdue or
recorded as breached, at risk when the SLA's at-risk share of the window is
used up.

Pure functions over plain values (times, a status, a calendar spec): no
queries, so the handoff pages, their template tags and the API read the same
state for the same ``now``. Time left counts business hours of the SLA's
calendar; wording and colours belong to the callers.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from handoff import business_hours


class ClockState(enum.StrEnum):
    """Where a clock stands; the values are the API's ``state`` codes."""

    ON_TRACK = "on_track"
    AT_RISK = "at_risk"
    BREACHED = "breached"
    #: The follow-up was made: the clock stopped.
    DONE = "done"
    #: No clock runs: the handoff is decided, or has no follow-up window.
    STOPPED = "stopped"


@dataclass(frozen=True)
class ClockReading:
    """A clock at one moment.

    ``seconds_left`` is the business time until ``due_at``, negative once
    overdue; None when the clock is not running (``DONE``, ``STOPPED``).
    ``done_at`` is when a ``DONE`` clock stopped (the follow-up).
    """

    state: ClockState
    seconds_left: float | None = None
    due_at: dt.datetime | None = None
    done_at: dt.datetime | None = None


STOPPED = ClockReading(ClockState.STOPPED)


def sla_clock(
    *,
    now: dt.datetime,
    due_at: dt.datetime,
    at_risk_at: dt.datetime,
    calendar: business_hours.Calendar | None,
    seconds_left: float | None = None,
) -> ClockReading:
    """The SDR's clock of a pending handoff (a decided one's is ``STOPPED``):
    breached from ``due_at``, at risk from ``at_risk_at``, on track before.

    ``seconds_left``, when the caller counted it already for the same ``now``
    (``time_left``), is used as the business time left instead of counting
    it again in ``calendar`` (then not needed)."""
    if seconds_left is None:
        if calendar is None:
            raise ValueError("sla_clock needs the calendar or the seconds left.")
        seconds_left = business_hours.business_seconds_between(now, due_at, calendar)
    seconds = seconds_left
    if now >= due_at:
        state = ClockState.BREACHED
    elif now >= at_risk_at:
        state = ClockState.AT_RISK
    else:
        state = ClockState.ON_TRACK
    return ClockReading(state, seconds, due_at)


def follow_up_clock(
    *,
    now: dt.datetime,
    due_at: dt.datetime | None,
    followed_up_at: dt.datetime | None,
    breached_at: dt.datetime | None,
    calendar: business_hours.Calendar,
    window_hours: Decimal,
    at_risk_percent: int,
) -> ClockReading:
    """The sales rep's clock: time left for the first follow-up after acceptance.

    Done once followed up; stopped without a due time; breached once overdue
    (or recorded as breached); at risk once no more than the SLA's at-risk
    share of the window is left.
    """
    if followed_up_at is not None:
        return ClockReading(ClockState.DONE, done_at=followed_up_at)
    if due_at is None:
        return STOPPED
    seconds = business_hours.business_seconds_between(now, due_at, calendar)
    if breached_at is not None or now >= due_at:
        return ClockReading(ClockState.BREACHED, seconds, due_at)
    at_risk_left = float(window_hours) * 3600 * (100 - at_risk_percent) / 100
    state = ClockState.AT_RISK if seconds <= at_risk_left else ClockState.ON_TRACK
    return ClockReading(state, seconds, due_at)


def time_left(
    items: list[tuple[Any, dt.datetime, business_hours.Calendar]], *, now: dt.datetime
) -> dict[Any, float]:
    """The business seconds from ``now`` to each ``(key, due_at, calendar)``
    item's due time (negative once overdue), by key: one walk over the
    working windows per calendar however many items share it."""
    by_calendar: dict[business_hours.Calendar, list[tuple[Any, dt.datetime]]] = {}
    for key, due_at, calendar in items:
        by_calendar.setdefault(calendar, []).append((key, due_at))
    left = {}
    for calendar, group in by_calendar.items():
        seconds = business_hours.business_seconds_from(
            now, [due_at for _, due_at in group], calendar
        )
        left.update(zip((key for key, _ in group), seconds, strict=True))
    return left


def by_time_left(
    items: list[tuple[Any, dt.datetime, business_hours.Calendar]], *, now: dt.datetime
) -> list[Any]:
    """The keys of ``(key, due_at, calendar)`` items, least business time
    left first: the order of the SDR clocks' "N h left" and "overdue" labels.

    Wall due times can disagree with it: a handoff due Monday 10:00 has less
    working time left on Friday evening than one due Friday 23:00 in a
    calendar that works late. Ties go to the earlier due time, then the key.
    """
    return ordered_by_time_left(items, time_left(items, now=now))


def ordered_by_time_left(
    items: list[tuple[Any, dt.datetime, business_hours.Calendar]],
    left: dict[Any, float],
) -> list[Any]:
    """``by_time_left`` with the time left of each key already counted."""
    ranked = sorted((left[key], due_at, key) for key, due_at, _ in items)
    return [key for _, _, key in ranked]
