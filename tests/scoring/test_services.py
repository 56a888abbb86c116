"""Rescoring one lead: stored score, history, marks, MQL promotion (default model)."""

from __future__ import annotations

import datetime as dt
import itertools
import time
from decimal import Decimal

import pytest

from leads.ingestion import TouchpointIn, touchpoints_ingest
from leads.models import Lead, StageTransition
from leads.services import lead_update
from scoring.models import (
    AccountRollupRequest,
    AccountScore,
    LeadScore,
    LeadScoreHistory,
    ScoringModel,
)
from scoring.selectors import model_active
from scoring.services import (
    lead_rescore,
    leads_rescore,
    model_clone,
    model_publish,
    rule_create,
)
from scoring.tasks import account_rollups_task, rescore_leads_task
from tests.factories import AccountFactory, LeadFactory, TouchpointFactory
from tests.scoring.builders import published_with_account_rule

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def model(b2b_model: ScoringModel) -> ScoringModel:
    """The demo's B2B model: these tests work its fit points and gates out."""
    return b2b_model


def _fit_lead(**kwargs) -> Lead:
    """A director at a 800-person software company in the US: fit 15+15+10+5 = 45."""
    account = AccountFactory(employee_count=800, industry="software")
    defaults = {
        "account": account,
        "seniority": "director",
        "job_title": "Director of IT",
        "country": "US",
        "region": "north_america",
    }
    return LeadFactory(**{**defaults, **kwargs})


def test_a_fresh_install_has_a_neutral_default_model_with_no_gates():
    model = model_active()

    assert (model.name, model.version, model.status) == ("Default", 1, "active")
    assert model.mql_threshold == Decimal(60)
    rules = list(model.rules.values_list("kind", "label", "points"))
    assert rules == [
        ("fit", "Decision maker: C-level or VP", Decimal(20)),
        ("fit", "Director or head of a function", Decimal(15)),
        ("fit", "Manager", Decimal(8)),
        ("engagement", "Demo request", Decimal(60)),
        ("engagement", "Trial sign-up", Decimal(40)),
        ("engagement", "Pricing page view", Decimal(10)),
        ("engagement", "Webinar attended", Decimal(12)),
        ("engagement", "Content download", Decimal(8)),
        ("engagement", "E-mail click", Decimal(3)),
        ("negative", "Unsubscribed", Decimal(-10)),
        ("negative", "E-mail bounced", Decimal(-15)),
    ]


def test_under_the_neutral_default_a_lead_anywhere_becomes_an_mql_by_what_it_does():
    # A student in Brazil at a retailer: the demo's B2B model gates all three.
    account = AccountFactory(employee_count=3, industry="retail")
    lead = LeadFactory(
        account=account, seniority="student", country="BR", region="latam"
    )
    TouchpointFactory(
        lead=lead, kind_id="demo_request", occurred_at=NOW - dt.timedelta(days=30)
    )

    result = lead_rescore(lead_id=lead.id, model=model_active(), now=NOW)

    # 60 points halved by 30 days of the rule's 30-day half-life: 30, no fit.
    assert (result.total, result.fit_score, result.gated_by) == (
        Decimal("30.00"),
        Decimal("0.00"),
        [],
    )
    TouchpointFactory(lead=lead, kind_id="trial_signup", occurred_at=NOW)

    result = lead_rescore(lead_id=lead.id, model=model_active(), now=NOW)

    assert (result.total, result.grade, result.qualifies) == (
        Decimal("70.00"),
        "D",
        True,
    )
    assert Lead.objects.get(id=lead.id).stage == "mql"


def test_rescore_stores_score_breakdown_history_and_lead_columns(model):
    lead = _fit_lead()
    TouchpointFactory(
        lead=lead,
        kind_id="page_view",
        properties={"url": "https://x/pricing"},
        occurred_at=NOW - dt.timedelta(days=14),
    )

    result = lead_rescore(lead_id=lead.id, model=model, now=NOW)

    assert (result.fit_score, result.engagement_score, result.total) == (
        Decimal("45.00"),
        Decimal("5.00"),
        Decimal("50.00"),
    )
    score = LeadScore.objects.get(lead=lead)
    assert (score.total, score.grade) == (Decimal("50.00"), "A")
    assert [i["label"] for i in score.breakdown] == [
        "Director or head of a function",
        "Mid-market to enterprise (200-5,000 employees)",
        "Target industry",
        "In our market (North America or Europe)",
        "Pricing page view",
    ]
    lead.refresh_from_db()
    assert (lead.score, lead.fit_score, lead.grade, lead.scored_at) == (
        Decimal("50.00"),
        Decimal("45.00"),
        "A",
        NOW,
    )
    assert LeadScoreHistory.objects.get(lead=lead).total == Decimal("50.00")
    assert lead.stage == "lead"  # below 60


