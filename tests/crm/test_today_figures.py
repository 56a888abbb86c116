"""The dashboard's "Today" figures: counted once a minute, read from the cache."""

from __future__ import annotations

import datetime as dt

import pytest

from crm.marketing.today import MAX_AGE, today_figures, today_refresh
from crm.roles import MARKETING
from crm.tasks import refresh_today_task
from leads.models import Stage
from tests.factories import LeadFactory, TouchpointFactory, UserFactory

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 3, 10, 12, 0, tzinfo=dt.UTC)


def _counts(figures) -> dict[str, int]:
    return {row["stage"]: row["count"] for row in figures.stage_counts if row["count"]}


def test_the_figures_count_leads_by_stage_and_the_last_seven_days_touchpoints():
    lead = LeadFactory()
    LeadFactory.create_batch(2, stage=Stage.MQL, highest_stage=Stage.MQL)
    for at in (
        NOW - dt.timedelta(days=7),  # the window's first moment: counted
        NOW - dt.timedelta(days=1),
        NOW - dt.timedelta(days=7, seconds=1),  # just before it: not
    ):
        TouchpointFactory(lead=lead, occurred_at=at)

    figures = today_figures(now=NOW)

    assert _counts(figures) == {"lead": 1, "mql": 2}
    assert [row["stage"] for row in figures.stage_counts] == list(Stage.values)
    assert (figures.lead_total, figures.mql_count) == (3, 2)
    assert figures.touchpoints_week == 2
    assert figures.as_of == NOW


def test_a_page_within_five_minutes_reads_the_counted_figures_then_counts_again():
    LeadFactory()
    today_refresh(now=NOW)
    LeadFactory(stage=Stage.MQL, highest_stage=Stage.MQL)

    cached = today_figures(now=NOW + MAX_AGE)
    fresh = today_figures(now=NOW + MAX_AGE + dt.timedelta(seconds=1))

    assert (cached.lead_total, cached.as_of) == (1, NOW)
    assert (fresh.lead_total, fresh.mql_count) == (2, 1)
    assert fresh.as_of == NOW + MAX_AGE + dt.timedelta(seconds=1)


def test_figures_from_the_future_are_not_trusted():
    """A clock set back (or a cache shared with a machine ahead) counts again."""
    LeadFactory()
    today_refresh(now=NOW + dt.timedelta(minutes=1))
    LeadFactory()

    assert today_figures(now=NOW).lead_total == 2


def test_the_minutely_task_counts_the_figures_the_page_shows(client):
    LeadFactory.create_batch(2)
    assert refresh_today_task() == 2
    LeadFactory()  # after the count: the page shows the count of the minute
    client.force_login(UserFactory(roles=[MARKETING]))

    response = client.get("/marketing/")

    assert response.context["lead_total"] == 2
    content = response.content.decode()
    assert "counted at" in content
    assert 'href="/leads/?stage=lead">2</a>' in content
    assert 'href="/leads/?stage=mql">0</a>' in content
