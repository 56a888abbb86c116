"""Protected fields cannot be mass-assigned through any writable endpoint.

Stage, score, owner, decisions and timestamps change only through their
services (leads/lifecycle.py, scoring, handoff/services/). A client that
sends one to the lead endpoints is refused with a 400 naming each field, and
nothing is stored; elsewhere it is ignored: the stored row is exactly what
the same request without them stores. "Exactly" is checked against a twin:
two records built alike, one written with the protected fields and one
without, under a frozen clock, must end up equal in every column.

Callers hold the widest role that may use each endpoint (Admin for leads),
so no refusal here comes from a missing permission.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.db import models
from django.test import Client
from django.utils import timezone

from crm.roles import ADMIN, MARKETING, SDR
from handoff.models import ContactAttempt, Handoff, SalesProfile
from leads.edit_scope import LEAD_EDITABLE_FIELDS
from leads.models import Lead, Stage, Touchpoint, WebForm
from scoring.models import ScoringModel
from tests.clients import token_request
from tests.factories import LeadFactory, SlaFactory, TeamMemberFactory, UserFactory
from tests.security.world import World, open_mql

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 3, 2, 14, 0, tzinfo=dt.UTC)
LONG_AGO = "2001-02-03T04:05:06Z"
#: What the refusal of ``owner`` says.
OWNER_REFUSED = {
    "owner": [
        "The owner is set when an SDR accepts the lead's handoff; it cannot be "
        "written here."
    ]
}


@pytest.fixture(autouse=True)
def frozen(monkeypatch: pytest.MonkeyPatch) -> dt.datetime:
    # Twins written at the same instant get the same timestamps.
    monkeypatch.setattr(timezone, "now", lambda: NOW)
    return NOW


# Leads
# ------------------------------------------------------------------------------


def _protected_value(field: models.Field, other_lead: Lead) -> Any:
    """A value a client might try for ``field``, unlike the one stored."""
    if field.is_relation:
        return other_lead.id
    if field.choices:
        return field.choices[-1][0]
    if isinstance(field, models.DateTimeField):
        return LONG_AGO
    if isinstance(field, models.DateField):
        return "2001-02-03"
    if isinstance(field, models.DecimalField):
        return "99.50"
    if isinstance(field, models.IntegerField | models.AutoField):
        return 987_654
    return "injected"


def protected_lead_fields() -> list[str]:
    """Every lead column a client may not set: all but the editable ones.

    Taken from the model, so a column added later is protected here until
    someone adds it to LEAD_EDITABLE_FIELDS on purpose. ``owner`` is left to
    its own test (it is refused, not ignored).
    """
    return sorted(
        field.name
        for field in Lead._meta.concrete_fields
        if field.name not in {*LEAD_EDITABLE_FIELDS, "email"}
    )


def protected_lead_body(other_lead: Lead) -> dict[str, Any]:
    return {
        name: _protected_value(Lead._meta.get_field(name), other_lead)
        for name in protected_lead_fields()
    }


def test_protected_lead_fields_cover_the_contract_names():
    """The fields only Leadflow sets (stage, scores, erasure) are among them."""
    names = set(protected_lead_fields())

    assert {
        "id",
        "stage",
        "highest_stage",
        "score",
        "fit_score",
        "engagement_score",
        "grade",
        "scored_at",
        "rescore_requested_at",
        "entered_mql_at",
        "erased_at",
        "merged_into",
        "created_at",
    } <= names
    assert "owner" not in names


def all_lead_rows() -> list[dict[str, Any]]:
    return list(Lead.objects.order_by("id").values())


@pytest.mark.parametrize("field", protected_lead_fields())
def test_patch_refuses_a_protected_lead_field_by_name(field):
    admin = UserFactory(roles=[ADMIN])
    target = LeadFactory(email="one@acme.example")
    injected = protected_lead_body(other_lead=LeadFactory())[field]
    before = all_lead_rows()

    response = token_request(
        admin,
        "PATCH",
        f"/api/v1/leads/{target.id}/",
        {"first_name": "Zed", field: injected},
    )

    assert response.status_code == 400
    assert list(response.json()) == [field]
    (message,) = response.json()[field]
    assert message.startswith(f"{field} is ")
    assert all_lead_rows() == before


def test_create_refuses_every_protected_lead_field():
    admin = UserFactory(roles=[ADMIN])
    other = LeadFactory()
    before = all_lead_rows()

    response = token_request(
        admin,
        "POST",
        "/api/v1/leads/",
        {
            "first_name": "Nia",
            **protected_lead_body(other_lead=other),
            "email": "one@new.example",
        },
    )

    assert response.status_code == 400
    assert sorted(response.json()) == protected_lead_fields()
    assert all_lead_rows() == before


def test_an_upsert_by_email_refuses_every_protected_lead_field():
    """POST with a known e-mail would update that lead: the same rule holds."""
    admin = UserFactory(roles=[ADMIN])
    target = LeadFactory(email="one@acme.example")
    protected = protected_lead_body(other_lead=LeadFactory())
    before = all_lead_rows()

    response = token_request(
        admin,
        "POST",
        "/api/v1/leads/",
        {**protected, "email": target.email, "first_name": "Zed"},
    )

    assert response.status_code == 400
    assert sorted(response.json()) == protected_lead_fields()
    assert all_lead_rows() == before


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/api/v1/leads/"), ("PATCH", "/api/v1/leads/{id}/")],
)
def test_the_owner_is_refused_by_name_and_nothing_is_stored(method, path):
    admin = UserFactory(roles=[ADMIN])
    UserFactory(username="rep", roles=["Sales"])
    lead = LeadFactory(email="known@acme.example")

    response = token_request(
        admin,
        method,
        path.replace("{id}", str(lead.id)),
        {"email": "new@acme.example", "first_name": "Zed", "owner": "rep"}
        if method == "POST"
        else {"first_name": "Zed", "owner": "rep"},
    )

    assert response.status_code == 400
    assert response.json() == OWNER_REFUSED
    assert list(Lead.objects.values_list("email", "first_name", "owner")) == [
        ("known@acme.example", "Ada", None)
    ]


# Touchpoints
# ------------------------------------------------------------------------------

PROTECTED_TOUCHPOINT = {
    "id": 987_654,
    "source": "import",
    "received_at": LONG_AGO,
    "stage": "customer",
    "score": "99.00",
}


@pytest.mark.parametrize("batch", [False, True], ids=["single", "batch"])
def test_a_touchpoint_takes_none_of_the_protected_fields(batch):
    marketer = UserFactory(roles=[MARKETING])
    lead = LeadFactory()
    item = {"lead": lead.id, "kind": "page_view", **PROTECTED_TOUCHPOINT}

    response = (
        token_request(
            marketer, "POST", "/api/v1/touchpoints/batch/", {"touchpoints": [item]}
        )
        if batch
        else token_request(marketer, "POST", "/api/v1/touchpoints/", item)
    )

    assert response.status_code == (200 if batch else 201)
    stored = Touchpoint.objects.get()
    assert (stored.id == 987_654, stored.source, stored.received_at) == (
        False,
        "api",
        NOW,
    )
    lead.refresh_from_db()
    assert (lead.stage, lead.score) == (Stage.LEAD, Decimal(0))


def test_the_public_form_keeps_unknown_fields_as_properties_only():
    """Its extra fields are the form's own and land in the touchpoint."""
    WebForm.objects.create(key="contact", name="Contact", kind_id="form_submit")
    sales = UserFactory(username="rep", roles=["Sales"])

    response = Client().post(
        "/api/v1/forms/contact/submit/",
        {
            "email": "visitor@acme.example",
            "stage": "customer",
            "score": "99",
            "owner": sales.username,
            "erased_at": LONG_AGO,
            "id": 987_654,
        },
        content_type="application/json",
    )

    assert response.status_code == 202
    lead = Lead.objects.get()
    assert (lead.id == 987_654, lead.stage, lead.score, lead.owner, lead.erased_at) == (
        False,
        Stage.LEAD,
        Decimal(0),
        None,
        None,
    )


