"""One lead, or one batch of leads, rescored by two workers at once (PostgreSQL).

Each trial: leads whose demo request takes them over the MQL threshold are
rescored by two threads calling the real-time rescore task at the same
moment (as two Celery workers would after a redelivered or repeated
message). The row locks in ``scoring.services`` (one lead on the per-lead
path, the run's leads on the set-based path for a dense batch) make the
second wait for the first and then find nothing to change: one score, one
score-history row, one transition to ``mql`` and one handoff per lead
(DESIGN.md: rescoring is idempotent; reliability rule 3).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from decimal import Decimal

import pytest
from django.utils import timezone

from handoff.models import Handoff
from leads.models import Lead, Stage, StageTransition
from scoring.models import LeadScore, LeadScoreHistory
from scoring.tasks import rescore_leads_task
from tests.factories import (
    LeadFactory,
    SlaFactory,
    TeamMemberFactory,
    TouchpointFactory,
)
from tests.threads import run_rounds

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

TRIALS = 20


def test_one_lead_rescored_by_two_workers_at_once_scores_and_qualifies_once():
    # Given 20 leads, each with a fresh demo request (fit 25 + 60 = 85, over
    # the default model's threshold of 60) and marked for a rescore
    sdr = TeamMemberFactory(team=SlaFactory().team).user
    now = timezone.now()
    leads = LeadFactory.create_batch(TRIALS, country="US", region="north_america")
    for lead in leads:
        TouchpointFactory(
            lead=lead, kind_id="demo_request", occurred_at=now - dt.timedelta(hours=1)
        )
    Lead.objects.update(rescore_requested_at=now)
    ids = [lead.id for lead in leads]

    # When two workers rescore each lead at the same moment
    rounds = run_rounds(
        [[lambda i=lead_id: rescore_leads_task([i])] * 2 for lead_id in ids]
    )

    # Then both runs succeed: the first to lock the lead scores it, the
    # other waits, finds its mark cleared and skips it ...
    assert [sorted(pair) for pair in rounds] == [[("ok", 0), ("ok", 1)]] * TRIALS
    # ... and each lead has one score, one history row, one move, one handoff
    scores = LeadScore.objects.filter(lead_id__in=ids)
    assert sorted((s.lead_id, s.total) for s in scores) == [
        (lead_id, Decimal("85.00")) for lead_id in ids
    ]
    assert Counter(
        LeadScoreHistory.objects.values_list("lead_id", flat=True)
    ) == dict.fromkeys(ids, 1)
    assert Counter(
        StageTransition.objects.filter(
            from_stage=Stage.LEAD, to_stage=Stage.MQL
        ).values_list("lead_id", flat=True)
    ) == dict.fromkeys(ids, 1)
    assert StageTransition.objects.count() == TRIALS
    assert sorted(
        Handoff.objects.values_list("lead_id", "status", "assigned_to_id")
    ) == [(lead_id, "pending", sdr.id) for lead_id in ids]
    assert set(
        Lead.objects.filter(id__in=ids).values_list(
            "stage", "score", "rescore_requested_at"
        )
    ) == {(Stage.MQL, Decimal("85.00"), None)}


BATCHES = 3
BATCH_SIZE = 25


def test_a_batch_of_new_leads_rescored_by_two_workers_at_once_qualifies_each_once():
    # Given 3 batches of 25 leads with consecutive ids (as a batch of new
    # leads arrives), each with a demo request and marked for a rescore
    sdr = TeamMemberFactory(team=SlaFactory().team).user
    now = timezone.now()
    batches = [
        [lead.id for lead in LeadFactory.create_batch(BATCH_SIZE, country="US")]
        for _ in range(BATCHES)
    ]
    for lead in Lead.objects.all():
        TouchpointFactory(
            lead=lead, kind_id="demo_request", occurred_at=now - dt.timedelta(hours=1)
        )
    Lead.objects.update(rescore_requested_at=now)

    # When two workers get the same batch's rescore task at the same moment
    rounds = run_rounds([[lambda b=ids: rescore_leads_task(b)] * 2 for ids in batches])

    # Then the run that locks the batch first scores all of it; the other
    # waits, finds every mark cleared and scores none; and each lead has one
    # score, one history row, one move to mql and one handoff
    assert [sorted(pair) for pair in rounds] == [
        [("ok", 0), ("ok", BATCH_SIZE)]
    ] * BATCHES
    ids = [lead_id for batch in batches for lead_id in batch]
    assert Counter(LeadScore.objects.values_list("lead_id", flat=True)) == (
        dict.fromkeys(ids, 1)
    )
    assert Counter(
        LeadScoreHistory.objects.values_list("lead_id", flat=True)
    ) == dict.fromkeys(ids, 1)
    assert Counter(
        StageTransition.objects.filter(
            from_stage=Stage.LEAD, to_stage=Stage.MQL
        ).values_list("lead_id", flat=True)
    ) == dict.fromkeys(ids, 1)
    assert sorted(Handoff.objects.values_list("lead_id", "assigned_to_id")) == [
        (lead_id, sdr.id) for lead_id in sorted(ids)
    ]
    assert set(Lead.objects.values_list("stage", "score", "rescore_requested_at")) == {
        (Stage.MQL, Decimal("85.00"), None)
    }
