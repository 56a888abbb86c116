"""1,000 MQLs assigned by two workers at once: fair, and never to the wrong SDR.

Two threads (two workers, each with its own connection) open the handoffs of
interleaved halves of 1,000 MQLs at the same time. ``handoff.services``
assigns under the team's row lock, so the two take turns and each sees the
counters the other wrote: the weighted round robin stays as fair as when one
worker does it all, an away SDR gets nothing, and capped SDRs get exactly up
to their cap. Without the lock, both would read the same counters and pick the
same person, and caps would be overrun. PostgreSQL only.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from fractions import Fraction

import pytest

from handoff import services
from handoff.models import Handoff, HandoffEvent, SalesProfile, Team, TeamMember
from leads.models import Lead, Stage
from tests.factories import LeadFactory, SlaFactory, TeamMemberFactory
from tests.threads import run_together

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

MQLS = 1_000
MONDAY_10 = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)
DAILY_CAP = 25
OPEN_CAP = 10


def test_1000_mqls_assigned_by_two_workers_fairly_and_never_to_away_or_capped():
    # Given a weighted team: three free SDRs (weights 1, 2, 3), one away,
    # one with a daily cap and one with a cap on open handoffs
    sla = SlaFactory(accept_within_hours=8, team__strategy=Team.Strategy.WEIGHTED)
    free = {
        w: TeamMemberFactory(team=sla.team, weight=w, user__username=f"w{w}").user
        for w in (1, 2, 3)
    }
    away = TeamMemberFactory(team=sla.team, weight=3, user__username="away").user
    SalesProfile.objects.create(user=away, is_away=True)
    daily = TeamMemberFactory(
        team=sla.team, weight=2, daily_cap=DAILY_CAP, user__username="daily"
    ).user
    full = TeamMemberFactory(
        team=sla.team, weight=1, open_cap=OPEN_CAP, user__username="full"
    ).user
    leads = Lead.objects.bulk_create(
        LeadFactory.build(
            stage=Stage.MQL, highest_stage=Stage.MQL, stage_changed_at=MONDAY_10
        )
        for _ in range(MQLS)
    )

    def worker(half: list[Lead]) -> int:
        for lead in half:
            services.handoff_open(lead_id=lead.id, now=MONDAY_10)
        return len(half)

    # When two workers open interleaved halves at the same time
    results = run_together(lambda: worker(leads[0::2]), lambda: worker(leads[1::2]))

    # Then every MQL has exactly one handoff, assigned once, to someone
    assert results == [("ok", MQLS // 2)] * 2
    handoffs = Handoff.objects.all()
    assert Counter(h.lead_id for h in handoffs) == {lead.id: 1 for lead in leads}
    assert {h.status for h in handoffs} == {"pending"}
    assert Counter(
        HandoffEvent.objects.filter(kind="assigned").values_list(
            "handoff_id", flat=True
        )
    ) == {h.id: 1 for h in handoffs}
    counts = Counter(h.assigned_to_id for h in handoffs)
    assert None not in counts
    # none to the away SDR; the capped ones exactly up to their caps
    assert counts[away.id] == 0
    assert (counts[daily.id], counts[full.id]) == (DAILY_CAP, OPEN_CAP)
    # the rest by weight: each within one of its weighted share
    rest = MQLS - DAILY_CAP - OPEN_CAP
    for weight, user in free.items():
        share = Fraction(rest * weight, sum(free))
        assert abs(counts[user.id] - share) <= 1, (weight, counts[user.id], share)
    assert sum(counts[user.id] for user in free.values()) == rest
    # and the counters the round robin keeps agree with what was assigned
    members = TeamMember.objects.filter(team=sla.team)
    assert {m.user_id: m.assigned_count for m in members} == {
        m.user_id: counts[m.user_id] for m in members
    }
    assert Team.objects.get(id=sla.team_id).turn == MQLS
