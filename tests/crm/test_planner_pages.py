"""The planner's pages: who opens them, the plan they show, the form's
errors, saving and deleting a plan, and an SLA's commitment from one."""

from __future__ import annotations

import pytest

from crm.marketing import plans
from crm.marketing.planner import plan_build
from crm.models import MqlPlan
from crm.roles import ADMIN, MARKETING, SALES, SDR
from handoff.models import SalesProfile
from leads.models import AuditEvent
from tests.crm.planner_reference import Q2, Q3, reference_quarter
from tests.factories import SlaFactory, UserFactory

pytestmark = pytest.mark.django_db
PLAN = {
    "date_from": "2026-04-01",
    "date_to": "2026-06-30",
    "target_kind": "customers",
    "target": "3",
    "reference": "default",
}


@pytest.fixture
def reference():
    reference_quarter()


@pytest.fixture
def saved(reference):
    plan = plan_build(start=Q2, end=Q3, target_customers=3)
    return plans.plan_create(
        name="Q2 push", plan=plan, actor=UserFactory(roles=[ADMIN])
    )


def _manager(role: str):
    user = UserFactory(roles=[role])
    SalesProfile.objects.create(user=user, is_manager=True)
    return user


def _text(response) -> str:
    return response.content.decode()


@pytest.mark.parametrize("role", [MARKETING, ADMIN])
def test_marketing_and_admin_open_the_planner_with_save_and_delete(client, saved, role):
    client.force_login(UserFactory(roles=[role]))

    page = client.get("/planner/", PLAN)
    detail = client.get(f"/planner/{saved.id}/")

    assert page.status_code == detail.status_code == 200
    assert 'id="plan-save"' in _text(page)
    assert 'id="plan-delete"' in _text(detail)
    assert 'id="commit-preview"' in _text(detail)


@pytest.mark.parametrize("role", [SDR, SALES])
def test_a_manager_reads_the_planner_but_changes_nothing(client, saved, role):
    client.force_login(_manager(role))
    sla = SlaFactory(volume_commitment=120)

    page = client.get("/planner/", PLAN)
    detail = client.get(f"/planner/{saved.id}/")
    writes = [
        client.post("/planner/save/", PLAN | {"name": "Mine"}),
        client.post(f"/planner/{saved.id}/delete/"),
        client.post(f"/planner/{saved.id}/commit/", {"sla": sla.id, "expected": 4}),
    ]

    assert page.status_code == detail.status_code == 200
    assert 'id="plan-save"' not in _text(page)
    assert 'id="plan-delete"' not in _text(detail)
    assert 'id="commit-preview"' not in _text(detail)
    assert [w.status_code for w in writes] == [403, 403, 403]
    assert list(MqlPlan.objects.values_list("name", flat=True)) == ["Q2 push"]
    sla.refresh_from_db()
    assert sla.volume_commitment == 120


@pytest.mark.parametrize("role", [SDR, SALES])
def test_sdrs_and_reps_may_not_open_the_planner(client, saved, role):
    client.force_login(UserFactory(roles=[role]))

    assert client.get("/planner/").status_code == 403
    assert client.get(f"/planner/{saved.id}/").status_code == 403


def test_the_planner_is_in_the_marketers_navigation(marketer_client):
    page = marketer_client.get("/planner/")

    assert 'id="nav-planner"' in _text(page)


def test_the_planner_starts_on_this_quarter_without_a_plan(marketer_client):
    page = marketer_client.get("/planner/")

    assert page.status_code == 200
    assert page.context["form"]["target_kind"].value() == "customers"
    assert "plan" not in page.context
    assert "No saved plans yet." in _text(page)


def test_the_page_shows_the_plan_and_where_the_period_stands(
    marketer_client, reference
):
    page = marketer_client.get("/planner/", PLAN)

    assert page.status_code == 200
    plan = page.context["plan"]
    assert [s.needed for s in plan.stages] == [18, 9, 7, 5, 5, 3]
    assert '<span class="stat-value" id="needed-mql">9</span>' in _text(page)
    assert "The default: the previous quarter" in _text(page)
    assert page.context["standing_chart"]["needed"] == [18, 9, 7, 5, 5, 3]
    assert 'id="plan-chart-data"' in _text(page)


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"target": ""}, "target", "Give a target"),
        ({"target": "2.5"}, "target", "Give a whole number of customers."),
        ({"target": "-3"}, "target", "Give a target above zero."),
        ({"date_to": "2026-03-01"}, "date_to", "last day comes before its first"),
        ({"date_from": "31/03/2026"}, "date_from", "Enter a date like 2026-01-31."),
        ({"target_kind": "leads"}, "target_kind", "Pick customers or revenue."),
        (
            {"average_deal": "100"},
            "average_deal",
            "An average deal size is for a revenue target",
        ),
        (
            {"reference": "custom"},
            "reference_to",
            "Give both reference dates",
        ),
        (
            {"date_from": "2024-01-01", "date_to": "2026-06-30"},
            "date_to",
            "Pick a plan of at most 731 days",
        ),
    ],
)
def test_bad_input_shows_the_form_with_what_to_fix(
    marketer_client, reference, change, field, message
):
    page = marketer_client.get("/planner/", PLAN | change)

    assert page.status_code == 400
    assert message in " ".join(page.context["form"].errors[field])
    assert "plan" not in page.context


