"""What every page asks about the signed-in user, read in one query.

A page checks permissions (the access decorators, the navigation), the
user's groups (roles, the navigation) and, for SDRs and sales reps, the
manager flag of their sales profile. Django's ``ModelBackend`` reads the
user's own permissions and their groups' permissions in two queries,
``group_names`` the groups in a third and ``is_manager`` the profile in a
fourth. On PostgreSQL one statement here reads all four as arrays and a flag,
and hands them to the user object where each of those readers keeps what it
read for the request (``_user_perm_cache`` and ``_group_perm_cache`` as
``ModelBackend`` caches them, ``remember_group_names``, ``is_manager_remember``),
as the API's token authentication does for its permissions. The statement is
written once per process: building it through the ORM on every request cost
as much Python time as the queries it saves.

The facts live as long as the request's user object: a role or flag changed
between two requests shows in the next one, in every process. Superusers
(``ModelBackend`` gives them every permission) keep Django's own permission
path; other databases take every reader's own path unchanged.
"""

from __future__ import annotations

import functools
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection

from crm.common.roles import ADMIN, remember_group_names
from handoff.models import SalesProfile
from handoff.selectors import is_manager_remember


@functools.cache
def _statement() -> str:
    """The one query, by user id (the parameter ``%(user)s``)."""
    user_model = get_user_model()
    user_perms = user_model.user_permissions.through._meta
    user_groups = user_model.groups.through._meta
    group_perms = Group.permissions.through._meta
    perm = Permission._meta.db_table
    content_type = ContentType._meta.db_table
    profile = SalesProfile._meta.db_table
    name = "ct.app_label || '.' || p.codename"
    # Only the models' table names are formatted in; the user id is a
    # parameter.
    return (
        f"SELECT ARRAY(SELECT {name} FROM {user_perms.db_table} up "  # nosec B608
        f"JOIN {perm} p ON p.id = up.permission_id "
        f"JOIN {content_type} ct ON ct.id = p.content_type_id "
        "WHERE up.user_id = %(user)s), "
        f"ARRAY(SELECT {name} FROM {user_groups.db_table} ug "
        f"JOIN {group_perms.db_table} gp ON gp.group_id = ug.group_id "
        f"JOIN {perm} p ON p.id = gp.permission_id "
        f"JOIN {content_type} ct ON ct.id = p.content_type_id "
        "WHERE ug.user_id = %(user)s), "
        f"ARRAY(SELECT g.name FROM {user_groups.db_table} ug "
        f"JOIN {Group._meta.db_table} g ON g.id = ug.group_id "
        "WHERE ug.user_id = %(user)s), "
        f"EXISTS(SELECT 1 FROM {profile} sp "
        "WHERE sp.user_id = %(user)s AND sp.is_manager)"
    )


def user_facts_load(user: Any) -> Any:
    """Read ``user``'s permissions, groups and manager flag in one query and
    keep them on the object; ``user`` is returned. Nothing is read for an
    anonymous or inactive user, nor on a database other than PostgreSQL."""
    if (
        connection.vendor != "postgresql"
        or not getattr(user, "is_authenticated", False)
        or not user.is_active
    ):
        return user
    with connection.cursor() as cursor:
        cursor.execute(_statement(), {"user": user.pk})
        user_perms, group_perms, groups, manager_flag = cursor.fetchone()
    if not user.is_superuser:
        user._user_perm_cache = set(user_perms)
        user._group_perm_cache = set(group_perms)
    names = remember_group_names(user, groups)
    is_manager_remember(user, user.is_superuser or ADMIN in names or manager_flag)
    return user
