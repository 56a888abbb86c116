"""Filters of the lead and touchpoint lists.

A FilterSet here parses and validates query parameters, like a form; what the
lead filters mean is defined once in ``leads.selectors.lead_filter``, which
the lead list page (``crm``) uses through the same LeadFilter.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django_filters.fields import IsoDateTimeField

from crm.common.keyset import MAX_ID, SortKey
from leads import selectors
from leads.models import Lead, Stage, Touchpoint


class BoundedIsoDateTimeField(IsoDateTimeField):
    """ISO 8601 date and time, as UTC; refused when UTC cannot hold it.

    ``0001-01-01T00:00:00+05:00`` parses, but in UTC it is before year 1 and
    the database adapter would fail with a server error. Offsets beyond
    PostgreSQL's range (``-23:25`` is valid ISO 8601) are why the value is
    passed on in UTC.
    """

    def to_python(self, value: Any) -> dt.datetime | None:
        parsed = super().to_python(value)
        if parsed is None:
            return None
        try:
            return parsed.astimezone(dt.UTC)
        except OverflowError as exc:
            raise ValidationError(
                "Enter a date and time between the years 1 and 9999 (UTC).",
                code="out_of_range",
            ) from exc


class BoundedIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = BoundedIsoDateTimeField


class IdFilter(django_filters.NumberFilter):
    """A row id: a whole number the id column can hold (else a 400, not a 500)."""

    field_class = forms.IntegerField

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(*args, **kwargs)


#: Digits a score filter may have. Python reads 1e-200000 as a number that
#: PostgreSQL's numeric refuses (a server error); scores have 2 decimals.
SCORE_BOUNDS = {"max_digits": 20, "decimal_places": 6}


def time_range(
    field_name: str, what: str
) -> tuple[BoundedIsoDateTimeFilter, BoundedIsoDateTimeFilter]:
    """The ``*_after`` (inclusive) and ``*_before`` (exclusive) filters of a
    time field; ``what`` starts their help text ("Created", "Due")."""
    return (
        BoundedIsoDateTimeFilter(
            field_name=field_name,
            lookup_expr="gte",
            help_text=f"{what} at or after this time (ISO 8601).",
        ),
        BoundedIsoDateTimeFilter(
            field_name=field_name,
            lookup_expr="lt",
            help_text=f"{what} before this time (ISO 8601).",
        ),
    )


class LeadFilter(django_filters.FilterSet):
    stage = django_filters.MultipleChoiceFilter(
        choices=Stage.choices, help_text="Repeat for several: ?stage=mql&stage=sal"
    )
    owner = django_filters.CharFilter(
        field_name="owner__username", help_text="The owner's username."
    )
    country = django_filters.CharFilter(
        field_name="country",
        help_text="ISO country code or English name (any letter case).",
    )
    score_min = django_filters.NumberFilter(
        field_name="score",
        lookup_expr="gte",
        help_text="Score at least this.",
        **SCORE_BOUNDS,
    )
    score_max = django_filters.NumberFilter(
        field_name="score",
        lookup_expr="lte",
        help_text="Score at most this.",
        **SCORE_BOUNDS,
    )
    created_after, created_before = time_range("created_at", "Created")
    q = django_filters.CharFilter(
        field_name="email",
        help_text="Each word appears in the first or last name, e-mail or company.",
    )

    class Meta:
        model = Lead
        fields = ["stage", "owner", "country"]

    def criteria(self) -> dict[str, Any]:
        """The validated parameters as keyword arguments of ``lead_filter``.

        Call after ``is_valid()``; parameters not given are empty.
        """
        data = self.form.cleaned_data
        return {
            "stages": list(data.get("stage") or []),
            "owner": data.get("owner") or "",
            "country": data.get("country") or "",
            "score_min": data.get("score_min"),
            "score_max": data.get("score_max"),
            "created_after": data.get("created_after"),
            "created_before": data.get("created_before"),
            "q": data.get("q") or "",
        }

    def filter_queryset(self, queryset: QuerySet[Lead]) -> QuerySet[Lead]:
        # The list's order (the ordering parameter's first field, as the
        # pagination reads it), so the stage filter reads that order's index.
        ordering = str(self.data.get("ordering") or "").split(",")[0].strip()
        sort = SortKey.parse(ordering) if ordering else None
        return selectors.lead_filter(queryset, **self.criteria(), sort=sort)


class TouchpointFilter(django_filters.FilterSet):
    lead = IdFilter(field_name="lead_id", help_text="The lead's id.")
    kind = django_filters.CharFilter(field_name="kind_id")
    occurred_after = BoundedIsoDateTimeFilter(
        field_name="occurred_at", lookup_expr="gte"
    )

    class Meta:
        model = Touchpoint
        fields = ["lead", "kind"]
