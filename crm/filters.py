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
from leads.api.filters import LeadFilter

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


class LeadListFilter(LeadFilter):
    created_from = django_filters.DateFilter(label="Created from")
    created_to = django_filters.DateFilter(label="Created to")

    class Meta(LeadFilter.Meta):
        form = LeadListForm

    def criteria(self) -> dict[str, Any]:
        """LeadFilter's criteria, with the whole days of created_from/created_to."""
        criteria = super().criteria()
        data = self.form.cleaned_data
        if data.get("created_from"):
            criteria["created_after"] = _start_of_day(data["created_from"])
        if data.get("created_to") and data["created_to"] < dt.date.max:
            criteria["created_before"] = _start_of_day(
                data["created_to"] + dt.timedelta(days=1)
            )
        return criteria

    def sort_key(self) -> SortKey:
        """The chosen sort (call after ``is_valid()``), newest first by default."""
        return SORTS.get(self.form.cleaned_data.get("sort") or "", SORTS["-created"])[1]