# Handoffs and scoring models
# ------------------------------------------------------------------------------


@pytest.fixture
def desk() -> dict[str, Any]:
    sla = SlaFactory()
    sdr = TeamMemberFactory(team=sla.team, user__username="ada").user
    other = UserFactory(username="mallory", roles=[SDR])
    return {"sdr": sdr, "other": other, "handoff": open_mql(LeadFactory())}


def _decision_extras(other: Any, other_handoff_id: int) -> dict[str, Any]:
    return {
        "status": "expired",
        "decided_by": other.username,
        "decided_at": LONG_AGO,
        "assigned_to": other.username,
        "lead": other_handoff_id,
        "sla": 1,
        "due_at": LONG_AGO,
        "score": "99.00",
        "sequence": 7,
        "id": 987_654,
    }


@pytest.mark.parametrize(
    ("action", "body", "status"),
    [
        ("accept", {}, "accepted"),
        ("reject", {"reason": "no_budget"}, "rejected"),
    ],
)
def test_a_decision_sets_its_own_fields_whatever_the_body_says(
    desk, action, body, status
):
    handoff = desk["handoff"]
    before = Handoff.objects.filter(id=handoff.id).values().get()

    response = token_request(
        desk["sdr"],
        "POST",
        f"/api/v1/handoffs/{handoff.id}/{action}/",
        {**body, **_decision_extras(desk["other"], handoff.id)},
    )

    assert response.status_code == 200
    after = Handoff.objects.filter(id=handoff.id).values().get()
    assert (after["status"], after["decided_by_id"], after["decided_at"]) == (
        status,
        desk["sdr"].id,
        NOW,
    )
    unchanged = ("assigned_to_id", "lead_id", "sla_id", "due_at", "score", "sequence")
    assert {k: after[k] for k in unchanged} == {k: before[k] for k in unchanged}
    assert not Handoff.objects.filter(id=987_654).exists()


