"""Marketing's campaign pages: the list with campaign ROI over a period
under an attribution model (and its CSV) and each campaign's budget and
spend, a campaign's page with its ROI under every model and its spend ledger
by month, and the forms that make and edit them.

Marketing and Admin read and write; managers (``handoff.selectors.is_manager``)
read. Writes go through ``leads.campaigns``; bad input shows the form again
with its errors (400), never a server error.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import (
    require_http_methods,
    require_POST,
    require_safe,
)

from crm.campaign_forms import CampaignForm, CampaignReportForm, SpendForm
from crm.common.money import currency_symbol, money_text
from crm.marketing.access import marketing_access, may_edit_marketing
from crm.marketing.campaign_report import (
    CSV_COLUMNS,
    DEFAULT_MODEL,
    MODEL_LABELS,
    CampaignReport,
    campaign_by_model,
    campaign_report,
    csv_rows,
    rows_sorted,
)
from crm.marketing.periods import PERIODS
from leads import campaigns as campaign_services
from leads import selectors as lead_selectors
from leads.attribution import MODELS
from leads.exports import csv_cell
from leads.models import Campaign, CampaignSpend

_REFUSAL = "Campaigns are for the Marketing role."


def campaign_access(*, edit: bool) -> Callable:
    """Log in first; then Marketing or Admin, or (to read only) a manager."""
    return marketing_access(edit=edit, refusal=_REFUSAL)


def _may_edit(user: Any) -> bool:
    return may_edit_marketing(user)


def _posted(request: HttpRequest) -> Any:
    """The posted data (even when empty), or None for a GET."""
    return request.POST if request.method == "POST" else None


#: Column headers shorter than the CSV's, so the table fits the page.
SHORT_LABELS = {
    "cost_per_lead": "Cost / lead",
    "cost_per_mql": "Cost / MQL",
    "cost_per_sql": "Cost / SQL",
    "cost_per_customer": "Cost / customer",
    "mql_to_sql_rate": "MQL → SQL",
}


def _utc_today() -> dt.date:
    return timezone.now().astimezone(dt.UTC).date()


def _report_context(form: CampaignReportForm) -> dict[str, Any]:
    """The picker's choices, and what the page says of the period and model."""
    context: dict[str, Any] = {
        "form": form,
        "periods": PERIODS,
        "default_model": DEFAULT_MODEL,
        "models": [
            {"code": code, "label": label, "sentence": MODELS[code]}
            for code, label in MODEL_LABELS.items()
        ],
    }
    if form.is_valid():
        model = form.cleaned_data["model"]
        context |= {
            "period": form.cleaned_data["range"],
            "model": model,
            "model_label": MODEL_LABELS[model],
            "model_sentence": MODELS[model],
        }
    return context


def _columns(query: QueryDict, order: str) -> list[dict[str, Any]]:
    """The campaign table's sortable headers: each links to the page sorted
    by it (highest first for figures, A to Z for text; again: reversed)."""
    columns = [("name", "Campaign", False), ("channel", "Channel", False)]
    columns += [(key, SHORT_LABELS.get(key, label), True) for key, label in CSV_COLUMNS]
    headers = []
    for key, label, numeric in columns:
        first = f"-{key}" if numeric else key
        if order == key:
            state, next_order = "ascending", f"-{key}"
        elif order == f"-{key}":
            state, next_order = "descending", key
        else:
            state, next_order = "none", first
        params = query.copy()
        params["order"] = next_order
        headers.append(
            {
                "key": key,
                "label": label,
                "numeric": numeric,
                "sort": state,
                "url": f"?{params.urlencode()}",
            }
        )
    return headers


def _chart(report: CampaignReport) -> dict[str, Any]:
    """Spend against revenue per channel (numbers as floats for Chart.js; the
    table beside the chart has them exactly)."""
    return {
        "labels": [channel.label for channel in report.channels],
        "spend": [float(channel.spend) for channel in report.channels],
        "revenue": [float(channel.revenue) for channel in report.channels],
        "currency": currency_symbol(),
    }