def test_demo_request_alone_qualifies_and_promotes_to_mql(model):
    lead = LeadFactory(country="US", region="north_america", seniority="individual")
    TouchpointFactory(lead=lead, kind_id="demo_request", occurred_at=NOW)

    lead_rescore(lead_id=lead.id, model=model, now=NOW)

    lead.refresh_from_db()
    assert lead.stage == "mql"
    transition = StageTransition.objects.get(lead=lead)
    assert (transition.from_stage, transition.to_stage, transition.system_actor) == (
        "lead",
        "mql",
        "scoring",
    )
    # demo request 60 + go-to-market title 5 + in market 5
    assert transition.reason == (
        "Score 70.0 reached the MQL threshold 60.0 (B2B demo v1)"
    )


def test_rescoring_twice_changes_nothing_the_second_time(model):
    lead = LeadFactory(country="US", region="north_america")
    TouchpointFactory(lead=lead, kind_id="demo_request", occurred_at=NOW)
    lead_rescore(lead_id=lead.id, model=model, now=NOW)

    lead_rescore(lead_id=lead.id, model=model, now=NOW)

    assert StageTransition.objects.filter(lead=lead).count() == 1
    assert LeadScoreHistory.objects.filter(lead=lead).count() == 1
    assert LeadScore.objects.filter(lead=lead).count() == 1


def test_disqualified_student_is_gated_until_the_attribute_changes(model):
    lead = LeadFactory(
        country="US",
        region="north_america",
        seniority="student",
        job_title="PhD Student",
    )
    TouchpointFactory(lead=lead, kind_id="demo_request", occurred_at=NOW)

    lead_rescore(lead_id=lead.id, model=model, now=NOW)
    lead.refresh_from_db()
    assert lead.stage == "lead"
    assert LeadScore.objects.get(lead=lead).gated_by == [
        {
            "rule": model.rules.get(label="Student").id,
            "label": "Student",
            "attribute": "seniority",
            "value": "student",
        }
    ]

    lead_update(lead=lead, job_title="Head of Data")
    lead_rescore(lead_id=lead.id, model=model, now=NOW)
    lead.refresh_from_db()
    assert lead.stage == "mql"
    assert LeadScore.objects.get(lead=lead).gated_by == []


def test_lead_already_past_mql_is_not_moved(model):
    lead = LeadFactory(
        stage="sal", highest_stage="sal", country="US", region="north_america"
    )
    TouchpointFactory(lead=lead, kind_id="demo_request", occurred_at=NOW)
    lead_rescore(lead_id=lead.id, model=model, now=NOW)
    lead.refresh_from_db()
    assert lead.stage == "sal"
    assert not StageTransition.objects.exists()


def test_nurtured_lead_requalifies(model):
    lead = LeadFactory(stage="nurture", country="US", region="north_america")
    TouchpointFactory(lead=lead, kind_id="demo_request", occurred_at=NOW)
    lead_rescore(lead_id=lead.id, model=model, now=NOW)
    lead.refresh_from_db()
    assert lead.stage == "mql"


def test_rescore_clears_the_mark_only_when_nothing_newer_arrived(model):
    old, new = LeadFactory(), LeadFactory()
    Lead.objects.filter(id=old.id).update(
        rescore_requested_at=NOW - dt.timedelta(minutes=1)
    )
    Lead.objects.filter(id=new.id).update(
        rescore_requested_at=dt.datetime(2999, 1, 1, tzinfo=dt.UTC)
    )

    leads_rescore(lead_ids=[old.id, new.id], now=NOW)

    assert Lead.objects.get(id=old.id).rescore_requested_at is None
    assert Lead.objects.get(id=new.id).rescore_requested_at is not None


def test_missing_lead_is_skipped(model):
    assert lead_rescore(lead_id=424242, model=model, now=NOW) is None
    assert leads_rescore(lead_ids=[424242], now=NOW) == 0


