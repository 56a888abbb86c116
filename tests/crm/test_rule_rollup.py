"""Rule analytics' daily roll-up: the same figures as the live count on
random histories (and a broken roll-up is caught), its upkeep, and the page
and API saying when its figures are from."""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
from collections import Counter
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from crm.marketing import rule_analytics as ra
from crm.marketing import rule_rollup
from crm.models import (
    RuleCohortCount,
    RuleCohortScore,
    RuleRejectionCount,
    RuleRejectionRule,
    RuleRollupState,
)
from crm.roles import MARKETING
from crm.tasks import rebuild_rule_rollup_task
from handoff.models import Handoff, RejectionReason, SalesOutcome
from leads.models import Lead
from scoring.models import LeadScore, ScoringModel, ScoringRule
from tests.crm import rule_analytics_data as data
from tests.factories import (
    CampaignFactory,
    LeadFactory,
    SlaFactory,
    TouchpointFactory,
    UserFactory,
)
from tests.threads import run_rounds

pytestmark = pytest.mark.django_db

FIRST = dt.datetime(2026, 2, 1, tzinfo=dt.UTC)
#: When the roll-up is built: after every random history's moments.
REBUILT_AT = dt.datetime(2026, 4, 20, 7, 31, tzinfo=dt.UTC)
CHANGED_AT = REBUILT_AT + dt.timedelta(seconds=30)
STAGES = ["lead", "mql", "sal", "sql", "opportunity", "customer", "nurture"]
STAGES += ["disqualified"]
#: Each random model's rules: kind and points (the last one disqualifies).
RULES = [("fit", 30), ("fit", 10), ("engagement", 20), ("engagement", 5)]
RULES += [("disqualify", 0)]


def _moment(rng: random.Random, days: int = 60) -> dt.datetime:
    return FIRST + dt.timedelta(seconds=rng.randrange(days * 86400))


def _item(rule: ScoringRule) -> dict[str, Any]:
    return {"rule": rule.id, "label": rule.label, "kind": rule.kind, "points": "1"}


def _breakdown(rng: random.Random, rules: list[ScoringRule]) -> list[dict[str, Any]]:
    items = [_item(rule) for rule in rng.sample(rules, rng.randrange(len(rules) + 1))]
    if rng.random() < 0.1:
        # A rule deleted since the score was stored.
        items.append({"rule": 999_999, "label": "Gone", "kind": "fit", "points": "5"})
    return items


def _total(rng: random.Random) -> Decimal:
    # Hundredths, some negative, many on the same whole point.
    return Decimal(rng.randrange(-300, 8000)) / 100


def _models() -> list[tuple[ScoringModel, list[ScoringRule]]]:
    made = []
    for name, threshold in (("Random A", Decimal("30.50")), ("Random B", 25)):
        model = ScoringModel.objects.create(
            name=name,
            version=1,
            status=ScoringModel.Status.ARCHIVED,
            mql_threshold=threshold,
            published_at=FIRST,
        )
        rules = [
            ScoringRule.objects.create(
                model=model, position=i, kind=kind, label=f"{name} {i}", points=points
            )
            for i, (kind, points) in enumerate(RULES)
        ]
        made.append((model, rules))
    return made


def _random_history(rng: random.Random, leads: int) -> dict[str, Any]:
    models = _models()
    sdr = [
        RejectionReason.objects.create(
            code=f"rr-sdr-{i}", label=f"SDR reason {i}", audience="sdr", position=i
        )
        for i in range(3)
    ]
    sales = [
        RejectionReason.objects.create(
            code=f"rr-sales-{i}", label=f"Sales reason {i}", audience="sales"
        )
        for i in range(2)
    ]
    campaigns = [CampaignFactory(name=f"Random campaign {i}") for i in range(3)]
    slas = [SlaFactory(name=f"Random SLA {i}") for i in range(2)]
    people = []
    for _ in range(leads):
        created = _moment(rng)
        lead = LeadFactory(
            created_at=created,
            highest_stage=rng.choice(STAGES),
            erased_at=created if rng.random() < 0.08 else None,
        )
        people.append(lead)
        for model, rules in models:
            if rng.random() < 0.85:
                LeadScore.objects.create(
                    lead=lead,
                    model=model,
                    total=_total(rng),
                    fit_score=0,
                    engagement_score=0,
                    grade="A",
                    breakdown=_breakdown(rng, rules[:4]),
                    gated_by=[_item(rules[4])] if rng.random() < 0.15 else [],
                    computed_at=created,
                )
        for _ in range(rng.randrange(3)):
            TouchpointFactory(
                lead=lead,
                campaign=rng.choice([*campaigns, None]),
                occurred_at=created + dt.timedelta(hours=rng.randrange(1, 500)),
            )
        for _ in range(rng.choice([0, 1, 1])):
            status = rng.choice(["accepted", "rejected", "rejected", "expired"])
            status = rng.choice([status, "pending"])
            decided = created + dt.timedelta(hours=rng.randrange(1, 900))
            handoff = Handoff.objects.create(
                lead=lead,
                sla=rng.choice(slas),
                status=status,
                mql_at=created,
                created_at=created,
                due_at=decided,
                at_risk_at=decided,
                decided_at=decided if status in ("accepted", "rejected") else None,
                expired_at=decided if status == "expired" else None,
                grade=rng.choice(["A", "B", "C", ""]),
                score_breakdown=_breakdown(rng, models[0][1]),
                reason=rng.choice(sdr) if status == "rejected" else None,
            )
            if status == "accepted" and rng.random() < 0.5:
                SalesOutcome.objects.create(
                    lead=lead,
                    handoff=rng.choice([handoff, None]),
                    from_stage="sql",
                    to_stage="nurture",
                    reason=rng.choice(sales),
                    at=decided + dt.timedelta(hours=rng.randrange(1, 300)),
                )
    return {"models": models, "leads": people, "sdr": sdr, "sales": sales}


