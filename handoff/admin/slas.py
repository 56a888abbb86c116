"""Admin of the handoff rules: SLAs with their JSON conditions (checked by
``handoff.validation``) and the rejection reasons a decision may cite."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.http import HttpRequest

from handoff.models import RejectionReason, ServiceLevelAgreement
from handoff.validation import conditions_clean


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
            "sales_routing",
            "sales_team",
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
        "sales_routing",
        "sales_team",
        "accept_within_hours",
        "volume_commitment",
        "volume_period",
    )
    list_display_links = ("name",)
    list_filter = ("is_active", "is_default", "reroute_only", "team", "calendar")
    list_select_related = ("team", "calendar", "sales_team")
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
            "Sales routing",
            {
                "fields": ("sales_routing", "sales_team"),
                "description": (
                    "Which sales rep an accepted lead goes to. An SDR may always "
                    "pick another active rep in the accept form. With routing "
                    "“Sales team” and no sales team set, the accepting SDR keeps "
                    "the lead (the behaviour before sales routing existed)."
                ),
            },
        ),
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
