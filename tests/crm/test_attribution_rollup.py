"""The daily roll-up of campaign attribution: what marks a day, what a
rebuild takes and writes, and that it equals a direct per-lead computation."""

from __future__ import annotations

import datetime as dt
import io
import random
import re
from collections import defaultdict
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.db import transaction

from crm.marketing import attribution_rollup
from crm.marketing.attribution_rollup import (
    attribution_all_rebuild,
    attribution_day_rebuild,
    attribution_marked_rebuild,
    conversion_days,
)
from crm.marketing.campaign_report import campaign_report
from crm.models import AttributionDay, CampaignCredit
from crm.privacy.erasure import lead_erase
from crm.tasks import rebuild_all_attribution_task, rebuild_attribution_task
from handoff.models import SalesOutcome
from leads import lifecycle
from leads.attribution import MODELS, Touch, credit
from leads.attribution_marks import attribution_days_mark
from leads.models import AttributionMark, Stage
from leads.services import lead_create
from tests.factories import CampaignFactory, LeadFactory, TouchpointFactory

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 6, 1, 6, 0, tzinfo=dt.UTC)


def at(month: int, day: int, hour: int = 9) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, tzinfo=dt.UTC)


def marked() -> list[dt.date]:
    return list(AttributionMark.objects.order_by("id").values_list("day", flat=True))


def test_creating_a_lead_marks_its_day():
    lead_create(email="ada@example.com", now=at(4, 2, 23))

    assert marked() == [dt.date(2026, 4, 2)]


def test_a_first_entry_into_mql_sql_or_customer_marks_its_day_once():
    lead = LeadFactory(created_at=at(4, 1))
    steps = [
        (Stage.MQL, at(4, 2)),
        (Stage.NURTURE, at(4, 3)),
        (Stage.MQL, at(4, 4)),
        (Stage.SAL, at(4, 5)),
        (Stage.SQL, at(4, 6)),
    ]
    for stage, when in steps:
        lifecycle.lead_move(
            lead_id=lead.id, to_stage=stage, system_actor="test", reason="r", now=when
        )

    # Nurture and SAL are no conversions; the second MQL is no first entry.
    assert marked() == [dt.date(2026, 4, 2), dt.date(2026, 4, 6)]


def test_a_day_is_marked_once_per_transaction_unless_rolled_back():
    with transaction.atomic():
        attribution_days_mark(moments=[at(4, 1), at(4, 1, 20), None])
        attribution_days_mark(moments=[at(4, 1, 22), at(4, 2)])
        try:
            with transaction.atomic():
                attribution_days_mark(moments=[at(4, 3)])
                raise RuntimeError("rolled back")
        except RuntimeError:
            pass
        attribution_days_mark(moments=[at(4, 3)])

    assert marked() == [dt.date(2026, 4, 1), dt.date(2026, 4, 2), dt.date(2026, 4, 3)]


@pytest.mark.django_db(transaction=True)
def test_each_transaction_marks_its_days_again():
    for _ in range(2):
        with transaction.atomic():
            attribution_days_mark(moments=[at(4, 1)])
            attribution_days_mark(moments=[at(4, 1, 12)])
    with pytest.raises(RuntimeError):
        mark_and_fail()
    with transaction.atomic():
        attribution_days_mark(moments=[at(4, 1)])

    assert marked() == [dt.date(2026, 4, 1)] * 3


def mark_and_fail() -> None:
    with transaction.atomic():
        attribution_days_mark(moments=[at(4, 1)])
        raise RuntimeError("rolled back")


def test_a_rolled_back_write_leaves_no_mark():
    with pytest.raises(RuntimeError):
        mark_and_fail()

    assert marked() == []


@pytest.fixture
def small():
    """Campaign C; lead L touched by C on 1 April, created 2 April."""
    campaign = CampaignFactory(name="C")
    lead = lead_create(email="lin@example.com", now=at(4, 2))
    TouchpointFactory(lead=lead, campaign=campaign, occurred_at=at(4, 1))
    return campaign, lead


def credits(day: dt.date | None = None) -> list[tuple]:
    rows = CampaignCredit.objects.order_by("day", "model", "kind", "campaign_id")
    if day is not None:
        rows = rows.filter(day=day)
    return list(rows.values_list("day", "model", "kind", "campaign_id", "amount"))


def test_the_marked_rebuild_takes_the_marks_and_writes_every_model(small):
    campaign, _lead = small

    result = attribution_marked_rebuild(now=NOW)

    assert (result.days, result.rows) == ([dt.date(2026, 4, 2)], 6)
    assert credits() == [
        (dt.date(2026, 4, 2), model, "lead", campaign.id, Decimal("1.0000"))
        for model in sorted(MODELS)
    ]
    assert marked() == []
    assert list(AttributionDay.objects.values_list("day", "rebuilt_at")) == [
        (dt.date(2026, 4, 2), NOW)
    ]
    assert attribution_marked_rebuild(now=NOW).days == []