def _periods(rng: random.Random) -> list[tuple[dt.date, dt.date]]:
    periods = [(dt.date(2026, 2, 1), dt.date(2026, 5, 1))]
    for _ in range(4):
        start = dt.date(2026, 1, 25) + dt.timedelta(days=rng.randrange(90))
        periods.append((start, start + dt.timedelta(days=rng.randrange(1, 50))))
    return periods


def _figures(report: ra.RuleAnalytics) -> dict[str, Any]:
    figures = dataclasses.asdict(report)
    del figures["counted_at"], figures["as_of"]
    return figures


def _differences(settings, rng: random.Random, models) -> list[Any]:
    """Each (model, period) whose figures from the roll-up are not the live
    ones; the number of comparisons made."""
    differences, compared, counted = [], 0, Counter()
    for start, end in _periods(rng):
        for model, _ in models:
            settings.RULE_ROLLUP = True
            from_rollup = ra._counted(model, start, end, REBUILT_AT)
            settings.RULE_ROLLUP = False
            live = ra._counted(model, start, end, REBUILT_AT)
            assert from_rollup.as_of is not None
            assert live.as_of is None
            if _figures(from_rollup) != _figures(live):
                differences.append((model.name, start, end))
            compared += 1
            counted["leads"] += live.leads
            counted["fired"] += sum(row.fired for row in live.rules)
            counted["rejections"] += sum(t.grand_total for t in live.rejections)
    assert compared == 10
    # The comparisons compare something.
    assert min(counted.values()) > 0, counted
    return differences


def _changes(rng: random.Random, history: dict[str, Any]) -> None:
    """Rescore, move, erase and decide some leads; a new sales send-back."""
    people = history["leads"]
    for model, rules in history["models"]:
        scores = list(LeadScore.objects.filter(model=model).order_by("id"))
        for score in rng.sample(scores, 5):
            LeadScore.objects.filter(id=score.id).update(
                total=_total(rng),
                breakdown=_breakdown(rng, rules[:4]),
                computed_at=CHANGED_AT,
            )
    for lead in rng.sample(people, 4):
        Lead.objects.filter(id=lead.id).update(
            highest_stage=rng.choice(STAGES), updated_at=CHANGED_AT
        )
    for lead in rng.sample(people, 2):
        Lead.objects.filter(id=lead.id).update(
            erased_at=CHANGED_AT, updated_at=CHANGED_AT
        )
    pending = list(Handoff.objects.filter(status="pending").order_by("id"))
    for handoff in pending[:3]:
        rejected = rng.random() < 0.5
        Handoff.objects.filter(id=handoff.id).update(
            status="rejected" if rejected else "accepted",
            decided_at=CHANGED_AT,
            reason=rng.choice(history["sdr"]) if rejected else None,
        )
    SalesOutcome.objects.create(
        lead=people[0],
        from_stage="sql",
        to_stage="nurture",
        reason=history["sales"][0],
        at=CHANGED_AT,
    )


def _scanned_long_ago() -> None:
    """Stamp every lead as changed before the last scan's overlap, so only the
    changes made after this count as changed."""
    Lead.objects.update(
        updated_at=REBUILT_AT - rule_rollup.OVERLAP - dt.timedelta(days=1)
    )


