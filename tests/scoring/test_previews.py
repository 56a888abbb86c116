"""Publish previews: counted in chunks in the background, reused while current."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from leads.models import Lead
from scoring import previews, services, tasks
from scoring.exceptions import ModelNotPublishable
from scoring.models import PublishPreview, PublishPreviewChunk, ScoringModel
from scoring.selectors import model_active, publish_preview_progress
from scoring.simulation import model_simulate
from tests.factories import LeadFactory, TouchpointFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def leads() -> list[Lead]:
    """Seven leads: directors, a VP with a demo request, one in Latin America."""
    made = [
        LeadFactory(),
        LeadFactory(seniority="vp", stage="mql"),
        LeadFactory(country="BR", region="latam"),
        LeadFactory(seniority="manager", job_title="Engineer"),
        LeadFactory(stage="nurture"),
        LeadFactory(),
        LeadFactory(seniority="vp"),
    ]
    TouchpointFactory(
        lead=made[1],
        kind_id="demo_request",
        occurred_at=timezone.now() - dt.timedelta(days=1),
    )
    return made


def _run(preview: PublishPreview, chunk_size: int) -> list[int]:
    """Plan the preview in chunks of ``chunk_size`` ids and count each chunk."""
    chunk_ids = previews.publish_preview_plan(
        preview_id=preview.id, chunk_size=chunk_size
    )
    return [previews.publish_preview_chunk_run(chunk_id=i) for i in chunk_ids]


def test_a_preview_counted_in_chunks_has_the_counts_of_model_simulate(
    directors_draft, leads
):
    # Given a preview asked for inside a transaction (its task waits)
    preview = previews.publish_preview_get(model_id=directors_draft.id)
    assert (preview.status, preview.total, preview.done) == ("running", 7, 0)

    # When it is planned in chunks of three ids and each chunk counted
    counted = _run(preview, chunk_size=3)

    # Then each chunk counted its leads, and the preview holds the counts a
    # one-go simulation gives
    assert counted == [3, 3, 1]
    preview.refresh_from_db()
    progress = publish_preview_progress(preview)
    expected = model_simulate(model=directors_draft, now=preview.scored_at)
    assert (progress.state, progress.done, progress.percent) == ("finished", 7, 100)
    assert progress.counts == expected
    assert (expected["would_become_mql"], expected["no_longer_qualifying"]) == (3, 1)


def test_progress_grows_chunk_by_chunk(directors_draft, leads):
    preview = previews.publish_preview_get(model_id=directors_draft.id)
    chunk_ids = previews.publish_preview_plan(preview_id=preview.id, chunk_size=3)

    previews.publish_preview_chunk_run(chunk_id=chunk_ids[0])

    preview.refresh_from_db()
    progress = publish_preview_progress(preview)
    assert (progress.state, progress.done, progress.total, progress.percent) == (
        "running",
        3,
        7,
        42,
    )
    assert progress.counts is None


def test_a_chunk_that_runs_twice_counts_once(directors_draft, leads):
    preview = previews.publish_preview_get(model_id=directors_draft.id)
    chunk_ids = previews.publish_preview_plan(preview_id=preview.id, chunk_size=3)

    again = [
        previews.publish_preview_chunk_run(chunk_id=chunk_ids[0]) for _ in range(2)
    ]
    replanned = previews.publish_preview_plan(preview_id=preview.id, chunk_size=3)

    assert again == [3, 0]
    assert replanned == chunk_ids[1:]
    assert PublishPreview.objects.get(id=preview.id).done == 3


def test_a_database_without_leads_is_previewed_at_once(directors_draft):
    preview = previews.publish_preview_get(model_id=directors_draft.id)

    assert previews.publish_preview_plan(preview_id=preview.id) == []

    preview.refresh_from_db()
    assert (preview.status, preview.counts["leads_scored"]) == ("finished", 0)


def test_the_page_shares_a_current_preview(directors_draft, leads):
    first = previews.publish_preview_get(model_id=directors_draft.id)
    _run(first, chunk_size=10)

    again = previews.publish_preview_get(model_id=directors_draft.id)

    assert again.id == first.id
    assert again.status == "finished"


@pytest.mark.parametrize(
    ("status", "age", "reused"),
    [
        ("finished", previews.PREVIEW_FRESH_FOR - dt.timedelta(minutes=1), True),
        ("finished", previews.PREVIEW_FRESH_FOR + dt.timedelta(minutes=1), False),
        ("running", previews.PREVIEW_STALLED_AFTER - dt.timedelta(minutes=1), True),
        ("running", previews.PREVIEW_STALLED_AFTER + dt.timedelta(minutes=1), False),
    ],
)
def test_an_old_or_stalled_preview_is_replaced(directors_draft, status, age, reused):
    first = previews.publish_preview_get(model_id=directors_draft.id)
    now = timezone.now()
    PublishPreview.objects.filter(id=first.id).update(
        status=status, requested_at=now - age, finished_at=now - age
    )

    later = previews.publish_preview_get(model_id=directors_draft.id, now=now)

    assert (later.id == first.id) is reused


def test_a_changed_draft_gets_a_new_preview_and_the_old_one_stops(
    directors_draft, leads
):
    # Given a preview being counted
    first = previews.publish_preview_get(model_id=directors_draft.id)
    chunk_ids = previews.publish_preview_plan(preview_id=first.id, chunk_size=3)

    # When a rule of the draft changes
    rule = directors_draft.rules.get(label="Director")
    services.rule_update(rule=rule, points=25)

    # Then the old preview's chunks count nothing more, and the page gets
    # a new preview of the draft as it is now
    assert [previews.publish_preview_chunk_run(chunk_id=i) for i in chunk_ids] == [
        0,
        0,
        0,
    ]
    assert PublishPreview.objects.get(id=first.id).status == "running"
    second = previews.publish_preview_get(model_id=directors_draft.id)
    assert second.id != first.id


def test_a_new_active_model_gets_a_new_preview(directors_draft, leads):
    first = previews.publish_preview_get(model_id=directors_draft.id)
    other = services.model_clone(model=model_active())
    services.model_publish(model_id=other.id)

    second = previews.publish_preview_get(model_id=directors_draft.id)

    assert second.id != first.id
    assert second.active_id == other.id


def test_count_again_starts_a_new_preview_even_when_one_is_current(
    directors_draft, leads
):
    first = previews.publish_preview_get(model_id=directors_draft.id)

    second = previews.publish_preview_get(model_id=directors_draft.id, fresh=True)

    assert second.id != first.id


@pytest.mark.parametrize("case", ["active", "no rules"])
def test_only_a_draft_with_rules_is_previewed(case):
    model = (
        model_active()
        if case == "active"
        else ScoringModel.objects.create(name="Empty", version=1)
    )

    with pytest.raises(ModelNotPublishable):
        previews.publish_preview_get(model_id=model.id)

    assert not PublishPreview.objects.exists()


def test_the_tasks_count_a_preview_on_the_bulk_queue(
    directors_draft, leads, monkeypatch, django_capture_on_commit_callbacks
):
    # Given the queue every preview task is sent to is recorded
    queues = []
    for task in (tasks.preview_publish_task, tasks.preview_chunk_task):
        original = task.apply_async

        def recording(*args, _original=original, **kwargs):
            queues.append(kwargs.get("queue"))
            return _original(*args, **kwargs)

        monkeypatch.setattr(task, "apply_async", recording)
    monkeypatch.setattr(previews, "PREVIEW_CHUNK_SIZE", 3)

    # When a preview is asked for and its tasks run (eagerly, after commit)
    with django_capture_on_commit_callbacks(execute=True):
        preview = previews.publish_preview_get(model_id=directors_draft.id)

    # Then the planning and each of the three chunks went to the bulk queue
    assert queues == ["bulk"] * 4
    preview.refresh_from_db()
    assert preview.status == "finished"
    assert PublishPreviewChunk.objects.filter(preview=preview).count() == 3
