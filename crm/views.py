"""Screens that combine apps: the role start pages and the health check."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from crm.roles import MARKETING, SALES, SDR, START_PAGES, primary_role, role_required
from leads import selectors as lead_selectors
from leads.models import Stage


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Send each user to their role's start page."""
    role = primary_role(request.user)
    if role is None:
        return render(request, "crm/no_role.html", status=403)
    return redirect(START_PAGES[role])


@role_required(MARKETING)
def marketing_home(request: HttpRequest) -> HttpResponse:
    week_ago = timezone.now() - dt.timedelta(days=7)
    stage_counts = lead_selectors.lead_stage_counts()
    total = sum(row["count"] for row in stage_counts)
    context = {
        "stage_counts": stage_counts,
        "lead_total": total,
        "mql_count": next(r["count"] for r in stage_counts if r["stage"] == Stage.MQL),
        "touchpoints_week": lead_selectors.touchpoint_count_since(since=week_ago),
        "recent_leads": lead_selectors.lead_list_recent(limit=8),
        "recent_transitions": lead_selectors.transition_list_recent(limit=8),
    }
    return render(request, "crm/marketing_home.html", context)


@role_required(SDR)
def sdr_home(request: HttpRequest) -> HttpResponse:
    leads = lead_selectors.lead_list_owned(
        user=request.user, stages=[Stage.MQL, Stage.SAL]
    )[:50]
    return render(request, "crm/sdr_home.html", {"leads": leads})


@role_required(SALES)
def sales_home(request: HttpRequest) -> HttpResponse:
    leads = lead_selectors.lead_list_owned(
        user=request.user, stages=[Stage.SAL, Stage.SQL, Stage.OPPORTUNITY]
    )[:50]
    return render(request, "crm/sales_home.html", {"leads": leads})


@require_GET
def favicon(request: HttpRequest) -> HttpResponse:
    # Resolved per request: the hashed name exists only after collectstatic.
    return redirect(static("img/leadflow-mark.svg"), permanent=True)


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness for load balancers: 200 when the database answers, else 503.

    The broker is reported but does not fail the check: ingestion keeps
    working while Redis is down (DESIGN.md, reliability rule 1).
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
