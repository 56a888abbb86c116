"""One lead, or one batch of leads, rescored by two workers at once (PostgreSQL).

Each trial: leads whose demo request takes them over the MQL threshold are
rescored by two threads calling the real-time rescore task at the same
moment (as two Celery workers would after a redelivered or repeated
message). The task locks its leads (scoring.bulk.leads_rescore_set), so the
second waits for the first and then finds their marks cleared: one score,
one score-history row, one transition to ``mql`` and one handoff per lead
(rescoring is idempotent; reliability rule 3). Tasks whose sets fill with
the same other marked leads at once score each of them once. And the leads
of one account rescored by four workers at once leave its roll-up exact.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.utils import timezone

from handoff.models import Handoff
from leads.locks import leads_for_update
from leads.models import Lead, Stage, StageTransition
from scoring.models import (
    AccountRollupRequest,
    AccountScore,
    LeadScore,
    LeadScoreHistory,
)
from scoring.selectors import model_active
from scoring.tasks import rescore_leads_task
from tests.factories import (
    AccountFactory,
    LeadFactory,
    SlaFactory,
    TeamMemberFactory,
    TouchpointFactory,
)
from tests.threads import run_rounds

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

TRIALS = 20


def test_one_lead_rescored_by_two_workers_at_once_scores_and_qualifies_once():
    # Given 20 leads, each with a fresh demo request (director 15 + 60 = 75,
    # over the neutral default model's threshold of 60) and marked for a rescore
    sdr = TeamMemberFactory(team=SlaFactory().team).user
    now = timezone.now()
    leads = LeadFactory.create_batch(TRIALS, country="US", region="north_america")
    for lead in leads:
        TouchpointFactory(
            lead=lead, kind_id="demo_request", occurred_at=now - dt.timedelta(hours=1)
        )
    ids = [lead.id for lead in leads]

    # When, one lead after the other, the lead is marked and two workers
    # rescore it at the same moment (one at a time: the task would also
    # take every other marked lead into its set)
    rounds = []
    for lead_id in ids:
        Lead.objects.filter(id=lead_id).update(rescore_requested_at=now)
        rounds += run_rounds([[lambda i=lead_id: rescore_leads_task([i])] * 2])

    # Then both runs succeed: the first to lock the lead scores it, the
    # other waits, finds its mark cleared and skips it ...
    assert [sorted(pair) for pair in rounds] == [[("ok", 0), ("ok", 1)]] * TRIALS
    # ... and each lead has one score, one history row, one move, one handoff
    scores = LeadScore.objects.filter(lead_id__in=ids)
    assert sorted((s.lead_id, s.total) for s in scores) == [
        (lead_id, Decimal("75.00")) for lead_id in ids
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
    ) == {(Stage.MQL, Decimal("75.00"), None)}


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

    # When, one batch after the other, its leads are marked and two workers
    # get its rescore task at the same moment
    rounds = []
    for batch in batches:
        Lead.objects.filter(id__in=batch).update(rescore_requested_at=now)
        rounds += run_rounds([[lambda b=batch: rescore_leads_task(b)] * 2])

    # Then the run that locks the batch first scores all of it; the other
    # waits, finds every mark cleared and scores none; and each lead has one
    # score, one history row, one move to mql and one handoff
    assert [sorted(pair) for pair in rounds] == [
        [("ok", 0), ("ok", BATCH_SIZE)]
    ] * BATCHES
    ids = [lead_id for batch in batches for lead_id in batch]
    assert_each_scored_once(ids, sdr)


def assert_each_scored_once(ids, sdr):
    """Each lead has one score, one history row, one move to mql and one
    handoff (to ``sdr``), and all of them are MQLs at 75 with no mark left."""
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
        (Stage.MQL, Decimal("75.00"), None)
    }


COALESCED = 100


def test_real_time_tasks_whose_sets_fill_with_the_same_marked_leads_score_each_once():
    # Given 100 marked leads, each with a fresh demo request
    sdr = TeamMemberFactory(team=SlaFactory().team).user
    now = timezone.now()
    leads = LeadFactory.create_batch(COALESCED, country="US", region="north_america")
    for lead in leads:
        TouchpointFactory(
            lead=lead, kind_id="demo_request", occurred_at=now - dt.timedelta(hours=1)
        )
    Lead.objects.update(rescore_requested_at=now)
    ids = [lead.id for lead in leads]

    # When four workers at once run the tasks of four of them, each task
    # filling its set with the other marked leads
    results = run_rounds(
        [[lambda i=lead_id: rescore_leads_task([i]) for lead_id in ids[::25]]]
    )[0]

    # Then every task succeeds and together they scored each lead once: one
    # score, one history row, one move to mql and one handoff per lead
    assert {status for status, _ in results} == {"ok"}
    assert sum(scored for _, scored in results) == COALESCED
    assert_each_scored_once(ids, sdr)


def test_a_marked_lead_another_transaction_holds_is_not_waited_for():
    # Given two marked leads, one of them locked by a transaction still open
    # (a bulk chunk storing it, an ingestion marking it again)
    now = timezone.now()
    held, free = LeadFactory.create_batch(2)
    Lead.objects.update(rescore_requested_at=now)
    locked, release = threading.Event(), threading.Event()

    def hold() -> None:
        try:
            with transaction.atomic():
                list(leads_for_update(id=held.id, no_key=True))
                locked.set()
                release.wait(timeout=60)
        finally:
            connection.close()

    holder = threading.Thread(target=hold, daemon=True)
    holder.start()
    assert locked.wait(timeout=30)

    # When the task of the other lead runs meanwhile
    try:
        scored = rescore_leads_task([free.id])
    finally:
        release.set()
        holder.join(timeout=60)

    # Then it scored its own lead without waiting for the held one, which
    # keeps its mark for its own message
    assert scored == 1
    assert dict(Lead.objects.values_list("id", "rescore_requested_at")) == {
        held.id: now,
        free.id: None,
    }


WORKERS = 4
ROUNDS = 10


def test_one_accounts_leads_rescored_by_four_workers_leave_its_roll_up_exact():
    # Given an account with 4 x 10 leads, each round giving every lead of
    # one worker's share a new e-mail click (the default model counts 3
    # points for each of up to 5 clicks in 14 days, under the cap of 50 a
    # lead adds to its account)
    account = AccountFactory()
    leads = LeadFactory.create_batch(WORKERS * ROUNDS, account=account)
    shares = [[lead.id for lead in leads[w::WORKERS]] for w in range(WORKERS)]
    now = timezone.now()

    def click_and_rescore(ids: list[int], n: int) -> int:
        for lead_id in ids:
            TouchpointFactory(
                lead_id=lead_id,
                kind_id="email_click",
                occurred_at=now - dt.timedelta(minutes=n),
                external_id=f"click-{lead_id}-{n}",
            )
        Lead.objects.filter(id__in=ids).update(rescore_requested_at=timezone.now())
        # the task; its roll-up refresh runs after its commit (eager Celery)
        return rescore_leads_task(ids)

    # When four workers rescore their shares at once, round after round
    rounds = run_rounds(
        [
            [lambda ids=share, n=n: click_and_rescore(ids, n) for share in shares]
            for n in range(ROUNDS)
        ]
    )

    # Then every rescore succeeded and each round scored every lead once
    # (a worker's set may take the leads another marked), no roll-up
    # request is left over, and the roll-up counts the last score of every
    # lead: 40 leads x 5 clicks x 3
    assert [{status for status, _ in results} for results in rounds] == [
        {"ok"}
    ] * ROUNDS
    assert [sum(scored for _, scored in results) for results in rounds] == [
        WORKERS * ROUNDS
    ] * ROUNDS
    assert not AccountRollupRequest.objects.exists()
    model = model_active()
    assert set(
        LeadScore.objects.filter(model=model).values_list("engagement_score", flat=True)
    ) == {Decimal(15)}
    score = AccountScore.objects.get(account=account, model=model)
    assert (score.engagement_score, score.engaged_leads) == (
        Decimal(WORKERS * ROUNDS * 15),
        WORKERS * ROUNDS,
    )