def test_without_an_active_model_nothing_is_scored_and_marks_stay():
    ScoringModel.objects.update(status="archived")
    lead = LeadFactory()
    Lead.objects.filter(id=lead.id).update(rescore_requested_at=NOW)
    assert leads_rescore(lead_ids=[lead.id], now=NOW) == 0
    assert not LeadScore.objects.exists()
    assert Lead.objects.get(id=lead.id).rescore_requested_at == NOW


def test_ingested_touchpoints_are_rescored_after_commit(
    django_capture_on_commit_callbacks,
):
    lead = LeadFactory(country="US", region="north_america")
    with django_capture_on_commit_callbacks(execute=True):
        touchpoints_ingest(
            items=[
                TouchpointIn(kind="demo_request", lead_id=lead.id, external_id="d-1")
            ],
            source="api",
        )
    lead.refresh_from_db()
    assert lead.stage == "mql"
    assert lead.rescore_requested_at is None
    # Under the neutral default: demo request 60 + director 15.
    assert lead.score == Decimal("75.00")


def test_duplicate_and_out_of_order_delivery_converge(
    model, django_capture_on_commit_callbacks
):
    first, second = LeadFactory(), LeadFactory()
    events = [
        TouchpointIn(
            kind="email_click",
            occurred_at=NOW - dt.timedelta(days=d),
            external_id=f"c-{d}",
        )
        for d in (1, 5, 9)
    ]
    for lead, order in (
        (first, events),
        (second, [events[2], events[0], events[1], events[0]]),
    ):
        with django_capture_on_commit_callbacks(execute=True):
            for event in order:
                touchpoints_ingest(
                    items=[
                        TouchpointIn(
                            **{
                                **event.__dict__,
                                "lead_id": lead.id,
                                "external_id": f"{lead.id}-{event.external_id}",
                            }
                        )
                    ],
                    source="api",
                )
    leads_rescore(lead_ids=[first.id, second.id], now=NOW)
    scores = dict(LeadScore.objects.values_list("lead_id", "total"))
    assert scores[first.id] == scores[second.id]


def test_scattered_leads_are_scored_in_a_fixed_number_of_queries_as_one_by_one(
    model, django_assert_max_num_queries, django_capture_on_commit_callbacks
):
    # Given 40 leads of which every fourth is rescored (ids far apart, as a
    # batch of touchpoints for existing leads brings), some with activity
    leads = [_fit_lead() for _ in range(40)][::4]
    for n, lead in enumerate(leads):
        if n % 2:
            TouchpointFactory(lead=lead, kind_id="email_click", occurred_at=NOW)
    ids = [lead.id for lead in leads]
    assert min(b - a for a, b in itertools.pairwise(ids)) >= 4

    # When they are rescored together: a fixed number of queries for the
    # set (lock, read, touchpoints, previous scores, one write, roll-up
    # requests), the accounts' roll-ups refreshed after commit
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        django_assert_max_num_queries(16),
    ):
        assert leads_rescore(lead_ids=ids, now=NOW) == len(ids)
    assert len(callbacks) == 1
    assert not AccountRollupRequest.objects.exists()

    # Then each has what the per-lead path computes
    together = dict(LeadScore.objects.values_list("lead_id", "total"))
    LeadScore.objects.all().delete()
    for lead_id in ids:
        lead_rescore(lead_id=lead_id, model=model, now=NOW)
    assert dict(LeadScore.objects.values_list("lead_id", "total")) == together
    assert sorted(set(together.values())) == [Decimal("45.00"), Decimal("48.00")]
    # and each account's roll-up counts its one lead's engagement
    rollups = dict(
        AccountScore.objects.filter(model=model).values_list(
            "account__leads__id", "engagement_score"
        )
    )
    assert rollups == {
        lead.id: Decimal("3.00") if n % 2 else Decimal("0.00")
        for n, lead in enumerate(leads)
    }


def test_a_roll_up_refresh_due_soon_is_not_scheduled_twice(monkeypatch):
    # Given workers (not eager), and a refresh just scheduled
    from django.core.cache import cache

    from scoring import services

    monkeypatch.setitem(account_rollups_task.app.conf, "task_always_eager", False)
    sent = []
    monkeypatch.setattr(
        account_rollups_task, "apply_async", lambda **kw: sent.append(kw)
    )
    cache.delete(services.ROLLUPS_DUE_KEY)

    # When two rescores commit within the delay, then another after it
    services.account_rollups_refresh_enqueue()
    services.account_rollups_refresh_enqueue()
    cache.delete(services.ROLLUPS_DUE_KEY)  # the delay has passed
    services.account_rollups_refresh_enqueue()

    # Then one refresh is scheduled for the first two, one for the third
    assert sent == [{"countdown": services.ROLLUPS_REFRESH_DELAY}] * 2
    cache.delete(services.ROLLUPS_DUE_KEY)


