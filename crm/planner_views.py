"""The MQL planner's pages: work out a plan, save it, read a saved one with
where the period stands, delete it, and make it an SLA's volume commitment.

Marketing and Admin read and write; managers read. The arithmetic is
``crm.marketing.planner``; the writes are ``crm.marketing.plans``. Bad input
shows the form again with its errors (400), never a server error.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.core.exceptions import ObjectDoesNotExist
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST, require_safe

from crm.marketing import plans as plan_services
from crm.marketing.access import marketing_access, may_edit_marketing
from crm.marketing.planner import (
    DAYS_PER_MONTH,
    REFERENCE_DAYS,
    PlanError,
    plan_build,
    plan_standing,
    standing_chart,
)
from crm.models import MqlPlan
from crm.planner_forms import CommitmentForm, PlanForm, PlanSaveForm, this_quarter

_REFUSAL = "The MQL planner is for the Marketing role; managers may read it too."


def _today() -> dt.date:
    return timezone.now().astimezone(dt.UTC).date()


def _figures(plan: Any, today: dt.date) -> dict[str, Any]:
    standing = plan_standing(plan=plan, today=today)
    return {
        "plan": plan,
        "standing": standing,
        "standing_chart": standing_chart(standing),
        "reference_days": REFERENCE_DAYS,
        "days_per_month": float(DAYS_PER_MONTH),
    }


def _planner_page(
    request: HttpRequest, form: PlanForm, *, save_form: PlanSaveForm | None = None
) -> HttpResponse:
    context: dict[str, Any] = {
        "form": form,
        "saved_plans": plan_services.plan_list(),
        "can_edit": may_edit_marketing(request.user),
        "save_form": save_form,
    }
    status = 200
    if form.is_bound:
        status = 400
        if form.is_valid():
            try:
                plan = plan_build(**form.cleaned_data["plan_args"])
            except PlanError as error:
                form.add_error(None, str(error))
            else:
                status = 200 if save_form is None or not save_form.errors else 400
                context |= _figures(plan, _today())
                context["plan_fields"] = [
                    (name, form.data.get(name, ""))
                    for name in PlanForm.base_fields
                    if form.data.get(name, "")
                ]
    return render(request, "crm/planner.html", context, status=status)


@require_safe
@marketing_access(edit=False, refusal=_REFUSAL)
def planner(request: HttpRequest) -> HttpResponse:
    """The planner's form, the plan it works out (with the period's standing
    today) and the saved plans."""
    if "target" in request.GET:
        return _planner_page(request, PlanForm(request.GET))
    first, last = this_quarter(_today())
    form = PlanForm(
        initial={
            "date_from": first,
            "date_to": last,
            "target_kind": "customers",
            "reference": "default",
        }
    )
    return _planner_page(request, form)


@require_POST
@marketing_access(edit=True, refusal=_REFUSAL)
def plan_save(request: HttpRequest) -> HttpResponse:
    """Work the posted plan out again (history may have moved since the page
    showed it) and save it under its name."""
    form = PlanSaveForm(request.POST)
    if form.is_valid():
        try:
            plan = plan_build(**form.cleaned_data["plan_args"])
        except PlanError as error:
            form.add_error(None, str(error))
        else:
            saved = plan_services.plan_create(
                name=form.cleaned_data["name"], plan=plan, actor=request.user
            )
            messages.success(request, f"Plan “{saved.name}” saved.")
            return redirect("crm:plan_detail", plan_id=saved.id)
    return _planner_page(request, PlanForm(request.POST), save_form=form)


def _saved(plan_id: int) -> MqlPlan:
    try:
        return plan_services.plan_get(plan_id=plan_id)
    except MqlPlan.DoesNotExist as error:
        raise Http404("No such plan.") from error


@require_safe
@marketing_access(edit=False, refusal=_REFUSAL)
def plan_detail(request: HttpRequest, plan_id: int) -> HttpResponse:
    """A saved plan's figures as computed, where its period stands today, and
    (for Marketing) the SLA commitment it may set, previewed with ?sla=."""
    saved = _saved(plan_id)
    can_edit = may_edit_marketing(request.user)
    slas = list(plan_services.sla_list_for_commitment())
    form = CommitmentForm(request.GET if "sla" in request.GET else None, slas=slas)
    proposal = None
    status = 200
    if can_edit and form.is_bound:
        if form.is_valid():
            sla = next(s for s in slas if s.id == form.cleaned_data["sla"])
            proposal = plan_services.commitment_proposal(saved=saved, sla=sla)
        else:
            status = 400
    return _plan_page(request, saved, form, proposal, can_edit, status)


def _plan_page(
    request: HttpRequest,
    saved: MqlPlan,
    form: CommitmentForm,
    proposal: Any,
    can_edit: bool,
    status: int,
) -> HttpResponse:
    context = _figures(plan_services.saved_plan(saved), _today()) | {
        "saved": saved,
        "commitment_form": form,
        "proposal": proposal,
        "can_edit": can_edit,
    }
    return render(request, "crm/plan_detail.html", context, status=status)


@require_POST
@marketing_access(edit=True, refusal=_REFUSAL)
def plan_commit(request: HttpRequest, plan_id: int) -> HttpResponse:
    """Set the confirmed commitment on the SLA."""
    saved = _saved(plan_id)
    slas = list(plan_services.sla_list_for_commitment())
    form = CommitmentForm(request.POST, slas=slas)
    if form.is_valid() and form.cleaned_data["expected"] is None:
        form.add_error(None, "Preview the new commitment, then confirm it.")
    if form.is_valid():
        try:
            proposal = plan_services.plan_sla_commit(
                plan_id=saved.id,
                sla_id=form.cleaned_data["sla"],
                expected_commitment=form.cleaned_data["expected"],
                actor=request.user,
            )
        except ObjectDoesNotExist as error:
            raise Http404("No such plan or SLA.") from error
        except ValueError as error:
            form.add_error(None, str(error))
        else:
            messages.success(
                request,
                f"SLA “{proposal.sla.name}”: volume commitment "
                f"{proposal.old_commitment:,} → {proposal.new_commitment:,} MQLs "
                f"per {proposal.period_label}.",
            )
            return redirect("crm:plan_detail", plan_id=saved.id)
    return _plan_page(request, saved, form, None, True, 400)


@require_POST
@marketing_access(edit=True, refusal=_REFUSAL)
def plan_delete(request: HttpRequest, plan_id: int) -> HttpResponse:
    try:
        plan_services.plan_delete(plan_id=plan_id, actor=request.user)
    except MqlPlan.DoesNotExist as error:
        raise Http404("No such plan.") from error
    messages.success(request, "Plan deleted.")
    return redirect("crm:planner")
