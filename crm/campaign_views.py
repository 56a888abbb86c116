"""Marketing's campaign pages: the list with spend, a campaign's page with
its spend ledger by month, and the forms that make and edit them.

Marketing and Admin read and write; managers (``handoff.selectors.is_manager``)
read. Writes go through ``leads.campaigns``; bad input shows the form again
with its errors (400), never a server error.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import (
    require_http_methods,
    require_POST,
    require_safe,
)

from crm.campaign_forms import CampaignForm, SpendForm
from crm.common.money import money_text
from crm.marketing.access import marketing_access, may_edit_marketing
from leads import campaigns as campaign_services
from leads import selectors as lead_selectors
from leads.models import Campaign, CampaignSpend, Stage

_REFUSAL = "Campaigns are for the Marketing role."


def campaign_access(*, edit: bool) -> Callable:
    """Log in first; then Marketing or Admin, or (to read only) a manager."""
    return marketing_access(edit=edit, refusal=_REFUSAL)


def _may_edit(user: Any) -> bool:
    return may_edit_marketing(user)


def _posted(request: HttpRequest) -> Any:
    """The posted data (even when empty), or None for a GET."""
    return request.POST if request.method == "POST" else None


@require_safe
@campaign_access(edit=False)
def campaign_list(request: HttpRequest) -> HttpResponse:
    """Every campaign with its budget, spend to date and this month's spend."""
    sort = request.GET.get("sort", "name")
    if sort not in lead_selectors.CAMPAIGN_SORTS:
        sort = "name"
    today = timezone.localdate()
    context = {
        "campaigns": lead_selectors.campaign_list_with_spend(today=today, sort=sort),
        "sort": sort,
        "this_month": today.replace(day=1),
        "can_edit": _may_edit(request.user),
    }
    return render(request, "crm/campaign_list.html", context)


@require_http_methods(["GET", "HEAD", "POST"])
@campaign_access(edit=True)
def campaign_new(request: HttpRequest) -> HttpResponse:
    form = CampaignForm(_posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            campaign = campaign_services.campaign_create(
                actor=request.user, **form.cleaned_data
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, f"Campaign “{campaign.name}” created.")
            return redirect("crm:campaign_detail", campaign_id=campaign.id)
    return _campaign_form(request, form, campaign=None)


@require_http_methods(["GET", "HEAD", "POST"])
@campaign_access(edit=True)
def campaign_edit(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = get_object_or_404(Campaign, id=campaign_id)
    form = CampaignForm(_posted(request), campaign=campaign)
    if request.method == "POST" and form.is_valid():
        try:
            campaign_services.campaign_update(
                campaign_id=campaign.id, actor=request.user, **form.cleaned_data
            )
        except Campaign.DoesNotExist as error:
            raise Http404("No such campaign.") from error
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, "Campaign saved.")
            return redirect("crm:campaign_detail", campaign_id=campaign.id)
    return _campaign_form(request, form, campaign=campaign)


def _campaign_form(
    request: HttpRequest, form: CampaignForm, *, campaign: Campaign | None
) -> HttpResponse:
    status = 400 if form.is_bound and form.errors else 200
    return render(
        request,
        "crm/campaign_form.html",
        {"form": form, "campaign": campaign},
        status=status,
    )


@require_safe
@campaign_access(edit=False)
def campaign_detail(request: HttpRequest, campaign_id: int) -> HttpResponse:
    """A campaign's facts, its spend ledger by month and its first-touch leads."""
    campaign = get_object_or_404(Campaign, id=campaign_id)
    return _campaign_page(request, campaign, SpendForm())


def _campaign_page(
    request: HttpRequest, campaign: Campaign, spend_form: SpendForm, status: int = 200
) -> HttpResponse:
    months = lead_selectors.campaign_spend_by_month(campaign_id=campaign.id)
    total = sum((month.total for month in months), 0)
    first_touch = lead_selectors.campaign_first_touch_leads(campaign_id=campaign.id)
    context = {
        "campaign": campaign,
        "months": months,
        "spend_total": total,
        "budget_left": max(campaign.budget - total, 0),
        "overspend": max(total - campaign.budget, 0),
        "spend_form": spend_form,
        "first_touch_total": sum(first_touch.values()),
        "first_touch_stages": [
            {"stage": code, "label": label, "count": first_touch.get(code, 0)}
            for code, label in Stage.choices
        ],
        "can_edit": _may_edit(request.user),
    }
    return render(request, "crm/campaign_detail.html", context, status=status)


@require_POST
@campaign_access(edit=True)
def spend_add(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = get_object_or_404(Campaign, id=campaign_id)
    form = SpendForm(request.POST)
    if form.is_valid():
        try:
            line = campaign_services.spend_add(
                campaign_id=campaign.id, actor=request.user, **form.cleaned_data
            )
        except Campaign.DoesNotExist as error:
            raise Http404("No such campaign.") from error
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(
                request,
                f"Added {money_text(line.amount, cents=True)} for {line.month:%B %Y}.",
            )
            return redirect("crm:campaign_detail", campaign_id=campaign.id)
    return _campaign_page(request, campaign, form, status=400)


@require_http_methods(["GET", "HEAD", "POST"])
@campaign_access(edit=True)
def spend_edit(request: HttpRequest, campaign_id: int, spend_id: int) -> HttpResponse:
    line = get_object_or_404(
        CampaignSpend.objects.select_related("campaign"),
        id=spend_id,
        campaign_id=campaign_id,
    )
    initial = {"month": f"{line.month:%Y-%m}", "amount": line.amount, "note": line.note}
    form = SpendForm(_posted(request), initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            campaign_services.spend_update(
                campaign_id=campaign_id,
                spend_id=spend_id,
                actor=request.user,
                **form.cleaned_data,
            )
        except CampaignSpend.DoesNotExist as error:
            raise Http404("No such spend line.") from error
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, "Spend line saved.")
            return redirect("crm:campaign_detail", campaign_id=campaign_id)
    status = 400 if form.is_bound and form.errors else 200
    return render(
        request,
        "crm/spend_form.html",
        {"form": form, "line": line, "campaign": line.campaign},
        status=status,
    )


@require_POST
@campaign_access(edit=True)
def spend_delete(request: HttpRequest, campaign_id: int, spend_id: int) -> HttpResponse:
    try:
        campaign_services.spend_delete(
            campaign_id=campaign_id, spend_id=spend_id, actor=request.user
        )
    except CampaignSpend.DoesNotExist as error:
        raise Http404("No such spend line.") from error
    messages.success(request, "Spend line deleted.")
    return redirect("crm:campaign_detail", campaign_id=campaign_id)