def _same_figures_on_random_histories(settings, seed: int, leads: int) -> None:
    rng = random.Random(seed)
    history = _random_history(rng, leads)
    rule_rollup.rule_rollup_rebuild(now=REBUILT_AT)
    assert _differences(settings, rng, history["models"]) == []
    _scanned_long_ago()

    _changes(rng, history)
    run = rule_rollup.rule_rollup_refresh(now=REBUILT_AT + dt.timedelta(minutes=1))

    assert run.days > 0
    assert _differences(settings, rng, history["models"]) == []


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_rollup_gives_the_live_figures(settings, seed):
    _same_figures_on_random_histories(settings, seed, leads=40)


@pytest.mark.postgres
@pytest.mark.parametrize("seed", [4, 5])
def test_the_rollup_gives_the_live_figures_on_postgresql(settings, seed):
    _same_figures_on_random_histories(settings, seed, leads=40)


@pytest.mark.parametrize(
    ("table", "column"),
    [
        (RuleCohortScore, "sqls"),
        (RuleCohortCount, "accepted"),
        (RuleRejectionCount, "rejections"),
        (RuleRejectionRule, "rejections"),
    ],
)
def test_a_broken_rollup_gives_other_figures_than_the_live_count(
    settings, table, column
):
    rng = random.Random(7)
    history = _random_history(rng, 40)
    rule_rollup.rule_rollup_rebuild(now=REBUILT_AT)
    assert _differences(settings, random.Random(8), history["models"]) == []
    row = table.objects.filter(**{f"{column}__gt": 0}).order_by("day", "id").first()

    table.objects.filter(id=row.id).update(**{column: getattr(row, column) + 1})

    assert _differences(settings, random.Random(8), history["models"]) != []


def test_the_score_quality_ranks_by_whole_points_in_both_paths(settings):
    model, _ = _models()[0]
    for total, stage in (("40.10", "sql"), ("40.90", "lead"), ("12.00", "lead")):
        LeadScore.objects.create(
            lead=LeadFactory(created_at=FIRST, highest_stage=stage),
            model=model,
            total=Decimal(total),
            fit_score=0,
            engagement_score=0,
            grade="A",
            breakdown=[],
            computed_at=FIRST,
        )
    rule_rollup.rule_rollup_rebuild(now=REBUILT_AT)
    qualities = []
    for on in (True, False):
        settings.RULE_ROLLUP = on
        qualities.append(ra._counted(model, FIRST.date(), REBUILT_AT.date(), FIRST))

    # 40.10 and 40.90 tie on point 40 (one half); 12 ranks below.
    assert [q.quality.auc_sql for q in qualities] == [Fraction(3, 4)] * 2
    # 40.10 and 40.90 are both at or above the threshold 30.50.
    assert [q.quality.precision_at_threshold.hits for q in qualities] == [1, 1]
    assert [q.quality.precision_at_threshold.total for q in qualities] == [2, 2]


# Upkeep --------------------------------------------------------------------


def _scored(created: dt.datetime, model: ScoringModel, **fields: Any) -> Lead:
    lead = LeadFactory(created_at=created, **fields)
    LeadScore.objects.create(
        lead=lead,
        model=model,
        total=10,
        fit_score=0,
        engagement_score=0,
        grade="A",
        breakdown=[],
        computed_at=created,
    )
    return lead


def _days(table: type) -> list[dt.date]:
    return sorted(set(table.objects.values_list("day", flat=True)))


def test_a_refresh_rebuilds_the_created_days_of_what_changed_since_its_scan():
    model, _ = _models()[0]
    leads = [_scored(FIRST + dt.timedelta(days=d), model) for d in (0, 3, 6, 9)]
    rule_rollup.rule_rollup_rebuild(now=REBUILT_AT)
    _scanned_long_ago()
    RuleCohortScore.objects.all().delete()

    Lead.objects.filter(id=leads[0].id).update(
        highest_stage="sql", updated_at=CHANGED_AT
    )
    LeadScore.objects.filter(lead=leads[1]).update(total=50, computed_at=CHANGED_AT)
    Handoff.objects.create(
        lead=leads[2],
        sla=SlaFactory(),
        status="accepted",
        mql_at=CHANGED_AT,
        created_at=CHANGED_AT,
        due_at=CHANGED_AT,
        at_risk_at=CHANGED_AT,
        decided_at=CHANGED_AT,
        score_breakdown=[],
    )
    run = rule_rollup.rule_rollup_refresh(now=CHANGED_AT + dt.timedelta(minutes=1))

    # The three leads' created days, and the decision's own day.
    assert _days(RuleCohortScore) == [lead.created_at.date() for lead in leads[:3]]
    assert run.days == 4
    assert RuleRollupState.objects.get().refreshed_at == CHANGED_AT + dt.timedelta(
        minutes=1
    )