@require_safe
@campaign_access(edit=False)
def campaign_list(request: HttpRequest) -> HttpResponse:
    """Campaign ROI over a period under an attribution model, per campaign
    and per channel; then every campaign with its budget, spend to date and
    this month's spend."""
    sort = request.GET.get("sort", "name")
    if sort not in lead_selectors.CAMPAIGN_SORTS:
        sort = "name"
    today = timezone.localdate()
    form = CampaignReportForm(request.GET, today=_utc_today())
    report_query = request.GET.copy()
    report_query.pop("sort", None)
    context = _report_context(form) | {
        "campaigns": lead_selectors.campaign_list_with_spend(today=today, sort=sort),
        "sort": sort,
        "this_month": today.replace(day=1),
        "can_edit": _may_edit(request.user),
        # The budget table's sort links keep the period and model.
        "report_query": f"{report_query.urlencode()}&" if report_query else "",
    }
    if form.is_valid():
        period, order = form.cleaned_data["range"], form.cleaned_data["order"]
        report = campaign_report(
            start=period.start, end=period.end, model=form.cleaned_data["model"]
        )
        context |= {
            "report": report,
            "rows": rows_sorted(report.rows, sort=order),
            "order": order,
            # Sorting the ROI table keeps the budget table's sort.
            "columns": _columns(request.GET, order),
            "chart": _chart(report),
            "csv_query": report_query.urlencode(),
        }
    status = 200 if form.is_valid() else 400
    return render(request, "crm/campaign_list.html", context, status=status)


@require_safe
@campaign_access(edit=False)
def campaign_csv(request: HttpRequest) -> HttpResponse:
    """The campaign table of the list page, as shown (same period, model and
    order), as a CSV download (``campaigns-<start>-<last day>-<model>.csv``)."""
    form = CampaignReportForm(request.GET, today=_utc_today())
    if not form.is_valid():
        # The list page shows what is wrong with the parameters.
        return redirect(f"{reverse('crm:campaign_list')}?{request.GET.urlencode()}")
    period, model = form.cleaned_data["range"], form.cleaned_data["model"]
    report = campaign_report(start=period.start, end=period.end, model=model)
    rows = rows_sorted(report.rows, sort=form.cleaned_data["order"])
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    name = f"campaigns-{period.start}-{period.last_day}-{model}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    writer = csv.writer(response)
    for line in csv_rows(report, rows):
        writer.writerow([csv_cell(value) for value in line])
    return response


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
    """A campaign's ROI over a period under an attribution model, with the
    six models side by side; its facts, spend ledger by month and a link to
    the leads it touched."""
    campaign = get_object_or_404(Campaign, id=campaign_id)
    return _campaign_page(request, campaign, SpendForm())


def _campaign_page(
    request: HttpRequest, campaign: Campaign, spend_form: SpendForm, status: int = 200
) -> HttpResponse:
    form = CampaignReportForm(request.GET, today=_utc_today())
    report_context = _report_context(form)
    if form.is_valid():
        period = form.cleaned_data["range"]
        by_model = campaign_by_model(
            campaign_id=campaign.id, start=period.start, end=period.end
        )
        report_context |= {
            "figures": by_model[form.cleaned_data["model"]],
            "comparison": [
                {"code": code, "label": MODEL_LABELS[code], "figures": figures}
                for code, figures in by_model.items()
            ],
        }
    elif status == 200:
        status = 400
    months = lead_selectors.campaign_spend_by_month(campaign_id=campaign.id)
    total = sum((month.total for month in months), 0)
    context = report_context | {
        "campaign": campaign,
        "months": months,
        "spend_total": total,
        "budget_left": max(campaign.budget - total, 0),
        "overspend": max(total - campaign.budget, 0),
        "spend_form": spend_form,
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
