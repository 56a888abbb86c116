"""The names of the four roles, each a Django group of that name.

What each role may do, and where it lands after login, is set up in
``crm.roles``; apps that test a group by name take the name from here.
"""

from __future__ import annotations

MARKETING = "Marketing"
SDR = "SDR"
SALES = "Sales"
ADMIN = "Admin"

#: In this order a user in several groups gets the first one's start page.
ROLES: tuple[str, ...] = (ADMIN, MARKETING, SDR, SALES)
