"""Two managers handing the same lead to different reps at the same moment.

Both saw Rita as the owner on the team pipeline and post their reassignment
together, trial after trial. The lead's row lock queues them and the second
finds the owner changed: every trial must end with one 200 and one 409 that
names the winner's rep, the lead owned by the winner's rep and exactly one
OwnerChange and one audit row (no lost update). PostgreSQL only: SQLite
serialises writers.
"""

from __future__ import annotations

import html
import re
from collections import Counter

import pytest
from django.test import Client

from crm.roles import SALES
from handoff.models import SalesProfile
from leads.models import AuditEvent, Lead, OwnerChange, Stage
from tests.factories import LeadFactory, UserFactory
from tests.threads import run_rounds

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

TRIALS = 40
HTMX = {"HTTP_HX_REQUEST": "true"}
LOST = re.compile(
    r"(?P<lead>[^<>]+) was handed to (?P<rep>Sam Okafor|Ola Nilsen) by someone "
    r"else meanwhile; nothing was changed\. Reload the page and choose again\."
)


def _manager(username: str, first_name: str) -> Client:
    user = UserFactory(username=username, first_name=first_name, roles=[SALES])
    SalesProfile.objects.create(user=user, is_manager=True)
    client = Client()
    client.force_login(user)
    return client


def test_two_managers_reassigning_one_lead_one_wins_the_other_gets_409():
    # Given leads in Rita's pipeline, two managers and two reps to hand them to
    rita = UserFactory(first_name="Rita", last_name="Alvarez", roles=[SALES])
    reps = {
        "mona": UserFactory(first_name="Sam", last_name="Okafor", roles=[SALES]),
        "nils": UserFactory(first_name="Ola", last_name="Nilsen", roles=[SALES]),
    }
    clients = {"mona": _manager("mona", "Mona"), "nils": _manager("nils", "Nils")}
    leads = Lead.objects.bulk_create(
        LeadFactory.build(
            first_name=f"Lead{n}", stage=Stage.SAL, highest_stage=Stage.SAL, owner=rita
        )
        for n in range(TRIALS)
    )

    def post(who: str, lead_id: int):
        response = clients[who].post(
            f"/pipeline/leads/{lead_id}/reassign/",
            {
                "to_user": reps[who].id,
                "reason": f"{who} balances the load",
                "expected_owner_id": rita.id,
            },
            **HTMX,
        )
        return who, response

    # When both managers post at the same moment, trial after trial
    rounds = run_rounds(
        [
            [lambda w=who, i=lead.id: post(w, i) for who in ("mona", "nils")]
            for lead in leads
        ]
    )

    # Then each trial has one 200 and one 409 naming the winner's rep
    winners = {}
    for lead, results in zip(leads, rounds, strict=True):
        assert [kind for kind, _ in results] == ["ok", "ok"], results
        answers = sorted(
            (value for _, value in results), key=lambda a: a[1].status_code
        )
        assert [r.status_code for _, r in answers] == [200, 409], answers
        (winner, _), (_, lost) = answers
        match = LOST.search(html.unescape(lost.content.decode()))
        assert match is not None, lost.content
        assert match["lead"] == str(lead)
        assert match["rep"] == reps[winner].get_full_name()
        winners[lead.id] = winner

    # And the database holds the winner's reassignment, once per lead
    owners = dict(Lead.objects.filter(id__in=winners).values_list("id", "owner_id"))
    assert owners == {i: reps[who].id for i, who in winners.items()}
    changes = Counter(OwnerChange.objects.values_list("lead_id", "to_owner_id"))
    assert changes == {(i, reps[who].id): 1 for i, who in winners.items()}
    audits = Counter(
        AuditEvent.objects.filter(action="lead_reassign").values_list(
            "lead_id", flat=True
        )
    )
    assert audits == dict.fromkeys(winners, 1)
