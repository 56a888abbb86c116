"""Business-hours arithmetic for SLA timers (pure functions, no database).

Dates used below (2026): Monday 2 March is a plain working week; Europe/Berlin
changes clocks on Sunday 29 March and Sunday 25 October, America/New_York on
Sunday 8 March and Sunday 1 November.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from handoff.business_hours import (
    DEFAULT_CALENDAR,
    Calendar,
    add_business_hours,
    business_seconds_between,
    is_business_time,
    next_business_moment,
    windows,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
KOLKATA = ZoneInfo("Asia/Kolkata")
MON_FRI = frozenset(range(5))
EVERY_DAY = frozenset(range(7))
HOUR = 3600.0


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


def office(time_zone: str, **overrides: Any) -> Calendar:
    """Monday to Friday, 09:00-17:00 local, unless overridden."""
    fields: dict[str, Any] = {
        "time_zone": time_zone,
        "working_days": MON_FRI,
        "day_start": dt.time(9),
        "day_end": dt.time(17),
    }
    return Calendar(**(fields | overrides))


def night_shift(time_zone: str, start: int, end: int) -> Calendar:
    """Every day from ``start`` to ``end`` o'clock, to straddle a clock change."""
    return office(
        time_zone,
        working_days=EVERY_DAY,
        day_start=dt.time(start),
        day_end=dt.time(end),
    )


# Wednesday 4 March; Good Friday 3 April and Easter Monday 6 April around a weekend.
HOLIDAYS = frozenset({dt.date(2026, 3, 4), dt.date(2026, 4, 3), dt.date(2026, 4, 6)})
UTC_WITH_HOLIDAYS = office("UTC", holidays=HOLIDAYS)


# --- add_business_hours -------------------------------------------------------


def test_default_calendar_is_utc_monday_to_friday_nine_to_five() -> None:
    expected = Calendar(
        time_zone="UTC",
        working_days=frozenset({0, 1, 2, 3, 4}),
        day_start=dt.time(9),
        day_end=dt.time(17),
        holidays=frozenset(),
    )

    assert expected == DEFAULT_CALENDAR


def test_hours_inside_a_working_day_end_the_same_day() -> None:
    # Given Monday 10:00
    start = utc(2026, 3, 2, 10)

    # When three business hours are added
    deadline = add_business_hours(start, 3, DEFAULT_CALENDAR)

    # Then the deadline is Monday 13:00, in UTC
    assert deadline == utc(2026, 3, 2, 13)
    assert deadline.tzinfo is dt.UTC


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        pytest.param(utc(2026, 3, 2, 18), utc(2026, 3, 3, 11), id="after-hours"),
        pytest.param(utc(2026, 3, 2, 17), utc(2026, 3, 3, 11), id="at-day-end"),
        pytest.param(utc(2026, 3, 2, 7), utc(2026, 3, 2, 11), id="before-hours"),
        pytest.param(utc(2026, 3, 7, 12), utc(2026, 3, 9, 11), id="saturday"),
    ],
)
def test_start_outside_hours_counts_from_the_next_window(
    start: dt.datetime, expected: dt.datetime
) -> None:
    assert add_business_hours(start, 2, DEFAULT_CALENDAR) == expected


def test_friday_afternoon_crosses_the_weekend() -> None:
    # Given Friday 15:00 with two working hours left that day
    start = utc(2026, 3, 6, 15)

    # When four business hours are added
    deadline = add_business_hours(start, 4, DEFAULT_CALENDAR)

    # Then the remaining two hours run on Monday morning
    assert deadline == utc(2026, 3, 9, 11)


def test_holiday_is_skipped() -> None:
    # Given Tuesday 16:00 before a Wednesday holiday
    start = utc(2026, 3, 3, 16)

    # When two business hours are added
    deadline = add_business_hours(start, 2, UTC_WITH_HOLIDAYS)

    # Then the second hour runs on Thursday
    assert deadline == utc(2026, 3, 5, 10)


