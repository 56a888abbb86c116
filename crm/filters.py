"""Filters of the lead list page: the API's LeadFilter, whole days and a sort.

The page validates its query string with the same FilterSet the API uses
(``leads.api.filters.LeadFilter``), so both mean the same by every filter.
It adds what a person picks in a browser: dates instead of times ("created
to" includes that day) and one of a few sort orders.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import django_filters
from django import forms
from django.utils import timezone

from crm.common.keyset import SortKey
from crm.marketing.filters import FunnelFilters, IdChoiceField
from crm.templatetags.crm_tags import stage_short
from handoff.models import ServiceLevelAgreement
from leads.api.filters import BoundedIsoDateTimeFilter, LeadFilter
from leads.geo import Region
from leads.lifecycle import FUNNEL
from leads.models import Campaign, Lead

#: Sort choices of the page: query value -> (label, sort). The first is the default.
SORTS: dict[str, tuple[str, SortKey]] = {
    "-created": ("Newest first", SortKey("created_at", descending=True)),
    "created": ("Oldest first", SortKey("created_at", descending=False)),
    "-score": ("Highest score", SortKey("score", descending=True)),
    "score": ("Lowest score", SortKey("score", descending=False)),
}


class LeadListForm(forms.Form):
    """The filter form's fields that are not filters."""

    sort = forms.ChoiceField(
        choices=[(key, label) for key, (label, _) in SORTS.items()], required=False
    )


def _start_of_day(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


#: The funnel's stages as the marketing dashboard's links name them.
FUNNEL_CHOICES = [(stage, stage_short(stage)) for stage in FUNNEL]


class IdChoiceFilter(django_filters.ModelChoiceFilter):
    field_class = IdChoiceField


class LeadListFilter(LeadFilter):
    created_from = django_filters.DateFilter(label="Created from")
    created_to = django_filters.DateFilter(label="Created to")
    # The marketing funnel's links: a cohort stage, or a stage entered in a period.
    reached = django_filters.ChoiceFilter(
        choices=FUNNEL_CHOICES, label="Reached this stage or later"
    )
    entered = django_filters.ChoiceFilter(
        choices=FUNNEL_CHOICES[1:], label="Entered this stage"
    )
    entered_after = BoundedIsoDateTimeFilter(label="Entered at or after")
    entered_before = BoundedIsoDateTimeFilter(label="Entered before")
    # The dashboard's filters (crm.marketing.filters says what each means).
    campaign = IdChoiceFilter(
        queryset=Campaign.objects.all(), what="campaign", label="Campaign"
    )
    channel = django_filters.ChoiceFilter(
        choices=Campaign.Channel.choices, label="Channel"
    )
    source = django_filters.ChoiceFilter(choices=Lead.Source.choices, label="Source")
    region = django_filters.ChoiceFilter(choices=Region.choices, label="Region")
    sla = IdChoiceFilter(
        queryset=ServiceLevelAgreement.objects.all(), what="SLA", label="SLA"
    )

    class Meta(LeadFilter.Meta):
        form = LeadListForm

    def criteria(self) -> dict[str, Any]:
        """LeadFilter's criteria, with the whole days of created_from/created_to
        and the funnel's stage filters."""
        criteria = super().criteria()
        data = self.form.cleaned_data
        criteria["reached_stage"] = data.get("reached") or ""
        criteria["entered_stage"] = data.get("entered") or ""
        criteria["entered_after"] = data.get("entered_after")
        criteria["entered_before"] = data.get("entered_before")
        criteria |= self.funnel_filters().criteria()
        if data.get("created_from"):
            criteria["created_after"] = _start_of_day(data["created_from"])
        if data.get("created_to") and data["created_to"] < dt.date.max:
            criteria["created_before"] = _start_of_day(
                data["created_to"] + dt.timedelta(days=1)
            )
        return criteria

    def funnel_filters(self) -> FunnelFilters:
        """The dashboard's filters among the parameters (after ``is_valid()``)."""
        return FunnelFilters.from_cleaned(self.form.cleaned_data)

    def sort_key(self) -> SortKey:
        """The chosen sort (call after ``is_valid()``), newest first by default."""
        return SORTS.get(self.form.cleaned_data.get("sort") or "", SORTS["-created"])[1]


#: The query parameters the marketing funnel's links add to the lead list.
FUNNEL_PARAMS = (
    "created_after",
    "created_before",
    "reached",
    "entered",
    "entered_after",
    "entered_before",
    "campaign",
    "channel",
    "source",
    "region",
    "sla",
)


def _utc_day(moment: dt.datetime) -> str:
    day = moment.astimezone(dt.UTC)
    return f"{day.day} {day:%b %Y}"


def funnel_filter_text(filters: LeadListFilter) -> str:
    """The funnel link's filters as a sentence ("" when none apply).

    Call after ``is_valid()``. Periods are shown by their UTC days, the end
    day being the last one included.
    """
    data = filters.form.cleaned_data
    parts = []

    def span(low: dt.datetime | None, high: dt.datetime | None) -> str:
        if low and high:
            last = high - dt.timedelta(days=1)
            return f"{_utc_day(low)} \u2013 {_utc_day(last)} (UTC)"
        if low:
            return f"from {_utc_day(low)} (UTC)"
        return f"before {_utc_day(high)} (UTC)" if high else ""

    labels = dict(FUNNEL_CHOICES)
    if data.get("created_after") or data.get("created_before"):
        parts.append(
            f"created {span(data.get('created_after'), data.get('created_before'))}"
        )
    if data.get("reached"):
        parts.append(f"that reached {labels[data['reached']]} or later")
    if data.get("entered"):
        when = span(data.get("entered_after"), data.get("entered_before"))
        parts.append(f"that entered {labels[data['entered']]} {when}".rstrip())
    if data.get("campaign"):
        parts.append(f"with a touchpoint of the campaign {data['campaign'].name}")
    if data.get("channel"):
        channel = Campaign.Channel(data["channel"]).label
        parts.append(f"with a touchpoint of a {channel} campaign")
    if data.get("source"):
        parts.append(f"from the source {Lead.Source(data['source']).label}")
    if data.get("region"):
        parts.append(f"in {Region(data['region']).label}")
    if data.get("sla"):
        parts.append(f"handed off under the SLA {data['sla'].name}")
    return " ".join(["leads", *parts]) if parts else ""
