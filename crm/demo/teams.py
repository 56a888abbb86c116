"""SDR teams, business calendars and SLAs of the demo, and the timing shares."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from datetime import time as time_of_day
from decimal import Decimal
from typing import Any

#: Seconds between a lead becoming an MQL and its handoff opening (the task
#: that opens it runs after the lifecycle's commit).
SYSTEM_DELAY_SECONDS = (20, 240)
#: The escalation ladder's beat task runs once a minute.
BEAT_INTERVAL = timedelta(minutes=1)
#: Share of handoffs an SDR lets breach (expired, escalated and reassigned);
#: an SLA of at most FAST_SLA_HOURS is missed more often.
BREACH_SHARE = 0.12
FAST_SLA_BREACH_SHARE = 0.25
FAST_SLA_HOURS = Decimal(2)
#: Share of accepted handoffs whose owner follows up after the follow-up SLA.
FOLLOW_UP_LATE_SHARE = 0.15
#: Share of SQLs the sales manager hands from one rep to another.
REASSIGN_SHARE = 0.08
#: Of the MQLs the history leaves undecided, every this-many-th (the most
#: recent first) has its handoff opened late, so it is at risk today.
LATE_OPEN_EVERY = 3
#: Volume commitments sit this far above what each demo SLA received per
#: month (rounded up to a multiple of 5), so the pacing report has a gap.
COMMITMENT_HEADROOM = 1.15


@dataclass(frozen=True)
class _CalendarSpec:
    name: str
    time_zone: str
    day_start: time_of_day
    day_end: time_of_day
    #: The holidays of a year: (local date, name).
    holidays: Callable[[int], list[tuple[date, str]]]


@dataclass(frozen=True)
class _TeamSpec:
    name: str
    members: tuple[str, ...]  # demo usernames, in membership order


@dataclass(frozen=True)
class _SlaSpec:
    name: str
    priority: int
    team: str  # a demo team, or "" for the default SLA's team
    calendar: str  # a demo calendar, or "" for the default SLA's calendar
    accept_within_hours: Decimal
    at_risk_percent: int
    follow_up_within_hours: Decimal
    conditions: tuple[dict[str, Any], ...]
    notes: str


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    """The ``n``-th ``weekday`` (0 = Monday) of a month; ``n = -1``: the last."""
    if n > 0:
        first = date(year, month, 1)
        return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))
    last = date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)
    return last - timedelta(days=(last.weekday() - weekday) % 7)


def _easter(year: int) -> date:
    """Easter Sunday of the Gregorian calendar (the Meeus/Jones/Butcher method)."""
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    g = (8 * b + 13) // 25
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    shift = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * shift) // 451
    month, day = divmod(h + shift - 7 * m + 114, 31)
    return date(year, month, day + 1)


def _us_holidays(year: int) -> list[tuple[date, str]]:
    return [
        (date(year, 1, 1), "New Year's Day"),
        (_nth_weekday(year, 1, 0, 3), "Martin Luther King Jr. Day"),
        (_nth_weekday(year, 2, 0, 3), "Presidents' Day"),
        (_nth_weekday(year, 5, 0, -1), "Memorial Day"),
        (date(year, 6, 19), "Juneteenth"),
        (date(year, 7, 4), "Independence Day"),
        (_nth_weekday(year, 9, 0, 1), "Labor Day"),
        (_nth_weekday(year, 11, 3, 4), "Thanksgiving Day"),
        (date(year, 12, 25), "Christmas Day"),
    ]


def _german_holidays(year: int) -> list[tuple[date, str]]:
    easter = _easter(year)
    return [
        (date(year, 1, 1), "New Year's Day"),
        (easter - timedelta(days=2), "Good Friday"),
        (easter + timedelta(days=1), "Easter Monday"),
        (date(year, 5, 1), "Labour Day"),
        (easter + timedelta(days=39), "Ascension Day"),
        (easter + timedelta(days=50), "Whit Monday"),
        (date(year, 10, 3), "German Unity Day"),
        (date(year, 12, 25), "Christmas Day"),
        (date(year, 12, 26), "Boxing Day"),
    ]


DEMO_CALENDARS: tuple[_CalendarSpec, ...] = (
    _CalendarSpec(
        "North America business days",
        "America/New_York",
        time_of_day(9),
        time_of_day(17),
        _us_holidays,
    ),
    _CalendarSpec(
        "EMEA business days",
        "Europe/Berlin",
        time_of_day(9),
        time_of_day(17),
        _german_holidays,
    ),
)
DEMO_TEAMS: tuple[_TeamSpec, ...] = (
    _TeamSpec("SDR North America", ("sdr1", "sdr3")),
    _TeamSpec("SDR EMEA", ("sdr2", "sdr4")),
)
#: The demo reps, round robin: each demo SLA's sales team, so an accept in the
#: demo hands the lead to its account's rep, else to the next rep.
DEMO_SALES_TEAM = "Sales reps"
#: The migration's team, behind the default SLA and the demo-request lane,
#: takes what no regional SLA covers: every SDR is in it.
DEFAULT_TEAM_MEMBERS = ("sdr1", "sdr2", "sdr3", "sdr4")
_EUROPE = {"attribute": "region", "operator": "equals", "value": "europe"}
DEMO_SLAS: tuple[_SlaSpec, ...] = (
    _SlaSpec(
        "Demo requests",
        10,
        "",
        "",
        Decimal(1),
        50,
        Decimal(4),
        (
            {
                "attribute": "last_touchpoint_kind",
                "operator": "one_of",
                "value": ["demo_request", "trial_signup"],
            },
        ),
        "Hand-raisers first: a demo request or trial sign-up gets a call "
        "within the business hour.",
    ),
    _SlaSpec(
        "Enterprise EMEA",
        20,
        "SDR EMEA",
        "EMEA business days",
        Decimal(4),
        75,
        Decimal(8),
        (
            _EUROPE,
            {
                "attribute": "account.employee_count",
                "operator": "at_least",
                "value": 1000,
            },
        ),
        "European companies of 1,000 people or more.",
    ),
    _SlaSpec(
        "EMEA",
        50,
        "SDR EMEA",
        "EMEA business days",
        Decimal(8),
        75,
        Decimal(16),
        (_EUROPE,),
        "Every other MQL from Europe.",
    ),
    _SlaSpec(
        "North America",
        50,
        "SDR North America",
        "North America business days",
        Decimal(8),
        75,
        Decimal(16),
        ({"attribute": "region", "operator": "equals", "value": "north_america"},),
        "MQLs from the United States and Canada.",
    ),
)
