"""Filters of the lead and touchpoint lists."""

from __future__ import annotations

import django_filters
from django.db.models import Q, QuerySet

from leads.models import Lead, Stage, Touchpoint


class LeadFilter(django_filters.FilterSet):
    stage = django_filters.MultipleChoiceFilter(
        choices=Stage.choices, help_text="Repeat for several: ?stage=mql&stage=sal"
    )
    owner = django_filters.CharFilter(
        field_name="owner__username", help_text="The owner's username."
    )
    country = django_filters.CharFilter(
        method="filter_country", help_text="ISO country code."
    )
    score_min = django_filters.NumberFilter(field_name="score", lookup_expr="gte")
    score_max = django_filters.NumberFilter(field_name="score", lookup_expr="lte")
    created_after = django_filters.IsoDateTimeFilter(
        field_name="created_at", lookup_expr="gte"
    )
    created_before = django_filters.IsoDateTimeFilter(
        field_name="created_at", lookup_expr="lt"
    )
    q = django_filters.CharFilter(
        method="filter_search", help_text="Name, e-mail or company contains this."
    )

    class Meta:
        model = Lead
        fields = ["stage", "owner", "country"]

    def filter_country(self, queryset: QuerySet[Lead], name: str, value: str):
        return queryset.filter(country=value.strip().upper())

    def filter_search(self, queryset: QuerySet[Lead], name: str, value: str):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(email__icontains=value)
            | Q(first_name__icontains=value)
            | Q(last_name__icontains=value)
            | Q(account__name__icontains=value)
        )


class TouchpointFilter(django_filters.FilterSet):
    lead = django_filters.NumberFilter(field_name="lead_id")
    kind = django_filters.CharFilter(field_name="kind_id")
    occurred_after = django_filters.IsoDateTimeFilter(
        field_name="occurred_at", lookup_expr="gte"
    )

    class Meta:
        model = Touchpoint
        fields = ["lead", "kind"]