def test_an_attempt_is_the_callers_on_the_handoff_in_the_url(desk):
    handoff = desk["handoff"]
    elsewhere = open_mql(LeadFactory())

    response = token_request(
        desk["sdr"],
        "POST",
        f"/api/v1/handoffs/{handoff.id}/attempts/",
        {
            "channel": "call",
            "outcome": "no_answer",
            "user": desk["other"].username,
            "handoff": elsewhere.id,
            "id": 987_654,
        },
    )

    assert response.status_code == 201
    attempt = ContactAttempt.objects.get()
    assert (attempt.id == 987_654, attempt.user, attempt.handoff_id) == (
        False,
        desk["sdr"],
        handoff.id,
    )


def test_publishing_takes_nothing_from_the_body():
    world = World(MARKETING)
    draft = world.draft
    before = ScoringModel.objects.filter(id=draft.id).values().get()

    response = token_request(
        world.user,
        "POST",
        f"/api/v1/scoring-models/{draft.id}/publish/",
        {
            "status": "archived",
            "published_by": "mallory",
            "version": 99,
            "mql_threshold": "1.00",
            "published_at": LONG_AGO,
        },
    )

    assert response.status_code == 202
    after = ScoringModel.objects.filter(id=draft.id).values().get()
    assert (after["status"], after["published_by_id"], after["published_at"]) == (
        ScoringModel.Status.ACTIVE,
        world.user.id,
        NOW,
    )
    assert (after["version"], after["mql_threshold"]) == (
        before["version"],
        before["mql_threshold"],
    )


# Pages
# ------------------------------------------------------------------------------


def test_the_availability_form_cannot_make_anyone_a_manager(desk):
    client = Client()
    client.force_login(desk["sdr"])

    response = client.post(
        "/availability/", {"is_away": "on", "is_manager": "on", "user": 1}
    )

    assert response.status_code == 302
    assert list(SalesProfile.objects.values_list("user", "is_away", "is_manager")) == [
        (desk["sdr"].id, True, False)
    ]


def test_an_attempt_logged_on_the_page_is_the_callers(desk):
    handoff = desk["handoff"]
    client = Client()
    client.force_login(desk["sdr"])

    client.post(
        f"/handoffs/{handoff.id}/attempts/",
        {"channel": "call", "outcome": "no_answer", "user": desk["other"].id},
    )

    assert list(ContactAttempt.objects.values_list("user", "handoff")) == [
        (desk["sdr"].id, handoff.id)
    ]


def test_the_model_settings_form_changes_only_the_settings():
    world = World(MARKETING)
    draft = world.draft
    before = ScoringModel.objects.filter(id=draft.id).values().get()
    client = Client()
    client.force_login(world.user)

    response = client.post(
        f"/scoring/{draft.id}/settings/",
        {
            "mql_threshold": "55",
            "default_half_life_days": before["default_half_life_days"],
            "grade_a_min": before["grade_a_min"],
            "grade_b_min": before["grade_b_min"],
            "grade_c_min": before["grade_c_min"],
            "status": "active",
            "version": 99,
            "published_by": world.user.id,
            "created_by": 1,
        },
    )

    assert response.status_code == 302
    after = ScoringModel.objects.filter(id=draft.id).values().get()
    assert after["mql_threshold"] == Decimal("55")
    protected = ("status", "version", "published_by_id", "created_by_id", "name")
    assert {k: after[k] for k in protected} == {k: before[k] for k in protected}