def test_holidays_on_both_sides_of_a_weekend_are_skipped() -> None:
    # Given Thursday 16:00 before Good Friday, the weekend and Easter Monday
    start = utc(2026, 4, 2, 16)

    # When two business hours are added
    deadline = add_business_hours(start, 2, UTC_WITH_HOLIDAYS)

    # Then the second hour runs on Tuesday
    assert deadline == utc(2026, 4, 7, 10)


@pytest.mark.parametrize(
    ("calendar", "start", "hours", "expected"),
    [
        pytest.param(
            office("Europe/Berlin"),
            dt.datetime(2026, 3, 2, 16, tzinfo=BERLIN),
            2,
            utc(2026, 3, 3, 9),  # 10:00 CET (+01:00)
            id="berlin",
        ),
        pytest.param(
            office("America/New_York"),
            dt.datetime(2026, 3, 2, 16, tzinfo=NEW_YORK),
            2,
            utc(2026, 3, 3, 15),  # 10:00 EST (-05:00)
            id="new-york",
        ),
        pytest.param(
            office("Asia/Kolkata"),
            dt.datetime(2026, 3, 2, 16, tzinfo=KOLKATA),
            3,
            utc(2026, 3, 3, 5, 30),  # 11:00 IST (+05:30)
            id="kolkata-half-hour-offset",
        ),
        pytest.param(
            office("Asia/Kolkata"),
            utc(2026, 3, 2, 3),  # 08:30 IST, before the office opens
            1,
            utc(2026, 3, 2, 4, 30),  # 10:00 IST
            id="kolkata-start-given-in-utc",
        ),
    ],
)
def test_working_hours_are_local_to_the_calendar_time_zone(
    calendar: Calendar, start: dt.datetime, hours: int, expected: dt.datetime
) -> None:
    assert add_business_hours(start, hours, calendar) == expected


@pytest.mark.parametrize(
    ("calendar", "start", "expected"),
    [
        pytest.param(
            office("Europe/Berlin"),
            dt.datetime(2026, 3, 27, 16, tzinfo=BERLIN),  # Friday, CET
            utc(2026, 3, 30, 8),  # Monday 10:00 CEST (+02:00)
            id="berlin-spring-forward",
        ),
        pytest.param(
            office("Europe/Berlin"),
            dt.datetime(2026, 10, 23, 16, tzinfo=BERLIN),  # Friday, CEST
            utc(2026, 10, 26, 9),  # Monday 10:00 CET (+01:00)
            id="berlin-fall-back",
        ),
        pytest.param(
            office("America/New_York"),
            dt.datetime(2026, 3, 6, 16, tzinfo=NEW_YORK),  # Friday, EST
            utc(2026, 3, 9, 14),  # Monday 10:00 EDT (-04:00)
            id="new-york-spring-forward",
        ),
        pytest.param(
            office("America/New_York"),
            dt.datetime(2026, 10, 30, 16, tzinfo=NEW_YORK),  # Friday, EDT
            utc(2026, 11, 2, 15),  # Monday 10:00 EST (-05:00)
            id="new-york-fall-back",
        ),
    ],
)
def test_weekend_clock_change_keeps_local_office_hours(
    calendar: Calendar, start: dt.datetime, expected: dt.datetime
) -> None:
    # Given a Friday 16:00 start and a clock change on Sunday
    # When two business hours are added
    deadline = add_business_hours(start, 2, calendar)

    # Then the second hour ends at Monday 10:00 local, in the new offset
    assert deadline == expected


def test_hours_inside_a_window_that_loses_its_clock_change_hour() -> None:
    # Given New York hours of 01:00-04:00 every day; on 8 March 02:00 is skipped,
    # so that window is 06:00-08:00 UTC (two real hours)
    calendar = night_shift("America/New_York", 1, 4)
    start = dt.datetime(2026, 3, 8, 1, tzinfo=NEW_YORK)

    # When 2.5 business hours are added
    deadline = add_business_hours(start, 2.5, calendar)

    # Then the last half hour runs on 9 March from 01:00 EDT (05:00 UTC)
    assert deadline == utc(2026, 3, 9, 5, 30)


