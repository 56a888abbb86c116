"""Campaign attribution rebuilt by two workers at once, on PostgreSQL.

A day's rebuild holds the day's advisory lock from before it reads until it
commits, so two rebuilds of a day end with one correct set of rows; the
marked rebuild takes (deletes and commits) its marks before it reads, so a
change committed during a rebuild keeps its mark for the next run. SQLite
serialises every write transaction, so this only means something on
PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal

import pytest
from django.db import connection

from crm.marketing import attribution_rollup
from crm.marketing.attribution_rollup import (
    attribution_day_rebuild,
    attribution_marked_rebuild,
)
from crm.models import CampaignCredit
from leads.attribution import MODELS
from leads.attribution_marks import attribution_days_mark
from leads.models import AttributionMark
from leads.services import lead_create
from tests.factories import CampaignFactory, LeadFactory, TouchpointFactory
from tests.threads import run_rounds

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
DAY = dt.date(2026, 4, 2)
NOW = dt.datetime(2026, 6, 1, 6, 0, tzinfo=dt.UTC)


def at(day: int, hour: int) -> dt.datetime:
    return dt.datetime(2026, 4, day, hour, tzinfo=dt.UTC)


def lead_credits() -> list[tuple]:
    return sorted(
        CampaignCredit.objects.filter(day=DAY, kind="lead").values_list(
            "model", "campaign_id", "amount"
        )
    )


def test_two_rebuilds_of_a_day_leave_one_correct_set_of_rows():
    alpha, beta = CampaignFactory(name="Alpha"), CampaignFactory(name="Beta")
    for number in range(20):
        lead = LeadFactory(created_at=at(2, 9))
        campaign = alpha if number % 4 else beta
        TouchpointFactory(lead=lead, campaign=campaign, occurred_at=at(1, 9))

    rounds = [[lambda: attribution_day_rebuild(day=DAY, now=NOW)] * 2 for _ in range(5)]
    results = run_rounds(rounds)

    assert [[status for status, _rows in r] for r in results] == [["ok", "ok"]] * 5
    # 15 leads touched by Alpha, 5 by Beta, under every model.
    assert lead_credits() == sorted(
        [(model, alpha.id, Decimal("15.0000")) for model in MODELS]
        + [(model, beta.id, Decimal("5.0000")) for model in MODELS]
    )


def test_two_marked_rebuilds_take_each_mark_once():
    LeadFactory(created_at=at(2, 9))
    attribution_days_mark(moments=[at(day, 9) for day in range(1, 11)])

    (results,) = run_rounds([[lambda: attribution_marked_rebuild(now=NOW)] * 2])

    days = [result.days for _status, result in results]
    assert sorted(days[0] + days[1]) == [dt.date(2026, 4, day) for day in range(1, 11)]
    assert AttributionMark.objects.count() == 0


def test_a_mark_made_during_a_rebuild_is_kept_for_the_next_run(monkeypatch):
    campaign = CampaignFactory(name="Alpha")
    lead = lead_create(email="first@example.com", now=at(2, 9))
    TouchpointFactory(lead=lead, campaign=campaign, occurred_at=at(1, 9))
    reading, go_on = threading.Event(), threading.Event()
    compute = attribution_rollup.day_credits

    def slow_day_credits(day: dt.date) -> dict:
        reading.set()
        go_on.wait(timeout=30)
        return compute(day)

    monkeypatch.setattr(attribution_rollup, "day_credits", slow_day_credits)
    outcome: list[object] = []

    def rebuild() -> None:
        try:
            outcome.append(attribution_marked_rebuild(now=NOW).days)
        finally:
            connection.close()

    worker = threading.Thread(target=rebuild)
    worker.start()
    assert reading.wait(timeout=30)
    # Committed while the rebuild works on the day: its mark must survive.
    late = lead_create(email="second@example.com", now=at(2, 15))
    TouchpointFactory(lead=late, campaign=campaign, occurred_at=at(1, 10))
    go_on.set()
    worker.join(timeout=60)

    assert outcome == [[DAY]]
    assert list(AttributionMark.objects.values_list("day", flat=True)) == [DAY]
    monkeypatch.setattr(attribution_rollup, "day_credits", compute)
    assert attribution_marked_rebuild(now=NOW).days == [DAY]
    assert lead_credits() == [
        (model, campaign.id, Decimal("2.0000")) for model in sorted(MODELS)
    ]
