"""Read-only admin of handoffs and what hangs off them: contact attempts,
events and sales outcomes, as inlines on the handoff and as lists of their own.

Lists are built like the leads admin's: related rows joined, the big tables
counted up to ``COUNT_CAP`` rows and searched by exact e-mail."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from handoff.models import ContactAttempt, Handoff, HandoffEvent, SalesOutcome
from leads.admin.read_only import ReadOnlyAdminMixin
from leads.admin.shared import CappedCountPaginator, lead_link

#: The read-only inline table the leads admin uses for audit rows.
READONLY_INLINE_TEMPLATE = "admin/leads/readonly_tabular_inline.html"


class ContactAttemptInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = ContactAttempt
    template = READONLY_INLINE_TEMPLATE
    fields = ("at", "user", "channel", "outcome", "note")
    readonly_fields = fields
    ordering = ("at", "id")
    extra = 0
    can_delete = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[ContactAttempt]:
        return super().get_queryset(request).select_related("user")


class HandoffEventInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = HandoffEvent
    template = READONLY_INLINE_TEMPLATE
    fields = ("at", "kind", "actor", "detail")
    readonly_fields = fields
    ordering = ("at", "id")
    extra = 0
    can_delete = False
    verbose_name_plural = "history"

    def get_queryset(self, request: HttpRequest) -> QuerySet[HandoffEvent]:
        return super().get_queryset(request).select_related("actor")


class SalesOutcomeInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = SalesOutcome
    template = READONLY_INLINE_TEMPLATE
    fields = ("at", "from_stage", "to_stage", "reason", "feedback", "actor")
    readonly_fields = fields
    ordering = ("at", "id")
    extra = 0
    can_delete = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[SalesOutcome]:
        return super().get_queryset(request).select_related("reason", "actor")


@admin.register(Handoff)
class HandoffAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Handoffs, read-only: they are decided in the SAL queue, never here."""

    list_display = (
        "id",
        "lead_email",
        "sla",
        "status",
        "assigned_to",
        "created_at",
        "due_at",
        "decided_at",
        "reason",
    )
    list_display_links = ("id",)
    list_filter = (
        "status",
        "sla",
        ("assigned_to", admin.RelatedOnlyFieldListFilter),
        "reason",
    )
    list_select_related = ("lead", "sla", "assigned_to", "reason")
    search_fields = ("lead__email__iexact",)
    search_help_text = "Search by the lead's exact e-mail."
    date_hierarchy = "created_at"
    show_full_result_count = False
    paginator = CappedCountPaginator
    # Newest first, served by the created_at index.
    ordering = ("-created_at", "-id")
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "lead_email",
                    ("sla", "team"),
                    ("status", "sequence", "previous"),
                    "assigned_to",
                ),
                "description": (
                    "Handoffs are accepted or rejected in the SAL queue and "
                    "expired by the SLA timers; they change nowhere else."
                ),
            },
        ),
        (
            "Times",
            {
                "fields": (
                    ("mql_at", "created_at"),
                    ("at_risk_at", "due_at"),
                    ("reminded_at", "expired_at"),
                    "first_attempt_at",
                )
            },
        ),
        (
            "Decision",
            {"fields": (("decided_at", "decided_by"), "reason", "feedback")},
        ),
        (
            "Sales follow-up",
            {
                "fields": (
                    "owner",
                    ("follow_up_due_at", "followed_up_at"),
                    "follow_up_breached_at",
                )
            },
        ),
        (
            "Score at handoff",
            {
                "fields": (
                    ("score", "fit_score", "engagement_score", "grade"),
                    "scoring_model",
                    "score_breakdown",
                )
            },
        ),
    )
    readonly_fields = ("lead_email",)
    inlines = [ContactAttemptInline, HandoffEventInline, SalesOutcomeInline]

    @admin.display(description="Lead", ordering="lead__email")
    def lead_email(self, obj: Handoff) -> str:
        return lead_link(obj.lead)


class _HandoffRecordAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """A read-only list of rows that belong to handoffs, newest first."""

    show_full_result_count = False
    paginator = CappedCountPaginator
    date_hierarchy = "at"
    # Newest recorded first, served by the primary key.
    ordering = ("-id",)

    @admin.display(description="Handoff")
    def handoff_link(self, obj: Any) -> str:
        if obj.handoff_id is None:
            return "-"
        url = reverse("admin:handoff_handoff_change", args=[obj.handoff_id])
        return format_html('<a href="{}">{}</a>', url, obj.handoff_id)


@admin.register(ContactAttempt)
class ContactAttemptAdmin(_HandoffRecordAdmin):
    list_display = ("at", "handoff_link", "lead_email", "user", "channel", "outcome")
    list_display_links = ("at",)
    list_filter = ("channel", "outcome")
    list_select_related = ("handoff__lead", "user")
    search_fields = ("handoff__lead__email__iexact",)
    search_help_text = "Search by the lead's exact e-mail."
    fields = ("handoff", "user", "channel", "outcome", "note", "at")

    @admin.display(description="Lead")
    def lead_email(self, obj: ContactAttempt) -> str:
        return lead_link(obj.handoff.lead)


@admin.register(HandoffEvent)
class HandoffEventAdmin(_HandoffRecordAdmin):
    list_display = ("at", "handoff_link", "kind", "actor", "detail")
    list_display_links = ("at",)
    list_filter = ("kind",)
    list_select_related = ("actor",)
    search_fields = ("handoff__lead__email__iexact",)
    search_help_text = "Search by the lead's exact e-mail."
    fields = ("handoff", "kind", "at", "actor", "detail")


@admin.register(SalesOutcome)
class SalesOutcomeAdmin(_HandoffRecordAdmin):
    list_display = (
        "at",
        "lead_email",
        "handoff_link",
        "from_stage",
        "to_stage",
        "reason",
        "actor",
    )
    list_display_links = ("at",)
    list_filter = ("to_stage", "reason")
    list_select_related = ("lead", "reason", "actor")
    search_fields = ("lead__email__iexact",)
    search_help_text = "Search by the lead's exact e-mail."
    fields = (
        "lead",
        "handoff",
        ("from_stage", "to_stage"),
        "reason",
        "feedback",
        "actor",
        "at",
    )

    @admin.display(description="Lead")
    def lead_email(self, obj: SalesOutcome) -> str:
        return lead_link(obj.lead)