@pytest.mark.parametrize(
    ("start", "hours", "expected"),
    [
        pytest.param(utc(2026, 3, 2, 9), 8, utc(2026, 3, 2, 17), id="full-day"),
        pytest.param(utc(2026, 3, 2, 15), 2, utc(2026, 3, 2, 17), id="afternoon"),
        pytest.param(utc(2026, 3, 6, 13), 4, utc(2026, 3, 6, 17), id="friday"),
        pytest.param(utc(2026, 3, 2, 20), 8, utc(2026, 3, 3, 17), id="after-hours"),
    ],
)
def test_amount_ending_exactly_at_day_end_returns_day_end(
    start: dt.datetime, hours: int, expected: dt.datetime
) -> None:
    assert add_business_hours(start, hours, DEFAULT_CALENDAR) == expected


@pytest.mark.parametrize("zero", [0, 0.0, Decimal(0), dt.timedelta(0)])
@pytest.mark.parametrize(
    ("start", "expected"),
    [
        pytest.param(utc(2026, 3, 2, 10, 30), utc(2026, 3, 2, 10, 30), id="inside"),
        pytest.param(utc(2026, 3, 2, 17), utc(2026, 3, 3, 9), id="at-day-end"),
        pytest.param(utc(2026, 3, 7, 12), utc(2026, 3, 9, 9), id="weekend"),
    ],
)
def test_zero_hours_is_the_next_business_moment(
    zero: float | Decimal | dt.timedelta, start: dt.datetime, expected: dt.datetime
) -> None:
    deadline = add_business_hours(start, zero, DEFAULT_CALENDAR)

    assert deadline == expected
    assert deadline == next_business_moment(start, DEFAULT_CALENDAR)


@pytest.mark.parametrize(
    "quarter_hour",
    [0.25, Decimal("0.25"), dt.timedelta(minutes=15)],
    ids=["float", "decimal", "timedelta"],
)
def test_fractional_hours_split_across_days(
    quarter_hour: float | Decimal | dt.timedelta,
) -> None:
    # Given Monday 16:50, ten minutes before closing
    start = utc(2026, 3, 2, 16, 50)

    # When a quarter of an hour is added
    deadline = add_business_hours(start, quarter_hour, DEFAULT_CALENDAR)

    # Then the last five minutes run on Tuesday morning
    assert deadline == utc(2026, 3, 3, 9, 5)


def test_timedelta_amount_spanning_days() -> None:
    deadline = add_business_hours(
        utc(2026, 3, 2, 10), dt.timedelta(hours=10), DEFAULT_CALENDAR
    )

    assert deadline == utc(2026, 3, 3, 12)


def test_decimal_hours_are_exact_to_the_microsecond() -> None:
    deadline = add_business_hours(
        utc(2026, 3, 2, 9), Decimal("0.0000000001"), DEFAULT_CALENDAR
    )

    assert deadline == dt.datetime(2026, 3, 2, 9, 0, 0, 0, tzinfo=dt.UTC)
    assert add_business_hours(
        utc(2026, 3, 2, 9), Decimal("1") / 3, DEFAULT_CALENDAR
    ) == dt.datetime(2026, 3, 2, 9, 20, 0, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("hours", "error", "message"),
    [
        (-1, ValueError, "hours must not be negative, got -1."),
        (
            Decimal("-0.5"),
            ValueError,
            "hours must not be negative, got Decimal('-0.5').",
        ),
        (
            dt.timedelta(microseconds=-1),
            ValueError,
            "hours must not be negative, got datetime.timedelta(days=-1, "
            "seconds=86399, microseconds=999999).",
        ),
        (float("nan"), ValueError, "hours must be a finite number, got nan."),
        (float("inf"), ValueError, "hours must be a finite number, got inf."),
        (Decimal("NaN"), ValueError, "hours must be a finite number, got NaN."),
        ("8", TypeError, "hours must be a number of hours or a timedelta, got '8'."),
        (True, TypeError, "hours must be a number of hours or a timedelta, got True."),
    ],
)
def test_invalid_amount_is_refused(
    hours: Any, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=f"^{re.escape(message)}$"):
        add_business_hours(utc(2026, 3, 2, 10), hours, DEFAULT_CALENDAR)


