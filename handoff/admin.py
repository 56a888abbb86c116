"""Django admin of the handoff app: calendars, teams, SLAs, reasons, handoffs.

The configuration (business calendars, SDR teams, sales profiles, SLAs and
rejection reasons) is edited here; the handoffs and what hangs off them
(contact attempts, events, sales outcomes) are records of what happened and
are shown read-only. A handoff's status and decision change only through
``handoff/services.py`` (the SAL queue and the escalation ladder), so no
form here can set them. Where a setting has a service (adding a team member
levels the round robin, marking someone away), the admin calls it.

Lists are built like the leads admin's: related rows joined, the big tables
counted up to ``COUNT_CAP`` rows and searched by exact e-mail.
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from handoff import services
from handoff.models import (
    BusinessCalendar,
    ContactAttempt,
    Handoff,
    HandoffEvent,
    Holiday,
    RejectionReason,
    SalesOutcome,
    SalesProfile,
    ServiceLevelAgreement,
    Team,
    TeamMember,
)
from handoff.validation import conditions_clean
from leads.admin import CappedCountPaginator
from leads.models import Lead

#: The read-only inline table the leads admin uses for audit rows.
READONLY_INLINE_TEMPLATE = "admin/leads/readonly_tabular_inline.html"


def _lead_link(lead: Lead) -> str:
    url = reverse("admin:leads_lead_change", args=[lead.pk])
    return format_html('<a href="{}">{}</a>', url, lead.email)


class ReadOnlyAdminMixin:
    """Viewable, never added, changed or deleted from the admin."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# Business calendars
# ------------------------------------------------------------------------------


class HolidayInline(admin.TabularInline):
    model = Holiday
    fields = ("date", "name")
    extra = 1


@admin.register(BusinessCalendar)
class BusinessCalendarAdmin(admin.ModelAdmin):
    """When SLA clocks run: working days and hours in a time zone, holidays."""

    list_display = ("name", "time_zone", "working_days", "hours", "holiday_count")
    search_fields = ("name",)
    fieldsets = (
        (None, {"fields": ("name", "time_zone")}),
        (
            "Working days",
            {
                "fields": (
                    ("monday", "tuesday", "wednesday", "thursday", "friday"),
                    ("saturday", "sunday"),
                )
            },
        ),
        (
            "Working hours",
            {
                "fields": (("day_start", "day_end"),),
                "description": "Local wall-clock time in the calendar's time zone.",
            },
        ),
    )
    inlines = [HolidayInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[BusinessCalendar]:
        return super().get_queryset(request).prefetch_related("holidays")

    @admin.display(description="Working days")
    def working_days(self, obj: BusinessCalendar) -> str:
        return ", ".join(
            day[:3].capitalize()
            for day in BusinessCalendar.DAY_FIELDS
            if getattr(obj, day)
        )

    @admin.display(description="Hours")
    def hours(self, obj: BusinessCalendar) -> str:
        return f"{obj.day_start:%H:%M}-{obj.day_end:%H:%M}"

    @admin.display(description="Holidays")
    def holiday_count(self, obj: BusinessCalendar) -> int:
        return len(obj.holidays.all())


# Teams and people
# ------------------------------------------------------------------------------


class TeamMemberInline(admin.TabularInline):
    """The team's SDRs; the assignment counters are the round robin's own."""

    model = TeamMember
    fields = (
        "user",
        "is_active",
        "weight",
        "daily_cap",
        "open_cap",
        "assigned_count",
        "last_assigned_at",
    )
    readonly_fields = ("assigned_count", "last_assigned_at")
    extra = 1

    def get_queryset(self, request: HttpRequest) -> QuerySet[TeamMember]:
        return super().get_queryset(request).select_related("user")


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    """SDR teams: who shares a queue, and how new MQLs are spread among them."""

    list_display = ("name", "strategy", "member_names")
    list_filter = ("strategy",)
    search_fields = ("name",)
    fields = ("name", "strategy", "turn")
    readonly_fields = ("turn",)
    inlines = [TeamMemberInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Team]:
        return super().get_queryset(request).prefetch_related("memberships__user")

    @admin.display(description="Members")
    def member_names(self, obj: Team) -> str:
        return ", ".join(
            m.user.get_username() for m in obj.memberships.all() if m.is_active
        )

    def save_formset(
        self,
        request: HttpRequest,
        form: forms.ModelForm,
        formset: BaseInlineFormSet,
        change: bool,
    ) -> None:
        """Add newcomers through ``team_member_add``, level with the others.

        A member added with zero assignments would otherwise take every new
        MQL until they caught up. Existing members keep their counters; only
        their settings are saved.
        """
        if formset.model is not TeamMember:
            super().save_formset(request, form, formset, change)
            return
        members = formset.save(commit=False)
        for member in formset.deleted_objects:
            member.delete()
        settings = ["is_active", "weight", "daily_cap", "open_cap"]
        for member in members:
            if member.pk is None:
                added = services.team_member_add(
                    team=form.instance, user=member.user, weight=member.weight
                )
                TeamMember.objects.filter(id=added.id).update(
                    **{name: getattr(member, name) for name in settings}
                )
                member.pk = added.pk
            else:
                member.save(update_fields=settings)
        formset.save_m2m()


@admin.register(SalesProfile)
class SalesProfileAdmin(admin.ModelAdmin):
    """Who is away (gets no new handoffs) and who manages the SDR teams."""

    list_display = ("user", "is_away", "away_until", "is_manager")
    list_filter = ("is_away", "is_manager")
    list_select_related = ("user",)
    search_fields = ("user__username", "user__first_name", "user__last_name")
    fields = ("user", ("is_away", "away_until"), "is_manager")

    def get_readonly_fields(
        self, request: HttpRequest, obj: SalesProfile | None = None
    ) -> tuple[str, ...]:
        return ("user",) if obj is not None else ()

    def save_model(
        self,
        request: HttpRequest,
        obj: SalesProfile,
        form: forms.ModelForm,
        change: bool,
    ) -> None:
        super().save_model(request, obj, form, change)
        # Availability has its service: a person back clears the return date.
        services.availability_set(
            user=obj.user, is_away=obj.is_away, away_until=obj.away_until
        )
        obj.refresh_from_db()


# SLAs and rejection reasons
# ------------------------------------------------------------------------------


class PrettyJSONField(forms.JSONField):
    """A JSON field shown indented, one condition per block, for people to edit."""

    def prepare_value(self, value: Any) -> str:
        if isinstance(value, forms.fields.InvalidJSONInput):
            return value
        return json.dumps(value, indent=2, ensure_ascii=False, cls=self.encoder)


class SlaAdminForm(forms.ModelForm):
    """The SLA with its conditions checked as the matching code reads them."""

    conditions = PrettyJSONField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 10, "cols": 80}),
        help_text=ServiceLevelAgreement._meta.get_field("conditions").help_text,
    )

    class Meta:
        model = ServiceLevelAgreement
        fields = (
            "name",
            "is_active",
            "is_default",
            "reroute_only",
            "priority",
            "conditions",
            "team",
            "calendar",
            "accept_within_hours",
            "at_risk_percent",
            "follow_up_within_hours",
            "escalation_email",
            "volume_commitment",
            "volume_period",
            "notes",
        )

    def clean_conditions(self) -> list[dict[str, Any]]:
        # The model's clean() says the same, but as an error of the whole
        # form; here the message sits on the field a person has to fix.
        try:
            return conditions_clean(self.cleaned_data.get("conditions"))
        except ValidationError as exc:
            raise ValidationError(exc.messages) from exc


