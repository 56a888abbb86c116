"""Two SDRs accepting at once hand their leads to different reps of a team.

Ann and Bob each accept one of their handoffs at the same moment, round after
round, under an SLA whose sales team of two reps takes turns (round robin).
``handoff_accept`` picks the rep under the sales team's row lock, so the
second accept sees the turn the first one counted: every round gives one lead
to each rep, and no turn is lost. Without the lock both would read the same
counters and hand both leads to the same rep. PostgreSQL only.
"""

from __future__ import annotations

import datetime as dt

import pytest

from handoff import services
from handoff.models import Handoff, Team
from leads.models import Lead, Stage
from tests.factories import (
    SlaFactory,
    TeamFactory,
    TeamMemberFactory,
    UserFactory,
    mql_handoff_open,
)
from tests.threads import run_rounds

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ROUNDS = 30
MONDAY_10 = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)


def test_two_sdrs_accepting_at_once_get_different_reps_and_lose_no_turn():
    # Given a round-robin sales team of two reps behind the SLA, and two SDRs
    # with a pending handoff each per round
    sales = TeamFactory(name="West", strategy=Team.Strategy.ROUND_ROBIN)
    reps = [
        TeamMemberFactory(team=sales, user=UserFactory(roles=["Sales"])).user
        for _ in range(2)
    ]
    sla = SlaFactory(accept_within_hours=8, sales_team=sales)
    ann = TeamMemberFactory(team=sla.team, user__username="ann").user
    bob = TeamMemberFactory(team=sla.team, user__username="bob").user
    handoffs = [mql_handoff_open(MONDAY_10) for _ in range(2 * ROUNDS)]
    mine = {
        sdr.id: [h for h in handoffs if h.assigned_to_id == sdr.id]
        for sdr in (ann, bob)
    }
    assert [len(v) for v in mine.values()] == [ROUNDS, ROUNDS]

    def accept(handoff: Handoff, sdr) -> int:
        return services.handoff_accept(handoff_id=handoff.id, actor=sdr).owner_id

    # When both accept at the same moment, round after round
    rounds = run_rounds(
        [
            [
                lambda h=mine[ann.id][n]: accept(h, ann),
                lambda h=mine[bob.id][n]: accept(h, bob),
            ]
            for n in range(ROUNDS)
        ]
    )

    # Then each round hands one lead to each rep
    rep_ids = {r.id for r in reps}
    for results in rounds:
        assert [kind for kind, _ in results] == ["ok", "ok"], results
        assert {owner for _, owner in results} == rep_ids
    # And every turn was counted: nothing lost between the two
    sales.refresh_from_db()
    assert sales.turn == 2 * ROUNDS
    assert sorted(sales.memberships.values_list("assigned_count", flat=True)) == [
        ROUNDS,
        ROUNDS,
    ]
    owners = list(
        Lead.objects.filter(stage=Stage.SAL).values_list("owner_id", flat=True)
    )
    assert sorted(owners) == sorted([r.id for r in reps] * ROUNDS)