def test_a_refresh_with_nothing_changed_rebuilds_nothing():
    model, _ = _models()[0]
    _scored(FIRST, model)
    rule_rollup.rule_rollup_rebuild(now=REBUILT_AT)
    _scanned_long_ago()

    run = rule_rollup.rule_rollup_refresh(now=REBUILT_AT + dt.timedelta(minutes=1))

    assert (run.days, run.leads_changed) == (0, 0)


def test_rebuilding_twice_writes_the_same_rows():
    rng = random.Random(11)
    _random_history(rng, 15)
    rule_rollup.rule_rollup_rebuild(now=REBUILT_AT)
    tables = (RuleCohortScore, RuleCohortCount, RuleRejectionCount, RuleRejectionRule)

    def rows():
        return [
            sorted(
                tuple(v for k, v in row.items() if k != "id")
                for row in table.objects.values()
            )
            for table in tables
        ]

    first = rows()
    rule_rollup.rule_rollup_rebuild(now=REBUILT_AT)

    assert rows() == first
    assert all(first)


def test_the_task_builds_the_rollup_on_its_first_run():
    model, _ = _models()[0]
    _scored(FIRST, model)

    days = rebuild_rule_rollup_task.delay().get()

    # Every day from the lead's to today.
    assert days == (timezone.now().date() - FIRST.date()).days + 1
    assert RuleRollupState.objects.count() == 1
    assert RuleCohortScore.objects.get().leads == 1


def test_the_command_rebuilds_from_a_day(capsys):
    model, _ = _models()[0]
    _scored(FIRST, model)
    _scored(FIRST + dt.timedelta(days=20), model)

    call_command("rebuild_rule_rollup", "--since", "2026-02-10")

    assert _days(RuleCohortScore) == [dt.date(2026, 2, 21)]
    assert capsys.readouterr().out.startswith("Rebuilt ")
    # A partial rebuild of a roll-up never built does not make it serve.
    assert RuleRollupState.objects.count() == 0


@pytest.mark.parametrize("since", ["2026-02-30", "March"])
def test_the_command_refuses_a_day_that_is_not_a_date(since):
    with pytest.raises(CommandError):
        call_command("rebuild_rule_rollup", "--since", since)
    assert RuleCohortScore.objects.count() == 0


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_rebuilds_of_the_same_days_leave_one_set_of_rows():
    model, _ = _models()[0]
    for day in range(10):
        _scored(FIRST + dt.timedelta(days=day, hours=10), model)
    rounds = [
        [
            lambda: rule_rollup.rule_rollup_rebuild_days(
                first=FIRST.date(), last=dt.date(2026, 2, 20)
            ),
            lambda: rule_rollup.rule_rollup_rebuild_days(
                first=dt.date(2026, 2, 5), last=dt.date(2026, 2, 25)
            ),
            lambda: rule_rollup.rule_rollup_refresh(now=REBUILT_AT),
        ]
        for _ in range(4)
    ]

    results = run_rounds(rounds)

    assert [kind for round_ in results for kind, _ in round_] == ["ok"] * 12
    assert RuleCohortScore.objects.count() == 10
    assert sum(RuleCohortScore.objects.values_list("leads", flat=True)) == 10


# Reading -------------------------------------------------------------------


@pytest.fixture
def marketer(client):
    client.force_login(
        UserFactory(first_name="Mia", last_name="Park", roles=[MARKETING])
    )
    return client


@pytest.fixture
def hand_world(settings):
    settings.RULE_ROLLUP = True
    ra.cache.clear()
    world = data.build()
    yield world
    ra.cache.clear()


def test_the_page_says_when_the_rollup_figures_are_from(marketer, hand_world):
    query = (
        f"?period=custom&date_from=2026-01-01&date_to=2026-01-31"
        f"&model={hand_world.model.id}"
    )
    live = marketer.get(f"/scoring/analytics/{query}")
    ra.cache.clear()
    rule_rollup.rule_rollup_rebuild(now=REBUILT_AT)

    page = marketer.get(f"/scoring/analytics/{query}")

    text = page.content.decode()
    assert "figures as of 20 Apr 2026, 07:31 UTC, from the daily roll-up" in text
    assert "figures as of" not in live.content.decode()
    assert page.context["report"].leads == live.context["report"].leads == 10


def test_the_api_gives_the_rollup_time(hand_world, client):
    rule_rollup.rule_rollup_rebuild(now=REBUILT_AT)
    client.force_login(UserFactory(roles=[MARKETING]))

    body = client.get(
        "/api/v1/reports/rules/",
        {"start": "2026-01-01", "end": "2026-02-01", "model": hand_world.model.id},
    ).json()

    assert body["as_of"] == "2026-04-20T07:31:00Z"
    assert body["leads"] == 10
