"""API token authentication that reads the token, its user and the user's
permissions in one query.

DRF's ``TokenAuthentication`` reads the token with its user; the permission
check that follows (``RoleModelPermissions``) then makes Django's
``ModelBackend`` read the user's own permissions and their groups'
permissions, two more queries on every request. On PostgreSQL the token query
here brings both sets along as arrays and hands them to the user object the
way ``ModelBackend`` caches them itself (``_user_perm_cache``,
``_group_perm_cache``), so the check reads no more rows. The statement is
written once per process: building it through the ORM on every request cost
as much Python time as the two queries it saves.

The sets are read with the token on every request and live only as long as
that request's user object: a role revoked between two requests is missing
from the next one, in every process. Superusers (``ModelBackend`` gives them
every permission) and other databases take DRF's path unchanged.
"""

from __future__ import annotations

import functools
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token


@functools.cache
def _statement() -> tuple[str, list[str]]:
    """The one query (by token key) and the user fields it reads, in order."""
    user_model = get_user_model()
    fields = list(user_model._meta.concrete_fields)
    user_perms = user_model.user_permissions.through._meta
    user_groups = user_model.groups.through._meta
    group_perms = Group.permissions.through._meta
    perm = Permission._meta.db_table
    content_type = ContentType._meta.db_table
    name = "ct.app_label || '.' || p.codename"
    columns = ", ".join(f'u."{f.column}"' for f in fields)
    sql = (
        # Only the models' table and column names are formatted in; the token
        # key is a parameter.
        f'SELECT t."created", {columns}, '  # nosec B608
        f"ARRAY(SELECT {name} FROM {user_perms.db_table} up "
        f"JOIN {perm} p ON p.id = up.permission_id "
        f"JOIN {content_type} ct ON ct.id = p.content_type_id "
        "WHERE up.user_id = u.id), "
        f"ARRAY(SELECT {name} FROM {user_groups.db_table} ug "
        f"JOIN {group_perms.db_table} gp ON gp.group_id = ug.group_id "
        f"JOIN {perm} p ON p.id = gp.permission_id "
        f"JOIN {content_type} ct ON ct.id = p.content_type_id "
        "WHERE ug.user_id = u.id) "
        f"FROM {Token._meta.db_table} t "
        f"JOIN {user_model._meta.db_table} u ON u.id = t.user_id "
        "WHERE t.key = %s"
    )
    return sql, [f.attname for f in fields]


class TokenPermissionsAuthentication(TokenAuthentication):
    """``TokenAuthentication`` whose one query also reads the permissions."""

    def authenticate_credentials(self, key: str) -> tuple[Any, Token]:
        if connection.vendor != "postgresql":
            return super().authenticate_credentials(key)
        sql, attnames = _statement()
        with connection.cursor() as cursor:
            cursor.execute(sql, [key])
            row = cursor.fetchone()
        if row is None:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        created, *values = row
        user_perms, group_perms = values[-2:]
        user = get_user_model().from_db(connection.alias, attnames, values[:-2])
        if not user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        if not user.is_superuser:
            user._user_perm_cache = set(user_perms)
            user._group_perm_cache = set(group_perms)
        token = Token.from_db(
            connection.alias, ["key", "user_id", "created"], [key, user.pk, created]
        )
        token.user = user
        return user, token
