"""Who may edit which lead: the roles (permissions) and the managers' teams.

The leads services enforce a ``LeadEditScope``; the scope needs to know who
manages whom, which is the handoff app's (``SalesProfile.is_manager``), and
leads may not import handoff. The project builds it here.

A manager in this product manages the sales floor, not one team: the handoff
app lets them decide any team's handoff and move any rep's lead. So a
manager's team is every SDR and rep (the SDR and Sales roles, and every
member of an SDR team), and a manager may edit the contact fields of the
leads any of them own.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model

from crm.common.roles import SALES, SDR
from handoff.models import TeamMember
from handoff.selectors import is_manager
from leads.edit_scope import LeadEditScope


def manager_team_ids(user: Any) -> frozenset[int]:
    """The people whose leads ``user`` manages: the sales floor for a manager,
    nobody otherwise. Tens of people, read in one query."""
    if not is_manager(user):
        return frozenset()
    users = get_user_model().objects.filter(is_active=True)
    in_roles = users.filter(groups__name__in=[SDR, SALES])
    in_teams = users.filter(id__in=TeamMember.objects.values("user_id"))
    return frozenset((in_roles | in_teams).values_list("id", flat=True))


def lead_edit_scope(user: Any) -> LeadEditScope:
    """What ``user`` may change on leads and accounts (see LeadEditScope)."""
    return LeadEditScope.for_user(user, team_ids=manager_team_ids(user))
