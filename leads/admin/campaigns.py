"""Admin of campaigns and web forms: campaigns with their lead counts and a
guarded delete, public web forms with their allowed origins and submit URL.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db import transaction
from django.db.models import ForeignKey, QuerySet
from django.forms import ModelChoiceField
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html

from leads.admin.shared import count_of, dollars
from leads.campaigns import CampaignInUse, campaign_delete, campaign_in_use
from leads.forms import CampaignAdminForm, WebFormAdminForm
from leads.models import Campaign, Touchpoint, TouchpointKind, WebForm


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    form = CampaignAdminForm
    list_display = (
        "name",
        "channel",
        "utm_source",
        "utm_medium",
        "utm_campaign",
        "budget_dollars",
        "starts_on",
        "ends_on",
        "touchpoint_count",
    )
    list_filter = ("channel", "starts_on")
    search_fields = ("name", "utm_source", "utm_medium", "utm_campaign")
    readonly_fields = ("created_at",)
    fieldsets = (
        ("Campaign", {"fields": ("name", "channel")}),
        (
            "UTM keys",
            {
                "fields": ("utm_source", "utm_medium", "utm_campaign"),
                "description": "Touchpoints name their campaign by these keys.",
            },
        ),
        ("Budget and dates", {"fields": ("budget", ("starts_on", "ends_on"))}),
        ("Record", {"fields": ("created_at",)}),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Campaign]:
        return (
            super()
            .get_queryset(request)
            .annotate(touchpoint_count=count_of(Touchpoint, "campaign"))
        )

    @admin.display(description="Budget", ordering="budget")
    def budget_dollars(self, obj: Campaign) -> str | None:
        return dollars(obj.budget)

    @admin.display(description="Touchpoints", ordering="touchpoint_count")
    def touchpoint_count(self, obj: Campaign) -> str:
        url = reverse("admin:leads_touchpoint_changelist")
        return format_html(
            '<a href="{}?campaign__id__exact={}">{}</a>',
            url,
            obj.pk,
            obj.touchpoint_count,
        )

    # Touchpoints and web forms protect their campaign (``campaign_delete``);
    # the page says so up front instead of listing every touchpoint.

    def delete_view(
        self,
        request: HttpRequest,
        object_id: str,
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        campaign = self.get_object(request, object_id)
        allowed = campaign is not None and self.has_delete_permission(request, campaign)
        # Django's view answers the rest (a missing campaign, no permission).
        problem = campaign_in_use(campaign) if allowed else ""
        if not problem:
            try:
                return super().delete_view(request, object_id, extra_context)
            except CampaignInUse as exc:  # a touchpoint arrived meanwhile
                problem = " ".join(exc.messages)
        self.message_user(request, problem, messages.ERROR)
        return HttpResponseRedirect(
            reverse("admin:leads_campaign_change", args=[campaign.pk])
        )

    def delete_model(self, request: HttpRequest, obj: Campaign) -> None:
        campaign_delete(campaign_id=obj.pk, actor=request.user)

    def delete_queryset(
        self, request: HttpRequest, queryset: QuerySet[Campaign]
    ) -> None:
        with transaction.atomic():
            for campaign_id in queryset.order_by("id").values_list("id", flat=True):
                campaign_delete(campaign_id=campaign_id, actor=request.user)


@admin.register(WebForm)
class WebFormAdmin(admin.ModelAdmin):
    """Public web forms: what a submission records and which sites may post it."""

    form = WebFormAdminForm
    list_display = ("name", "key", "kind", "campaign", "is_active")
    list_filter = ("is_active", "kind")
    list_select_related = ("kind", "campaign")
    search_fields = ("name", "key")
    fields = (
        "name",
        "key",
        "kind",
        "campaign",
        "allowed_origins",
        "is_active",
        "endpoint",
        "created_at",
    )

    def get_readonly_fields(
        self, request: HttpRequest, obj: WebForm | None = None
    ) -> tuple[str, ...]:
        # The key is in the marketing site's form URL and in every touchpoint's
        # source ("form:<key>"); changing it would break both.
        if obj is not None:
            return ("key", "endpoint", "created_at")
        return ("endpoint", "created_at")

    @admin.display(description="Submit URL")
    def endpoint(self, obj: WebForm) -> str:
        if obj.pk is None:
            return "-"
        return reverse("form-submit", kwargs={"form_key": obj.key})

    def formfield_for_foreignkey(
        self, db_field: ForeignKey, request: HttpRequest, **kwargs: Any
    ) -> ModelChoiceField | None:
        if db_field.name == "kind":
            kwargs["queryset"] = TouchpointKind.objects.filter(is_active=True)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)
