"""The funnel's daily roll-up: the whole-hours rule and the re-entry rule by
hand, the same figures as the live funnel on random histories, and its upkeep."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction

from crm.marketing import rollup
from crm.marketing.filters import NO_FILTERS, FunnelFilters
from crm.marketing.funnel import funnel, funnel_as_of
from crm.models import (
    FunnelCohortCount,
    FunnelCohortHours,
    FunnelFlowCount,
    FunnelFlowHours,
    FunnelRollupState,
)
from crm.roles import MARKETING
from crm.tasks import rebuild_funnel_task
from leads import lifecycle
from leads.erasure import lead_personal_data_erase
from leads.locks import lock_lead
from leads.models import Lead, Stage
from leads.services import lead_update
from tests.factories import LeadFactory, UserFactory
from tests.threads import run_rounds

pytestmark = pytest.mark.django_db
MARCH, APRIL, MAY = dt.date(2026, 3, 1), dt.date(2026, 4, 1), dt.date(2026, 5, 1)
REBUILT_AT = dt.datetime(2026, 6, 1, 7, 31, tzinfo=dt.UTC)


def at(month: int, day: int, hour: int = 9, minute: int = 0, second: int = 0):
    return dt.datetime(2026, month, day, hour, minute, second, tzinfo=dt.UTC)


def move(lead: Lead, stage: str, when: dt.datetime) -> None:
    lifecycle.lead_move(
        lead_id=lead.id,
        to_stage=stage,
        system_actor="test",
        reason="recycled" if stage in (Stage.NURTURE, Stage.DISQUALIFIED) else "",
        now=when,
    )


def journey(created: dt.datetime, *moves: tuple[str, dt.datetime], **fields) -> Lead:
    lead = LeadFactory(created_at=created, **fields)
    for stage, when in moves:
        move(lead, stage, when)
    return lead


def rows(stages):
    return [
        (s.stage, s.count, s.rate_from_previous, s.median_days_from_previous)
        for s in stages
    ]


@pytest.fixture
def rollup_on(settings):
    settings.FUNNEL_ROLLUP = True
    return settings


# Whole hours ---------------------------------------------------------------


@pytest.fixture
def odd_hours():
    # MQL 25 h 59 min after creation (25 whole hours), and 49 h 30 min (49).
    journey(at(3, 2, 9), (Stage.MQL, at(3, 3, 10, 59, 59)))
    journey(at(3, 4, 9), (Stage.MQL, at(3, 6, 10, 30)))


def test_the_days_between_stages_are_a_median_of_whole_hours(odd_hours):
    # (25 + 49) / 2 = 37 h = 1.54 days; unrounded hours would give 37.74 h
    # = 1.57 days, shown as 1.6.
    assert rows(funnel(start=MARCH, end=APRIL, mode="cohort"))[:2] == [
        ("lead", 2, None, None),
        ("mql", 2, Decimal("1.0000"), Decimal("1.5")),
    ]


def test_the_rollup_keeps_whole_hours_per_day(odd_hours):
    rollup.funnel_rollup_rebuild(now=REBUILT_AT)

    assert sorted(
        FunnelCohortHours.objects.values_list("day", "stage", "hours", "leads")
    ) == [
        (dt.date(2026, 3, 2), "mql", 25, 1),
        (dt.date(2026, 3, 4), "mql", 49, 1),
    ]
    assert sorted(
        FunnelFlowHours.objects.values_list("day", "stage", "hours", "leads")
    ) == [
        (dt.date(2026, 3, 3), "mql", 25, 1),
        (dt.date(2026, 3, 6), "mql", 49, 1),
    ]


def test_a_span_just_short_of_an_hour_counts_zero_hours():
    assert rollup.whole_hours(at(3, 2, 9), at(3, 2, 9, 59, 59)) == 0
    assert rollup.whole_hours(at(3, 2, 9), at(3, 2, 10)) == 1
    assert rollup.whole_hours(at(3, 2, 9), at(3, 4, 8, 59)) == 47


# Re-entry ------------------------------------------------------------------


@pytest.fixture
def recycled():
    # An MQL on 2 March, 5 March (twice that day) and 2 April.
    return journey(
        at(2, 20),
        (Stage.MQL, at(3, 2)),
        (Stage.NURTURE, at(3, 3)),
        (Stage.MQL, at(3, 5, 9)),
        (Stage.NURTURE, at(3, 5, 10)),
        (Stage.MQL, at(3, 5, 11)),
        (Stage.NURTURE, at(3, 6)),
        (Stage.MQL, at(4, 2)),
    )


def test_a_flow_row_names_the_day_the_lead_last_entered_the_stage_before(recycled):
    rollup.funnel_rollup_rebuild(now=REBUILT_AT)

    assert sorted(
        FunnelFlowCount.objects.filter(stage="mql").values_list(
            "day", "previous_day", "leads"
        )
    ) == [
        (dt.date(2026, 3, 2), None, 1),
        (dt.date(2026, 3, 5), dt.date(2026, 3, 2), 1),
        (dt.date(2026, 4, 2), dt.date(2026, 3, 5), 1),
    ]


@pytest.mark.parametrize(
    ("start", "end", "mqls"),
    [
        (MARCH, APRIL, 1),  # 2 and 5 March: one lead
        (dt.date(2026, 3, 4), dt.date(2026, 4, 10), 1),  # 5 March and 2 April
        (dt.date(2026, 3, 3), dt.date(2026, 3, 5), 0),
        (dt.date(2026, 3, 5), dt.date(2026, 3, 6), 1),
        (APRIL, MAY, 1),
    ],
)
def test_a_lead_entering_a_stage_again_in_a_period_counts_once(
    recycled, rollup_on, start, end, mqls
):
    rollup.funnel_rollup_rebuild(now=REBUILT_AT)

    from_rollup = funnel(start=start, end=end, mode="flow")
    rollup_on.FUNNEL_ROLLUP = False
    live = funnel(start=start, end=end, mode="flow")

    assert from_rollup[1].count == mqls
    assert rows(from_rollup) == rows(live)


# The same figures as the live funnel ---------------------------------------

SOURCES = ["", "email", "event", "paid_search"]
REGIONS = ["", "europe", "north_america"]
NEXT = {
    Stage.LEAD: [Stage.MQL, Stage.MQL, Stage.NURTURE, Stage.DISQUALIFIED],
    Stage.MQL: [Stage.SAL, Stage.SAL, Stage.NURTURE, Stage.DISQUALIFIED],
    Stage.SAL: [Stage.SQL, Stage.SQL, Stage.NURTURE],
    Stage.SQL: [Stage.OPPORTUNITY, Stage.NURTURE],
    Stage.OPPORTUNITY: [Stage.CUSTOMER, Stage.NURTURE],
    Stage.NURTURE: [Stage.MQL, Stage.DISQUALIFIED],
    Stage.DISQUALIFIED: [Stage.NURTURE],
}
FIRST_DAY = dt.datetime(2026, 2, 20, tzinfo=dt.UTC)


def _random_leads(rng: random.Random, count: int) -> list[Lead]:
    leads = []
    for _ in range(count):
        created = FIRST_DAY + dt.timedelta(seconds=rng.randrange(70 * 86400))
        lead = LeadFactory(
            created_at=created,
            source=rng.choice(SOURCES),
            region=rng.choice(REGIONS),
        )
        _random_moves(rng, lead, created, rng.randrange(7))
        leads.append(lead)
    return leads


def _random_moves(rng: random.Random, lead: Lead, since: dt.datetime, n: int) -> None:
    when = since
    for _ in range(n):
        lead.refresh_from_db()
        options = NEXT.get(lead.stage)
        if not options:
            return
        # Minutes to weeks, seconds included; sometimes the same day.
        when += dt.timedelta(seconds=rng.choice([59, 3599, 3600, 86399, 86400 * 9]))
        when += dt.timedelta(seconds=rng.randrange(3 * 86400))
        move(lead, rng.choice(options), when)


def _changes(rng: random.Random, leads: list[Lead]) -> None:
    """Erase some leads, move some again (some backdated), edit some."""
    for lead in rng.sample(leads, 3):
        with transaction.atomic():
            lead_personal_data_erase(lead=lock_lead(lead.id), now=REBUILT_AT)
    for lead in rng.sample(leads, 6):
        lead.refresh_from_db()
        _random_moves(rng, lead, lead.stage_changed_at or lead.created_at, 3)
    for lead in rng.sample(leads, 4):
        lead.refresh_from_db()
        lead_update(lead=lead, source=rng.choice(SOURCES))


def _scanned_long_ago() -> None:
    """Stamp every lead as changed before the last scan's overlap, so only the
    changes made after this count as changed."""
    Lead.objects.update(updated_at=REBUILT_AT - rollup.OVERLAP - dt.timedelta(1))


def _periods(rng: random.Random) -> list[tuple[dt.date, dt.date]]:
    periods = [(MARCH, APRIL), (dt.date(2026, 2, 1), dt.date(2026, 7, 1))]
    for _ in range(6):
        start = dt.date(2026, 2, 15) + dt.timedelta(days=rng.randrange(80))
        periods.append((start, start + dt.timedelta(days=rng.randrange(1, 40))))
    return periods


def _assert_same_figures(settings, rng: random.Random) -> int:
    compared = 0
    for start, end in _periods(rng):
        for mode in ("cohort", "flow"):
            for filters in (
                NO_FILTERS,
                FunnelFilters(source=rng.choice(SOURCES[1:])),
                FunnelFilters(region=rng.choice(REGIONS[1:])),
                FunnelFilters(source="email", region="europe"),
            ):
                settings.FUNNEL_ROLLUP = True
                from_rollup = funnel(start=start, end=end, mode=mode, filters=filters)
                settings.FUNNEL_ROLLUP = False
                live = funnel(start=start, end=end, mode=mode, filters=filters)
                assert rows(from_rollup) == rows(live), (start, end, mode, filters)
                compared += 1
    return compared


def _same_figures_on_random_histories(settings, seed: int, leads: int) -> None:
    rng = random.Random(seed)
    people = _random_leads(rng, leads)
    rollup.funnel_rollup_rebuild(now=REBUILT_AT)
    assert _assert_same_figures(settings, rng) == 64
    _scanned_long_ago()

    _changes(rng, people)
    rollup.funnel_rollup_refresh(now=REBUILT_AT + dt.timedelta(minutes=1))
    assert _assert_same_figures(settings, rng) == 64


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_the_rollup_gives_the_live_funnels_figures(settings, seed):
    _same_figures_on_random_histories(settings, seed, leads=45)


@pytest.mark.postgres
@pytest.mark.parametrize("seed", [5, 6])
def test_the_rollup_gives_the_live_funnels_figures_on_postgresql(settings, seed):
    _same_figures_on_random_histories(settings, seed, leads=45)


# Reading and upkeep ----------------------------------------------------------


def test_the_funnel_reads_the_leads_until_the_rollup_is_built(rollup_on):
    journey(at(3, 2), (Stage.MQL, at(3, 3)))
    FunnelCohortCount.objects.create(
        day=dt.date(2026, 3, 2), highest_stage="customer", leads=7
    )

    assert funnel_as_of() is None
    assert funnel(start=MARCH, end=APRIL, mode="cohort")[0].count == 1


def test_the_campaign_channel_and_sla_filters_read_the_leads(rollup_on):
    rollup.funnel_rollup_rebuild(now=REBUILT_AT)

    assert funnel_as_of() == REBUILT_AT
    assert funnel_as_of(FunnelFilters(source="email", region="europe")) == REBUILT_AT
    assert funnel_as_of(FunnelFilters(channel="email")) is None
    assert funnel_as_of(FunnelFilters(campaign_id=1)) is None
    assert funnel_as_of(FunnelFilters(sla_id=1)) is None
    rollup_on.FUNNEL_ROLLUP = False
    assert funnel_as_of() is None


def test_a_refresh_rebuilds_the_days_of_the_leads_changed_since_its_last_scan():
    lead = journey(at(3, 2), (Stage.MQL, at(3, 3)))
    journey(at(3, 10), (Stage.MQL, at(3, 11)))
    rollup.funnel_rollup_rebuild(now=REBUILT_AT)
    _scanned_long_ago()
    # A late stage change, backdated as an import would write it.
    move(lead, Stage.SAL, at(3, 20))

    run = rollup.funnel_rollup_refresh(now=REBUILT_AT + dt.timedelta(minutes=1))

    # Created on 2 March, an MQL on 3 March, an SAL on 20 March.
    assert run.days == 3
    assert run.leads_changed == 1
    assert sorted(FunnelFlowCount.objects.values_list("day", "stage", "leads")) == [
        (dt.date(2026, 3, 3), "mql", 1),
        (dt.date(2026, 3, 11), "mql", 1),
        (dt.date(2026, 3, 20), "sal", 1),
    ]
    assert FunnelRollupState.objects.get().refreshed_at == REBUILT_AT + dt.timedelta(
        minutes=1
    )


def test_a_refresh_with_nothing_changed_rebuilds_nothing():
    rollup.funnel_rollup_rebuild(now=REBUILT_AT)
    # Stamp the only lead as changed long before the last scan's overlap.
    journey(at(3, 2))
    Lead.objects.update(updated_at=REBUILT_AT - dt.timedelta(minutes=11))

    run = rollup.funnel_rollup_refresh(now=REBUILT_AT + dt.timedelta(minutes=1))

    assert (run.days, run.leads_changed) == (0, 0)
    assert FunnelCohortCount.objects.count() == 0


def test_a_rebuild_drops_the_days_of_leads_deleted_outright():
    lead = journey(at(3, 2), (Stage.MQL, at(3, 3)))
    rollup.funnel_rollup_rebuild(now=REBUILT_AT)
    Lead.objects.filter(id=lead.id).delete()

    rollup.funnel_rollup_rebuild(now=REBUILT_AT)

    assert [t.objects.count() for t in rollup._TABLES] == [0, 0, 0, 0]


def test_rebuilding_twice_writes_the_same_rows():
    journey(at(3, 2), (Stage.MQL, at(3, 3)), (Stage.SAL, at(3, 5)))
    rollup.funnel_rollup_rebuild(now=REBUILT_AT)
    first = [sorted(t.objects.values_list(*_fields(t))) for t in rollup._TABLES]

    rollup.funnel_rollup_rebuild(now=REBUILT_AT)

    assert [sorted(t.objects.values_list(*_fields(t))) for t in rollup._TABLES] == first
    assert first[0] == [(dt.date(2026, 3, 2), "", "north_america", "sal", 1)]


def _fields(table: type) -> list[str]:
    return [f.name for f in table._meta.fields if f.name != "id"]


def test_the_task_builds_the_rollup_on_its_first_run():
    journey(at(3, 2), (Stage.MQL, at(3, 3)))

    rebuild_funnel_task.delay()

    assert FunnelCohortCount.objects.get().leads == 1
    assert FunnelRollupState.objects.count() == 1


def test_the_command_rebuilds_from_a_day(capsys):
    journey(at(3, 2), (Stage.MQL, at(3, 3)))
    FunnelCohortCount.objects.create(
        day=dt.date(2026, 2, 1), highest_stage="lead", leads=5
    )

    call_command("rebuild_funnel", "--since", "2026-03-01")

    # 1 March to the last day with a roll-up row or today, whichever is later.
    assert "days of the funnel roll-up" in capsys.readouterr().out
    assert sorted(FunnelCohortCount.objects.values_list("day", "leads")) == [
        (dt.date(2026, 2, 1), 5),
        (dt.date(2026, 3, 2), 1),
    ]
    # A partial rebuild does not make the funnel read an unbuilt roll-up.
    assert FunnelRollupState.objects.count() == 0


@pytest.mark.parametrize("since", ["2026-02-30", "March", "2026-3-1"])
def test_the_command_refuses_a_day_that_is_not_a_date(since):
    with pytest.raises(CommandError, match="write it as YYYY-MM-DD"):
        call_command("rebuild_funnel", "--since", since)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_rebuilds_of_the_same_days_leave_one_set_of_rows():
    for day in range(2, 12):
        journey(at(3, day), (Stage.MQL, at(3, day + 1)), (Stage.SAL, at(3, day + 3)))
    rounds = [
        [
            lambda: rollup.funnel_rollup_rebuild_days(
                first=MARCH, last=at(3, 20).date()
            ),
            lambda: rollup.funnel_rollup_rebuild_days(
                first=dt.date(2026, 3, 5), last=dt.date(2026, 3, 25)
            ),
            lambda: rollup.funnel_rollup_refresh(now=REBUILT_AT),
        ]
        for _ in range(4)
    ]

    results = run_rounds(rounds)

    assert [kind for round_ in results for kind, _ in round_] == ["ok"] * 12
    expected_rows = (10, 20, 20)
    assert (
        FunnelCohortCount.objects.count(),
        FunnelFlowCount.objects.count(),
        FunnelFlowHours.objects.count(),
    ) == expected_rows
    assert sum(FunnelFlowCount.objects.values_list("leads", flat=True)) == 20


@pytest.fixture
def marketer(client):
    client.force_login(
        UserFactory(first_name="Mia", last_name="Park", roles=[MARKETING])
    )
    return client


def test_the_dashboard_says_when_the_rollup_figures_are_from(marketer, rollup_on):
    journey(at(3, 2), (Stage.MQL, at(3, 3)))
    rollup.funnel_rollup_rebuild(now=REBUILT_AT)
    query = "?period=custom&date_from=2026-03-01&date_to=2026-03-31&mode=cohort"

    page = marketer.get(f"/marketing/{query}").content.decode()
    by_region = marketer.get(f"/marketing/{query}&region=north_america")
    by_channel = marketer.get(f"/marketing/{query}&channel=email")

    assert "Funnel figures as of 07:31 UTC." in page
    assert "Funnel figures as of 07:31 UTC." in by_region.content.decode()
    assert "Funnel figures as of" not in by_channel.content.decode()
    assert by_region.context["funnel_rows"][1].current.count == 1
