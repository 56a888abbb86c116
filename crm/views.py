"""Screens that combine apps: role start pages, the lead list, the health check."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required, permission_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_safe

from crm import selectors as crm_selectors
from crm.common.keyset import InvalidCursor
from crm.filters import FUNNEL_PARAMS, SORTS, LeadListFilter, funnel_filter_text
from crm.marketing import dashboard, periods
from crm.marketing.access import marketing_access
from crm.marketing.filters import (
    FunnelFilterForm,
    campaign_choices,
    sla_choices,
)
from crm.marketing.funnel import funnel_as_of
from crm.marketing.today import today_figures
from crm.presenters import lead_rows
from crm.roles import START_PAGES, primary_role
from crm.templatetags.crm_tags import stage_short
from leads import selectors as lead_selectors
from leads.exports import lead_csv_export
from leads.geo import country_names
from leads.models import Stage
from leads.tracking import selectors as tracking_selectors
from scoring import selectors as scoring_selectors

#: Leads per page of the lead list.
LEAD_PAGE_SIZE = 50


@require_safe
@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Send each user to their role's start page."""
    role = primary_role(request.user)
    if role is None:
        return render(request, "crm/no_role.html", status=403)
    return redirect(START_PAGES[role])


@require_safe
@marketing_access(
    edit=False,
    refusal="This page is for the Marketing role; managers may read it too.",
)
def marketing_home(request: HttpRequest) -> HttpResponse:
    """The marketer's dashboard: the funnel of a period against the one
    before, MQL volume against commitments, and where leads stand today."""
    now = timezone.now()
    form = dashboard.DashboardForm(request.GET, today=now.astimezone(dt.UTC).date())
    filter_form = FunnelFilterForm(request.GET)
    valid = form.is_valid() & filter_form.is_valid()
    context: dict[str, Any] = {
        "form": form,
        "filter_form": filter_form,
        "periods": periods.PERIODS,
        "campaigns": campaign_choices(),
        "slas": sla_choices(),
    }
    if valid:
        period, mode = form.cleaned_data["range"], form.cleaned_data["mode"]
        filters = filter_form.filters()
        rows = dashboard.funnel_rows(period=period, mode=mode, filters=filters)
        weeks = dashboard.mql_weeks(period=period, filters=filters)
        context |= {
            "period": period,
            "previous": period.previous(),
            "mode": mode,
            "mode_label": dashboard.MODE_LABELS[mode],
            "funnel_rows": rows,
            "funnel_as_of": funnel_as_of(filters),
            "funnel_chart": dashboard.funnel_chart(rows, period),
            "mql_weeks": weeks,
            "volume_chart": dashboard.volume_chart(weeks),
            "acceptance": dashboard.acceptance(period=period, now=now, filters=filters),
            "filters": filters,
            "filter_summary": filter_form.summary(),
        }
    figures = today_figures(now=now)
    context |= {
        "today": figures,
        "stage_counts": figures.stage_counts,
        "lead_total": figures.lead_total,
        "mql_count": figures.mql_count,
        "touchpoints_week": figures.touchpoints_week,
        "recent_leads": lead_selectors.lead_list_recent(limit=8),
        "recent_transitions": lead_selectors.transition_list_recent(limit=8),
    }
    status = 200 if valid else 400
    return render(request, "crm/marketing_home.html", context, status=status)


@require_safe
@login_required
@permission_required("leads.view_lead", raise_exception=True)
def lead_list(request: HttpRequest) -> HttpResponse:
    """Every role's lead list: filters, a sort, keyset pages and an export link."""
    filters = LeadListFilter(request.GET)
    page, next_token, previous_token, count = None, None, None, None
    cursor_expired = False
    if filters.is_valid():
        criteria, sort = filters.criteria(), filters.sort_key()
        try:
            page, next_token, previous_token = lead_selectors.lead_page(
                sort=sort,
                cursor=request.GET.get("cursor"),
                size=LEAD_PAGE_SIZE,
                **criteria,
            )
        except InvalidCursor:
            # A link from before a sort change or a hand-edited URL: start over.
            cursor_expired = True
            page, next_token, previous_token = lead_selectors.lead_page(
                sort=sort, size=LEAD_PAGE_SIZE, **criteria
            )
        count = lead_selectors.lead_count(**criteria)
    query = request.GET.copy()
    query.pop("cursor", None)
    selected_stages = set(request.GET.getlist("stage"))
    context = {
        "filters": filters,
        "leads": page.items if page else [],
        # Each row's values worded once (no filter or {% url %} per row).
        "lead_rows": lead_rows(page.items) if page else [],
        "lead_count": count,
        "cursor_expired": cursor_expired,
        "is_first_page": "cursor" not in request.GET,
        "first_url": _with_query(reverse("crm:lead_list"), query),
        "next_url": _with_query(request.path, query, cursor=next_token),
        "previous_url": _with_query(request.path, query, cursor=previous_token),
        "export_url": _with_query(reverse("crm:lead_export"), query),
        "funnel_filter": funnel_filter_text(filters) if filters.is_valid() else "",
        "funnel_errors": [
            f"{filters.form.fields[name].label}: {error}"
            for name in FUNNEL_PARAMS
            for error in filters.form.errors.get(name, [])
        ],
        "funnel_params": [
            (name, value)
            for name in FUNNEL_PARAMS
            for value in request.GET.getlist(name)[:1]
        ],
        "stage_options": [
            {
                "value": code,
                "label": stage_short(code),
                "checked": code in selected_stages,
            }
            for code in Stage.values
        ],
        "owner_choices": lead_selectors.lead_owner_choices(),
        "country_codes": sorted(country_names().items(), key=lambda item: item[1]),
        "sort_choices": [(key, label) for key, (label, _) in SORTS.items()],
        "model": scoring_selectors.model_active(),
    }
    return render(request, "crm/lead_list.html", context)


