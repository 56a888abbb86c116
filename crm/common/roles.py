"""The names of the four roles, each a Django group of that name.

What each role may do, and where it lands after login, is set up in
``crm.roles``; apps that test a group by name take the name from here.
"""

from __future__ import annotations

from typing import Any

MARKETING = "Marketing"
SDR = "SDR"
SALES = "Sales"
ADMIN = "Admin"

#: In this order a user in several groups gets the first one's start page.
ROLES: tuple[str, ...] = (ADMIN, MARKETING, SDR, SALES)


def group_names(user: Any) -> frozenset[str]:
    """The names of the groups ``user`` is in, read once and kept on the user
    object: a request's user lives for that request, and its pages ask about
    roles several times (navigation, access checks, visibility rules)."""
    cached = getattr(user, "_leadflow_group_names", None)
    if cached is None:
        cached = frozenset(user.groups.values_list("name", flat=True))
        user._leadflow_group_names = cached
    return cached


def remember_group_names(user: Any, names: Any) -> frozenset[str]:
    """Keep ``names`` on ``user`` as its groups for ``group_names``, read by
    a caller with other facts in one query (``crm.user_facts``)."""
    kept = frozenset(names)
    user._leadflow_group_names = kept
    return kept
