"""Saved MQL plans and an SLA's commitment from one: the services, their
audit rows and their refusals (only Marketing and Admin write)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied

from crm.marketing import plans
from crm.marketing.planner import plan_build
from crm.models import MqlPlan
from crm.roles import ADMIN, MARKETING, SALES, SDR
from handoff import services as handoff_services
from handoff.models import SalesProfile, ServiceLevelAgreement
from leads.models import AuditEvent, Stage
from tests.crm.planner_reference import Q2, Q3, at, journey, reference_quarter
from tests.factories import SlaFactory, UserFactory

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 3, 31, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def plan():
    reference_quarter()
    return plan_build(start=Q2, end=Q3, target_customers=3, now=NOW)


def _manager(role: str):
    user = UserFactory(roles=[role])
    SalesProfile.objects.create(user=user, is_manager=True)
    return user


@pytest.mark.parametrize("role", [MARKETING, ADMIN])
def test_marketing_and_admin_save_a_plan_with_its_figures(plan, role):
    actor = UserFactory(roles=[role])

    saved = plans.plan_create(name="  Q2 push ", plan=plan, actor=actor)

    saved = MqlPlan.objects.get()
    assert (saved.name, saved.start, saved.end, saved.target_kind) == (
        "Q2 push",
        Q2,
        Q3,
        "customers",
    )
    assert (saved.computed_at, saved.created_by) == (NOW, actor)
    assert [(s["stage"], s["needed"]) for s in saved.figures["stages"]] == [
        ("lead", 18),
        ("mql", 9),
        ("sal", 7),
        ("sql", 5),
        ("opportunity", 5),
        ("customer", 3),
    ]
    event = AuditEvent.objects.get(action__startswith="plan_")
    assert (event.action, event.actor, event.details) == (
        "plan_create",
        actor,
        {"plan_id": saved.id},
    )


@pytest.mark.parametrize("user", ["sdr", "sales", "sdr_manager", "sales_manager"])
def test_nobody_else_saves_a_plan(plan, user):
    actor = {
        "sdr": lambda: UserFactory(roles=[SDR]),
        "sales": lambda: UserFactory(roles=[SALES]),
        "sdr_manager": lambda: _manager(SDR),
        "sales_manager": lambda: _manager(SALES),
    }[user]()

    with pytest.raises(PermissionDenied):
        plans.plan_create(name="Mine", plan=plan, actor=actor)

    assert not MqlPlan.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="plan_").exists()


def test_a_saved_plan_keeps_its_figures_when_history_changes(plan):
    saved = plans.plan_create(name="Q2", plan=plan, actor=UserFactory(roles=[ADMIN]))
    # Ten more leads created in the reference quarter, none of them MQLs:
    # worked out again, the plan would need more leads.
    for _ in range(10):
        journey(at(2, 1))

    again = plan_build(start=Q2, end=Q3, target_customers=3)
    kept = plans.saved_plan(MqlPlan.objects.get(id=saved.id))

    assert again.stages[0].needed == 36
    assert kept.stages[0].needed == 18
    assert kept == plan


def test_deleting_a_plan_is_audited(plan):
    maya = UserFactory(roles=[MARKETING])
    saved = plans.plan_create(name="Q2", plan=plan, actor=maya)

    plans.plan_delete(plan_id=saved.id, actor=maya)

    assert not MqlPlan.objects.exists()
    events = AuditEvent.objects.filter(action__startswith="plan_").order_by("id")
    assert list(events.values_list("action", "details")) == [
        ("plan_create", {"plan_id": saved.id}),
        ("plan_delete", {"plan_id": saved.id}),
    ]


def test_a_manager_does_not_delete_a_plan(plan):
    saved = plans.plan_create(name="Q2", plan=plan, actor=UserFactory(roles=[ADMIN]))

    with pytest.raises(PermissionDenied):
        plans.plan_delete(plan_id=saved.id, actor=_manager(SALES))

    assert MqlPlan.objects.filter(id=saved.id).exists()


@pytest.mark.parametrize(
    ("period", "commitment"),
    # 9 MQLs over 91 days: a week 9 x 7/91 = 0.69 -> 1; a month
    # 9 x 30.4375/91 = 3.01 -> 4.
    [("week", 1), ("month", 4)],
)
def test_a_plan_sets_an_slas_commitment_per_its_period(plan, period, commitment):
    maya = UserFactory(roles=[MARKETING])
    saved = plans.plan_create(name="Q2", plan=plan, actor=maya)
    sla = SlaFactory(volume_commitment=120, volume_period=period)

    proposal = plans.plan_sla_commit(
        plan_id=saved.id, sla_id=sla.id, expected_commitment=commitment, actor=maya
    )

    sla.refresh_from_db()
    assert (sla.volume_commitment, sla.volume_period) == (commitment, period)
    assert (proposal.old_commitment, proposal.new_commitment) == (120, commitment)
    event = AuditEvent.objects.get(action="sla_commitment")
    assert (event.actor, event.details) == (
        maya,
        {
            "sla_id": sla.id,
            "from": [120, period],
            "to": [commitment, period],
            "source": f"plan:{saved.id}",
        },
    )


def test_a_commitment_confirmed_on_other_figures_is_refused(plan):
    maya = UserFactory(roles=[MARKETING])
    saved = plans.plan_create(name="Q2", plan=plan, actor=maya)
    # The page showed a monthly figure (4); meanwhile the SLA became weekly.
    sla = SlaFactory(volume_commitment=30, volume_period="week")

    with pytest.raises(ValueError, match="its commitment from this plan is now 1"):
        plans.plan_sla_commit(
            plan_id=saved.id, sla_id=sla.id, expected_commitment=4, actor=maya
        )

    sla.refresh_from_db()
    assert (sla.volume_commitment, sla.volume_period) == (30, "week")
    assert not AuditEvent.objects.filter(action="sla_commitment").exists()


@pytest.mark.parametrize("role", [SDR, SALES])
def test_nobody_but_marketing_sets_a_commitment(plan, role):
    saved = plans.plan_create(name="Q2", plan=plan, actor=UserFactory(roles=[ADMIN]))
    sla = SlaFactory(volume_commitment=120)

    for actor in (UserFactory(roles=[role]), _manager(role)):
        with pytest.raises(PermissionDenied):
            plans.plan_sla_commit(
                plan_id=saved.id, sla_id=sla.id, expected_commitment=4, actor=actor
            )

    sla.refresh_from_db()
    assert sla.volume_commitment == 120


def test_the_sla_service_writes_nothing_when_nothing_changes():
    sla = SlaFactory(volume_commitment=40, volume_period="month")

    change = handoff_services.sla_commitment_set(
        sla_id=sla.id, commitment=40, period="month", actor=None
    )

    assert (change.old_commitment, change.old_period) == (40, "month")
    assert not AuditEvent.objects.filter(action="sla_commitment").exists()


@pytest.mark.parametrize(
    ("commitment", "period", "message"),
    [
        (-1, "month", "between 0 and 1,000,000"),
        (1_000_001, "month", "between 0 and 1,000,000"),
        (5, "year", "a week or a month"),
    ],
)
def test_the_sla_service_refuses_bad_values(commitment, period, message):
    sla = SlaFactory(volume_commitment=40)

    with pytest.raises(ValueError, match=message):
        handoff_services.sla_commitment_set(
            sla_id=sla.id, commitment=commitment, period=period, actor=None
        )

    assert ServiceLevelAgreement.objects.get(id=sla.id).volume_commitment == 40


def test_the_mqls_needed_come_from_the_saved_figures(plan):
    saved = plans.plan_create(name="Q2", plan=plan, actor=UserFactory(roles=[ADMIN]))

    assert plans.saved_plan(saved).needed(Stage.MQL) == 9
