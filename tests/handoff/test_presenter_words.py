"""The presenters' wording shortcuts say exactly what Django's filters say."""

from __future__ import annotations

import datetime as dt
from unittest import mock

import pytest
from django.contrib.humanize.templatetags import humanize
from django.template.defaultfilters import date
from django.utils import timezone

from handoff.presenters import AgoWords, DueWords
from handoff.templatetags.handoff_tags import Clock

NOW = dt.datetime(2026, 3, 31, 14, 30, 15, tzinfo=dt.UTC)

#: Moments before NOW across every wording naturaltime has for the past: now,
#: seconds, minutes, hours, then days, weeks, months and years with the
#: month-length and leap-year edges of timesince's calendar arithmetic.
AGES = sorted(
    {
        dt.timedelta(0),
        *(dt.timedelta(seconds=s) for s in (1, 2, 59, 60, 61, 119, 3599, 3600)),
        *(dt.timedelta(hours=h, minutes=m) for h in (1, 2, 23) for m in (0, 59)),
        *(dt.timedelta(days=d, hours=h) for d in range(1, 800, 3) for h in (0, 13)),
        dt.timedelta(days=29, hours=23, minutes=59),
        dt.timedelta(days=31, seconds=1),
        dt.timedelta(days=365),
        dt.timedelta(days=366),
        dt.timedelta(days=1461, seconds=7),
    }
)


class _FrozenDatetime(dt.datetime):
    @classmethod
    def now(cls, tz=None):
        return NOW if tz is not None else NOW.replace(tzinfo=None)


def test_ago_words_match_naturaltime_for_every_past_wording() -> None:
    ago = AgoWords(NOW)
    with mock.patch.object(humanize, "datetime", _FrozenDatetime):
        expected = [str(humanize.naturaltime(NOW - age)) for age in AGES]
        got = [ago(NOW - age) for age in AGES]
    assert got == expected
    # Each wording is translated once ("now" itself is left to naturaltime).
    assert len(ago._words) == len(set(expected)) - 1
    assert "1\xa0year, 2\xa0months ago" in got


@pytest.mark.parametrize("ahead", [dt.timedelta(seconds=5), dt.timedelta(days=3)])
def test_ago_words_leave_a_moment_not_past_to_naturaltime(ahead) -> None:
    with mock.patch.object(humanize, "datetime", _FrozenDatetime):
        assert AgoWords(NOW)(NOW + ahead) == str(humanize.naturaltime(NOW + ahead))


@pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin", "America/New_York"])
def test_due_words_match_the_date_filter(zone) -> None:
    due = DueWords()
    # Across a DST change in both zones that have one, two times a day.
    moments = [
        dt.datetime(2026, 3, 5, 9, 7, tzinfo=dt.UTC) + dt.timedelta(hours=11 * i)
        for i in range(60)
    ] + [
        # The hour Berlin's and New York's clocks go back: the filter names
        # no zone for a wall time the zone holds twice.
        dt.datetime(2026, 10, 25, 0, 30, tzinfo=dt.UTC),
        dt.datetime(2026, 10, 25, 1, 30, tzinfo=dt.UTC),
        dt.datetime(2026, 11, 1, 5, 30, tzinfo=dt.UTC),
        dt.datetime(2026, 11, 1, 6, 30, tzinfo=dt.UTC),
    ]
    with timezone.override(zone):
        got = [due(Clock("1h left", "ok", due_at=m)) for m in moments]
        expected = [
            "Due " + date(timezone.localtime(m), "D j M, H:i e") for m in moments
        ]
    assert got == expected
    assert due(None) == ""
    assert due(Clock("Accepted", "none")) == ""


def test_due_words_name_no_zone_for_a_wall_time_held_twice() -> None:
    due = DueWords()
    with timezone.override("Europe/Berlin"):
        got = [
            due(Clock("", "ok", due_at=dt.datetime(2026, 10, 25, h, 30, tzinfo=dt.UTC)))
            for h in (0, 1, 2)
        ]
    assert got == [
        "Due Sun 25 Oct, 02:30 ",
        "Due Sun 25 Oct, 02:30 ",
        "Due Sun 25 Oct, 03:30 CET",
    ]
