"""People as the pages and the stored history name them."""

from __future__ import annotations

from typing import Any


def full_name(user: Any, *, nobody: str = "nobody") -> str:
    """A user's full name, else their username (a login with no name set);
    ``nobody`` for None."""
    if user is None:
        return nobody
    return user.get_full_name() or user.get_username()