def test_a_refresh_takes_the_requests_of_every_rescore_before_it(
    model, django_capture_on_commit_callbacks
):
    account = AccountFactory()
    first, second = LeadFactory(account=account), LeadFactory(account=account)
    for lead in (first, second):
        TouchpointFactory(lead=lead, kind_id="email_click", occurred_at=NOW)
    for lead in (first, second):
        lead_rescore(lead_id=lead.id, model=model, now=NOW)
    assert AccountRollupRequest.objects.count() == 2

    with django_capture_on_commit_callbacks(execute=True):
        assert account_rollups_task() == 2

    assert not AccountRollupRequest.objects.exists()
    score = AccountScore.objects.get(account=account, model=model)
    assert (score.engagement_score, score.engaged_leads) == (Decimal("6.00"), 2)


def test_marked_only_skips_leads_rescored_since_they_were_enqueued(model):
    marked, cleared = _fit_lead(), _fit_lead()
    Lead.objects.filter(id=marked.id).update(rescore_requested_at=NOW)

    assert leads_rescore(lead_ids=[marked.id, cleared.id], marked_only=True) == 1

    assert list(LeadScore.objects.values_list("lead_id", flat=True)) == [marked.id]
    marked.refresh_from_db()
    assert marked.rescore_requested_at is None
    # scored as of after the lock was taken, not before the call
    assert marked.scored_at > NOW


def test_account_score_rolls_up_capped_engagement_of_its_leads(
    model, django_capture_on_commit_callbacks
):
    account = AccountFactory()
    busy, quiet, idle = (LeadFactory(account=account) for _ in range(3))
    for n in range(3):
        TouchpointFactory(
            lead=busy, kind_id="demo_request", occurred_at=NOW, external_id=f"busy-{n}"
        )
    TouchpointFactory(lead=quiet, kind_id="email_click", occurred_at=NOW)

    with django_capture_on_commit_callbacks(execute=True):
        for lead in (busy, quiet, idle):
            lead_rescore(lead_id=lead.id, model=model, now=NOW)

    score = AccountScore.objects.get(account=account, model=model)
    # busy: 60 engagement, capped at 50; quiet: one click, 3; idle: nothing.
    assert (score.engagement_score, score.engaged_leads) == (Decimal("53.00"), 2)


def test_fit_rule_can_use_the_account_score():
    # Given a published model with a rule on the account's engagement roll-up
    published = published_with_account_rule()
    account = AccountFactory()
    AccountScore.objects.create(
        account=account,
        model=published,
        engagement_score=Decimal("80"),
        computed_at=NOW,
    )
    lead = LeadFactory(account=account)

    result = lead_rescore(lead_id=lead.id, model=published, now=NOW)

    assert "Engaged account" in [item["label"] for item in result.items]


def test_a_dense_batch_is_scored_set_based_with_the_same_results(
    model, django_assert_max_num_queries
):
    leads = [LeadFactory(country="US", region="north_america") for _ in range(30)]
    for lead in leads[::3]:
        TouchpointFactory(lead=lead, kind_id="email_click", occurred_at=NOW)
    ids = [lead.id for lead in leads]

    # A fixed number of queries for the run, not one set per lead.
    with django_assert_max_num_queries(16):
        assert leads_rescore(lead_ids=ids, now=NOW) == 30

    bulk = dict(LeadScore.objects.values_list("lead_id", "total"))
    LeadScore.objects.all().delete()
    for lead_id in ids:
        lead_rescore(lead_id=lead_id, model=model, now=NOW)
    assert dict(LeadScore.objects.values_list("lead_id", "total")) == bulk
    assert sorted(set(bulk.values())) == [Decimal("25.00"), Decimal("28.00")]