def test_rebuilding_a_day_twice_leaves_the_same_rows(small):
    attribution_day_rebuild(day=dt.date(2026, 4, 2), now=NOW)
    first = credits()

    attribution_day_rebuild(day=dt.date(2026, 4, 2), now=NOW + dt.timedelta(hours=1))

    assert credits() == first
    assert AttributionDay.objects.get().rebuilt_at == NOW + dt.timedelta(hours=1)


def test_a_won_deal_marks_its_day_and_credits_its_revenue(small):
    campaign, lead = small
    attribution_marked_rebuild(now=NOW)
    SalesOutcome.objects.create(
        lead=lead,
        from_stage=Stage.OPPORTUNITY,
        to_stage=Stage.CUSTOMER,
        amount=Decimal("250.00"),
        at=at(4, 9),
    )
    attribution_days_mark(moments=[at(4, 9)])

    attribution_marked_rebuild(now=NOW)

    assert credits(dt.date(2026, 4, 9)) == [
        (dt.date(2026, 4, 9), model, "revenue", campaign.id, Decimal("250.0000"))
        for model in sorted(MODELS)
    ]


def test_erasing_a_lead_takes_it_out_of_the_credits(small, admin):
    _campaign, lead = small
    attribution_marked_rebuild(now=NOW)

    lead_erase(lead=lead, actor=admin, now=at(5, 1))
    attribution_marked_rebuild(now=NOW)

    assert credits() == []
    assert AttributionDay.objects.get().day == dt.date(2026, 4, 2)


def test_a_failed_rebuild_marks_its_days_again(small, monkeypatch):
    def broken(day: dt.date) -> dict:
        raise RuntimeError("database went away")

    monkeypatch.setattr(attribution_rollup, "day_credits", broken)

    with pytest.raises(RuntimeError):
        attribution_marked_rebuild(now=NOW)

    assert marked() == [dt.date(2026, 4, 2)]
    assert credits() == []


def test_a_full_rebuild_covers_every_conversion_day_and_takes_their_marks(small):
    _campaign, lead = small
    lifecycle.lead_move(
        lead_id=lead.id, to_stage=Stage.MQL, system_actor="test", now=at(4, 5)
    )

    result = attribution_all_rebuild(now=NOW)

    assert result.days == [dt.date(2026, 4, 2), dt.date(2026, 4, 5)]
    assert marked() == []
    assert conversion_days(since=dt.date(2026, 4, 3)) == [dt.date(2026, 4, 5)]
    assert attribution_all_rebuild(now=NOW, since=dt.date(2026, 4, 3)).days == [
        dt.date(2026, 4, 5)
    ]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_roll_up_equals_a_direct_computation_per_lead(seed):
    rng = random.Random(seed)
    campaigns = [CampaignFactory().id for _ in range(3)]
    expected: dict[tuple[str, str, int | None], Decimal] = defaultdict(Decimal)
    for _ in range(12):
        created = at(4, rng.randint(1, 20), rng.randint(0, 23))
        lead = LeadFactory(created_at=created)
        touches = []
        for _ in range(rng.randint(0, 4)):
            touch = Touch(
                at=created + dt.timedelta(hours=rng.randint(-200, 200)),
                campaign_id=rng.choice([*campaigns, None]),
            )
            touches.append(touch)
            TouchpointFactory(
                lead=lead, campaign_id=touch.campaign_id, occurred_at=touch.at
            )
        moments = {"lead": created}
        when = created
        for stage in (
            Stage.MQL,
            Stage.SAL,
            Stage.SQL,
            Stage.OPPORTUNITY,
            Stage.CUSTOMER,
        ):
            if rng.random() < 0.4:
                break
            when += dt.timedelta(hours=rng.randint(1, 100))
            lifecycle.lead_move(
                lead_id=lead.id, to_stage=stage, system_actor="test", now=when
            )
            moments[stage] = when
        amount = None
        if Stage.CUSTOMER in moments:
            amount = Decimal(rng.randint(100, 90000)) / 100
            SalesOutcome.objects.create(
                lead=lead,
                from_stage=Stage.OPPORTUNITY,
                to_stage=Stage.CUSTOMER,
                amount=amount,
                at=moments[Stage.CUSTOMER],
            )
        for kind, moment, worth in (
            ("lead", moments["lead"], 1),
            ("mql", moments.get(Stage.MQL), 1),
            ("sql", moments.get(Stage.SQL), 1),
            ("customer", moments.get(Stage.CUSTOMER), 1),
            ("revenue", moments.get(Stage.CUSTOMER), amount),
        ):
            if moment is None:
                continue
            for model in MODELS:
                shares = credit(
                    touches,
                    model=model,
                    amount=worth,
                    converted_at=moment,
                    mql_at=moments.get(Stage.MQL),
                    opportunity_at=moments.get(Stage.OPPORTUNITY),
                )
                for campaign_id, share in shares.items():
                    expected[(model, kind, campaign_id)] += share

    attribution_all_rebuild(now=NOW)

    names = {"lead": "leads", "mql": "mqls", "sql": "sqls", "customer": "customers"}
    names["revenue"] = "revenue"
    for model in MODELS:
        report = campaign_report(
            start=dt.date(2026, 3, 1), end=dt.date(2026, 6, 1), model=model
        )
        got: dict[tuple[str, str, int | None], Decimal] = {}
        for kind, name in names.items():
            for row in report.rows:
                if getattr(row, name):
                    got[(model, kind, row.id)] = getattr(row, name)
            if getattr(report.unattributed, name):
                got[(model, kind, None)] = getattr(report.unattributed, name)
        want = {k: v for k, v in expected.items() if k[0] == model and v}
        assert got == want


