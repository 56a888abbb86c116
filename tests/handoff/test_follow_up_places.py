"""The place of a lead in its pipeline column, stored on the lead by the
services that change its follow-up clock, equals what its handoffs give
(``selectors.follow_up_place_live``) after every kind of change."""

from __future__ import annotations

import datetime as dt

import pytest

from handoff import selectors, services
from handoff.models import ContactAttempt, Handoff
from handoff.selectors import FollowUp
from handoff.services.follow_up import (
    follow_up_places_rebuild,
    leads_follow_up_refresh,
)
from leads.models import Lead, Stage
from tests.factories import LeadFactory, mql_handoff_open

pytestmark = pytest.mark.django_db

# Monday 2026-03-02 14:00 UTC; the SLA calendar is Monday-Friday 09:00-17:00.
NOW = dt.datetime(2026, 3, 2, 14, 0, tzinfo=dt.UTC)
CALL = {"channel": ContactAttempt.Channel.CALL, "outcome": "connected"}


def places() -> dict[int, tuple[int, dt.datetime | None]]:
    return {
        lead_id: (group, at)
        for lead_id, group, at in Lead.objects.values_list(
            "id", "follow_up_group", "follow_up_at"
        )
    }


def live_places() -> dict[int, tuple[int, dt.datetime | None]]:
    group, at = selectors.follow_up_place_live()
    return {
        lead_id: (group, at)
        for lead_id, group, at in Lead.objects.annotate(
            live_group=group, live_at=at
        ).values_list("id", "live_group", "live_at")
    }


def accepted(rep, admin, opened, name) -> Handoff:
    handoff = mql_handoff_open(opened, first_name=name)
    services.handoff_accept(handoff_id=handoff.id, actor=admin, owner=rep, now=opened)
    return Handoff.objects.get(id=handoff.id)


def test_each_change_of_the_clock_stores_the_place_its_handoffs_give(sdr, rita, admin):
    # Accepted: the clock runs, due at the follow-up deadline.
    handoff = accepted(rita, admin, NOW, "Ann")
    lead_id = handoff.lead_id
    assert handoff.follow_up_due_at is not None
    assert places()[lead_id] == (FollowUp.DUE, handoff.follow_up_due_at)

    # The SDR's note does not stop the clock.
    services.attempt_log(
        handoff_id=handoff.id, actor=sdr, at=NOW + dt.timedelta(minutes=5), **CALL
    )
    assert places()[lead_id] == (FollowUp.DUE, handoff.follow_up_due_at)

    # The owner's call does: followed up, sorted by the last contact.
    first_call = NOW + dt.timedelta(hours=1)
    services.attempt_log(handoff_id=handoff.id, actor=rita, at=first_call, **CALL)
    assert places()[lead_id] == (FollowUp.DONE, first_call)

    # A later attempt by anyone is the new last contact.
    later = NOW + dt.timedelta(hours=2)
    services.attempt_log(handoff_id=handoff.id, actor=sdr, at=later, **CALL)
    assert places()[lead_id] == (FollowUp.DONE, later)

    # A move forward keeps the follow-up's place; the stage changes.
    second = accepted(rita, admin, NOW, "Bob")
    services.lead_sales_move(
        lead_id=second.lead_id,
        actor=rita,
        to_stage=Stage.SQL,
        now=NOW + dt.timedelta(hours=3),
    )
    assert places()[second.lead_id] == (FollowUp.DONE, NOW + dt.timedelta(hours=3))

    # A lead without an accepted handoff has no clock: sorted by its stage.
    clockless = LeadFactory(stage=Stage.SAL, owner=rita, stage_changed_at=NOW)
    assert places()[clockless.id] == (FollowUp.NONE, None)

    assert places() == live_places()


@pytest.mark.postgres
def test_the_rebuild_restores_every_place_and_a_second_run_writes_nothing(rita, admin):
    handoff = accepted(rita, admin, NOW, "Ann")
    called = accepted(rita, admin, NOW, "Cid")
    services.attempt_log(
        handoff_id=called.id, actor=rita, at=NOW + dt.timedelta(hours=1), **CALL
    )
    right = places()
    Lead.objects.update(follow_up_group=FollowUp.NONE, follow_up_at=None)

    assert follow_up_places_rebuild() == 2
    assert places() == right == live_places()
    assert right[handoff.lead_id] == (FollowUp.DUE, handoff.follow_up_due_at)
    assert follow_up_places_rebuild() == 0


def test_a_refresh_of_a_missing_lead_writes_nothing():
    assert leads_follow_up_refresh(lead_ids=[]) == 0
    assert leads_follow_up_refresh(lead_ids=[987654]) == 0
