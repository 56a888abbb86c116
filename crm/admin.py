"""Admin site settings, the user admin with the users' roles, API tokens.

A role is a group (``crm.roles``); the user list shows each user's groups and
filters by them, everything else is Django's own user admin, with two
changes for people who leave:

- someone who owns work (leads, accounts, pending handoffs, accepted
  handoffs still in the pipeline) cannot be deleted; the delete link leads
  to "Deactivate and reassign" instead, which hands their work to another
  person through ``handoff.services.user_deactivate`` (audited). People who
  own nothing are deleted through ``handoff.services.user_delete`` (audited);
- no page shows an API token's key: DRF's token admin (which lists keys) is
  replaced by a read-only list of who has a token and since when, and a
  user's delete confirmation names their token without its key.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.actions import delete_selected
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.safestring import SafeString, mark_safe

# Imported first so that DRF's token admin is registered before it is replaced.
from rest_framework.authtoken import admin as _drf_token_admin  # noqa: F401
from rest_framework.authtoken.models import Token, TokenProxy

from crm.models import FailedTask, MqlPlan
from handoff.exceptions import DecisionInvalid
from handoff.selectors import user_owned_work
from handoff.services import (
    OWNER_ROLES,
    owned_work_text,
    user_deactivate,
    user_delete,
)
from leads.admin.read_only import ReadOnlyAdminMixin

User = get_user_model()

admin.site.site_header = "Records"
admin.site.site_title = "Leadflow"
admin.site.index_title = "Records behind the pages"
# Lead and touchpoint lists are wide (nine columns plus filters); the app list
# stays one click away on the index page and in the breadcrumbs.
admin.site.enable_nav_sidebar = False

admin.site.unregister(User)


def token_hint(key: str) -> str:
    """What a page may show of an API key: its first four characters."""
    return f"{key[:4]}…"


def _mask_keys(items: Any, keys: list[str]) -> Any:
    """The delete confirmation's nested list with every token key masked."""
    if isinstance(items, list):
        return [_mask_keys(item, keys) for item in items]
    text = str(items)
    for key in keys:
        text = text.replace(key, token_hint(key))
    # The entries are the admin's own escaped HTML; a masked key is plain hex.
    return mark_safe(text) if isinstance(items, SafeString) else text  # nosec B308 B703


