"""Query filters of the handoff API: the queue by status, owner and dates, and
rejection reasons by activity."""

from __future__ import annotations

from typing import Any

import django_filters
from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db.models import Model, QuerySet
from drf_spectacular.utils import extend_schema_field

from crm.common.keyset import MAX_ID
from handoff.models import Handoff, RejectionReason
from handoff.models import ServiceLevelAgreement as SLA
from leads.api.filters import IdFilter, time_range
from leads.models import Lead

User = get_user_model()


#: ``?assigned_to=me``: the person asking.
ME = "me"


class UsernameField(forms.CharField):
    """A username that exists, or ``me``."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 150)
        super().__init__(**kwargs)

    def clean(self, value: Any) -> str:
        value = super().clean(value)
        if value and value != ME and not User.objects.filter(username=value).exists():
            raise ValidationError(
                "No user is called “%(name)s”; give a username or “me”.",
                code="unknown_user",
                params={"name": value},
            )
        return value


class UsernameFilter(django_filters.CharFilter):
    field_class = UsernameField


class ExistingIdField(forms.IntegerField):
    """The id of a row of ``model`` that exists (else a 400 naming the field)."""

    def __init__(self, *, model: type[Model], **kwargs: Any) -> None:
        self.model = model
        super().__init__(**kwargs)

    def clean(self, value: Any) -> int | None:
        value = super().clean(value)
        if (
            value is not None
            and not self.model._default_manager.filter(pk=value).exists()
        ):
            raise ValidationError(
                "There is no %(noun)s %(id)s.",
                code="does_not_exist",
                params={"noun": self.model._meta.verbose_name, "id": value},
            )
        return value


@extend_schema_field({"type": "integer", "minimum": 1, "maximum": MAX_ID})
class ExistingIdFilter(IdFilter):
    field_class = ExistingIdField


class HandoffFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(
        choices=Handoff.Status.choices,
        help_text="Repeat for several: ?status=pending&status=expired",
    )
    assigned_to = UsernameFilter(
        method="filter_assigned_to",
        help_text="The assigned SDR's username, or `me`.",
    )
    sla = ExistingIdFilter(field_name="sla_id", model=SLA, help_text="The SLA's id.")
    lead = ExistingIdFilter(
        field_name="lead_id", model=Lead, help_text="The lead's id."
    )
    due_after, due_before = time_range("due_at", "Due")

    class Meta:
        model = Handoff
        fields = ["status", "assigned_to", "sla", "lead"]

    def filter_assigned_to(
        self, queryset: QuerySet[Handoff], name: str, value: str
    ) -> QuerySet[Handoff]:
        if value == ME:
            return queryset.filter(assigned_to=self.request.user)
        return queryset.filter(assigned_to__username=value)


class RejectionReasonFilter(django_filters.FilterSet):
    audience = django_filters.ChoiceFilter(
        choices=RejectionReason.Audience.choices,
        help_text="`sdr`: reasons to reject an MQL; `sales`: to send a lead back.",
    )
    active = django_filters.ChoiceFilter(
        choices=[("true", "Active only"), ("false", "Retired only")],
        method="filter_active",
        help_text="`true`: the reasons that can be chosen now.",
    )

    class Meta:
        model = RejectionReason
        fields = ["audience"]

    def filter_active(
        self, queryset: QuerySet[RejectionReason], name: str, value: str
    ) -> QuerySet[RejectionReason]:
        return queryset.filter(is_active=value == "true")
