"""The rule analytics page, ``/scoring/analytics/``: which rules predict what
SDRs and sales did. Marketing and Admin read it, and managers.

The figures come from ``crm.marketing.rule_analytics.rule_analytics``, the
selector ``GET /api/v1/reports/rules/`` serves too. Bad parameters show the
picker again with what to fix (400).
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.views.decorators.http import require_POST, require_safe

from crm.marketing import periods
from crm.marketing.access import marketing_access, may_edit_marketing
from crm.marketing.rule_analytics import (
    BAND_POINTS,
    CLEAR_LIFT,
    RuleAnalytics,
    analytics_models,
    rule_analytics,
)
from crm.marketing.rule_candidates import (
    POINTS_MAX,
    POINTS_PER_LOG_LIFT,
    STALE_AFTER,
    TOUCH_REPEAT,
    CandidateRefused,
    CandidateState,
    candidate_add_to_draft,
    candidates_state,
)
from crm.rule_analytics_forms import CandidateAddForm, RuleAnalyticsForm
from scoring.models import ScoringModel

#: Candidate rules shown at first; the rest are one click away.
CANDIDATES_SHOWN = 25
_REFUSAL = "Rule analytics are for the Marketing role; managers may read them too."
_ADD_REFUSAL = "Only the Marketing role adds candidate rules to a draft."
#: The GET parameters the page's forms keep.
_KEPT = ("period", "date_from", "date_to", "model", "min_support")


def _percent(value: float | None) -> float | None:
    return None if value is None else round(100 * value, 1)


def _charts(report: RuleAnalytics) -> dict[str, Any]:
    """The page's three charts as plain numbers (the tables have them exactly)."""
    weekly = next(t for t in report.rejections if t.key == "week")
    bands = report.quality.bands
    return {
        "lift": {
            "labels": [row.label for row in report.rules],
            "lift": [row.sql.lift.value for row in report.rules],
            "interval": [
                [row.sql.lift.low, row.sql.lift.high]
                if row.sql.lift.low is not None
                else None
                for row in report.rules
            ],
        },
        "bands": {
            "labels": [f"{band.low:g}" for band in bands],
            "rate": [_percent(band.mql_to_sql.value) for band in bands],
            "mqls": [band.mql_to_sql.total for band in bands],
            "width": BAND_POINTS,
        },
        "weeks": {
            "labels": [row.label.removeprefix("Week of ") for row in weekly.rows],
            "datasets": [
                {
                    "label": column.label,
                    "audience": column.audience,
                    "data": [row.counts[i] for row in weekly.rows],
                }
                for i, column in enumerate(weekly.columns)
            ],
        },
    }


def _band_links(report: RuleAnalytics, period: periods.Period) -> list[str | None]:
    """The lead list of each band's MQLs: only for the active model, whose
    total is the score on the lead that the list filters by."""
    if report.model.status != ScoringModel.Status.ACTIVE:
        return [None] * len(report.quality.bands)
    base = reverse("crm:lead_list")
    return [
        f"{base}?"
        + urlencode(
            {
                "created_from": period.start.isoformat(),
                "created_to": period.last_day.isoformat(),
                "reached": "mql",
                "score_min": f"{band.low:f}",
                "score_max": f"{band.high:f}",
            }
        )
        for band in report.quality.bands
    ]


def _lead_links(report: RuleAnalytics, period: periods.Period) -> dict[str, str]:
    """The lead list of the period's leads, and of those that reached SQL and
    customer (the active model only: its leads are the ones the list shows)."""
    if report.model.status != ScoringModel.Status.ACTIVE:
        return {}
    base = reverse("crm:lead_list")
    created = {
        "created_from": period.start.isoformat(),
        "created_to": period.last_day.isoformat(),
    }
    return {
        "leads": f"{base}?{urlencode(created)}",
        "sqls": f"{base}?{urlencode(created | {'reached': 'sql'})}",
        "customers": f"{base}?{urlencode(created | {'reached': 'customer'})}",
    }


@require_safe
@marketing_access(edit=False, refusal=_REFUSAL)
def rule_analytics_page(request: HttpRequest) -> HttpResponse:
    """Per rule: leads it fired on and the lift of SDR acceptance, SQL and
    customer; the score's ranking quality; rejection reasons by campaign,
    SLA, rule, grade and week; the latest feedback, searchable."""
    today = timezone.now().astimezone(dt.UTC).date()
    models = list(analytics_models())
    form = RuleAnalyticsForm(request.GET, today=today, models=models)
    context: dict[str, Any] = {
        "form": form,
        "periods": periods.PERIODS,
        "band_points": BAND_POINTS,
        "clear_lift": CLEAR_LIFT,
        "points_per_log_lift": POINTS_PER_LOG_LIFT,
        "points_max": POINTS_MAX,
        "touch_repeat": TOUCH_REPEAT,
        "may_add": may_edit_marketing(request.user),
    }
    if not form.is_valid():
        return render(request, "crm/rule_analytics.html", context, status=400)
    period = form.cleaned_data["range"]
    model = form.cleaned_data["scoring_model"]
    if model is not None:
        report = rule_analytics(
            model=model,
            start=period.start,
            end=period.end,
            search=form.cleaned_data["q"],
        )
        context |= {
            "report": report,
            "charts": _charts(report),
            "lead_links": _lead_links(report, period),
            "bands": list(
                zip(report.quality.bands, _band_links(report, period), strict=True)
            ),
            **_candidates_context(
                candidates_state(
                    model=model,
                    start=period.start,
                    end=period.end,
                    min_support=form.cleaned_data["min_support"],
                ),
                request,
            ),
        }
    context["period"] = period
    # The feedback search and the candidates' buttons keep the picker's choices.
    context["kept_params"] = _kept(request.GET)
    return render(request, "crm/rule_analytics.html", context)