class ReassignForm(forms.Form):
    """Who takes over the work of a person who is leaving."""

    to_user = forms.ModelChoiceField(
        queryset=User.objects.none(),
        required=False,
        label="Hand their work to",
        help_text="An active SDR, sales rep or admin. Leave empty only when "
        "they own nothing.",
    )

    def __init__(self, *args: Any, leaving: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["to_user"]
        field.queryset = (
            User.objects.filter(is_active=True, groups__name__in=OWNER_ROLES)
            .exclude(pk=leaving.pk)
            .distinct()
            .order_by("username")
        )
        field.label_from_instance = _user_label


def _user_label(user: Any) -> str:
    full_name = user.get_full_name()
    return f"{full_name} ({user.username})" if full_name else user.username


@admin.register(User)
class LeadflowUserAdmin(UserAdmin):
    """Django's user admin plus a Roles column; the group filter comes first.

    People who own work are deactivated and their work reassigned, never
    deleted (see the module docstring).
    """

    list_display = (*UserAdmin.list_display, "roles")
    list_filter = ("groups", "is_staff", "is_superuser", "is_active")
    actions = ("deactivate_and_reassign",)

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        # One query for every listed user's groups instead of one per row.
        return super().get_queryset(request).prefetch_related("groups")

    @admin.display(description="Roles")
    def roles(self, obj: User) -> str:
        return ", ".join(sorted(group.name for group in obj.groups.all()))

    def get_urls(self) -> list[Any]:
        return [
            path(
                "<path:object_id>/deactivate/",
                self.admin_site.admin_view(self.deactivate_view),
                name="auth_user_deactivate",
            ),
            *super().get_urls(),
        ]

    # Deleting
    # --------------------------------------------------------------------------

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)
        if "delete_selected" in actions:
            _, name, description = actions["delete_selected"]
            actions["delete_selected"] = (
                LeadflowUserAdmin.delete_selected_who_own_nothing,
                name,
                description,
            )
        return actions

    def delete_selected_who_own_nothing(
        self, request: HttpRequest, queryset: QuerySet
    ) -> HttpResponse | None:
        """Django's bulk delete, refused when a selected person owns work."""
        refused = [
            owned_work_text(user, owned)
            for user in queryset.order_by("username")
            if any((owned := user_owned_work(user_id=user.pk)).values())
        ]
        if refused:
            for text in refused:
                self.message_user(request, text, messages.ERROR)
            self.message_user(request, "Nobody was deleted.", messages.WARNING)
            return None
        return delete_selected(self, request, queryset)

    def delete_view(
        self,
        request: HttpRequest,
        object_id: str,
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        user = self.get_object(request, object_id)
        if user is not None and self.has_delete_permission(request, user):
            owned = user_owned_work(user_id=user.pk)
            if any(owned.values()):
                self.message_user(request, owned_work_text(user, owned), messages.ERROR)
                return HttpResponseRedirect(
                    reverse("admin:auth_user_deactivate", args=[user.pk])
                )
        try:
            return super().delete_view(request, object_id, extra_context)
        except DecisionInvalid as exc:  # work handed to them meanwhile
            self.message_user(request, exc.message, messages.ERROR)
            return HttpResponseRedirect(
                reverse("admin:auth_user_change", args=[object_id])
            )

    def get_deleted_objects(
        self, objs: Any, request: HttpRequest
    ) -> tuple[list[Any], dict[str, int], set[str], list[Any]]:
        deleted, model_count, perms_needed, protected = super().get_deleted_objects(
            objs, request
        )
        # A token's text is its key; the confirmation names it masked.
        keys = list(
            Token.objects.filter(user__in=[o.pk for o in objs]).values_list(
                "key", flat=True
            )
        )
        return (
            _mask_keys(deleted, keys),
            model_count,
            perms_needed,
            _mask_keys(protected, keys),
        )

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        user_delete(user=obj, actor=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        for user in queryset.order_by("pk"):
            user_delete(user=user, actor=request.user)

    # Deactivating
    # --------------------------------------------------------------------------

    @admin.action(
        description="Deactivate and reassign their work", permissions=["change"]
    )
    def deactivate_and_reassign(
        self, request: HttpRequest, queryset: QuerySet
    ) -> HttpResponse | None:
        """Open the deactivation page of the one selected person."""
        ids = list(queryset.values_list("pk", flat=True)[:2])
        if len(ids) != 1:
            self.message_user(
                request,
                "Select one person at a time to deactivate and reassign.",
                messages.WARNING,
            )
            return None
        return HttpResponseRedirect(reverse("admin:auth_user_deactivate", args=ids))

    def deactivate_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Show what the person owns, ask who takes it over, then deactivate."""
        user = self.get_object(request, object_id)
        if user is None:
            raise Http404("No such user.")
        if not self.has_change_permission(request, user):
            raise PermissionDenied
        owned = user_owned_work(user_id=user.pk)
        form = ReassignForm(
            request.POST if request.method == "POST" else None, leaving=user
        )
        if request.method == "POST" and form.is_valid():
            try:
                user_deactivate(
                    user=user,
                    to_user=form.cleaned_data["to_user"],
                    actor=request.user,
                )
            except DecisionInvalid as exc:
                for field, message in exc.errors.items():
                    form.add_error(field if field in form.fields else None, message)
            else:
                to_user = form.cleaned_data["to_user"]
                self.message_user(
                    request,
                    f"{user} is deactivated"
                    + (f"; their work now belongs to {to_user}." if to_user else "."),
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(
                    reverse("admin:auth_user_change", args=[user.pk])
                )
        context = {
            **self.admin_site.each_context(request),
            "title": f"Deactivate {user} and reassign their work",
            "opts": self.opts,
            "original": user,
            "owned": [
                (label, owned[key])
                for key, label in (
                    ("leads", "Leads they own"),
                    ("accounts", "Accounts they own"),
                    ("pending_handoffs", "Pending handoffs assigned to them"),
                    ("accepted_handoffs", "Accepted handoffs in their pipeline"),
                )
            ],
            "owns_work": any(owned.values()),
            "adminform": helpers.AdminForm(form, [(None, {"fields": ["to_user"]})], {}),
            "media": self.media + form.media,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/auth/user/deactivate.html", context)


# API tokens
# ------------------------------------------------------------------------------

admin.site.unregister(TokenProxy)


@admin.register(TokenProxy)
class ApiTokenAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Who has an API token and since when; never the key.

    Keys are issued with ``manage.py drf_create_token`` and shown once, there.
    The list cannot open, add, change or delete a token (each of those pages
    would print the key as the token's name); a deactivated person's token
    stops working by itself.
    """

    list_display = ("user", "key_hint", "created")
    list_display_links = None
    list_select_related = ("user",)
    search_fields = ("user__username",)
    ordering = ("-created",)

    @admin.display(description="Key")
    def key_hint(self, obj: TokenProxy) -> str:
        return token_hint(obj.key)

    def has_view_permission(
        self, request: HttpRequest, obj: TokenProxy | None = None
    ) -> bool:
        return obj is None and super().has_view_permission(request)


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


@admin.register(MqlPlan)
class MqlPlanAdmin(admin.ModelAdmin):
    """Saved MQL plans, read-only: the planner (``/planner/``) saves and
    deletes them through ``crm.marketing.plans``, with their audit rows."""

    list_display = ("name", "start", "end", "target_kind", "target_value", "created_by")
    list_select_related = ("created_by",)
    search_fields = ("name",)
    date_hierarchy = "created_at"
    readonly_fields = (
        "name",
        "start",
        "end",
        "reference_start",
        "reference_end",
        "target_kind",
        "target_value",
        "average_deal",
        "figures",
        "computed_at",
        "created_by",
        "created_at",
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(
        self, request: HttpRequest, obj: MqlPlan | None = None
    ) -> bool:
        return False

    def has_delete_permission(
        self, request: HttpRequest, obj: MqlPlan | None = None
    ) -> bool:
        # Deleting goes through the planner's page, which writes its audit row.
        return False
