"""Saved MQL plans: saving one, deleting one, and making one an SLA's
volume commitment.

A saved plan keeps the figures as computed (``planner.plan_data``), so it
reads the same however history changes later. Each write is one transaction
with its one audit row. Only Marketing and Admin write (``may_edit_marketing``);
anyone else gets PermissionDenied and nothing changes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import QuerySet

from crm.marketing.access import may_edit_marketing
from crm.marketing.planner import (
    PERIOD_DAYS,
    Plan,
    commitment_for_period,
    plan_data,
    plan_from_data,
)
from crm.models import MqlPlan
from handoff.models import ServiceLevelAgreement
from handoff.services import sla_commitment_set
from leads.audit import audit_record
from leads.models import AuditEvent, Stage

logger = logging.getLogger(__name__)

_REFUSAL = "Only the Marketing role saves and changes MQL plans."


def _check_editor(actor: Any) -> None:
    if not may_edit_marketing(actor):
        raise PermissionDenied(_REFUSAL)


@transaction.atomic
def plan_create(*, name: str, plan: Plan, actor: Any) -> MqlPlan:
    """Save ``plan`` under ``name``; audited (``plan_create``).

    Raises PermissionDenied for anyone but Marketing and Admin, ValueError
    for a blank name.
    """
    _check_editor(actor)
    name = name.strip()
    if not name:
        raise ValueError("Give the plan a name.")
    saved = MqlPlan.objects.create(
        name=name,
        start=plan.start,
        end=plan.end,
        reference_start=plan.reference_start,
        reference_end=plan.reference_end,
        target_kind=plan.target_kind,
        target_value=plan.target_value,
        average_deal=plan.average_deal,
        figures=plan_data(plan),
        computed_at=plan.computed_at,
        created_by=actor,
    )
    audit_record(
        actor=actor,
        action=AuditEvent.Action.PLAN_CREATE,
        details={"plan_id": saved.id},
    )
    logger.info("mql plan %s saved by user %s", saved.id, getattr(actor, "pk", None))
    return saved


@transaction.atomic
def plan_delete(*, plan_id: int, actor: Any) -> None:
    """Delete a saved plan; audited (``plan_delete``). SLAs whose commitment
    came from it keep their commitment. Raises PermissionDenied for anyone
    but Marketing and Admin, MqlPlan.DoesNotExist when it is gone."""
    _check_editor(actor)
    saved = MqlPlan.objects.select_for_update().get(id=plan_id)
    saved.delete()
    audit_record(
        actor=actor,
        action=AuditEvent.Action.PLAN_DELETE,
        details={"plan_id": plan_id},
    )
    logger.info("mql plan %s deleted by user %s", plan_id, getattr(actor, "pk", None))


def plan_list() -> QuerySet[MqlPlan]:
    """Every saved plan, newest first, with who saved it."""
    return MqlPlan.objects.select_related("created_by").order_by("-created_at", "-id")


def plan_get(*, plan_id: int) -> MqlPlan:
    """One saved plan; raises MqlPlan.DoesNotExist."""
    return MqlPlan.objects.select_related("created_by").get(id=plan_id)


def saved_plan(saved: MqlPlan) -> Plan:
    """The figures of a saved plan, as they were computed."""
    return plan_from_data(
        saved.figures,
        start=saved.start,
        end=saved.end,
        target_kind=saved.target_kind,
        target_value=Decimal(saved.target_value),
        computed_at=saved.computed_at,
    )


@dataclass(frozen=True)
class CommitmentProposal:
    """A plan's MQLs as an SLA's commitment: the SLA's commitment before the
    change and the one from the plan."""

    sla: ServiceLevelAgreement
    mqls_needed: int
    plan_days: int
    period_days: Decimal
    old_commitment: int
    new_commitment: int

    @property
    def period_label(self) -> str:
        return self.sla.get_volume_period_display().lower()


def commitment_proposal(
    *, saved: MqlPlan, sla: ServiceLevelAgreement
) -> CommitmentProposal:
    """The saved plan's MQLs needed per the SLA's volume period, rounded up."""
    mqls = saved_plan(saved).needed(Stage.MQL)
    days = (saved.end - saved.start).days
    period_days = PERIOD_DAYS[sla.volume_period]
    return CommitmentProposal(
        sla=sla,
        mqls_needed=mqls,
        plan_days=days,
        period_days=(
            Decimal(period_days.numerator) / Decimal(period_days.denominator)
        ).normalize(),
        old_commitment=sla.volume_commitment,
        new_commitment=commitment_for_period(
            mqls_needed=mqls, plan_days=days, period=sla.volume_period
        ),
    )


def sla_list_for_commitment() -> QuerySet[ServiceLevelAgreement]:
    """The SLAs a plan may set the commitment of: the active ones."""
    return ServiceLevelAgreement.objects.filter(is_active=True).order_by(
        "priority", "id"
    )


def plan_sla_commit(
    *, plan_id: int, sla_id: int, expected_commitment: int, actor: Any
) -> CommitmentProposal:
    """Make the saved plan's MQLs the SLA's volume commitment per its own
    period, through ``handoff.services.sla_commitment_set`` (row lock and
    audit there).

    ``expected_commitment`` is the value the person confirmed; if the SLA's
    period changed since the confirmation was shown, the figure would be
    another one, so ValueError asks them to look again and nothing changes.
    Raises PermissionDenied for anyone but Marketing and Admin, and
    MqlPlan.DoesNotExist or ServiceLevelAgreement.DoesNotExist.
    """
    _check_editor(actor)
    saved = MqlPlan.objects.get(id=plan_id)
    with transaction.atomic():
        sla = ServiceLevelAgreement.objects.select_for_update().get(id=sla_id)
        proposal = commitment_proposal(saved=saved, sla=sla)
        if proposal.new_commitment != expected_commitment:
            raise ValueError(
                f"The SLA “{sla.name}” changed since you looked: its commitment "
                f"from this plan is now {proposal.new_commitment:,} per "
                f"{proposal.period_label}. Check it and confirm again."
            )
        sla_commitment_set(
            sla_id=sla.id,
            commitment=proposal.new_commitment,
            period=sla.volume_period,
            actor=actor,
            source=f"plan:{saved.id}",
        )
    return proposal
