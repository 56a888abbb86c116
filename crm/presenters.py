"""What the lead list prints of each lead, worded once in Python.

The list's 50 rows each ran a ``{% url %}``, two ``date`` filters and five
more filters; the row's template now prints plain values, as the SAL queue's
and the pipelines' rows do (``handoff.presenters``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.template.defaultfilters import date as date_filter
from django.utils import timezone

from crm.common.dates import zone_name
from crm.templatetags.crm_tags import stage_short
from handoff.presenters import UrlPattern
from handoff.templatetags.handoff_tags import person
from leads.geo import country_name
from leads.models import Lead
from scoring.numbers import score_text

#: What a blank company or country shows (an em dash).
NONE_SHOWN = "\u2014"


@dataclass(frozen=True)
class LeadRow:
    """One row of the lead list: the lead and every value its cells print."""

    lead: Lead
    url: str
    name: str
    title: str
    account: str
    country: str
    stage_label: str
    stage_short: str
    score: str
    grade_class: str
    #: The owner's name, or "" for an unassigned lead.
    owner: str
    #: The creation time as the cell's tooltip says it, "2026-12-07 14:05 UTC".
    created_title: str
    #: The creation day as the cell says it, "7 Dec 2026".
    created: str


def lead_rows(leads: list[Lead]) -> list[LeadRow]:
    """The lead list's rows of ``leads`` (with their accounts and owners
    loaded), each value as the ``date``, ``country_name``, ``score`` and
    other filters would print it in the current time zone; each day's
    translated words are made once for the list."""
    detail = UrlPattern("crm:lead_detail")
    days: dict[dt.date, str] = {}
    rows = []
    for lead in leads:
        local = timezone.localtime(lead.created_at)
        day = days.get(local.date())
        if day is None:
            day = days[local.date()] = date_filter(local, "j M Y")
        rows.append(
            LeadRow(
                lead=lead,
                url=detail.of(lead.id),
                name=lead.full_name or lead.email,
                title=lead.job_title or "No title",
                account=str(lead.account) if lead.account else NONE_SHOWN,
                country=country_name(lead.country or "") or NONE_SHOWN,
                stage_label=str(lead.get_stage_display()),
                stage_short=stage_short(lead.stage),
                score=score_text(lead.score),
                grade_class=str(lead.grade).lower(),
                owner=person(lead.owner) if lead.owner else "",
                created_title=f"{local:%Y-%m-%d %H:%M} {zone_name(local)}",
                created=day,
            )
        )
    return rows