# --- business_seconds_between -------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        pytest.param(utc(2026, 3, 2, 10), utc(2026, 3, 2, 12), 2 * HOUR, id="hours"),
        pytest.param(
            utc(2026, 3, 2, 16), utc(2026, 3, 3, 10), 2 * HOUR, id="overnight"
        ),
        pytest.param(utc(2026, 3, 2), utc(2026, 3, 9), 40 * HOUR, id="whole-week"),
        pytest.param(utc(2026, 3, 2, 12), utc(2026, 3, 2, 12), 0.0, id="empty"),
        pytest.param(
            utc(2026, 3, 2, 9), utc(2026, 3, 2, 9, 0, 0, 1), 1e-6, id="microsecond"
        ),
    ],
)
def test_business_seconds_between_counts_working_time_only(
    start: dt.datetime, end: dt.datetime, expected: float
) -> None:
    assert business_seconds_between(start, end, DEFAULT_CALENDAR) == expected


def test_business_seconds_between_is_zero_over_a_weekend() -> None:
    # Given Friday closing time and Monday opening time
    start, end = utc(2026, 3, 6, 17), utc(2026, 3, 9, 9)

    # When the working time between them is measured
    seconds = business_seconds_between(start, end, DEFAULT_CALENDAR)

    # Then none has passed
    assert seconds == 0.0


def test_business_seconds_between_is_negative_when_overdue() -> None:
    # Given a Handoff due Friday 16:00, looked at on Monday 11:00
    deadline, now = utc(2026, 3, 6, 16), utc(2026, 3, 9, 11)

    # When the time left is measured from now to the deadline
    time_left = business_seconds_between(now, deadline, DEFAULT_CALENDAR)

    # Then it is minus the three working hours since the deadline
    assert time_left == -3 * HOUR
    assert business_seconds_between(deadline, now, DEFAULT_CALENDAR) == 3 * HOUR


def test_business_seconds_between_skips_holidays() -> None:
    seconds = business_seconds_between(
        utc(2026, 3, 30), utc(2026, 4, 13), UTC_WITH_HOLIDAYS
    )

    assert seconds == 8 * 8 * HOUR  # ten weekdays minus Good Friday, Easter Monday


@pytest.mark.parametrize(
    ("calendar", "monday"),
    [
        pytest.param(office("Europe/Berlin"), dt.date(2026, 3, 23), id="berlin-spring"),
        pytest.param(office("Europe/Berlin"), dt.date(2026, 10, 19), id="berlin-fall"),
        pytest.param(office("America/New_York"), dt.date(2026, 3, 2), id="ny-spring"),
        pytest.param(office("America/New_York"), dt.date(2026, 10, 26), id="ny-fall"),
    ],
)
def test_office_fortnight_around_a_clock_change_is_eighty_hours(
    calendar: Calendar, monday: dt.date
) -> None:
    start = dt.datetime.combine(monday, dt.time(0), calendar.zone)
    end = dt.datetime.combine(monday + dt.timedelta(days=14), dt.time(0), calendar.zone)

    assert business_seconds_between(start, end, calendar) == 80 * HOUR


# --- windows, is_business_time, next_business_moment --------------------------


def test_windows_are_in_utc_and_clipped_to_the_range() -> None:
    # Given a range from Berlin Friday noon to Monday noon
    start = dt.datetime(2026, 3, 27, 12, tzinfo=BERLIN)
    end = dt.datetime(2026, 3, 30, 12, tzinfo=BERLIN)

    # When the working windows are listed
    found = list(windows(office("Europe/Berlin"), start, end))

    # Then Friday's is clipped at the start and Monday's (now CEST) at the end
    assert found == [
        (utc(2026, 3, 27, 11), utc(2026, 3, 27, 16)),
        (utc(2026, 3, 30, 7), utc(2026, 3, 30, 10)),
    ]


