"""Read-only admins of the records of what happened: stage transitions and the
audit log.
"""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from leads.admin.shared import CappedCountPaginator, lead_link
from leads.models import AuditEvent, StageTransition


@admin.register(StageTransition)
class StageTransitionAdmin(admin.ModelAdmin):
    """The lifecycle's audit log: viewable, never written from the admin."""

    list_display = (
        "lead_email",
        "from_stage",
        "to_stage",
        "at",
        "actor_name",
        "reason",
    )
    list_display_links = ("at",)
    list_filter = ("to_stage", "from_stage", "system_actor")
    list_select_related = ("lead", "actor")
    search_fields = ("lead__email", "reason")
    date_hierarchy = "at"
    show_full_result_count = False
    paginator = CappedCountPaginator
    # Newest recorded first, served by the primary key (no index leads with "at").
    ordering = ("-id",)
    fields = ("lead", "from_stage", "to_stage", "at", "actor", "system_actor", "reason")

    @admin.display(description="Lead")
    def lead_email(self, obj: StageTransition) -> str:
        return lead_link(obj.lead)

    @admin.display(description="Actor")
    def actor_name(self, obj: StageTransition) -> str:
        return obj.actor_display

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(
        self, request: HttpRequest, obj: StageTransition | None = None
    ) -> bool:
        return False

    def has_delete_permission(
        self, request: HttpRequest, obj: StageTransition | None = None
    ) -> bool:
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """The audit log (``leads.audit``): viewable, never written from the admin."""

    list_display = ("at", "action", "actor", "lead_id", "details")
    list_display_links = ("at",)
    list_filter = ("action",)
    list_select_related = ("actor",)
    search_fields = ("=lead_id",)
    search_help_text = "Search by the exact lead id."
    date_hierarchy = "at"
    show_full_result_count = False
    paginator = CappedCountPaginator
    # Newest recorded first, served by the primary key.
    ordering = ("-id",)
    fields = ("at", "action", "actor", "lead_id", "details")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(
        self, request: HttpRequest, obj: AuditEvent | None = None
    ) -> bool:
        return False

    def has_delete_permission(
        self, request: HttpRequest, obj: AuditEvent | None = None
    ) -> bool:
        return False