def test_a_published_catastrophic_pattern_rescores_a_long_title_at_once(model):
    # Given a published model whose rules hold patterns that backtrack
    # exponentially on a backtracking engine
    draft = model_clone(model=model)
    rule_create(
        model=draft,
        kind="fit",
        label="Only a's",
        points="5",
        attribute="job_title",
        operator="matches",
        value="(a+)+$",
    )
    rule_create(
        model=draft,
        kind="engagement",
        label="Odd page",
        points="5",
        touchpoint_kind="page_view",
        property_name="url",
        property_operator="matches",
        property_value=r"^(\w+\s?)*$",
    )
    published = model_publish(model_id=draft.id, now=NOW)
    lead = _fit_lead(job_title="a" * 199 + "!")
    for _ in range(5):
        TouchpointFactory(
            lead=lead,
            kind_id="page_view",
            occurred_at=NOW,
            properties={"url": "a" * 300 + "!"},
        )

    # When the lead is rescored on the per-lead and the set path (time bound)
    started = time.perf_counter()
    result = lead_rescore(lead_id=lead.id, model=published, now=NOW)
    assert leads_rescore(lead_ids=[lead.id], now=NOW) == 1
    elapsed = time.perf_counter() - started

    # Then it takes no time, and neither pattern holds
    assert elapsed < 2
    assert {"Only a's", "Odd page"} & {item["label"] for item in result.items} == set()


def test_one_lead_that_cannot_be_scored_does_not_cost_the_others_their_rescore(
    model, monkeypatch
):
    # Given four marked leads, one of which scoring fails on
    from scoring import store

    leads = [_fit_lead() for _ in range(4)]
    ids = [lead.id for lead in leads]
    Lead.objects.filter(id__in=ids).update(rescore_requested_at=NOW)
    failing = leads[1].id
    real = store.facts_from_row

    def facts(row, account_score):
        if row.get("id") == failing:
            raise RuntimeError("cannot score this lead")
        return real(row, account_score)

    monkeypatch.setattr(store, "facts_from_row", facts)

    # When the real-time task rescores them as one set
    scored = rescore_leads_task(ids)

    # Then the other three are scored and unmarked; the failing one keeps its
    # mark for the reconciler
    assert scored == 3
    assert sorted(
        LeadScore.objects.filter(model=model).values_list("lead_id", flat=True)
    ) == sorted(set(ids) - {failing})
    assert dict(
        Lead.objects.filter(id__in=ids).values_list("id", "rescore_requested_at")
    ) == {lead_id: (NOW if lead_id == failing else None) for lead_id in ids}


def test_the_real_time_task_fills_its_set_with_the_other_marked_leads(model):
    # Given three marked leads and one that is not
    task_lead, waiting, other_waiting, unmarked = (_fit_lead() for _ in range(4))
    marked = [task_lead.id, waiting.id, other_waiting.id]
    Lead.objects.filter(id__in=marked).update(rescore_requested_at=NOW)

    # When the task of the first one runs
    scored = rescore_leads_task([task_lead.id])

    # Then it scored the three marked leads (their own messages, queued
    # behind, will find them unmarked) and left the unmarked one alone
    assert scored == 3
    assert sorted(LeadScore.objects.values_list("lead_id", flat=True)) == marked
    assert not LeadScore.objects.filter(lead=unmarked).exists()
    assert not Lead.objects.filter(rescore_requested_at__isnull=False).exists()
    assert rescore_leads_task([waiting.id]) == 0


def test_a_lead_that_failed_to_score_is_left_out_of_the_next_filled_sets(
    model, monkeypatch, caplog
):
    # Given a marked lead that scoring fails on
    from scoring import store

    failing = _fit_lead()
    Lead.objects.filter(id=failing.id).update(rescore_requested_at=NOW)
    real = store.facts_from_row

    def facts(row, account_score):
        if row.get("id") == failing.id:
            raise RuntimeError("cannot score this lead")
        return real(row, account_score)

    monkeypatch.setattr(store, "facts_from_row", facts)
    # ... that the set of another lead's task took, failed on, and then
    # scored one lead at a time
    first = _fit_lead()
    Lead.objects.filter(id=first.id).update(rescore_requested_at=NOW)
    assert rescore_leads_task([first.id]) == 1
    assert "scoring them one by one" in caplog.text
    caplog.clear()

    # When the task of a third marked lead runs
    later = _fit_lead()
    Lead.objects.filter(id=later.id).update(rescore_requested_at=NOW)
    scored = rescore_leads_task([later.id])

    # Then its set left the failing lead out (no failed set, no lead-by-lead
    # pass), and the failing lead keeps its mark for its own message
    assert scored == 1
    assert "scoring them one by one" not in caplog.text
    assert sorted(LeadScore.objects.values_list("lead_id", flat=True)) == [
        first.id,
        later.id,
    ]
    assert Lead.objects.get(id=failing.id).rescore_requested_at == NOW
