"""Publishing, chunked bulk rescoring with progress, and the reconciler."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from leads.models import AuditEvent, Lead
from scoring import services
from scoring.exceptions import ModelNotPublishable
from scoring.models import LeadScore, RescoreChunk, ScoringModel, ScoringRule
from scoring.selectors import model_active, model_progress
from scoring.tasks import reconcile_task, rescore_chunk_task, rescore_leads_task
from tests.factories import LeadFactory, TouchpointFactory, UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("b2b_model")]


def test_clone_makes_the_next_draft_version_with_the_same_rules():
    active = model_active()
    draft = services.model_clone(model=active)
    assert (draft.name, draft.version, draft.status) == ("B2B demo", 2, "draft")
    assert list(draft.rules.values_list("label", "points")) == list(
        active.rules.values_list("label", "points")
    )
    assert model_active() == active  # cloning changes nothing live


def test_publish_activates_the_draft_and_rescores_every_lead(
    django_capture_on_commit_callbacks,
):
    leads = LeadFactory.create_batch(7, country="US", region="north_america")
    TouchpointFactory(lead=leads[0], kind_id="demo_request", occurred_at=timezone.now())
    old = model_active()
    draft = services.model_clone(model=old)
    ScoringRule.objects.filter(model=draft, label="Demo request").update(points=80)
    marketer = UserFactory()

    with django_capture_on_commit_callbacks(execute=True):
        published = services.model_publish(model_id=draft.id, actor=marketer)

    old.refresh_from_db()
    published.refresh_from_db()
    assert (old.status, published.status) == ("archived", "active")
    assert published.published_by == marketer
    assert (published.rescore_total, published.rescore_done) == (7, 7)
    assert published.rescore_finished_at is not None
    assert LeadScore.objects.filter(model=published).count() == 7
    lead = Lead.objects.get(id=leads[0].id)
    assert lead.stage == "mql"
    assert lead.score == Decimal("105.00")  # 80 + director 15 + title 5 + market 5


@pytest.mark.parametrize("status", ["active", "archived"])
def test_only_drafts_can_be_published(status):
    model = ScoringModel.objects.create(name="X", version=1, status="archived")
    ScoringRule.objects.create(
        model=model,
        kind="fit",
        label="r",
        points=1,
        attribute="country",
        operator="equals",
        value="US",
    )
    if status == "active":
        model = model_active()
    with pytest.raises(ModelNotPublishable, match="Only a draft can be published"):
        services.model_publish(model_id=model.id)
    assert model_active().name == "B2B demo"


def test_an_empty_draft_is_refused():
    draft = ScoringModel.objects.create(name="Empty", version=1)
    with pytest.raises(ModelNotPublishable, match="Add at least one rule"):
        services.model_publish(model_id=draft.id)
    draft.refresh_from_db()
    assert draft.status == "draft"


def test_a_chunk_run_twice_is_counted_once():
    LeadFactory.create_batch(3)
    model = model_active()
    model.rescore_total = 3
    model.save()
    (chunk_id,) = services.rescore_plan(model_id=model.id)

    rescore_chunk_task(chunk_id)
    rescore_chunk_task(chunk_id)

    model.refresh_from_db()
    assert model.rescore_done == 3
    assert RescoreChunk.objects.get(id=chunk_id).leads == 3
    assert services.rescore_plan(model_id=model.id) == []  # nothing left to plan


def test_chunk_of_a_model_no_longer_active_is_skipped():
    LeadFactory.create_batch(2)
    model = model_active()
    (chunk_id,) = services.rescore_plan(model_id=model.id)
    ScoringModel.objects.filter(id=model.id).update(status="archived")
    assert rescore_chunk_task(chunk_id) == 0
    assert not LeadScore.objects.exists()


def test_reconciler_rescores_leads_marked_too_long_ago(monkeypatch):
    stale, fresh = LeadFactory(), LeadFactory()
    now = timezone.now()
    Lead.objects.filter(id=stale.id).update(
        rescore_requested_at=now - dt.timedelta(minutes=5)
    )
    Lead.objects.filter(id=fresh.id).update(rescore_requested_at=now)
    enqueued = []
    delay = rescore_leads_task.delay
    monkeypatch.setattr(
        rescore_leads_task, "delay", lambda ids: enqueued.append(ids) or delay(ids)
    )

    assert reconcile_task() == 1

    # Only the stale lead is enqueued again; its task's set also takes the
    # fresh one (marked, its own message still queued), so both are scored
    assert enqueued == [[stale.id]]
    assert set(LeadScore.objects.values_list("lead_id", flat=True)) == {
        stale.id,
        fresh.id,
    }
    assert not Lead.objects.filter(rescore_requested_at__isnull=False).exists()


def test_the_reconciler_claims_a_lead_once_while_its_rescore_waits_in_the_queue():
    lead = LeadFactory()
    now = timezone.now()
    Lead.objects.filter(id=lead.id).update(
        rescore_requested_at=now - dt.timedelta(minutes=5)
    )
    age = dt.timedelta(minutes=1)

    first = services.leads_marked_overdue(older_than=age, limit=100, now=now)
    # a second beat, or the next run while the rescore is still queued
    again = services.leads_marked_overdue(
        older_than=age, limit=100, now=now + dt.timedelta(seconds=10)
    )
    # once the age has passed again without a rescore, it is claimed again
    later = services.leads_marked_overdue(
        older_than=age, limit=100, now=now + dt.timedelta(minutes=2)
    )

    assert first == [lead.id]
    assert again == []
    assert later == [lead.id]


def test_reconciler_re_enqueues_stalled_chunks():
    LeadFactory.create_batch(2)
    model = model_active()
    services.rescore_plan(model_id=model.id)
    RescoreChunk.objects.update(created_at=timezone.now() - dt.timedelta(hours=1))

    reconcile_task()

    assert RescoreChunk.objects.get().finished_at is not None
    assert LeadScore.objects.count() == 2


# A publish that cannot run is refused; one that fails is undone
# ------------------------------------------------------------------------------


def _engagement_rules(model: ScoringModel, count: int, points: str) -> None:
    """Rules stored as an older version accepted them (no checks)."""
    for i in range(count):
        ScoringRule.objects.create(
            model=model,
            position=100 + i,
            kind="engagement",
            label=f"Busy {i}",
            points=Decimal(points),
            touchpoint_kind="page_view",
            max_occurrences=1_000,
        )


def test_publish_refuses_a_rule_out_of_bounds_and_changes_nothing():
    active = model_active()
    draft = services.model_clone(model=active)
    for label in ("Huge", "Huger"):
        ScoringRule.objects.create(
            model=draft,
            kind="fit",
            label=label,
            points=Decimal("9999999.99"),
            attribute="country",
            operator="equals",
            value="US",
        )

    with pytest.raises(ModelNotPublishable) as refused:
        services.model_publish(model_id=draft.id)

    assert str(refused.value) == (
        "Rule “Huge” cannot be published: Enter points between -1,000 and 1,000. "
        "Edit it, then publish."
    )
    assert model_active() == active
    assert ScoringModel.objects.get(id=draft.id).status == "draft"
    assert not RescoreChunk.objects.exists()


def test_publish_refuses_a_model_whose_scores_could_overflow():
    active = model_active()
    draft = services.model_clone(model=active)
    _engagement_rules(draft, 10, "1000")

    with pytest.raises(ModelNotPublishable) as refused:
        services.model_publish(model_id=draft.id)

    # The default rules' positive points (88 fit, 10 * 3 + 8 * 3 + 12 * 2 +
    # 60 + 40 + 3 * 5 = 193 engagement) plus 10 * 1,000 * 1,000.
    assert str(refused.value) == (
        "With these rules a lead could reach a score of 10,000,281.00, more than "
        "the 9,999,999.99 a score can hold; give fewer points or count fewer "
        "touchpoints."
    )
    assert model_active() == active
    assert ScoringModel.objects.get(id=draft.id).status == "draft"


def test_publish_refuses_a_pattern_the_engine_cannot_run():
    draft = services.model_clone(model=model_active())
    ScoringRule.objects.filter(model=draft, operator="matches").update(
        value=r"(sales)\1"
    )

    with pytest.raises(ModelNotPublishable) as refused:
        services.model_publish(model_id=draft.id)

    assert str(refused.value) == (
        "Rule “Works in a go-to-market team” cannot be published: This pattern "
        "uses a back-reference (\\1), which the rule engine does not run; write "
        "the repeated text out instead. Edit it, then publish."
    )
    assert ScoringModel.objects.get(id=draft.id).status == "draft"


@pytest.fixture
def failing_lead(monkeypatch):
    """Scoring raises for the lead whose id is put in the returned list."""
    from scoring import store

    failing: list[int] = []
    real = store.facts_from_row

    def facts(row, account_score):
        if row.get("id") in failing:
            raise RuntimeError("cannot score this lead")
        return real(row, account_score)

    monkeypatch.setattr(store, "facts_from_row", facts)
    return failing


def _lead_columns() -> dict[int, tuple]:
    return {
        lead_id: (score, fit, engagement)
        for lead_id, score, fit, engagement in Lead.objects.values_list(
            "id", "score", "fit_score", "engagement_score"
        )
    }


def test_a_publish_whose_rescore_fails_is_undone_and_the_old_model_serves(
    django_capture_on_commit_callbacks, monkeypatch, failing_lead
):
    # Given six leads scored by the active model, and a draft that scores
    # them 2 points higher
    leads = LeadFactory.create_batch(6, country="US", region="north_america")
    old = model_active()
    services.leads_rescore(lead_ids=[lead.id for lead in leads])
    before = _lead_columns()
    old_breakdowns = dict(
        LeadScore.objects.filter(model=old).values_list("lead_id", "breakdown")
    )
    draft = services.model_clone(model=old)
    ScoringRule.objects.filter(model=draft, attribute="region").update(points=7)
    # and the rescore fails on the fifth lead, in the third chunk of two
    monkeypatch.setattr("scoring.bulk.BULK_CHUNK_SIZE", 2)
    failing_lead.append(leads[4].id)

    # When it is published (the rescore runs after commit, inline here)
    with django_capture_on_commit_callbacks(execute=True):
        services.model_publish(model_id=draft.id, actor=UserFactory())

    # Then the publish is undone: the old model is active again, the draft is
    # a draft with the failure recorded, and every lead has its old score
    draft.refresh_from_db()
    old.refresh_from_db()
    assert (old.status, draft.status, draft.replaced_id) == ("active", "draft", old.id)
    assert (draft.published_at, draft.rescore_done) == (None, 4)
    assert draft.rescore_failed_at is not None
    assert draft.rescore_error == (
        f"RuntimeError while rescoring leads {leads[4].id:,} to {leads[5].id:,}"
    )
    assert model_progress(draft).state == "failed"
    assert _lead_columns() == before
    assert (
        dict(LeadScore.objects.filter(model=old).values_list("lead_id", "breakdown"))
        == old_breakdowns
    )
    assert list(
        AuditEvent.objects.filter(details__op="rescore_failed").values_list(
            "details", flat=True
        )
    ) == [
        {
            "op": "rescore_failed",
            "model_id": draft.id,
            "chunk_id": RescoreChunk.objects.get(model=draft, low=leads[4].id).id,
            "leads_rescored": 4,
            "restored_model_id": old.id,
        }
    ]


def test_a_failed_publish_is_retried_once_the_cause_is_gone(
    django_capture_on_commit_callbacks, monkeypatch, failing_lead
):
    leads = LeadFactory.create_batch(4, country="US", region="north_america")
    old = model_active()
    draft = services.model_clone(model=old)
    ScoringRule.objects.filter(model=draft, attribute="region").update(points=7)
    failing_lead.append(leads[1].id)
    with django_capture_on_commit_callbacks(execute=True):
        services.model_publish(model_id=draft.id)
    assert ScoringModel.objects.get(id=draft.id).status == "draft"
    failing_lead.clear()

    with django_capture_on_commit_callbacks(execute=True):
        retried = services.model_publish_retry(model_id=draft.id)

    retried.refresh_from_db()
    old.refresh_from_db()
    assert (old.status, retried.status) == ("archived", "active")
    assert (retried.rescore_failed_at, retried.rescore_error) == (None, "")
    assert (retried.rescore_total, retried.rescore_done) == (4, 4)
    assert retried.rescore_finished_at is not None
    assert LeadScore.objects.filter(model=retried).count() == 4
    assert set(Lead.objects.values_list("score", flat=True)) == {Decimal("27.00")}
    with pytest.raises(ModelNotPublishable, match="Only a publish that failed"):
        services.model_publish_retry(model_id=draft.id)
