"""REST API of handoffs: the list and its filters, visibility, decisions, attempts.

The clock is fixed (``django.utils.timezone.now``) so times in answers, the
time left and the state are exact.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from crm.roles import ADMIN, MARKETING, SALES, SDR
from handoff import services
from handoff.models import ContactAttempt, Handoff, HandoffEvent, RejectionReason
from leads import lifecycle
from leads.models import Lead, Stage, StageTransition
from tests.factories import LeadFactory, SlaFactory, TeamMemberFactory, UserFactory

pytestmark = pytest.mark.django_db

HANDOFFS = "/api/v1/handoffs/"
REASONS = "/api/v1/rejection-reasons/"
# Monday 2026-03-02, business hours 09:00-17:00 UTC on the factories' calendar.
MONDAY_10 = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)
NOW = dt.datetime(2026, 3, 2, 16, 30, tzinfo=dt.UTC)
NOW_JSON = "2026-03-02T16:30:00Z"

SDR_CODES = [
    "unable_to_reach",
    "bad_contact_data",
    "not_decision_maker",
    "no_need",
    "no_budget",
    "bad_timing",
    "no_fit",
    "wrong_region",
    "duplicate",
    "existing_customer",
    "competitor_spam",
    "other",
]
SALES_CODES = [
    "sales_no_budget",
    "sales_no_authority",
    "sales_no_need",
    "sales_bad_timing",
    "sales_went_dark",
    "sales_lost_competitor",
    "sales_lost_price",
    "sales_no_fit",
    "sales_other",
]


def token_client(user: Any) -> APIClient:
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def make_mql(*, at: dt.datetime = MONDAY_10, **fields: Any) -> Lead:
    lead = LeadFactory(**fields)
    lifecycle.lead_move(
        lead_id=lead.id, to_stage=Stage.MQL, system_actor="scoring", now=at
    )
    return lead


def open_for(lead: Lead, at: dt.datetime = MONDAY_10) -> Handoff:
    handoff = services.handoff_open(lead_id=lead.id, now=at)
    assert handoff is not None
    return handoff


@dataclass
class World:
    """Two SDR teams under two SLAs, four handoffs, one of them accepted.

    Team A (SLA A, every lead): ann and bob. Team B (SLA B, leads in DE):
    carl. ``ann_1`` and ``bob_1`` are pending, ``ann_2`` was accepted by ann
    for the Sales rep ``rita``, ``carl_1`` is pending in team B.
    """

    sla_a: Any
    sla_b: Any
    ann: Any
    bob: Any
    carl: Any
    rita: Any
    ann_1: Handoff
    bob_1: Handoff
    ann_2: Handoff
    carl_1: Handoff

    def get(self, name: str) -> Handoff:
        return getattr(self, name)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> dt.datetime:
    monkeypatch.setattr(timezone, "now", lambda: NOW)
    return NOW


@pytest.fixture
def world(clock: dt.datetime) -> World:
    sla_a = SlaFactory(name="SLA A", accept_within_hours=8, at_risk_percent=75)
    ann = TeamMemberFactory(team=sla_a.team, user__username="ann").user
    bob = TeamMemberFactory(team=sla_a.team, user__username="bob").user
    sla_b = SlaFactory(
        name="SLA B",
        priority=5,
        conditions=[{"attribute": "country", "operator": "equals", "value": "DE"}],
    )
    carl = TeamMemberFactory(team=sla_b.team, user__username="carl").user
    rita = UserFactory(username="rita", roles=[SALES])
    hour = dt.timedelta(hours=1)
    # Due Tuesday 10:00, 11:00, 12:00 (accepted) and 13:00 (team B).
    ann_1 = open_for(make_mql(), MONDAY_10)
    bob_1 = open_for(make_mql(), MONDAY_10 + hour)
    ann_2 = open_for(make_mql(), MONDAY_10 + 2 * hour)
    carl_1 = open_for(make_mql(country="DE"), MONDAY_10 + 3 * hour)
    services.handoff_accept(
        handoff_id=ann_2.id, actor=ann, owner=rita, now=MONDAY_10 + 4 * hour
    )
    return World(
        sla_a=sla_a,
        sla_b=sla_b,
        ann=ann,
        bob=bob,
        carl=carl,
        rita=rita,
        ann_1=ann_1,
        bob_1=bob_1,
        ann_2=Handoff.objects.get(id=ann_2.id),
        carl_1=carl_1,
    )


def ids(response: Any) -> list[int]:
    assert response.status_code == 200, response.json()
    return [row["id"] for row in response.json()["results"]]


def snapshot(handoff: Handoff) -> tuple:
    """What a refused request must leave as it was."""
    handoff.refresh_from_db()
    lead = Lead.objects.get(id=handoff.lead_id)
    return (
        handoff.status,
        handoff.decided_at,
        handoff.decided_by_id,
        handoff.reason_id,
        handoff.feedback,
        lead.stage,
        lead.owner_id,
        StageTransition.objects.filter(lead_id=lead.id).count(),
        HandoffEvent.objects.filter(handoff=handoff).count(),
    )


# The list and its filters
# ------------------------------------------------------------------------------


def test_world_is_as_described(world):
    assert [
        (h.assigned_to.username, h.status, h.sla.name, h.due_at.hour)
        for h in (world.ann_1, world.bob_1, world.ann_2, world.carl_1)
    ] == [
        ("ann", "pending", "SLA A", 10),
        ("bob", "pending", "SLA A", 11),
        ("ann", "accepted", "SLA A", 12),
        ("carl", "pending", "SLA B", 13),
    ]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ["ann_1", "bob_1", "ann_2", "carl_1"]),
        ("status=pending", ["ann_1", "bob_1", "carl_1"]),
        ("status=accepted&status=rejected", ["ann_2"]),
        ("assigned_to=me", ["ann_1", "ann_2"]),
        ("status=pending&assigned_to=me", ["ann_1"]),
        ("assigned_to=bob", ["bob_1"]),
        ("assigned_to=rita", []),
        ("sla={sla_b}", ["carl_1"]),
        ("lead={lead_bob_1}", ["bob_1"]),
        ("due_before=2026-03-03T11:00:00Z", ["ann_1"]),
        ("due_after=2026-03-03T11:00:00Z", ["bob_1", "ann_2", "carl_1"]),
        (
            "due_after=2026-03-03T11:00:00%2B01:00&due_before=2026-03-03T13:00:00Z",
            ["ann_1", "bob_1", "ann_2"],
        ),
    ],
)
def test_list_filters(world, query, expected):
    # An admin sees every handoff; ``me`` asks as ann.
    asker = world.ann if "=me" in query else UserFactory(roles=[ADMIN])
    url = f"{HANDOFFS}?" + query.format(
        sla_b=world.sla_b.id, lead_bob_1=world.bob_1.lead_id
    )

    response = token_client(asker).get(url)

    assert ids(response) == [world.get(name).id for name in expected]


def test_sal_queue_is_pending_and_mine_soonest_due_first(world):
    later = open_for(make_mql(), MONDAY_10 + dt.timedelta(hours=5))  # bob
    again = open_for(make_mql(), MONDAY_10 + dt.timedelta(minutes=330))  # ann
    assert (later.assigned_to, again.assigned_to) == (world.bob, world.ann)

    response = token_client(world.ann).get(f"{HANDOFFS}?status=pending&assigned_to=me")

    assert ids(response) == [world.ann_1.id, again.id]


@pytest.mark.parametrize(
    ("query", "errors"),
    [
        (
            "status=open",
            {
                "status": [
                    "Select a valid choice. open is not one of the available choices."
                ]
            },
        ),
        (
            "assigned_to=nobody",
            {"assigned_to": ["No user is called “nobody”; give a username or “me”."]},
        ),
        ("assigned_to=%00", {"assigned_to": ["Null characters are not allowed."]}),
        ("sla=999999", {"sla": ["There is no SLA 999999."]}),
        ("lead=999999", {"lead": ["There is no lead 999999."]}),
        ("lead=abc", {"lead": ["Enter a whole number."]}),
        ("lead=0", {"lead": ["Ensure this value is greater than or equal to 1."]}),
        (
            "sla=99999999999999999999",
            {
                "sla": [
                    "Ensure this value is less than or equal to 9223372036854775807."
                ]
            },
        ),
        ("due_before=tomorrow", {"due_before": ["Enter a valid date/time."]}),
        (
            "due_after=0001-01-01T00:00:00%2B05:00",
            {
                "due_after": [
                    "Enter a date and time between the years 1 and 9999 (UTC)."
                ]
            },
        ),
    ],
)
def test_list_bad_filter_is_400_with_the_field(world, query, errors):
    response = token_client(world.ann).get(f"{HANDOFFS}?{query}")

    assert response.status_code == 400
    assert response.json() == errors


def test_cursor_pages_visit_every_handoff_once_soonest_due_first(world):
    api = token_client(UserFactory(roles=[MARKETING]))
    expected = list(
        Handoff.objects.order_by("due_at", "id").values_list("id", flat=True)
    )

    pages, url = [], f"{HANDOFFS}?page_size=3"
    while url:
        body = api.get(url).json()
        pages.append([row["id"] for row in body["results"]])
        url = body["next"]

    assert pages == [expected[:3], expected[3:]]
    assert api.get(f"{HANDOFFS}?cursor=bogus").status_code == 404


def test_list_page_costs_a_fixed_number_of_queries(world, django_assert_num_queries):
    for i in range(10):
        open_for(make_mql(), MONDAY_10 + dt.timedelta(minutes=10 * i))
    api = token_client(UserFactory(roles=[MARKETING]))

    # However many rows: token and user, the permissions (user's, groups';
    # read with the token on PostgreSQL), the selector's role checks (the
    # user's groups, read once for Admin and Marketing, and the manager
    # flag), the page with its SLAs, calendars and people, and the holidays
    # of its calendars.
    perms = 0 if connection.vendor == "postgresql" else 2
    with django_assert_num_queries(5 + perms):
        response = api.get(HANDOFFS)

    assert len(response.json()["results"]) == 14


# Visibility per role
# ------------------------------------------------------------------------------


def test_sdrs_see_their_teams_handoffs_only(world):
    ann, carl = token_client(world.ann), token_client(world.carl)

    assert ids(ann.get(HANDOFFS)) == [world.ann_1.id, world.bob_1.id, world.ann_2.id]
    assert ids(carl.get(HANDOFFS)) == [world.carl_1.id]
    assert ann.get(f"{HANDOFFS}{world.carl_1.id}/").status_code == 404
    assert carl.get(f"{HANDOFFS}{world.ann_1.id}/").status_code == 404
    assert carl.get(f"{HANDOFFS}{world.bob_1.id}/attempts/").status_code == 404


@pytest.mark.parametrize("role", [MARKETING, ADMIN])
def test_marketing_and_admin_see_every_handoff(world, role):
    api = token_client(UserFactory(roles=[role]))

    assert len(ids(api.get(HANDOFFS))) == 4
    assert api.get(f"{HANDOFFS}{world.carl_1.id}/").status_code == 200


def test_a_manager_sdr_sees_every_handoff(world):
    from handoff.models import SalesProfile

    SalesProfile.objects.create(user=world.carl, is_manager=True)

    assert len(ids(token_client(world.carl).get(HANDOFFS))) == 4


def test_sales_sees_the_handoffs_of_the_leads_they_own(world):
    api = token_client(world.rita)

    assert ids(api.get(HANDOFFS)) == [world.ann_2.id]
    assert api.get(f"{HANDOFFS}{world.ann_1.id}/").status_code == 404


def test_user_without_a_role_gets_403(world):
    api = token_client(UserFactory())

    assert api.get(HANDOFFS).status_code == 403
    assert api.get(f"{HANDOFFS}{world.ann_1.id}/").status_code == 403
    assert api.get(REASONS).status_code == 403


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", ""),
        ("get", "{id}/"),
        ("post", "{id}/accept/"),
        ("post", "{id}/reject/"),
        ("get", "{id}/attempts/"),
        ("post", "{id}/attempts/"),
        ("get", "/api/v1/rejection-reasons/"),
    ],
)
def test_anonymous_gets_401_and_nothing_changes(world, method, path):
    before = snapshot(world.ann_1)
    url = path if path.startswith("/") else HANDOFFS + path.format(id=world.ann_1.id)

    response = getattr(APIClient(), method)(url, {"reason": "no_budget"}, format="json")

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert snapshot(world.ann_1) == before


# One handoff: the exact shape
# ------------------------------------------------------------------------------


def test_one_pending_handoff_exactly(world):
    handoff = world.ann_1

    response = token_client(world.ann).get(f"{HANDOFFS}{handoff.id}/")

    assert response.status_code == 200
    assert response.json() == {
        "id": handoff.id,
        "lead": handoff.lead_id,
        "sla": world.sla_a.id,
        "assigned_to": "ann",
        "status": "pending",
        "due_at": "2026-03-03T10:00:00Z",
        "decided_at": None,
        "decided_by": None,
        "reason": None,
        "feedback": "",
        "sla_name": "SLA A",
        "team": world.sla_a.team_id,
        "at_risk_at": "2026-03-02T16:00:00Z",
        "created_at": "2026-03-02T10:00:00Z",
        "mql_at": "2026-03-02T10:00:00Z",
        "first_attempt_at": None,
        "expired_at": None,
        "owner": None,
        "follow_up_due_at": None,
        "followed_up_at": None,
        "score": "0.00",
        "grade": "",
        "sequence": 1,
        "previous": None,
        # 16:30 -> 17:00 today and 09:00 -> 10:00 tomorrow.
        "time_left_seconds": 5400,
        "state": "at_risk",
    }


@pytest.mark.parametrize(
    ("now", "time_left", "state"),
    [
        (dt.datetime(2026, 3, 2, 15, 0, tzinfo=dt.UTC), 3 * 3600, "on_track"),
        (dt.datetime(2026, 3, 2, 16, 0, tzinfo=dt.UTC), 2 * 3600, "at_risk"),
        # Evening: the clock does not run until tomorrow 09:00.
        (dt.datetime(2026, 3, 2, 20, 0, tzinfo=dt.UTC), 3600, "at_risk"),
        (dt.datetime(2026, 3, 3, 10, 0, tzinfo=dt.UTC), 0, "breached"),
        (dt.datetime(2026, 3, 3, 12, 30, tzinfo=dt.UTC), -9000, "breached"),
        # Overdue since Tuesday 10:00; Wednesday 09:00 is 7 business hours on.
        (dt.datetime(2026, 3, 4, 9, 0, tzinfo=dt.UTC), -7 * 3600, "breached"),
    ],
)
def test_time_left_counts_business_hours_negative_when_overdue(
    world, monkeypatch, now, time_left, state
):
    monkeypatch.setattr(timezone, "now", lambda: now)

    body = token_client(world.ann).get(f"{HANDOFFS}{world.ann_1.id}/").json()

    assert (body["time_left_seconds"], body["state"]) == (time_left, state)


def test_an_accepted_handoff_has_no_clock(world):
    body = token_client(world.ann).get(f"{HANDOFFS}{world.ann_2.id}/").json()

    assert {
        k: body[k]
        for k in (
            "status",
            "decided_at",
            "decided_by",
            "owner",
            "follow_up_due_at",
            "time_left_seconds",
            "state",
        )
    } == {
        "status": "accepted",
        "decided_at": "2026-03-02T14:00:00Z",
        "decided_by": "ann",
        "owner": "rita",
        # 16 business hours from Monday 14:00: Wednesday 14:00.
        "follow_up_due_at": "2026-03-04T14:00:00Z",
        "time_left_seconds": None,
        "state": None,
    }


# Accept
# ------------------------------------------------------------------------------


def test_accept_makes_the_lead_a_sal_owned_by_the_sdr(world):
    handoff = world.ann_1

    response = token_client(world.ann).post(f"{HANDOFFS}{handoff.id}/accept/")

    assert response.status_code == 200
    body = response.json()
    assert (body["id"], body["status"], body["decided_by"], body["owner"]) == (
        handoff.id,
        "accepted",
        "ann",
        "ann",
    )
    assert (body["decided_at"], body["state"]) == (NOW_JSON, None)
    lead = Lead.objects.get(id=handoff.lead_id)
    assert (lead.stage, lead.owner) == (Stage.SAL, world.ann)
    transition = StageTransition.objects.filter(lead=lead).latest("id")
    assert (transition.from_stage, transition.to_stage, transition.actor) == (
        "mql",
        "sal",
        world.ann,
    )


def test_accept_for_a_sales_rep_makes_them_the_owner(world):
    handoff = world.bob_1

    response = token_client(world.bob).post(
        f"{HANDOFFS}{handoff.id}/accept/", {"owner": "rita"}, format="json"
    )

    assert response.status_code == 200
    assert (response.json()["owner"], response.json()["decided_by"]) == ("rita", "bob")
    assert Lead.objects.get(id=handoff.lead_id).owner == world.rita


@pytest.mark.parametrize(
    ("owner", "message"),
    [
        ("maya", "No active sales rep is called “maya”."),
        ("gone", "No active sales rep is called “gone”."),
        ("nobody", "No active sales rep is called “nobody”."),
        ("bob", "No active sales rep is called “bob”."),
        ({"username": "rita"}, "Give the owner's username."),
        (7, "Give the owner's username."),
        ("ri\x00ta", "Remove the NUL character (\\u0000); it cannot be stored."),
    ],
)
def test_accept_for_someone_who_cannot_own_leads_is_400(world, owner, message):
    UserFactory(username="maya", roles=[MARKETING])
    UserFactory(username="gone", roles=[SALES], is_active=False)
    before = snapshot(world.ann_1)

    response = token_client(world.ann).post(
        f"{HANDOFFS}{world.ann_1.id}/accept/", {"owner": owner}, format="json"
    )

    assert response.status_code == 400
    assert response.json() == {"owner": [message]}
    assert snapshot(world.ann_1) == before


def test_an_admin_accepts_any_handoff(world):
    admin = UserFactory(username="root", roles=[ADMIN])

    response = token_client(admin).post(
        f"{HANDOFFS}{world.carl_1.id}/accept/", format="json"
    )

    assert response.status_code == 200
    assert (response.json()["decided_by"], response.json()["owner"]) == ("root", "carl")


# Reject
# ------------------------------------------------------------------------------


def test_reject_with_reason_and_feedback(world):
    handoff = world.ann_1

    response = token_client(world.ann).post(
        f"{HANDOFFS}{handoff.id}/reject/",
        {"reason": "no_budget", "feedback": "  Budget frozen until Q3 "},
        format="json",
    )

    assert response.status_code == 200
    body = response.json()
    assert {k: body[k] for k in ("status", "reason", "feedback", "decided_by")} == {
        "status": "rejected",
        "reason": "no_budget",
        "feedback": "Budget frozen until Q3",
        "decided_by": "ann",
    }
    lead = Lead.objects.get(id=handoff.lead_id)
    assert lead.stage == Stage.NURTURE
    assert lead.recycle_until == NOW + dt.timedelta(days=90)


def test_reject_as_duplicate_merges_into_the_other_lead(world):
    survivor = LeadFactory()
    handoff = world.ann_1

    response = token_client(world.ann).post(
        f"{HANDOFFS}{handoff.id}/reject/",
        {"reason": "duplicate", "duplicate_of": survivor.id},
        format="json",
    )

    assert response.status_code == 200
    lead = Lead.objects.get(id=handoff.lead_id)
    assert (lead.stage, lead.merged_into) == (Stage.DISQUALIFIED, survivor)


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({}, {"reason": ["Choose a reason."]}),
        ({"reason": ""}, {"reason": ["Choose a reason."]}),
        ({"reason": None}, {"reason": ["Choose a reason."]}),
        ({"feedback": "no reason"}, {"reason": ["Choose a reason."]}),
        (
            {"reason": "sales_no_budget"},
            {
                "reason": [
                    "“sales_no_budget” is not an active reason; pick one from the list."
                ]
            },
        ),
        ({"reason": ["no_budget"]}, {"reason": ["Not a valid string."]}),
        ({"reason": True}, {"reason": ["Not a valid string."]}),
        (
            {"reason": 42},
            {"reason": ["“42” is not an active reason; pick one from the list."]},
        ),
        (
            {"reason": "x" * 41},
            {"reason": ["Ensure this field has no more than 40 characters."]},
        ),
        (
            {"reason": "no_fit"},
            {"feedback": ["“No fit” needs feedback: tell marketing why."]},
        ),
        (
            {"reason": "no_fit", "feedback": "   "},
            {"feedback": ["“No fit” needs feedback: tell marketing why."]},
        ),
        (
            {"reason": "no_budget", "feedback": "a\x00b"},
            {"feedback": ["Remove the NUL character (\\u0000); it cannot be stored."]},
        ),
        (
            {"reason": "no_budget", "feedback": "x" * 5001},
            {"feedback": ["Ensure this field has no more than 5000 characters."]},
        ),
        (
            {"reason": "unable_to_reach"},
            {
                "reason": [
                    "“Unable to reach” needs at least 3 logged contact attempts; "
                    "0 logged so far."
                ]
            },
        ),
        (
            {"reason": "duplicate"},
            {"duplicate_of": ["Give the id of the lead this one duplicates."]},
        ),
        (
            {"reason": "duplicate", "duplicate_of": 10**30},
            {
                "duplicate_of": [
                    "Ensure this value is less than or equal to 9223372036854775807."
                ]
            },
        ),
        (
            {"reason": "duplicate", "duplicate_of": 999999},
            {"duplicate_of": ["There is no lead 999999."]},
        ),
        (
            {"reason": "duplicate", "duplicate_of": "{self}"},
            {"duplicate_of": ["A lead cannot be a duplicate of itself."]},
        ),
        (
            {"reason": "existing_customer"},
            {
                "reason": [
                    "The lead's account has no owner to hand it to; choose another "
                    "reason or give the account an owner."
                ]
            },
        ),
    ],
)
def test_refused_rejection_is_400_with_the_field_and_changes_nothing(
    world, body, errors
):
    handoff = world.ann_1
    if body.get("duplicate_of") == "{self}":
        body = {**body, "duplicate_of": handoff.lead_id}
    before = snapshot(handoff)

    response = token_client(world.ann).post(
        f"{HANDOFFS}{handoff.id}/reject/", body, format="json"
    )

    assert response.status_code == 400
    assert response.json() == errors
    assert snapshot(handoff) == before


@pytest.mark.parametrize("body", ["[]", "null", '"no_budget"', "{bad json"])
def test_reject_body_that_is_not_an_object_is_400(world, body):
    before = snapshot(world.ann_1)

    response = token_client(world.ann).post(
        f"{HANDOFFS}{world.ann_1.id}/reject/", body, content_type="application/json"
    )

    assert response.status_code == 400
    assert snapshot(world.ann_1) == before


# Conflicts and permissions
# ------------------------------------------------------------------------------


@pytest.mark.parametrize("second", ["accept", "reject"])
def test_second_decision_is_409_with_the_message_and_changes_nothing(world, second):
    handoff = world.ann_1
    ann = token_client(world.ann)
    assert ann.post(f"{HANDOFFS}{handoff.id}/accept/").status_code == 200
    before = snapshot(handoff)

    response = ann.post(
        f"{HANDOFFS}{handoff.id}/{second}/", {"reason": "no_budget"}, format="json"
    )

    assert response.status_code == 409
    assert response.json() == {
        "detail": f"Handoff {handoff.id} was already accepted by ann at "
        "2026-03-02 16:30 UTC; nothing was changed."
    }
    assert snapshot(handoff) == before


def test_deciding_an_expired_handoff_is_409(world):
    overdue = dt.datetime(2026, 3, 3, 10, 1, tzinfo=dt.UTC)
    services.handoffs_expire_overdue(now=overdue)
    before = snapshot(world.ann_1)

    response = token_client(world.ann).post(f"{HANDOFFS}{world.ann_1.id}/accept/")

    assert response.status_code == 409
    assert response.json() == {
        "detail": f"Handoff {world.ann_1.id} expired at 2026-03-03 10:01 UTC and was "
        "reassigned; it can no longer be decided."
    }
    assert snapshot(world.ann_1) == before


@pytest.mark.parametrize("verb", ["accept", "reject"])
def test_another_sdr_of_the_team_gets_403_and_nothing_changes(world, verb):
    handoff = world.ann_1
    before = snapshot(handoff)

    response = token_client(world.bob).post(
        f"{HANDOFFS}{handoff.id}/{verb}/", {"reason": "no_budget"}, format="json"
    )

    assert response.status_code == 403
    assert response.json() == {
        "detail": f"Handoff {handoff.id} is assigned to ann; only they or a manager "
        "may decide it."
    }
    assert snapshot(handoff) == before


def test_an_sdr_of_another_team_gets_404(world):
    before = snapshot(world.ann_1)

    response = token_client(world.carl).post(f"{HANDOFFS}{world.ann_1.id}/accept/")

    assert response.status_code == 404
    assert snapshot(world.ann_1) == before


@pytest.mark.parametrize("role", [MARKETING, SALES])
@pytest.mark.parametrize("verb", ["accept", "reject"])
def test_roles_that_may_not_decide_get_403(world, role, verb):
    user = world.rita if role == SALES else UserFactory(roles=[MARKETING])
    handoff = world.ann_2 if role == SALES else world.ann_1  # one they can see
    before = snapshot(handoff)

    response = token_client(user).post(
        f"{HANDOFFS}{handoff.id}/{verb}/", {"reason": "no_budget"}, format="json"
    )

    assert response.status_code == 403
    assert response.json() == {
        "detail": "You do not have permission to perform this action."
    }
    assert snapshot(handoff) == before


def test_unknown_handoff_is_404(world):
    api = token_client(world.ann)

    assert api.get(f"{HANDOFFS}999999/").status_code == 404
    assert api.post(f"{HANDOFFS}999999/accept/").status_code == 404


# Contact attempts
# ------------------------------------------------------------------------------


def test_attempts_are_logged_201_and_listed_newest_first(world):
    handoff = world.ann_1
    api = token_client(world.ann)

    first = api.post(
        f"{HANDOFFS}{handoff.id}/attempts/",
        {"channel": "call", "outcome": "no_answer", "at": "2026-03-02T11:00:00+01:00"},
        format="json",
    )
    second = api.post(
        f"{HANDOFFS}{handoff.id}/attempts/",
        {"channel": "email", "outcome": "sent", "note": " Sent the deck "},
        format="json",
    )
    listed = api.get(f"{HANDOFFS}{handoff.id}/attempts/")

    assert (first.status_code, second.status_code, listed.status_code) == (
        201,
        201,
        200,
    )
    one, two = ContactAttempt.objects.order_by("id")
    assert first.json() == {
        "id": one.id,
        "handoff": handoff.id,
        "user": "ann",
        "channel": "call",
        "outcome": "no_answer",
        "note": "",
        "at": "2026-03-02T10:00:00Z",
    }
    assert listed.json() == [
        {
            "id": two.id,
            "handoff": handoff.id,
            "user": "ann",
            "channel": "email",
            "outcome": "sent",
            "note": "Sent the deck",
            "at": NOW_JSON,
        },
        first.json(),
    ]
    body = api.get(f"{HANDOFFS}{handoff.id}/").json()
    assert body["first_attempt_at"] == "2026-03-02T10:00:00Z"


def test_three_attempts_then_unable_to_reach_is_accepted(world):
    api = token_client(world.ann)
    for _ in range(3):
        response = api.post(
            f"{HANDOFFS}{world.ann_1.id}/attempts/",
            {"channel": "call", "outcome": "no_answer"},
            format="json",
        )
        assert response.status_code == 201

    response = api.post(
        f"{HANDOFFS}{world.ann_1.id}/reject/",
        {"reason": "unable_to_reach"},
        format="json",
    )

    assert response.status_code == 200
    assert response.json()["reason"] == "unable_to_reach"


def test_sales_owner_logs_a_follow_up_attempt(world):
    response = token_client(world.rita).post(
        f"{HANDOFFS}{world.ann_2.id}/attempts/",
        {"channel": "call", "outcome": "connected"},
        format="json",
    )

    assert response.status_code == 201
    handoff = Handoff.objects.get(id=world.ann_2.id)
    assert handoff.followed_up_at == NOW


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        (
            {},
            {
                "channel": ["This field is required."],
                "outcome": ["This field is required."],
            },
        ),
        (
            {"channel": "fax", "outcome": "sent"},
            {"channel": ['"fax" is not a valid choice.']},
        ),
        (
            {"channel": "call", "outcome": "sent", "note": "a\x00b"},
            {"note": ["Remove the NUL character (\\u0000); it cannot be stored."]},
        ),
        (
            {"channel": "call", "outcome": "sent", "at": "2026-03-02T16:36:00Z"},
            {"at": ["An attempt cannot be in the future."]},
        ),
        (
            {"channel": "call", "outcome": "sent", "at": "1999-12-31T23:59:59Z"},
            {"at": ["This time is before the year 2000; check it."]},
        ),
        (
            {"channel": "call", "outcome": "sent", "at": "0001-01-01T00:00:00+05:00"},
            {"at": ["This time is before the year 2000; check it."]},
        ),
        (
            {"channel": "call", "outcome": "sent", "at": "2026-03-02T10:00:00"},
            {"at": ["Give a time zone offset, e.g. 2026-03-01T09:30:00Z or +01:00."]},
        ),
    ],
)
def test_bad_attempt_is_400_and_nothing_stored(world, body, errors):
    response = token_client(world.ann).post(
        f"{HANDOFFS}{world.ann_1.id}/attempts/", body, format="json"
    )

    assert response.status_code == 400
    assert response.json() == errors
    assert ContactAttempt.objects.count() == 0


def test_attempts_by_marketing_403_by_another_sdr_403_on_rejected_409(world):
    marketing = token_client(UserFactory(roles=[MARKETING]))
    call = {"channel": "call", "outcome": "no_answer"}
    url = f"{HANDOFFS}{world.ann_1.id}/attempts/"

    by_marketing = marketing.post(url, call, format="json")
    by_bob = token_client(world.bob).post(url, call, format="json")
    services.handoff_reject(
        handoff_id=world.ann_1.id, actor=world.ann, reason="no_need"
    )
    on_rejected = token_client(world.ann).post(url, call, format="json")

    assert (by_marketing.status_code, by_bob.status_code, on_rejected.status_code) == (
        403,
        403,
        409,
    )
    assert by_bob.json() == {
        "detail": f"Only ann or a manager may log attempts on handoff {world.ann_1.id}."
    }
    assert on_rejected.json() == {
        "detail": f"Handoff {world.ann_1.id} is rejected; log attempts on the "
        "lead's current handoff."
    }
    assert marketing.get(url).json() == []
    assert ContactAttempt.objects.count() == 0


# Rejection reasons
# ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "codes"),
    [
        ("", SALES_CODES + SDR_CODES),
        ("audience=sdr", SDR_CODES),
        ("audience=sales", SALES_CODES),
        ("audience=sdr&active=true", [c for c in SDR_CODES if c != "bad_timing"]),
        ("active=false", ["bad_timing"]),
    ],
)
@pytest.mark.parametrize("role", [MARKETING, SDR, SALES, ADMIN])
def test_every_role_lists_rejection_reasons_with_filters(role, query, codes):
    RejectionReason.objects.filter(code="bad_timing").update(is_active=False)

    response = token_client(UserFactory(roles=[role])).get(f"{REASONS}?{query}")

    assert response.status_code == 200
    assert [r["code"] for r in response.json()] == codes


def test_one_rejection_reason_exactly():
    territory = RejectionReason.objects.get(code="wrong_region").reroute_sla

    body = token_client(UserFactory(roles=[SDR])).get(f"{REASONS}?audience=sdr").json()

    assert body[7] == {
        "code": "wrong_region",
        "label": "Wrong region or territory",
        "audience": "sdr",
        "action": "reroute",
        "cooldown_days": 0,
        "feedback_required": False,
        "min_attempts": 0,
        "is_active": True,
        "reroute_sla": territory.id,
    }
    assert body[0]["reroute_sla"] is None
    assert (body[0]["min_attempts"], body[0]["cooldown_days"]) == (3, 30)


@pytest.mark.parametrize(
    ("query", "errors"),
    [
        (
            "audience=marketing",
            {
                "audience": [
                    "Select a valid choice. marketing is not one of the available "
                    "choices."
                ]
            },
        ),
        (
            "active=maybe",
            {
                "active": [
                    "Select a valid choice. maybe is not one of the available choices."
                ]
            },
        ),
    ],
)
def test_rejection_reasons_bad_filter_is_400(query, errors):
    response = token_client(UserFactory(roles=[SDR])).get(f"{REASONS}?{query}")

    assert response.status_code == 400
    assert response.json() == errors


@pytest.mark.parametrize("role", [MARKETING, SDR, SALES, ADMIN])
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", ""),
        ("put", "{id}/"),
        ("patch", "{id}/"),
        ("delete", "{id}/"),
        ("get", "{id}/accept/"),
        ("put", "{id}/attempts/"),
        ("post", REASONS),
    ],
)
def test_methods_no_endpoint_serves_are_405_for_every_role(world, role, method, path):
    url = path if path.startswith("/") else HANDOFFS + path.format(id=world.ann_1.id)

    response = getattr(token_client(UserFactory(roles=[role])), method)(url)

    assert response.status_code == 405


# Attempt times and the follow-up clock (gaps found while writing the API).
# ------------------------------------------------------------------------------


def test_attempt_before_the_handoff_existed_is_refused(world):
    response = token_client(world.ann).post(
        f"{HANDOFFS}{world.ann_1.id}/attempts/",
        {"channel": "call", "outcome": "no_answer", "at": "2026-03-01T09:00:00Z"},
        format="json",
    )

    assert response.status_code == 400
    assert set(response.json()) == {"at"}
    assert Handoff.objects.get(id=world.ann_1.id).first_attempt_at is None


def test_sdr_attempt_after_handing_over_leaves_the_follow_up_clock_running(world):
    response = token_client(world.ann).post(
        f"{HANDOFFS}{world.ann_2.id}/attempts/",
        {"channel": "email", "outcome": "sent"},
        format="json",
    )

    assert response.status_code == 201
    assert Handoff.objects.get(id=world.ann_2.id).followed_up_at is None
