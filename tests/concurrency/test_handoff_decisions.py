"""Two SDRs deciding the same handoff through the API: one wins, the other 409.

The assigned SDR and an SDR with the manager flag (who may decide any handoff)
post their decisions on the same pending handoff at the same moment, 200
times, mixing accept/accept, accept/reject and reject/reject. Every trial must
end with exactly one 200 and one 409 whose message names the winner, and the
database must hold exactly one decision per handoff: the handoff lock (and
the lead's ``expected_stage`` check behind it) is what makes that true
(reliability rule 3). PostgreSQL only: SQLite serialises writers.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from collections import Counter
from typing import Any

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from crm.roles import SDR
from handoff import services
from handoff.models import Handoff, HandoffEvent, SalesProfile
from leads.models import Lead, Stage, StageTransition
from tests.factories import LeadFactory, SlaFactory, TeamMemberFactory, UserFactory
from tests.threads import run_rounds

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

HANDOFFS = "/api/v1/handoffs/"
TRIALS = 200
MONDAY_10 = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)
#: Who does what in a trial; each pair is used for a third of the trials, and
#: who of the two SDRs takes which side alternates.
PAIRS = (("accept", "accept"), ("accept", "reject"), ("reject", "reject"))
#: What the loser is told (handoff.services.shared._check_pending).
ALREADY_DECIDED = re.compile(
    r"Handoff (\d+) was already (accepted|rejected) by (\S+) at "
    r"\d{4}-\d\d-\d\d \d\d:\d\d UTC; nothing was changed\."
)


def _client(user: Any) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user)}")
    return client


def _pending_handoffs(n: int) -> list[Handoff]:
    """``n`` MQLs, each with a pending handoff assigned to the team's one SDR.

    The first is opened by the service; the others copy it onto their own
    lead in one insert (the race is in the decision, not in the opening, and
    200 openings would be most of the test's time).
    """
    leads = Lead.objects.bulk_create(
        LeadFactory.build(
            stage=Stage.MQL, highest_stage=Stage.MQL, stage_changed_at=MONDAY_10
        )
        for _ in range(n)
    )
    model = services.handoff_open(lead_id=leads[0].id, now=MONDAY_10)
    copies = Handoff.objects.bulk_create(
        Handoff(
            **{
                f.attname: getattr(model, f.attname)
                for f in Handoff._meta.concrete_fields
                if not f.primary_key
            }
            | {"lead_id": lead.id}
        )
        for lead in leads[1:]
    )
    return [model, *copies]


def test_two_sdrs_deciding_one_handoff_200_times_one_wins_the_other_gets_409():
    # Given 200 pending handoffs assigned to ann, and bob, an SDR manager
    sla = SlaFactory(accept_within_hours=8)
    ann = TeamMemberFactory(team=sla.team, user__username="ann").user
    bob = UserFactory(username="bob", roles=[SDR])
    SalesProfile.objects.create(user=bob, is_manager=True)
    handoffs = _pending_handoffs(TRIALS)
    assert {h.assigned_to_id for h in handoffs} == {ann.id}
    # One client per SDR: in a round, each SDR's posts come from one thread.
    clients = {"ann": _client(ann), "bob": _client(bob)}

    def decide(who: str, action: str, handoff_id: int) -> tuple[str, str, Any]:
        body = {"reason": "no_budget", "feedback": "Budget frozen until Q3"}
        response = clients[who].post(
            f"{HANDOFFS}{handoff_id}/{action}/",
            body if action == "reject" else {},
            format="json",
        )
        return who, action, response

    trials = []
    for n, handoff in enumerate(handoffs):
        first, second = PAIRS[n % 3]
        ann_first = (n // 3) % 2 == 0
        sides = [("ann", first), ("bob", second)]
        if not ann_first:
            sides = [("bob", first), ("ann", second)]
        trials.append(
            [
                lambda w=who, a=action, h=handoff.id: decide(w, a, h)
                for who, action in sides
            ]
        )

    # When both post their decision at the same moment, trial after trial
    rounds = run_rounds(trials)

    # Then each trial has one 200 and one 409 naming the winner
    winners: dict[int, tuple[str, str]] = {}
    for handoff, results in zip(handoffs, rounds, strict=True):
        assert [kind for kind, _ in results] == ["ok", "ok"], results
        answers = [value for _, value in results]
        codes = sorted(response.status_code for _, _, response in answers)
        assert codes == [200, 409], (handoff.id, [r.content for *_, r in answers])
        (who, action, won), (_, _, lost) = sorted(
            answers, key=lambda answer: answer[2].status_code
        )
        assert won.json()["status"] == f"{action}ed"
        assert won.json()["decided_by"] == who
        match = ALREADY_DECIDED.fullmatch(lost.json()["detail"])
        assert match is not None, lost.json()
        assert match.groups() == (str(handoff.id), f"{action}ed", who)
        winners[handoff.id] = (who, action)

    # And the database holds exactly the winner's decision, once
    assert len(winners) == TRIALS
    users = {"ann": ann.id, "bob": bob.id}
    stored = {
        h.id: (h.status, h.decided_by_id, h.lead.stage)
        for h in Handoff.objects.select_related("lead")
    }
    assert stored == {
        handoff_id: (
            f"{action}ed",
            users[who],
            Stage.SAL if action == "accept" else Stage.NURTURE,
        )
        for handoff_id, (who, action) in winners.items()
    }
    lead_ids = [h.lead_id for h in handoffs]
    assert Counter(
        StageTransition.objects.filter(
            lead_id__in=lead_ids, from_stage=Stage.MQL
        ).values_list("lead_id", flat=True)
    ) == dict.fromkeys(lead_ids, 1)
    assert Counter(
        HandoffEvent.objects.filter(kind__in=["accepted", "rejected"]).values_list(
            "handoff_id", flat=True
        )
    ) == dict.fromkeys(winners, 1)
    # Every mix of decisions was raced, and each SDR won some trials
    outcomes = Counter(itertools.chain.from_iterable(winners.values()))
    assert min(outcomes["accept"], outcomes["reject"]) > 0
    assert min(outcomes["ann"], outcomes["bob"]) > 0
