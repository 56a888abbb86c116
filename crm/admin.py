"""Admin site settings and the user admin with the users' roles.

A role is a group (``crm.roles``); the user list shows each user's groups and
filters by them, everything else is Django's own user admin.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest

from crm.models import FailedTask

User = get_user_model()

admin.site.site_header = "Leadflow administration"
admin.site.site_title = "Leadflow"
admin.site.index_title = "Records"
# Lead and touchpoint lists are wide (nine columns plus filters); the app list
# stays one click away on the index page and in the breadcrumbs.
admin.site.enable_nav_sidebar = False

admin.site.unregister(User)


@admin.register(User)
class LeadflowUserAdmin(UserAdmin):
    """Django's user admin plus a Roles column; the group filter comes first."""

    list_display = (*UserAdmin.list_display, "roles")
    list_filter = ("groups", "is_staff", "is_superuser", "is_active")

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        # One query for every listed user's groups instead of one per row.
        return super().get_queryset(request).prefetch_related("groups")

    @admin.display(description="Roles")
    def roles(self, obj: User) -> str:
        return ", ".join(sorted(group.name for group in obj.groups.all()))


@admin.register(FailedTask)
class FailedTaskAdmin(admin.ModelAdmin):
    """Tasks that gave up, for the operator to look into: read-only.

    Rows are written by the worker (``crm.celery``); nobody adds or edits one
    here. Deleting is allowed, to clear failures that have been dealt with.
    """

    list_display = (
        "failed_at",
        "task_name",
        "lead_ids",
        "exception_class",
        "retries",
        "task_id",
    )
    list_filter = ("task_name", "exception_class")
    search_fields = ("task_id", "task_name", "exception_class", "exception_message")
    date_hierarchy = "failed_at"
    readonly_fields = (
        "task_name",
        "task_id",
        "args",
        "kwargs",
        "lead_ids",
        "exception_class",
        "exception_message",
        "retries",
        "failed_at",
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(
        self, request: HttpRequest, obj: FailedTask | None = None
    ) -> bool:
        return False
