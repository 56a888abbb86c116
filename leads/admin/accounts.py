"""Admin of accounts: the company-size filter, lead counts and a delete that
keeps the account's leads, detached and rescored.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from leads.accounts import (
    ACCOUNT_EDITABLE_FIELDS,
    account_delete,
    account_lead_count,
    account_update,
)
from leads.admin.shared import OwnerChoicesMixin, RelatedButtonsMixin, count_of, dollars
from leads.forms import AccountAdminForm
from leads.models import Account, Lead

#: The line of an account's delete confirmation that counts the leads it keeps.
DETACHED_LEADS_LABEL = "leads kept, detached from the account and rescored"


class CompanySizeFilter(admin.SimpleListFilter):
    """Employee-count bands, as sales teams segment accounts."""

    title = "company size"
    parameter_name = "size"
    # band -> (lowest, highest) employee count; None is open-ended.
    BANDS: dict[str, tuple[int | None, int | None]] = {
        "1-50": (None, 50),
        "51-200": (51, 200),
        "201-1000": (201, 1000),
        "1001-5000": (1001, 5000),
        "5001+": (5001, None),
    }

    def lookups(
        self, request: HttpRequest, model_admin: admin.ModelAdmin
    ) -> list[tuple[str, str]]:
        bands = [(band, f"{band} employees") for band in self.BANDS]
        return [*bands, ("unknown", "Unknown")]

    def queryset(
        self, request: HttpRequest, queryset: QuerySet[Account]
    ) -> QuerySet[Account]:
        value = self.value()
        if value == "unknown":
            return queryset.filter(employee_count__isnull=True)
        if value not in self.BANDS:
            return queryset
        lowest, highest = self.BANDS[value]
        if lowest is not None:
            queryset = queryset.filter(employee_count__gte=lowest)
        if highest is not None:
            queryset = queryset.filter(employee_count__lte=highest)
        return queryset


@admin.register(Account)
class AccountAdmin(RelatedButtonsMixin, OwnerChoicesMixin, admin.ModelAdmin):
    form = AccountAdminForm
    related_buttons = {"owner": {"view"}}
    list_display = (
        "name",
        "domain",
        "industry",
        "employee_count",
        "revenue",
        "country",
        "owner",
        "lead_count",
    )
    list_filter = ("industry", "country", CompanySizeFilter, "owner")
    list_select_related = ("owner",)
    search_fields = ("name", "domain")
    show_full_result_count = False
    readonly_fields = ("created_at", "updated_at")
    fieldsets = (
        ("Company", {"fields": ("name", "domain", "industry", "country")}),
        ("Size", {"fields": ("employee_count", "annual_revenue")}),
        ("Ownership", {"fields": ("owner",)}),
        ("Record", {"fields": (("created_at", "updated_at"),)}),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Account]:
        return (
            super().get_queryset(request).annotate(lead_count=count_of(Lead, "account"))
        )

    def save_model(
        self, request: HttpRequest, obj: Account, form: AccountAdminForm, change: bool
    ) -> None:
        """A change goes through ``account_update``: its leads are rescored
        and the edit is audited. A new account has no leads yet."""
        if not change:
            super().save_model(request, obj, form, change)
            return
        changed = {
            name: form.cleaned_data[name]
            for name in form.changed_data
            if name in ACCOUNT_EDITABLE_FIELDS
        }
        if changed:
            account_update(account_id=obj.pk, actor=request.user, **changed)

    @admin.display(description="Annual revenue", ordering="annual_revenue")
    def revenue(self, obj: Account) -> str | None:
        return dollars(obj.annual_revenue)

    @admin.display(description="Leads", ordering="lead_count")
    def lead_count(self, obj: Account) -> str:
        url = reverse("admin:leads_lead_changelist")
        return format_html(
            '<a href="{}?account__id__exact={}">{}</a>', url, obj.pk, obj.lead_count
        )

    # Deleting goes through ``account_delete``: the leads stay, detached from
    # the account and marked for a rescore, and the deletion is audited.

    def get_deleted_objects(
        self, objs: Any, request: HttpRequest
    ) -> tuple[list[Any], dict[str, int], set[str], list[Any]]:
        deleted, model_count, perms_needed, protected = super().get_deleted_objects(
            objs, request
        )
        detached = sum(account_lead_count(obj.pk) for obj in objs)
        # The confirmation's summary names the leads that stay, so nobody
        # deletes an account believing it is unused.
        model_count[DETACHED_LEADS_LABEL] = detached
        return deleted, model_count, perms_needed, protected

    def delete_model(self, request: HttpRequest, obj: Account) -> None:
        account_delete(account_id=obj.pk, actor=request.user)

    def delete_queryset(
        self, request: HttpRequest, queryset: QuerySet[Account]
    ) -> None:
        with transaction.atomic():
            for account_id in queryset.order_by("id").values_list("id", flat=True):
                account_delete(account_id=account_id, actor=request.user)