@require_safe
@login_required
@permission_required("leads.view_lead", raise_exception=True)
def lead_detail(request: HttpRequest, lead_id: int) -> HttpResponse:
    """One lead: stage, score and why, handoffs, score over time, one timeline."""
    lead = crm_selectors.lead_get_for_page(lead_id=lead_id)
    score, model = crm_selectors.lead_score_active(lead=lead)
    hold = scoring_selectors.recycle_hold(lead)
    handoffs = crm_selectors.lead_handoffs(lead=lead)
    visible_handoffs, handoff_to_decide = crm_selectors.lead_handoff_access(
        lead=lead, handoffs=handoffs, user=request.user
    )
    context = {
        "lead": lead,
        "now": timezone.now(),
        "handoffs": handoffs,
        "visible_handoffs": visible_handoffs,
        "handoff_to_decide": handoff_to_decide,
        "score": score,
        "model": model,
        "recycle_hold": hold,
        "qualifies": bool(
            score
            and model
            and hold is None
            and not score.gated_by
            and score.total >= model.mql_threshold
            and (model.min_fit_score is None or score.fit_score >= model.min_fit_score)
        ),
        "breakdown": crm_selectors.lead_breakdown_rows(score=score),
        "gates": crm_selectors.lead_gate_rows(score=score),
        "attribute_groups": crm_selectors.lead_attribute_groups(lead=lead),
        "account_score": crm_selectors.account_score_active(lead=lead, model=model),
        "chart": crm_selectors.lead_score_chart(
            lead=lead, threshold=model.mql_threshold if model else None
        ),
        "timeline": crm_selectors.lead_timeline(lead=lead),
        "visitors": tracking_selectors.lead_visitors(lead),
    }
    return render(request, "crm/lead_detail.html", context)


@require_safe
@login_required
@permission_required("leads.view_lead", raise_exception=True)
def lead_export(request: HttpRequest) -> HttpResponse:
    """The filtered lead list as a streamed CSV download (``leads-YYYYMMDD.csv``)."""
    filters = LeadListFilter(request.GET)
    if not filters.is_valid():
        # The list page shows what is wrong with the filters.
        return redirect(_with_query(reverse("crm:lead_list"), request.GET))
    return lead_csv_export(
        actor=request.user,
        criteria=filters.criteria(),
        sort=filters.sort_key(),
        day=timezone.localdate(),
    )


def _with_query(path: str, query: Any, *, cursor: str | None = "") -> str | None:
    """``path`` with the query string, and a cursor; None when cursor is None."""
    if cursor is None:
        return None
    params = query.copy()
    if cursor:
        params["cursor"] = cursor
    encoded = params.urlencode()
    return f"{path}?{encoded}" if encoded else path


@require_GET
def favicon(request: HttpRequest) -> HttpResponse:
    # Resolved per request: the hashed name exists only after collectstatic.
    return redirect(static("img/leadflow-mark.svg"), permanent=True)


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness for load balancers: 200 when the database answers, else 503.

    The broker is reported but does not fail the check: ingestion keeps
    working while Redis is down (ARCHITECTURE.md, reliability rule 1).
    """
    checks: dict[str, str] = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"error: {exc.__class__.__name__}"
    checks["broker"] = _broker_status()
    status = 200 if checks["database"] == "ok" else 503
    return JsonResponse(checks, status=status)


def _broker_status() -> str:
    url = settings.CELERY_BROKER_URL
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return "eager (no broker configured)"
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1).ping()
    except redis.RedisError as exc:
        return f"error: {exc.__class__.__name__}"
    return "ok"
