"""Admin of touchpoints and touchpoint kinds: records of what happened, listed
by source and linked to their lead.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import ForeignKey, QuerySet
from django.forms import ModelChoiceField
from django.http import HttpRequest

from leads.admin.shared import CappedCountPaginator, lead_link
from leads.edit_scope import TOUCHPOINT_FIELDS
from leads.forms import TouchpointAdminForm
from leads.models import Touchpoint, TouchpointKind


class TouchpointSourceFilter(admin.SimpleListFilter):
    """Filter by delivering system without a DISTINCT over every touchpoint."""

    title = "source"
    parameter_name = "source"

    def lookups(
        self, request: HttpRequest, model_admin: admin.ModelAdmin
    ) -> list[tuple[str, str]]:
        return [
            ("api", "API"),
            ("form", "Web forms"),
            ("import", "Import"),
            ("admin", "Admin"),
            ("demo", "Demo data"),
        ]

    def queryset(
        self, request: HttpRequest, queryset: QuerySet[Touchpoint]
    ) -> QuerySet[Touchpoint]:
        value = self.value()
        if value == "form":
            return queryset.filter(source__startswith="form:")
        if value:
            return queryset.filter(source=value)
        return queryset


@admin.register(Touchpoint)
class TouchpointAdmin(admin.ModelAdmin):
    """Touchpoints are immutable: added and viewed, deleted by superusers only."""

    form = TouchpointAdminForm
    list_display = (
        "occurred_at",
        "kind",
        "lead_email",
        "campaign",
        "source",
        "external_id",
        "received_at",
    )
    list_filter = ("kind", TouchpointSourceFilter, "campaign")
    list_select_related = ("lead", "kind", "campaign")
    # Exact matches only: a substring search would scan 20M rows.
    search_fields = ("lead__email__iexact", "external_id__exact")
    search_help_text = "Search by the lead's exact e-mail or an external id."
    date_hierarchy = "occurred_at"
    raw_id_fields = ("lead",)
    show_full_result_count = False
    paginator = CappedCountPaginator
    # Newest stored first: the primary key serves this order, while sorting
    # 20M rows by occurred_at needs an index the table does not have.
    ordering = ("-id",)
    fields = (*TOUCHPOINT_FIELDS, "received_at")
    readonly_fields = ("received_at",)

    @admin.display(description="Lead")
    def lead_email(self, obj: Touchpoint) -> str:
        return lead_link(obj.lead)

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        return {"source": "admin", **super().get_changeform_initial_data(request)}

    def formfield_for_foreignkey(
        self, db_field: ForeignKey, request: HttpRequest, **kwargs: Any
    ) -> ModelChoiceField | None:
        if db_field.name == "kind":
            kwargs["queryset"] = TouchpointKind.objects.filter(is_active=True)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def has_change_permission(
        self, request: HttpRequest, obj: Touchpoint | None = None
    ) -> bool:
        return False

    def has_delete_permission(
        self, request: HttpRequest, obj: Touchpoint | None = None
    ) -> bool:
        return request.user.is_active and request.user.is_superuser


@admin.register(TouchpointKind)
class TouchpointKindAdmin(admin.ModelAdmin):
    """The managed list of kinds; a code is public (API) and never changes."""

    list_display = ("code", "label", "is_high_intent", "is_active")
    list_filter = ("is_high_intent", "is_active")
    search_fields = ("code", "label")
    fields = ("code", "label", "description", "is_high_intent", "is_active")

    def get_readonly_fields(
        self, request: HttpRequest, obj: TouchpointKind | None = None
    ) -> tuple[str, ...]:
        return ("code",) if obj is not None else ()

    def has_delete_permission(
        self, request: HttpRequest, obj: TouchpointKind | None = None
    ) -> bool:
        # Touchpoints protect their kind; retire a kind with "active" instead.
        return False
