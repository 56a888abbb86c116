"""Publishing, chunked bulk rescoring with progress, and the reconciler."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from leads.models import Lead
from scoring import services
from scoring.exceptions import ModelNotPublishable
from scoring.models import LeadScore, RescoreChunk, ScoringModel, ScoringRule
from scoring.selectors import model_active
from scoring.tasks import reconcile_task, rescore_chunk_task
from tests.factories import LeadFactory, TouchpointFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_clone_makes_the_next_draft_version_with_the_same_rules():
    active = model_active()
    draft = services.model_clone(model=active)
    assert (draft.name, draft.version, draft.status) == ("Default", 2, "draft")
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
    assert model_active().name == "Default"


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


def test_reconciler_rescores_leads_marked_too_long_ago():
    stale, fresh = LeadFactory(), LeadFactory()
    now = timezone.now()
    Lead.objects.filter(id=stale.id).update(
        rescore_requested_at=now - dt.timedelta(minutes=5)
    )
    Lead.objects.filter(id=fresh.id).update(rescore_requested_at=now)

    assert reconcile_task() == 1

    assert LeadScore.objects.filter(lead_id=stale.id).exists()
    assert not LeadScore.objects.filter(lead_id=fresh.id).exists()
    assert Lead.objects.get(id=stale.id).rescore_requested_at is None


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