@admin.register(ServiceLevelAgreement)
class ServiceLevelAgreementAdmin(admin.ModelAdmin):
    """The written marketing-sales agreements and which MQLs each covers."""

    form = SlaAdminForm
    list_display = (
        "name",
        "priority",
        "is_active",
        "is_default",
        "reroute_only",
        "team",
        "calendar",
        "accept_within_hours",
        "volume_commitment",
        "volume_period",
    )
    list_display_links = ("name",)
    list_filter = ("is_active", "is_default", "reroute_only", "team", "calendar")
    list_select_related = ("team", "calendar")
    search_fields = ("name", "notes")
    readonly_fields = ("created_at", "updated_at")
    fieldsets = (
        (
            "Coverage",
            {
                "fields": (
                    "name",
                    ("is_active", "is_default", "reroute_only"),
                    "priority",
                    "conditions",
                ),
                "description": (
                    "Each MQL goes to the active SLA with the lowest priority "
                    "number whose conditions all hold, else to the default SLA."
                ),
            },
        ),
        ("Who and when", {"fields": ("team", "calendar")}),
        (
            "Timers",
            {
                "fields": (
                    "accept_within_hours",
                    "at_risk_percent",
                    "follow_up_within_hours",
                    "escalation_email",
                )
            },
        ),
        ("Volume", {"fields": (("volume_commitment", "volume_period"),)}),
        ("Notes", {"fields": ("notes",)}),
        ("Record", {"fields": (("created_at", "updated_at"),)}),
    )


class RejectionReasonAdminForm(forms.ModelForm):
    class Meta:
        model = RejectionReason
        fields = (
            "code",
            "label",
            "audience",
            "action",
            "reroute_sla",
            "cooldown_days",
            "feedback_required",
            "min_attempts",
            "is_active",
            "position",
        )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        action = cleaned.get("action")
        if action == RejectionReason.Action.REROUTE and not cleaned.get("reroute_sla"):
            self.add_error(
                "reroute_sla", "A reroute reason needs the SLA to reroute to."
            )
        return cleaned


@admin.register(RejectionReason)
class RejectionReasonAdmin(admin.ModelAdmin):
    """The managed lists of SDR and sales reasons; codes are public (API)."""

    form = RejectionReasonAdminForm
    list_display = (
        "label",
        "code",
        "audience",
        "action",
        "cooldown_days",
        "feedback_required",
        "min_attempts",
        "is_active",
        "position",
    )
    list_display_links = ("label",)
    list_editable = ("is_active", "position")
    list_filter = ("audience", "action", "is_active")
    list_select_related = ("reroute_sla",)
    search_fields = ("code", "label")
    fields = (
        "code",
        "label",
        "audience",
        "action",
        "reroute_sla",
        "cooldown_days",
        ("feedback_required", "min_attempts"),
        ("is_active", "position"),
    )

    def get_readonly_fields(
        self, request: HttpRequest, obj: RejectionReason | None = None
    ) -> tuple[str, ...]:
        # Handoffs, the API and reports name a reason by its code.
        return ("code",) if obj is not None else ()

    def has_delete_permission(
        self, request: HttpRequest, obj: RejectionReason | None = None
    ) -> bool:
        # Decisions keep their reason; retire one with "active" instead.
        return False


# Handoffs and their records
# ------------------------------------------------------------------------------


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
        return _lead_link(obj.lead)


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
        return _lead_link(obj.handoff.lead)


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
        return _lead_link(obj.lead)
