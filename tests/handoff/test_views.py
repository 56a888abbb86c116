"""The SAL queue, a handoff's page, the pipeline and the lead page's handoffs.

The views read the time from ``django.utils.timezone.now``; the ``frozen``
fixture pins it, so the clocks' texts are exact. The clock arithmetic itself
is tested through the tags' pure functions with fixed times.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from crm.roles import MARKETING, SALES, SDR
from handoff import business_hours, services
from handoff.clock import follow_up_clock, sla_clock
from handoff.models import (
    ContactAttempt,
    Handoff,
    Holiday,
    RejectionReason,
    SalesOutcome,
    SalesProfile,
    Team,
)
from handoff.templatetags.handoff_tags import (
    duration_text,
    follow_up_badge,
    reason_needs,
    sla_badge,
    top_reasons,
)
from leads.models import Lead, Stage
from scoring.models import ScoringRule
from scoring.selectors import model_active
from tests.factories import (
    AccountFactory,
    TeamFactory,
    TeamMemberFactory,
    TouchpointFactory,
    UserFactory,
    mql_handoff_open,
)

pytestmark = pytest.mark.django_db

# Monday 2026-03-02 14:00 UTC; the SLA calendar is Monday-Friday 09:00-17:00.
NOW = dt.datetime(2026, 3, 2, 14, 0, tzinfo=dt.UTC)
FRIDAY = dt.datetime(2026, 2, 27, tzinfo=dt.UTC)
HTMX = {"HTTP_HX_REQUEST": "true"}
WEEKDAYS = business_hours.Calendar(
    time_zone="UTC",
    working_days=frozenset(range(5)),
    day_start=dt.time(9),
    day_end=dt.time(17),
)


@pytest.fixture
def frozen(monkeypatch):
    monkeypatch.setattr(timezone, "now", lambda: NOW)
    return NOW


@pytest.fixture
def teammate(sla, sdr):
    return TeamMemberFactory(team=sla.team, user__username="bo").user


open_at = mql_handoff_open


def open_for(user, opened: dt.datetime, **lead_fields) -> Handoff:
    """Open a handoff that round robin gives to ``user`` (the others are away)."""
    others = [
        m.user
        for m in user.memberships.get().team.memberships.exclude(user=user)
        if not getattr(m.user, "sales_profile", None)
        or not m.user.sales_profile.is_away
    ]
    for other in others:
        services.availability_set(user=other, is_away=True)
    handoff = open_at(opened, **lead_fields)
    for other in others:
        services.availability_set(user=other, is_away=False)
    assert handoff.assigned_to == user
    return handoff


def row_ids(section) -> list[int]:
    return [row.handoff.id for row in section.rows]


# The clock (pure functions, fixed times)
# ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "<1 min"),
        (59, "<1 min"),
        (60, "1 min"),
        (45 * 60 + 59, "45 min"),
        (3600, "1 h"),
        (3 * 3600 + 20 * 60, "3 h 20 min"),
        (-(26 * 3600 + 5 * 60), "26 h 5 min"),
    ],
)
def test_duration_text(seconds, text):
    assert duration_text(seconds) == text


@pytest.mark.parametrize(
    ("now", "text", "state"),
    [
        # Due Tuesday 13:00, at risk from Tuesday 11:00.
        (dt.datetime(2026, 3, 2, 13, 40, tzinfo=dt.UTC), "7 h 20 min left", "on-track"),
        # Monday evening: the clock stands still until Tuesday 09:00.
        (dt.datetime(2026, 3, 2, 20, 0, tzinfo=dt.UTC), "4 h left", "on-track"),
        (dt.datetime(2026, 3, 3, 13, 0, tzinfo=dt.UTC), "<1 min overdue", "breached"),
        (dt.datetime(2026, 3, 3, 11, 0, tzinfo=dt.UTC), "2 h left", "at-risk"),
        (dt.datetime(2026, 3, 3, 12, 15, tzinfo=dt.UTC), "45 min left", "at-risk"),
        (dt.datetime(2026, 3, 3, 13, 45, tzinfo=dt.UTC), "45 min overdue", "breached"),
        # Overdue across the night counts business hours only.
        (dt.datetime(2026, 3, 4, 10, 0, tzinfo=dt.UTC), "5 h overdue", "breached"),
    ],
)
def test_sla_clock_counts_business_hours_and_colours_by_state(now, text, state):
    reading = sla_clock(
        now=now,
        due_at=dt.datetime(2026, 3, 3, 13, 0, tzinfo=dt.UTC),
        at_risk_at=dt.datetime(2026, 3, 3, 11, 0, tzinfo=dt.UTC),
        calendar=WEEKDAYS,
    )
    clock = sla_badge(reading)

    assert (clock.text, clock.state) == (text, state)


@pytest.mark.parametrize(
    ("now", "followed_up_at", "breached_at", "text", "state"),
    [
        (NOW, None, None, "Follow up within 2 business days", "on-track"),
        (
            dt.datetime(2026, 3, 3, 10, 0, tzinfo=dt.UTC),
            None,
            None,
            "Follow up within 1 business day 4 h",
            "on-track",
        ),
        (
            dt.datetime(2026, 3, 4, 11, 0, tzinfo=dt.UTC),
            None,
            None,
            "Follow up within 3 h",
            "at-risk",
        ),
        (
            dt.datetime(2026, 3, 4, 15, 30, tzinfo=dt.UTC),
            None,
            dt.datetime(2026, 3, 4, 14, 0, tzinfo=dt.UTC),
            "Follow-up overdue by 1 h 30 min",
            "breached",
        ),
        (
            dt.datetime(2026, 3, 12, 15, 0, tzinfo=dt.UTC),
            None,
            dt.datetime(2026, 3, 4, 14, 0, tzinfo=dt.UTC),
            "Follow-up overdue by 6 business days",
            "breached",
        ),
        (
            dt.datetime(2026, 3, 3, 16, 0, tzinfo=dt.UTC),
            dt.datetime(2026, 3, 3, 14, 0, tzinfo=dt.UTC),
            None,
            "Followed up 2\xa0hours ago",
            "done",
        ),
    ],
)
def test_follow_up_clock(now, followed_up_at, breached_at, text, state):
    reading = follow_up_clock(
        now=now,
        due_at=dt.datetime(2026, 3, 4, 14, 0, tzinfo=dt.UTC),
        followed_up_at=followed_up_at,
        breached_at=breached_at,
        calendar=WEEKDAYS,
        window_hours=Decimal(16),
        at_risk_percent=75,
    )
    clock = follow_up_badge(reading, now)

    assert (clock.text, clock.state) == (text, state)


def test_top_reasons_are_the_largest_positive_contributions():
    breakdown = [
        {"label": "Director", "points": "15.00"},
        {"label": "Unsubscribed", "points": "-20.00"},
        {"rule": 7, "label": "Demo request", "points": "60.00"},
        {"label": "Go-to-market team", "points": "5.00"},
        {"label": "E-mail click", "points": "2.86"},
    ]

    assert top_reasons(breakdown, {7: "each demo request"}) == [
        {
            "rule": 7,
            "label": "Demo request",
            "points": Decimal("60.00"),
            "sentence": "each demo request",
        },
        {"label": "Director", "points": Decimal("15.00"), "sentence": ""},
        {"label": "Go-to-market team", "points": Decimal("5.00"), "sentence": ""},
    ]


def test_reason_requirements_are_spelled_out():
    needs = {r.code: reason_needs(r) for r in RejectionReason.objects.all()}

    assert needs["unable_to_reach"] == "needs 3 attempts"
    assert needs["no_fit"] == "needs feedback"
    assert needs["no_budget"] == ""


# The SAL queue
# ------------------------------------------------------------------------------


def test_queue_lists_mine_first_soonest_due_first(client, frozen, sdr, teammate):
    on_track = open_for(sdr, dt.datetime(2026, 3, 2, 13, 0, tzinfo=dt.UTC))
    overdue = open_for(sdr, FRIDAY.replace(hour=9, minute=15))
    at_risk = open_for(sdr, FRIDAY.replace(hour=15, minute=40))
    theirs = open_for(teammate, FRIDAY.replace(hour=10))
    client.force_login(sdr)

    response = client.get("/queue/")

    assert response.status_code == 200
    mine, team = response.context["sections"]
    assert (mine.title, team.title) == ("Mine", "Team")
    assert row_ids(mine) == [overdue.id, at_risk.id, on_track.id]
    assert row_ids(team) == [theirs.id]
    assert [row.can_decide for row in team.rows] == [False]
    html = response.content.decode()
    positions = [html.index(f'id="handoff-{h.id}"') for h in (overdue, theirs)]
    assert positions == sorted(positions)


def test_queue_shows_time_left_in_business_hours_with_its_colour(client, frozen, sdr):
    open_for(sdr, dt.datetime(2026, 3, 2, 13, 0, tzinfo=dt.UTC))
    open_for(sdr, FRIDAY.replace(hour=15, minute=40))
    open_for(sdr, FRIDAY.replace(hour=9, minute=15))
    client.force_login(sdr)

    html = client.get("/queue/").content.decode()

    clocks = re.findall(r'class="clock clock-([a-z-]+)"[^>]*>([^<]+)<', html)
    assert clocks == [
        ("breached", "4 h 45 min overdue"),
        ("at-risk", "1 h 40 min left"),
        ("on-track", "7 h left"),
    ]


def test_queue_row_shows_the_lead_the_score_reasons_and_latest_touchpoints(
    client, frozen, sdr
):
    account = AccountFactory(name="Analytical Engines")
    handoff = open_for(
        sdr,
        NOW - dt.timedelta(hours=1),
        first_name="Grace",
        last_name="Hopper",
        job_title="VP Engineering",
        account=account,
        country="DE",
    )
    demo = ScoringRule.objects.get(model=model_active(), touchpoint_kind="demo_request")
    Handoff.objects.filter(id=handoff.id).update(
        grade="A",
        score=Decimal("85.00"),
        score_breakdown=[
            {
                "label": "Director",
                "points": "15.00",
                "attribute": "seniority",
                "value": "director",
            },
            {"rule": demo.id, "label": "Demo request", "points": "60.00"},
            {
                "label": "In our market",
                "points": "5.00",
                "attribute": "region",
                "value": "europe",
            },
            {"label": "E-mail click", "points": "2.86"},
        ],
    )
    for day, kind in enumerate(["email_open", "page_view", "webinar_attended"]):
        TouchpointFactory(
            lead=handoff.lead,
            kind_id=kind,
            occurred_at=dt.datetime(2026, 2, 20 + day, tzinfo=dt.UTC),
        )
    TouchpointFactory(
        lead=handoff.lead,
        kind_id="demo_request",
        occurred_at=dt.datetime(2026, 3, 1, tzinfo=dt.UTC),
    )
    client.force_login(sdr)

    response = client.get("/queue/")

    row = response.context["sections"][0].rows[0]
    assert [t.kind_id for t in row.touchpoints] == [
        "demo_request",
        "webinar_attended",
        "page_view",
    ]
    html = response.content.decode()
    assert "Grace Hopper" in html
    assert "VP Engineering · Analytical Engines · Germany" in html
    reasons = re.findall(
        r'<span class="points points-fit">([^<]+)</span> <span><strong>([^<]+)'
        r'</strong> <span class="muted small">([^<]+)<',
        html,
    )
    assert reasons == [
        ("+60.0", "Demo request", "a demo request"),
        ("+15.0", "Director", "seniority is Director / head of"),
        ("+5.0", "In our market", "region is Europe"),
    ]
    assert '<span class="queue-score" title="Score at handoff">85.0</span>' in html


def test_queue_queries_do_not_grow_with_its_rows(client, frozen, sdr, teammate):
    Holiday.objects.create(
        calendar=sdr.memberships.get().team.slas.get().calendar,
        date=dt.date(2026, 12, 25),
        name="Christmas",
    )
    client.force_login(sdr)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/queue/").status_code == 200
        return len(captured)

    open_for(sdr, NOW - dt.timedelta(hours=1))
    open_for(teammate, NOW - dt.timedelta(hours=2))
    few = queries()
    for hours in range(3, 9):
        TouchpointFactory(
            lead=open_for(sdr, NOW - dt.timedelta(hours=hours)).lead,
            kind_id="email_open",
        )
        open_for(teammate, NOW - dt.timedelta(hours=hours))

    assert queries() == few


def test_queue_rows_is_the_polled_fragment(client, frozen, sdr):
    handoff = open_for(sdr, NOW - dt.timedelta(hours=1))
    client.force_login(sdr)

    response = client.get("/queue/rows/", **HTMX)

    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html
    assert f'id="handoff-{handoff.id}"' in html


@pytest.mark.parametrize("role", [SALES, MARKETING])
def test_queue_is_forbidden_to_other_roles(client, role):
    client.force_login(UserFactory(roles=[role]))

    assert client.get("/queue/").status_code == 403
    assert client.get("/queue/rows/").status_code == 403


def test_a_manager_sees_every_pending_handoff_and_may_decide_it(client, frozen, sdr):
    handoff = open_for(sdr, NOW - dt.timedelta(hours=1))
    manager = UserFactory(roles=[SALES])
    SalesProfile.objects.create(user=manager, is_manager=True)
    client.force_login(manager)

    response = client.get("/queue/")

    mine, others = response.context["sections"]
    assert (mine.rows, others.title, row_ids(others)) == (
        [],
        "Everyone else",
        [handoff.id],
    )
    assert others.rows[0].can_decide is True


# Decisions
# ------------------------------------------------------------------------------


def test_accept_via_htmx_returns_the_confirmation_and_makes_a_sal(client, frozen, sdr):
    handoff = open_for(
        sdr, NOW - dt.timedelta(hours=1), first_name="Ada", last_name="Lovelace"
    )
    client.force_login(sdr)

    response = client.post(
        f"/handoffs/{handoff.id}/accept/", {"source": "queue"}, **HTMX
    )

    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html
    assert f'id="handoff-{handoff.id}"' in html
    assert "Accepted — Ada Lovelace is now your SAL." in html
    handoff.refresh_from_db()
    assert (handoff.status, handoff.decided_by, handoff.decided_at) == (
        "accepted",
        sdr,
        NOW,
    )
    lead = Lead.objects.get(id=handoff.lead_id)
    assert (lead.stage, lead.owner) == (Stage.SAL, sdr)


def test_accept_without_javascript_redirects_back_with_a_message(client, frozen, sdr):
    handoff = open_for(
        sdr, NOW - dt.timedelta(hours=1), first_name="Ada", last_name="Lovelace"
    )
    client.force_login(sdr)

    response = client.post(f"/handoffs/{handoff.id}/accept/", follow=True)

    assert response.redirect_chain == [("/queue/", 302)]
    assert [str(m) for m in response.context["messages"]] == [
        "Accepted — Ada Lovelace is now your SAL."
    ]
    assert Handoff.objects.get(id=handoff.id).status == "accepted"


def test_reject_via_htmx_recycles_the_lead(client, frozen, sdr):
    handoff = open_for(
        sdr, NOW - dt.timedelta(hours=1), first_name="Ada", last_name="Lovelace"
    )
    client.force_login(sdr)

    response = client.post(
        f"/handoffs/{handoff.id}/reject/",
        {"source": "queue", "reason": "no_budget", "feedback": "Frozen until Q3"},
        **HTMX,
    )

    assert response.status_code == 200
    assert (
        "Rejected: No budget — Ada Lovelace is now nurture."
        in response.content.decode()
    )
    handoff.refresh_from_db()
    assert (handoff.status, handoff.reason.code, handoff.feedback) == (
        "rejected",
        "no_budget",
        "Frozen until Q3",
    )
    assert Lead.objects.get(id=handoff.lead_id).stage == Stage.NURTURE


def test_reject_without_required_feedback_is_refused_and_changes_nothing(
    client, frozen, sdr
):
    handoff = open_for(sdr, NOW - dt.timedelta(hours=1))
    client.force_login(sdr)

    response = client.post(
        f"/handoffs/{handoff.id}/reject/",
        {"source": "queue", "reason": "no_fit", "feedback": "  "},
        **HTMX,
    )

    assert response.status_code == 422
    html = response.content.decode()
    assert (
        f'<p class="field-error" id="feedback-error-{handoff.id}">'
        "“No fit” needs feedback: tell marketing why.</p>"
    ) in html
    # The reject form is open again with the chosen reason.
    assert '<details class="queue-more" open>' in html
    assert '<option value="no_fit" data-action="disqualify"' in html
    assert re.search(r'value="no_fit"[^>]* selected>', html)
    handoff.refresh_from_db()
    assert (handoff.status, handoff.reason, handoff.decided_at) == (
        "pending",
        None,
        None,
    )
    assert Lead.objects.get(id=handoff.lead_id).stage == Stage.MQL


def test_reject_as_duplicate_needs_the_other_lead(client, frozen, sdr):
    handoff = open_for(sdr, NOW - dt.timedelta(hours=1))
    client.force_login(sdr)

    response = client.post(
        f"/handoffs/{handoff.id}/reject/",
        {"source": "queue", "reason": "duplicate", "duplicate_of": "999999"},
        **HTMX,
    )

    assert response.status_code == 422
    assert "There is no lead 999999." in response.content.decode()
    assert Handoff.objects.get(id=handoff.id).status == "pending"


def test_a_second_decision_gets_409_with_who_decided(client, frozen, sdr):
    handoff = open_for(sdr, NOW - dt.timedelta(hours=1))
    services.handoff_accept(handoff_id=handoff.id, actor=sdr, now=NOW)
    client.force_login(sdr)

    response = client.post(
        f"/handoffs/{handoff.id}/reject/",
        {"source": "queue", "reason": "no_budget"},
        **HTMX,
    )

    assert response.status_code == 409
    assert (
        f"Handoff {handoff.id} was already accepted by ada at 2026-03-02 14:00 UTC; "
        "nothing was changed."
    ) in response.content.decode()
    handoff.refresh_from_db()
    assert (handoff.status, handoff.reason) == ("accepted", None)
    assert Lead.objects.get(id=handoff.lead_id).stage == Stage.SAL


def test_another_sdr_cannot_decide_and_nothing_changes(client, frozen, sdr, teammate):
    handoff = open_for(sdr, NOW - dt.timedelta(hours=1))
    client.force_login(teammate)

    accepted = client.post(
        f"/handoffs/{handoff.id}/accept/", {"source": "queue"}, **HTMX
    )
    rejected = client.post(
        f"/handoffs/{handoff.id}/reject/",
        {"source": "queue", "reason": "no_budget"},
        **HTMX,
    )

    assert (accepted.status_code, rejected.status_code) == (403, 403)
    assert (
        f"Handoff {handoff.id} is assigned to ada; only they or a manager may "
        "decide it."
    ) in accepted.content.decode()
    handoff.refresh_from_db()
    assert (handoff.status, handoff.decided_by) == ("pending", None)
    assert Lead.objects.get(id=handoff.lead_id).stage == Stage.MQL


def test_an_sdr_of_another_team_gets_404_and_nothing_changes(client, frozen, sdr):
    handoff = open_for(sdr, NOW - dt.timedelta(hours=1))
    outsider = TeamMemberFactory(team=TeamFactory(), user__username="sdr3").user
    client.force_login(outsider)

    responses = [
        client.post(f"/handoffs/{handoff.id}/accept/", {"source": "queue"}, **HTMX),
        client.post(
            f"/handoffs/{handoff.id}/reject/",
            {"source": "queue", "reason": "no_budget"},
            **HTMX,
        ),
        client.post(
            f"/handoffs/{handoff.id}/attempts/",
            {"source": "queue", "channel": "call", "outcome": "no_answer"},
            **HTMX,
        ),
        client.post(f"/handoffs/{handoff.id}/claim/", {"source": "queue"}, **HTMX),
        client.post(f"/handoffs/{handoff.id}/accept/", {"source": "queue"}),
    ]

    assert [r.status_code for r in responses] == [404, 404, 404, 404, 404]
    assert not any("ada" in r.content.decode() for r in responses)
    handoff.refresh_from_db()
    assert (handoff.status, handoff.assigned_to, handoff.decided_by) == (
        "pending",
        sdr,
        None,
    )
    assert ContactAttempt.objects.filter(handoff=handoff).count() == 0
    assert Lead.objects.get(id=handoff.lead_id).stage == Stage.MQL


def test_deciding_a_missing_handoff_is_404(client, sdr):
    client.force_login(sdr)

    assert client.post("/handoffs/999999/accept/", **HTMX).status_code == 404


def test_csrf_is_enforced_on_htmx_posts(frozen, sdr):
    handoff = open_for(sdr, NOW - dt.timedelta(hours=1))
    client = Client(enforce_csrf_checks=True)
    client.force_login(sdr)

    refused = client.post(
        f"/handoffs/{handoff.id}/accept/", {"source": "queue"}, **HTMX
    )
    assert refused.status_code == 403
    assert Handoff.objects.get(id=handoff.id).status == "pending"

    token = str(client.get("/queue/").context["csrf_token"])
    accepted = client.post(
        f"/handoffs/{handoff.id}/accept/",
        {"source": "queue"},
        HTTP_X_CSRFTOKEN=token,
        **HTMX,
    )
    assert accepted.status_code == 200
    assert Handoff.objects.get(id=handoff.id).status == "accepted"


def test_logging_an_attempt_via_htmx_updates_the_row(client, frozen, sdr):
    handoff = open_for(sdr, NOW - dt.timedelta(hours=1))
    client.force_login(sdr)

    response = client.post(
        f"/handoffs/{handoff.id}/attempts/",
        {"source": "queue", "channel": "call", "outcome": "no_answer", "note": "Rang"},
        **HTMX,
    )

    assert response.status_code == 200
    html = response.content.decode()
    assert "Logged: Call, no answer." in html
    assert "1 contact attempt logged" in html
    attempt = ContactAttempt.objects.get(handoff=handoff)
    assert (attempt.channel, attempt.outcome, attempt.note, attempt.user) == (
        "call",
        "no_answer",
        "Rang",
        sdr,
    )


def test_an_attempt_without_a_channel_is_refused(client, frozen, sdr):
    handoff = open_for(sdr, NOW - dt.timedelta(hours=1))
    client.force_login(sdr)

    response = client.post(
        f"/handoffs/{handoff.id}/attempts/",
        {"source": "queue", "channel": "pigeon", "outcome": "no_answer"},
        **HTMX,
    )

    assert response.status_code == 422
    assert "Select a valid choice. pigeon is not one of the available choices." in (
        response.content.decode()
    )
    assert not ContactAttempt.objects.exists()


def test_availability_toggle(client, sdr):
    client.force_login(sdr)

    away = client.post("/availability/", {"is_away": "on"}, **HTMX)
    back = client.post("/availability/", {}, follow=True)

    assert "I\u2019m back" in away.content.decode()
    assert back.redirect_chain == [("/queue/", 302)]
    assert SalesProfile.objects.get(user=sdr).is_away is False
    assert "Available for new MQLs" in back.content.decode()


# A handoff's page
# ------------------------------------------------------------------------------


def test_handoff_page_shows_clock_snapshot_attempts_and_events(client, frozen, sdr):
    handoff = open_for(sdr, dt.datetime(2026, 3, 2, 13, 0, tzinfo=dt.UTC))
    services.attempt_log(
        handoff_id=handoff.id, actor=sdr, channel="email", outcome="sent", now=NOW
    )
    client.force_login(sdr)

    response = client.get(f"/handoffs/{handoff.id}/")

    assert response.status_code == 200
    html = response.content.decode()
    assert '<span class="clock clock-on-track"' in html
    assert "7 h left" in html
    assert [e.kind for e in response.context["events"]] == ["assigned", "attempt"]
    assert response.context["can_decide"] is True
    assert f'hx-post="/handoffs/{handoff.id}/reject/"' in html


def test_handoff_page_is_404_for_people_who_may_not_see_it(client, frozen, sdr):
    handoff = open_for(sdr, NOW - dt.timedelta(hours=1))
    client.force_login(UserFactory(roles=[SALES]))

    assert client.get(f"/handoffs/{handoff.id}/").status_code == 404


def test_deciding_on_the_handoff_page_rerenders_it(client, frozen, sdr):
    handoff = open_for(sdr, NOW - dt.timedelta(hours=1))
    client.force_login(sdr)

    response = client.post(
        f"/handoffs/{handoff.id}/accept/", {"source": "detail"}, **HTMX
    )

    html = response.content.decode()
    assert html.lstrip().startswith('<div id="handoff-main"')
    assert "is now your SAL." in html
    assert response.context["can_decide"] is False


# The pipeline
# ------------------------------------------------------------------------------


@pytest.fixture
def rep():
    return UserFactory(username="rita", first_name="Rita", roles=[SALES])


def accepted_for(rep, admin, opened=NOW - dt.timedelta(hours=1), **lead_fields):
    handoff = open_at(opened, **lead_fields)
    services.handoff_accept(handoff_id=handoff.id, actor=admin, owner=rep, now=opened)
    return Handoff.objects.get(id=handoff.id)


def test_pipeline_groups_my_leads_by_stage_with_the_follow_up_clock(
    client, frozen, sdr, rep, admin
):
    fresh = accepted_for(rep, admin, first_name="Fresh")
    late = accepted_for(
        rep, admin, opened=NOW - dt.timedelta(days=5), first_name="Late"
    )
    qualified = accepted_for(rep, admin, first_name="Qualified")
    services.lead_sales_move(
        lead_id=qualified.lead_id, actor=rep, to_stage=Stage.SQL, now=NOW
    )
    accepted_for(UserFactory(roles=[SALES]), admin, first_name="Someone else's")
    client.force_login(rep)

    response = client.get("/pipeline/")

    assert response.status_code == 200
    columns = {
        c.stage: [card.lead.first_name for card in c.cards]
        for c in response.context["columns"]
    }
    assert columns == {
        "sal": ["Late", "Fresh"],
        "sql": ["Qualified"],
        "opportunity": [],
    }
    html = response.content.decode()
    clocks = re.findall(r'class="clock clock-([a-z-]+)"[^>]*>([^<]+)<', html)
    assert clocks == [
        ("breached", "Follow-up overdue by 1 business day"),
        ("on-track", "Follow up within 1 business day 7 h"),
        ("done", "Last contact 0\xa0minutes ago"),
    ]
    assert "<summary>Qualify (SQL)…</summary>" in html
    assert "<summary>Open opportunity…</summary>" in html
    # The cards' forms are fetched when opened: the board renders none.
    assert "<form" not in html.split('class="pipe-board"')[1]
    assert (fresh.followed_up_at, late.followed_up_at) == (None, None)


@pytest.mark.parametrize(
    ("form", "expected"),
    [
        ("forward", ">Qualify (SQL)</button>"),
        ("back", '<select id="back-reason-{lead}" name="reason"'),
        ("attempt", '<input type="hidden" name="lead" value="{lead}">'),
    ],
)
def test_a_pipeline_card_fetches_its_form_when_opened(
    client, frozen, sdr, rep, admin, form, expected
):
    handoff = accepted_for(rep, admin, first_name="Ada")
    lead = handoff.lead_id
    client.force_login(rep)

    fragment = client.get(f"/pipeline/leads/{lead}/forms/{form}/", **HTMX)
    page = client.get(f"/pipeline/leads/{lead}/forms/{form}/")

    assert fragment.status_code == 200
    html = fragment.content.decode()
    assert f'action="/pipeline/leads/{lead}/move/"' in html or form == "attempt"
    assert expected.format(lead=lead) in html
    assert 'hx-target="closest .pipe-card"' in html
    # Without JavaScript: the card on a page of its own, that form open.
    assert page.status_code == 200
    assert expected.format(lead=lead) in page.content.decode()
    assert f'id="lead-{lead}"' in page.content.decode()


def test_a_card_form_of_a_lead_not_in_my_pipeline_says_so(
    client, frozen, sdr, rep, admin
):
    theirs = accepted_for(UserFactory(roles=[SALES]), admin, first_name="Bo")
    mine = accepted_for(rep, admin, first_name="Ada")
    client.force_login(rep)

    other = client.get(f"/pipeline/leads/{theirs.lead_id}/forms/back/", **HTMX)
    unknown = client.get(f"/pipeline/leads/{mine.lead_id}/forms/delete/", **HTMX)

    assert other.status_code == 409
    assert "This lead is no longer in your pipeline." in other.content.decode()
    assert "<form" not in other.content.decode()
    assert unknown.status_code == 404


def test_pipeline_advance_via_htmx_moves_the_card(client, frozen, sdr, rep, admin):
    handoff = accepted_for(rep, admin, first_name="Ada", last_name="Lovelace")
    client.force_login(rep)

    response = client.post(
        f"/pipeline/leads/{handoff.lead_id}/move/", {"to_stage": "sql"}, **HTMX
    )

    assert response.status_code == 200
    html = response.content.decode()
    assert "Qualified — Ada Lovelace is now an SQL." in html
    assert 'hx-swap-oob="afterbegin:#stage-sql"' in html
    assert '<span class="count" id="count-sql" hx-swap-oob="true">1</span>' in html
    assert Lead.objects.get(id=handoff.lead_id).stage == Stage.SQL
    outcome = SalesOutcome.objects.get(lead_id=handoff.lead_id)
    assert (outcome.from_stage, outcome.to_stage, outcome.actor) == ("sal", "sql", rep)


def test_pipeline_send_back_with_a_reason(client, frozen, sdr, rep, admin):
    handoff = accepted_for(rep, admin, first_name="Ada", last_name="Lovelace")
    client.force_login(rep)

    response = client.post(
        f"/pipeline/leads/{handoff.lead_id}/move/",
        {"move": "back", "reason": "sales_went_dark", "feedback": "Three calls"},
        **HTMX,
    )

    assert response.status_code == 200
    html = response.content.decode()
    assert "Sent back: Went dark — Ada Lovelace is now nurture." in html
    assert 'hx-swap-oob="afterbegin:#pipe-closed"' in html
    assert Lead.objects.get(id=handoff.lead_id).stage == Stage.NURTURE
    outcome = SalesOutcome.objects.get(lead_id=handoff.lead_id)
    assert (outcome.reason.code, outcome.feedback) == ("sales_went_dark", "Three calls")
    closed = client.get("/pipeline/").context["closed"]
    assert [o.id for o in closed] == [outcome.id]


def test_pipeline_send_back_without_a_reason_is_refused(
    client, frozen, sdr, rep, admin
):
    handoff = accepted_for(rep, admin)
    client.force_login(rep)

    response = client.post(
        f"/pipeline/leads/{handoff.lead_id}/move/",
        {"move": "back", "reason": "", "feedback": "x"},
        **HTMX,
    )

    assert response.status_code == 422
    html = response.content.decode()
    assert '<p class="field-error">Choose a reason.</p>' in html
    assert '<details class="queue-more" open>' in html
    assert Lead.objects.get(id=handoff.lead_id).stage == Stage.SAL
    assert not SalesOutcome.objects.exists()


def test_pipeline_moves_are_for_the_owner(client, frozen, sdr, rep, admin):
    handoff = accepted_for(rep, admin)
    client.force_login(UserFactory(roles=[SALES]))

    response = client.post(
        f"/pipeline/leads/{handoff.lead_id}/move/", {"to_stage": "sql"}, **HTMX
    )

    assert response.status_code == 403
    assert Lead.objects.get(id=handoff.lead_id).stage == Stage.SAL


def test_logging_follow_up_on_the_pipeline_stops_the_clock(
    client, frozen, sdr, rep, admin
):
    handoff = accepted_for(rep, admin)
    client.force_login(rep)

    response = client.post(
        f"/handoffs/{handoff.id}/attempts/",
        {
            "source": "pipeline",
            "lead": handoff.lead_id,
            "channel": "call",
            "outcome": "connected",
        },
        **HTMX,
    )

    assert response.status_code == 200
    html = response.content.decode()
    assert f'id="lead-{handoff.lead_id}"' in html
    assert "Last contact 0\xa0minutes ago" in html
    assert Handoff.objects.get(id=handoff.id).followed_up_at == NOW


@pytest.mark.parametrize("role", [SDR, MARKETING])
def test_pipeline_is_forbidden_to_other_roles(client, role):
    client.force_login(UserFactory(roles=[role]))

    assert client.get("/pipeline/").status_code == 403


# The lead page
# ------------------------------------------------------------------------------


def test_lead_page_shows_the_handoffs_and_links_the_assigned_sdr(
    client, frozen, sdr, teammate
):
    # The reroute SLA ("Territory review") belongs to the migration's team.
    TeamMemberFactory(team=Team.objects.get(name="Sales development"), user=teammate)
    first = open_for(sdr, NOW - dt.timedelta(hours=1))
    services.handoff_reject(
        handoff_id=first.id,
        actor=sdr,
        reason="wrong_region",
        feedback="EMEA lead",
        now=NOW,
    )
    second = Handoff.objects.get(lead_id=first.lead_id, status="pending")
    assert second.assigned_to == teammate
    client.force_login(teammate)

    response = client.get(f"/leads/{first.lead_id}/")

    assert [h.id for h in response.context["handoffs"]] == [second.id, first.id]
    assert response.context["handoff_to_decide"] == second
    html = response.content.decode()
    assert f'href="/handoffs/{second.id}/">open handoff #{second.id}</a>' in html
    assert "Wrong region or territory" in html
    assert "EMEA lead" in html
    assert "Territory review" in html


def test_lead_page_offers_no_decision_to_others(client, frozen, sdr):
    handoff = open_for(sdr, NOW - dt.timedelta(hours=1))
    client.force_login(UserFactory(roles=[MARKETING]))

    response = client.get(f"/leads/{handoff.lead_id}/")

    assert response.context["handoff_to_decide"] is None
    assert f'<a href="/handoffs/{handoff.id}/">Handoff #{handoff.id}</a>' in (
        response.content.decode()
    )


def test_take_it_makes_an_unassigned_row_mine(client, frozen, sdr):
    handoff = open_at(NOW - dt.timedelta(hours=1))
    Handoff.objects.filter(id=handoff.id).update(assigned_to=None)
    client.force_login(sdr)

    page = client.get("/queue/").content.decode()
    response = client.post(
        f"/handoffs/{handoff.id}/claim/", {"source": "queue"}, HTTP_HX_REQUEST="true"
    )

    assert ">Take it</button>" in page
    assert response.status_code == 200
    assert Handoff.objects.get(id=handoff.id).assigned_to == sdr
    # The row is the taker's to decide now: it offers the accept form.
    assert f'hx-get="/handoffs/{handoff.id}/accept/form/"' in response.content.decode()
