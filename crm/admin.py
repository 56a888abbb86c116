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