def test_the_minute_task_rebuilds_the_marked_days(small):
    assert rebuild_attribution_task.delay().get() == 1
    assert rebuild_attribution_task.delay().get() == 0
    assert len(credits()) == 6


def test_the_command_rebuilds_every_day_and_says_so(small):
    out = io.StringIO()

    call_command("rebuild_attribution", stdout=out)

    assert re.fullmatch(
        r"Rebuilt 1 days, 2026-04-02 to 2026-04-02: 6 credit rows under every "
        r"attribution model, in \d+\.\d s\.\n",
        out.getvalue(),
    )


def test_the_command_with_a_later_since_finds_nothing(small):
    out = io.StringIO()

    call_command("rebuild_attribution", "--since", "2026-04-03", stdout=out)

    assert out.getvalue() == "No days with conversions to rebuild.\n"


def test_the_command_refuses_a_bad_date():
    with pytest.raises(CommandError, match="--since '2026-02-30' is not a date"):
        call_command("rebuild_attribution", "--since", "2026-02-30")


def test_a_marked_run_out_of_time_leaves_the_older_days_for_the_next(small):
    attribution_days_mark(moments=[at(4, 1), at(4, 3)])
    ticks = iter([0.0, 50.0])

    result = attribution_marked_rebuild(
        now=NOW, budget_seconds=45, clock=lambda: next(ticks)
    )

    # Started at 0 s, 3 April is rebuilt first; at 50 s the budget is spent.
    assert (result.days, result.left) == ([dt.date(2026, 4, 3)], 2)
    assert sorted(marked()) == [dt.date(2026, 4, 1), dt.date(2026, 4, 2)]
    assert attribution_marked_rebuild(now=NOW, budget_seconds=0).days == [
        dt.date(2026, 4, 2)
    ]
    assert attribution_marked_rebuild(now=NOW, budget_seconds=None).days == [
        dt.date(2026, 4, 1)
    ]
    assert marked() == []


def test_the_nightly_task_marks_every_day_with_conversions(small):
    _campaign, lead = small
    lifecycle.lead_move(
        lead_id=lead.id, to_stage=Stage.MQL, system_actor="test", now=at(4, 5)
    )
    attribution_marked_rebuild(now=NOW)

    assert rebuild_all_attribution_task.delay().get() == 2

    assert marked() == [dt.date(2026, 4, 2), dt.date(2026, 4, 5)]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_processes_sharing_the_days_write_what_one_process_writes():
    campaigns = [CampaignFactory(name=name) for name in ("A", "B")]
    for day in range(1, 8):
        lead = lead_create(email=f"p{day}@example.com", now=at(4, day))
        TouchpointFactory(
            lead=lead, campaign=campaigns[day % 2], occurred_at=at(4, day)
        )
        lifecycle.lead_move(
            lead_id=lead.id, to_stage=Stage.MQL, system_actor="test", now=at(4, day + 1)
        )
    alone = attribution_all_rebuild(now=NOW)
    written_alone = credits()
    CampaignCredit.objects.all().delete()

    shared = attribution_all_rebuild(now=NOW, workers=2)

    assert shared.days == alone.days == [dt.date(2026, 4, d) for d in range(1, 9)]
    assert (shared.rows, shared.left) == (alone.rows, 0)
    assert credits() == written_alone
    assert marked() == []