@pytest.mark.parametrize(
    ("calendar", "day", "expected"),
    [
        pytest.param(
            night_shift("America/New_York", 1, 4),
            dt.date(2026, 3, 8),
            [(utc(2026, 3, 8, 6), utc(2026, 3, 8, 8))],  # 01:00 EST - 04:00 EDT
            id="new-york-spring-two-real-hours",
        ),
        pytest.param(
            night_shift("America/New_York", 1, 4),
            dt.date(2026, 11, 1),
            [(utc(2026, 11, 1, 5), utc(2026, 11, 1, 9))],  # 01:00 EDT - 04:00 EST
            id="new-york-fall-four-real-hours",
        ),
        pytest.param(
            night_shift("America/New_York", 1, 2),
            dt.date(2026, 11, 1),
            [(utc(2026, 11, 1, 5), utc(2026, 11, 1, 7))],  # 01:00 is the first one
            id="new-york-ambiguous-start-is-first-occurrence",
        ),
        pytest.param(
            night_shift("America/New_York", 2, 3),
            dt.date(2026, 3, 8),
            [],  # 02:00-03:00 does not exist that night
            id="new-york-hours-inside-the-gap-are-empty",
        ),
        pytest.param(
            night_shift("Europe/Berlin", 1, 4),
            dt.date(2026, 3, 29),
            [(utc(2026, 3, 29, 0), utc(2026, 3, 29, 2))],  # 01:00 CET - 04:00 CEST
            id="berlin-spring-two-real-hours",
        ),
        pytest.param(
            night_shift("Europe/Berlin", 1, 4),
            dt.date(2026, 10, 25),
            [(utc(2026, 10, 24, 23), utc(2026, 10, 25, 3))],  # 01:00 CEST - 04:00 CET
            id="berlin-fall-four-real-hours",
        ),
    ],
)
def test_window_on_a_clock_change_day_lasts_the_real_elapsed_time(
    calendar: Calendar, day: dt.date, expected: list[tuple[dt.datetime, dt.datetime]]
) -> None:
    # Given the local day of a clock change
    start = dt.datetime.combine(day, dt.time(0), calendar.zone)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), calendar.zone)

    # When its working windows are listed
    found = list(windows(calendar, start, end))

    # Then the window runs from the local start to the local end in real time
    assert found == expected


def test_a_skipped_local_date_is_not_counted_twice() -> None:
    # Given Samoa, which jumped from 29 to 31 December 2011 (UTC-10 to UTC+14),
    # so 30 December's hours read with the old offset fall on the 31st's
    apia = ZoneInfo("Pacific/Apia")
    calendar = office("Pacific/Apia", working_days=EVERY_DAY)
    start = dt.datetime(2011, 12, 29, tzinfo=apia)
    end = dt.datetime(2012, 1, 2, tzinfo=apia)

    # When the working windows are listed
    found = list(windows(calendar, start, end))

    # Then there is one window per real day: 29 December, 31 December, 1 January
    assert found == [
        (utc(2011, 12, 29, 19), utc(2011, 12, 30, 3)),
        (utc(2011, 12, 30, 19), utc(2011, 12, 31, 3)),
        (utc(2011, 12, 31, 19), utc(2012, 1, 1, 3)),
    ]
    assert business_seconds_between(start, end, calendar) == 24 * HOUR


def test_windows_of_an_empty_range_are_empty() -> None:
    start = utc(2026, 3, 2, 12)

    assert list(windows(DEFAULT_CALENDAR, start, start)) == []
    assert list(windows(DEFAULT_CALENDAR, start, start - dt.timedelta(hours=1))) == []


@pytest.mark.parametrize(
    ("at", "inside", "next_moment"),
    [
        pytest.param(utc(2026, 3, 2, 9), True, utc(2026, 3, 2, 9), id="day-start"),
        pytest.param(utc(2026, 3, 2, 12), True, utc(2026, 3, 2, 12), id="midday"),
        pytest.param(utc(2026, 3, 2, 17), False, utc(2026, 3, 3, 9), id="day-end"),
        pytest.param(utc(2026, 3, 2, 8, 59), False, utc(2026, 3, 2, 9), id="early"),
        pytest.param(utc(2026, 3, 6, 18), False, utc(2026, 3, 9, 9), id="friday-night"),
        pytest.param(utc(2026, 3, 4, 12), False, utc(2026, 3, 5, 9), id="holiday"),
    ],
)
def test_business_time_and_next_business_moment(
    at: dt.datetime, inside: bool, next_moment: dt.datetime
) -> None:
    assert is_business_time(at, UTC_WITH_HOLIDAYS) is inside
    assert next_business_moment(at, UTC_WITH_HOLIDAYS) == next_moment


