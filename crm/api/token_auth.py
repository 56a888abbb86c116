"""API token authentication that reads the token, its user and the user's
permissions in one query.

DRF's ``TokenAuthentication`` reads the token with its user; the permission
check that follows (``RoleModelPermissions``) then makes Django's
``ModelBackend`` read the user's own permissions and their groups'
permissions, two more queries on every request. On PostgreSQL the token query
here brings both sets along as arrays and hands them to the user object the
way ``ModelBackend`` caches them itself (``_user_perm_cache``,
``_group_perm_cache``), so the check reads no more rows.

The sets are read with the token on every request and live only as long as
that request's user object: a role revoked between two requests is missing
from the next one, in every process. Superusers (``ModelBackend`` gives them
every permission) and other databases take DRF's path unchanged.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Permission
from django.contrib.postgres.expressions import ArraySubquery
from django.db import connection
from django.db.models import F, OuterRef, Value
from django.db.models.functions import Concat
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token


def _permission_names(**filters: Any) -> ArraySubquery:
    """``app_label.codename`` of the permissions matching ``filters``."""
    return ArraySubquery(
        Permission.objects.filter(**filters)
        .order_by()
        .values(perm=Concat(F("content_type__app_label"), Value("."), F("codename")))
    )


class TokenPermissionsAuthentication(TokenAuthentication):
    """``TokenAuthentication`` whose one query also reads the permissions."""

    def authenticate_credentials(self, key: str) -> tuple[Any, Token]:
        if connection.vendor != "postgresql":
            return super().authenticate_credentials(key)
        try:
            token = (
                Token.objects.select_related("user")
                .annotate(
                    user_perms=_permission_names(user=OuterRef("user_id")),
                    group_perms=_permission_names(group__user=OuterRef("user_id")),
                )
                .get(key=key)
            )
        except Token.DoesNotExist as exc:
            raise exceptions.AuthenticationFailed(_("Invalid token.")) from exc
        user = token.user
        if not user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        if not user.is_superuser:
            user._user_perm_cache = set(token.user_perms)
            user._group_perm_cache = set(token.group_perms)
        return user, token
