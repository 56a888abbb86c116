"""Admin of who works when: business calendars with their holidays, SDR teams
with their members (adding one levels the round robin) and sales profiles."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest

from handoff import services
from handoff.models import BusinessCalendar, Holiday, SalesProfile, Team, TeamMember

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