def _candidates_context(state: CandidateState, request: HttpRequest) -> dict[str, Any]:
    """The candidates fragment's context: the state, its rows split at
    CANDIDATES_SHOWN, and the URL it polls while not ready."""
    rows = state.report.candidates if state.report else []
    params = request.GET.copy()
    params.pop("part", None)
    poll = reverse("crm:rule_candidates") + "?" + params.urlencode()
    return {
        "candidates": state.report,
        "candidate_state": state,
        "candidate_rows": (rows[:CANDIDATES_SHOWN], rows[CANDIDATES_SHOWN:]),
        "candidates_poll": poll,
        "candidates_more": poll + ("&" if params else "") + "part=more",
        "stale_minutes": int(STALE_AFTER.total_seconds() // 60),
    }


@require_safe
@marketing_access(edit=False, refusal=_REFUSAL)
def rule_candidates_fragment(request: HttpRequest) -> HttpResponse:
    """The page's candidate rules section (htmx polls it while they are
    counted): counting, or the table with when it was counted; a stale one
    with its age while it is counted again. With ``part=more``, the table of
    the candidates past the first CANDIDATES_SHOWN (loaded when opened)."""
    today = timezone.now().astimezone(dt.UTC).date()
    form = RuleAnalyticsForm(request.GET, today=today, models=list(analytics_models()))
    if not form.is_valid() or form.cleaned_data["scoring_model"] is None:
        errors = [e for field_errors in form.errors.values() for e in field_errors]
        return HttpResponse(
            " ".join(errors) or "No scoring model is active; publish one first.",
            status=400,
            content_type="text/plain; charset=utf-8",
        )
    period = form.cleaned_data["range"]
    state = candidates_state(
        model=form.cleaned_data["scoring_model"],
        start=period.start,
        end=period.end,
        min_support=form.cleaned_data["min_support"],
    )
    context = {
        **_candidates_context(state, request),
        "kept_params": _kept(request.GET),
        "may_add": may_edit_marketing(request.user),
    }
    if request.GET.get("part") == "more":
        return render(
            request,
            "crm/partials/candidate_table.html",
            context
            | {
                "rows": context["candidate_rows"][1],
                "table_id": "candidate-table-more",
            },
        )
    return render(request, "crm/partials/rule_candidates.html", context)


def _kept(params: Any) -> list[tuple[str, str]]:
    return [(name, params[name]) for name in _KEPT if params.get(name)]


@require_POST
@marketing_access(edit=True, refusal=_ADD_REFUSAL)
def rule_candidate_add(request: HttpRequest) -> HttpResponse:
    """Add a candidate rule to the newest draft (cloned from the active model
    when there is none), then back to the page with what happened."""
    today = timezone.now().astimezone(dt.UTC).date()
    form = CandidateAddForm(request.POST, today=today, models=list(analytics_models()))
    back = reverse("crm:rule_analytics")
    kept = _kept(request.POST)
    if kept:
        back += "?" + urlencode(kept)
    back += "#candidates"
    if not form.is_valid():
        errors = [e for field_errors in form.errors.values() for e in field_errors]
        messages.error(request, "The rule was not added: " + " ".join(errors))
        return redirect(back)
    data = form.cleaned_data
    if data["scoring_model"] is None:
        messages.error(request, "No scoring model is active; publish one first.")
        return redirect(back)
    try:
        added = candidate_add_to_draft(
            key=data["candidate"],
            model=data["scoring_model"],
            start=data["range"].start,
            end=data["range"].end,
            min_support=data["min_support"],
            actor=request.user,
        )
    except CandidateRefused as exc:
        messages.error(request, f"The rule was not added. {exc}")
        return redirect(back)
    created = (
        " (a new draft, cloned from the active model)" if added.created_draft else ""
    )
    messages.success(
        request,
        format_html(
            'Rule “{}” added with {} points to draft <a href="{}">{}</a>{}. '
            "Review it there; publishing the draft puts it to work.",
            added.rule.label,
            f"{added.rule.points.normalize():f}",
            reverse("scoring:detail", args=[added.draft.id]),
            str(added.draft),
            created,
        ),
    )
    return redirect(back)