def test_a_zero_conversion_is_a_form_error(marketer_client):
    page = marketer_client.get("/planner/", PLAN)

    assert page.status_code == 400
    assert page.context["form"].non_field_errors() == [
        "No lead in the reference period went from Opportunity to Customer "
        "(a conversion of 0%), so the plan cannot work back through that step. "
        "Pick a longer or another reference period."
    ]


def test_saving_a_plan_opens_it(marketer_client, reference):
    response = marketer_client.post("/planner/save/", PLAN | {"name": "Q2 push"})

    saved = MqlPlan.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/planner/{saved.id}/"
    assert (saved.name, saved.start, saved.end, saved.target_value) == (
        "Q2 push",
        Q2,
        Q3,
        3,
    )
    page = marketer_client.get(response["Location"])
    assert page.status_code == 200
    assert [s.needed for s in page.context["plan"].stages] == [18, 9, 7, 5, 5, 3]


def test_saving_without_a_name_shows_the_plan_again(marketer_client, reference):
    response = marketer_client.post("/planner/save/", PLAN | {"name": "  "})

    assert response.status_code == 400
    assert response.context["save_form"].errors["name"] == ["Give the plan a name."]
    assert not MqlPlan.objects.exists()


def test_deleting_a_plan(marketer_client, saved):
    response = marketer_client.post(f"/planner/{saved.id}/delete/")

    assert response.status_code == 302
    assert not MqlPlan.objects.exists()
    assert marketer_client.get(f"/planner/{saved.id}/").status_code == 404


def test_the_commitment_preview_shows_old_and_new(marketer_client, saved):
    sla = SlaFactory(name="Inbound", volume_commitment=120, volume_period="month")

    page = marketer_client.get(f"/planner/{saved.id}/", {"sla": sla.id})

    assert page.status_code == 200
    proposal = page.context["proposal"]
    assert (proposal.old_commitment, proposal.new_commitment) == (120, 4)
    assert "120 MQLs per month" in _text(page)
    assert "4 MQLs per month" in _text(page)
    sla.refresh_from_db()
    assert sla.volume_commitment == 120


def test_a_preview_of_an_unknown_sla_is_a_form_error(marketer_client, saved):
    page = marketer_client.get(f"/planner/{saved.id}/", {"sla": "99999"})

    assert page.status_code == 400
    assert page.context["commitment_form"].errors["sla"] == [
        "Pick one of the active SLAs."
    ]


def test_confirming_sets_the_commitment(marketer_client, saved):
    sla = SlaFactory(name="Inbound", volume_commitment=120, volume_period="month")

    response = marketer_client.post(
        f"/planner/{saved.id}/commit/", {"sla": sla.id, "expected": 4}, follow=True
    )

    sla.refresh_from_db()
    assert sla.volume_commitment == 4
    assert [str(m) for m in response.context["messages"]] == [
        "SLA “Inbound”: volume commitment 120 → 4 MQLs per month."
    ]
    assert AuditEvent.objects.filter(action="sla_commitment").count() == 1


def test_confirming_without_a_preview_is_refused(marketer_client, saved):
    sla = SlaFactory(volume_commitment=120)

    response = marketer_client.post(f"/planner/{saved.id}/commit/", {"sla": sla.id})

    assert response.status_code == 400
    assert response.context["commitment_form"].non_field_errors() == [
        "Preview the new commitment, then confirm it."
    ]
    sla.refresh_from_db()
    assert sla.volume_commitment == 120


def test_an_unknown_plan_is_a_404(marketer_client):
    assert marketer_client.get("/planner/424242/").status_code == 404
    assert marketer_client.post("/planner/424242/delete/").status_code == 404


def test_every_problem_is_named_at_once(marketer_client):
    page = marketer_client.get(
        "/planner/", PLAN | {"target": "abc", "reference": "custom"}
    )

    assert page.status_code == 400
    assert page.context["form"].errors == {
        "target": ["Enter the target as a number, like 40 or 250000."],
        "reference_to": ["Give both reference dates, or use the default reference."],
    }


def test_the_admin_lists_saved_plans_read_only(admin_role_client, saved):
    listing = admin_role_client.get("/admin/crm/mqlplan/")
    page = admin_role_client.get(f"/admin/crm/mqlplan/{saved.id}/change/")
    delete = admin_role_client.post(
        f"/admin/crm/mqlplan/{saved.id}/delete/", {"post": "yes"}
    )

    assert listing.status_code == page.status_code == 200
    assert "Q2 push" in _text(listing)
    assert delete.status_code == 403
    assert MqlPlan.objects.filter(id=saved.id).exists()
