"""Roles: the four groups, what each may do, and where each lands after login.

A role is a Django group. The permissions below are applied by data
migrations in ``crm/migrations`` (add a migration that calls
``sync_role_permissions`` again when a later app adds models).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import TYPE_CHECKING, Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied

from crm.common.roles import ADMIN, MARKETING, ROLES, SALES, SDR, group_names

if TYPE_CHECKING:
    from django.apps.registry import Apps
    from django.http import HttpRequest, HttpResponse

ROLE_DESCRIPTIONS = {
    MARKETING: "Captures leads and campaigns, owns the scoring model.",
    SDR: "Works the SAL queue: accepts or rejects MQLs within the SLA.",
    SALES: "Qualifies accepted leads and logs outcomes.",
    ADMIN: "Manages users, roles and every record.",
}

#: Start page (URL name) of each role.
START_PAGES = {
    ADMIN: "admin:index",
    MARKETING: "crm:marketing_home",
    SDR: "handoff:queue",
    SALES: "handoff:pipeline",
}

#: Models by app, for grants that cover a whole app.
_LEADS_MODELS = (
    "account",
    "lead",
    "campaign",
    "campaignspend",
    "touchpoint",
    "touchpointkind",
    "stagetransition",
)
_SCORING_MODELS = (
    "scoringmodel",
    "scoringrule",
    "leadscore",
    "leadscorehistory",
    "accountscore",
)
_HANDOFF_MODELS = (
    "businesscalendar",
    "holiday",
    "team",
    "teammember",
    "salesprofile",
    "servicelevelagreement",
    "rejectionreason",
    "handoff",
    "contactattempt",
    "handoffevent",
    "salesoutcome",
)


def _view(models: tuple[str, ...], **actions: str) -> dict[str, str]:
    """``view`` on every model, with ``actions`` instead for the ones named."""
    return {model: actions.get(model, "view") for model in models}


def _lead_work(**handoff_actions: str) -> dict[str, dict[str, str]]:
    """The grants of a role that works leads (SDR, Sales): view everything,
    edit the contact fields of their own leads only
    (``leads.edit_scope.LeadEditScope``), log contact attempts, and
    ``handoff_actions`` on top."""
    return {
        "leads": _view(_LEADS_MODELS, lead="view change_own"),
        "scoring": _view(_SCORING_MODELS),
        "handoff": _view(_HANDOFF_MODELS, contactattempt="view add", **handoff_actions),
    }


# app label -> model -> actions. "__all__" grants every permission there is;
# under the model "*", each action is a whole codename (a custom permission
# that is not "<action>_<model>").
ROLE_PERMISSIONS: dict[str, dict[str, dict[str, str]] | str] = {
    MARKETING: {
        "leads": {
            "account": "view add change",
            "lead": "view add change",
            "campaign": "view add change delete",
            "campaignspend": "view add change delete",
            "touchpoint": "view add",
            "touchpointkind": "view add change",
            "stagetransition": "view",
            "trackingsource": "view",
            "visitor": "view",
            "trackedevent": "view",
            "eventmapping": "view",
            # Website tracking's settings: sources, keys, event mappings.
            "*": "manage_tracking",
        },
        "scoring": _view(
            _SCORING_MODELS,
            scoringmodel="view add change delete",
            scoringrule="view add change delete",
        ),
        "handoff": _view(_HANDOFF_MODELS),
    },
    # Decide handoffs in the SAL queue.
    SDR: _lead_work(handoff="view change"),
    # Record sales outcomes in the pipeline.
    SALES: _lead_work(salesoutcome="view add"),
    ADMIN: "__all__",
}


def sync_role_permissions(apps: Apps) -> None:
    """Create the role groups and set their permissions (idempotent).

    Takes the migration's ``apps`` so it works on historical models. It first
    creates the permission rows that Django would only create after
    ``migrate`` ends, so groups can be granted them inside the migration.
    """
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None

    group_model = apps.get_model("auth", "Group")
    permission_model = apps.get_model("auth", "Permission")
    for role in ROLES:
        group, _ = group_model.objects.get_or_create(name=role)
        grants = ROLE_PERMISSIONS[role]
        if grants == "__all__":
            group.permissions.set(permission_model.objects.all())
            continue
        codenames = [
            (app_label, action if model == "*" else f"{action}_{model}")
            for app_label, models in grants.items()
            for model, actions in models.items()
            for action in actions.split()
        ]
        # Permissions of apps not migrated yet are skipped; a later migration
        # that calls this again grants them.
        permissions = [
            permission
            for app, code in codenames
            for permission in permission_model.objects.filter(
                content_type__app_label=app, codename=code
            )
        ]
        group.permissions.set(permissions)


def user_roles(user: Any) -> list[str]:
    """The user's roles in ROLES order; a superuser is always an Admin."""
    if not user.is_authenticated:
        return []
    names = set(group_names(user))
    if user.is_superuser:
        names.add(ADMIN)
    return [role for role in ROLES if role in names]


def primary_role(user: Any) -> str | None:
    roles = user_roles(user)
    return roles[0] if roles else None


def role_required(*roles: str) -> Callable:
    """View decorator: log in first, then require one of ``roles`` (or Admin)."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        @login_required
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            held = set(user_roles(request.user))
            if not held & {*roles, ADMIN}:
                raise PermissionDenied(
                    f"This page is for the {' or '.join(roles)} role."
                )
            return view(request, *args, **kwargs)

        return wrapper

    return decorator