def test_next_business_moment_returns_utc_for_a_local_input() -> None:
    at = dt.datetime(2026, 3, 2, 10, tzinfo=BERLIN)

    moment = next_business_moment(at, office("Europe/Berlin"))

    assert moment == utc(2026, 3, 2, 9)
    assert moment.tzinfo is dt.UTC


# --- refusals -----------------------------------------------------------------

NAIVE = dt.datetime(2026, 3, 2, 10)  # noqa: DTZ001 - the input under test
AWARE = utc(2026, 3, 2, 10)
NAIVE_MESSAGE = (
    "{} must be timezone-aware, got naive 2026-03-02T10:00:00; "
    "attach a tzinfo such as datetime.UTC."
)


@pytest.mark.parametrize(
    ("call", "argument"),
    [
        pytest.param(lambda: add_business_hours(NAIVE, 1, DEFAULT_CALENDAR), "start"),
        pytest.param(
            lambda: business_seconds_between(NAIVE, AWARE, DEFAULT_CALENDAR), "start"
        ),
        pytest.param(
            lambda: business_seconds_between(AWARE, NAIVE, DEFAULT_CALENDAR), "end"
        ),
        pytest.param(lambda: windows(DEFAULT_CALENDAR, AWARE, NAIVE), "end"),
        pytest.param(lambda: is_business_time(NAIVE, DEFAULT_CALENDAR), "at"),
        pytest.param(lambda: next_business_moment(NAIVE, DEFAULT_CALENDAR), "at"),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_naive_datetime_is_refused(call: Callable[[], object], argument: str) -> None:
    message = NAIVE_MESSAGE.format(argument)

    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        call()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        pytest.param(
            {"time_zone": "Mars/Olympus"},
            "Unknown time zone 'Mars/Olympus': use an IANA name such as "
            "'Europe/Berlin' or 'UTC'.",
            id="unknown-zone",
        ),
        pytest.param(
            {"time_zone": "../etc/passwd"},
            "Unknown time zone '../etc/passwd': use an IANA name such as "
            "'Europe/Berlin' or 'UTC'.",
            id="path-as-zone",
        ),
        pytest.param(
            {"day_start": dt.time(17), "day_end": dt.time(9)},
            "day_end (09:00:00) must be later than day_start (17:00:00) on the "
            "same day.",
            id="end-before-start",
        ),
        pytest.param(
            {"day_end": dt.time(9)},
            "day_end (09:00:00) must be later than day_start (09:00:00) on the "
            "same day.",
            id="empty-day",
        ),
        pytest.param(
            {"day_start": dt.time(9, tzinfo=dt.UTC)},
            "day_start must be a naive datetime.time in local wall-clock time "
            "(the calendar's time_zone applies), got "
            "datetime.time(9, 0, tzinfo=datetime.timezone.utc).",
            id="aware-time",
        ),
        pytest.param(
            {"working_days": frozenset()},
            "working_days must name at least one weekday (0 = Monday ... 6 = Sunday).",
            id="no-working-days",
        ),
        pytest.param(
            {"working_days": frozenset({0, 7})},
            "working_days must be integers from 0 (Monday) to 6 (Sunday), got [0, 7].",
            id="weekday-out-of-range",
        ),
        pytest.param(
            {"holidays": frozenset({dt.datetime(2026, 12, 25, tzinfo=dt.UTC)})},
            "holidays must contain datetime.date values only.",
            id="datetime-holiday",
        ),
    ],
)
def test_invalid_calendar_is_refused(overrides: dict[str, Any], message: str) -> None:
    fields = {
        "time_zone": "UTC",
        "working_days": MON_FRI,
        "day_start": dt.time(9),
        "day_end": dt.time(17),
    }

    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        Calendar(**(fields | overrides))


def test_calendar_normalises_lists_to_frozensets() -> None:
    calendar = office(
        "UTC", working_days=[0, 1, 2, 3, 4], holidays=[dt.date(2026, 3, 4)]
    )

    assert calendar == office("UTC", holidays=frozenset({dt.date(2026, 3, 4)}))
    assert hash(calendar) == hash(
        office("UTC", holidays=frozenset({dt.date(2026, 3, 4)}))
    )


# --- properties -----------------------------------------------------------------

ZONES = [
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "Asia/Kolkata",
    "America/Santiago",  # clocks change at midnight
    "Australia/Lord_Howe",  # half-hour daylight-saving shift
]


@st.composite
def calendars(draw: st.DrawFn) -> Calendar:
    """Random calendars with windows of at least an hour (keeps searches short)."""
    start_minute = draw(st.integers(min_value=0, max_value=22 * 60))
    length = draw(st.integers(min_value=60, max_value=24 * 60 - 1 - start_minute))
    end_minute = start_minute + length
    holidays = draw(
        st.frozensets(
            st.dates(min_value=dt.date(2019, 12, 1), max_value=dt.date(2031, 12, 31)),
            max_size=20,
        )
    )
    return Calendar(
        time_zone=draw(st.sampled_from(ZONES)),
        working_days=draw(st.frozensets(st.integers(0, 6), min_size=1)),
        day_start=dt.time(start_minute // 60, start_minute % 60),
        day_end=dt.time(end_minute // 60, end_minute % 60),
        holidays=holidays,
    )


STARTS = st.datetimes(
    min_value=dt.datetime(2020, 1, 1),  # noqa: DTZ001 - bounds of an aware strategy
    max_value=dt.datetime(2030, 12, 31),  # noqa: DTZ001
    timezones=st.sampled_from([ZoneInfo(name) for name in ZONES]),
)
HOURS = st.floats(min_value=0, max_value=500, allow_nan=False, allow_infinity=False)
PROPERTY_SETTINGS = settings(max_examples=200, deadline=None)


@PROPERTY_SETTINGS
@given(calendar=calendars(), start=STARTS, hours=HOURS)
def test_property_business_seconds_measure_what_was_added(
    calendar: Calendar, start: dt.datetime, hours: float
) -> None:
    deadline = add_business_hours(start, hours, calendar)

    elapsed = business_seconds_between(start, deadline, calendar)

    assert elapsed == pytest.approx(hours * HOUR, abs=1e-6)


@PROPERTY_SETTINGS
@given(calendar=calendars(), start=STARTS, first=HOURS, second=HOURS)
def test_property_deadline_is_monotonic_in_hours(
    calendar: Calendar, start: dt.datetime, first: float, second: float
) -> None:
    fewer, more = sorted((first, second))

    assert add_business_hours(start, fewer, calendar) <= add_business_hours(
        start, more, calendar
    )


@PROPERTY_SETTINGS
@given(calendar=calendars(), start=STARTS, hours=HOURS)
def test_property_deadline_is_inside_or_at_the_end_of_a_window(
    calendar: Calendar, start: dt.datetime, hours: float
) -> None:
    deadline = add_business_hours(start, hours, calendar)

    around = windows(
        calendar, deadline - dt.timedelta(days=2), deadline + dt.timedelta(days=2)
    )
    assert deadline.tzinfo is dt.UTC
    assert any(
        window_start <= deadline <= window_end for window_start, window_end in around
    )


@PROPERTY_SETTINGS
@given(
    calendar=calendars(),
    start=STARTS,
    span=st.timedeltas(dt.timedelta(0), dt.timedelta(days=60)),
)
def test_property_windows_are_ordered_disjoint_and_sum_to_the_seconds(
    calendar: Calendar, start: dt.datetime, span: dt.timedelta
) -> None:
    end = start + span

    found = list(windows(calendar, start, end))

    assert all(window_start < window_end for window_start, window_end in found)
    assert all(
        a_end <= b_start for (_, a_end), (b_start, _) in itertools.pairwise(found)
    )
    assert sum(
        ((window_end - window_start) for window_start, window_end in found),
        dt.timedelta(0),
    ).total_seconds() == business_seconds_between(start, end, calendar)
