"""Who may edit what on leads: the field sets of leads and touchpoints that
forms, the API and imports share, the editable and contact fields of a lead and
LeadEditScope, the per-person permission the lead write use-cases enforce.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from leads.exceptions import LeadEditDenied

if TYPE_CHECKING:
    from leads.models import Lead

#: The lead's first touch: set together, and only on a lead that has none.
UTM_FIELDS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
#: Where a lead came from: its source and its first touch.
LEAD_SOURCE_FIELDS = ("source", *UTM_FIELDS)

#: What a touchpoint records, all given when it is added (a stored touchpoint
#: never changes).
TOUCHPOINT_FIELDS = (
    "lead",
    "kind",
    "occurred_at",
    "campaign",
    "properties",
    "source",
    "external_id",
)

#: Lead fields a person or an integration may set directly. Stage fields are
#: missing on purpose (lifecycle only), and so are derived ones (seniority,
#: region), which follow job_title / seniority_override / country.
LEAD_EDITABLE_FIELDS = frozenset(
    {
        "first_name",
        "last_name",
        "job_title",
        "seniority_override",
        "department",
        "phone",
        "country",
        *LEAD_SOURCE_FIELDS,
        "owner",
        "account",
        "do_not_email",
        "do_not_call",
        "attributes",
    }
)


#: What an SDR or a rep may change on a lead: how to reach the person and
#: whether they may be reached. The title, country, source and the rest are
#: Marketing's: they feed the score (a new title can make a lead an MQL).
LEAD_CONTACT_FIELDS = frozenset(
    {"first_name", "last_name", "phone", "do_not_email", "do_not_call"}
)

#: Every field a person may set through a lead edit. The owner is not one: it
#: changes only when an SDR accepts the lead's handoff (lead_owner_set).
LEAD_PERSON_FIELDS = LEAD_EDITABLE_FIELDS - {"owner"}


@dataclass(frozen=True)
class LeadEditScope:
    """What one person may change on leads and accounts.

    ``fields``: the lead fields they may set. ``owner_ids``: the people whose
    leads they may edit (None: every lead; an unowned lead only then).
    ``accounts``: whether they may create or change accounts. Built by
    ``for_user`` from the person's permissions; the layer that knows who
    manages whom (crm) passes the team in. The services enforce it.
    """

    fields: frozenset[str]
    owner_ids: frozenset[int] | None
    accounts: bool
    team: bool = False

    @classmethod
    def for_user(cls, user: Any, *, team_ids: Iterable[int] = ()) -> LeadEditScope:
        """``change_lead`` edits every field of every lead (Marketing, Admin);
        ``change_own_lead`` the contact fields of the user's own leads, and of
        the leads owned by ``team_ids`` (a manager's team); else nothing."""
        accounts = user.has_perm("leads.change_account")
        if user.has_perm("leads.change_lead"):
            return cls(fields=LEAD_PERSON_FIELDS, owner_ids=None, accounts=accounts)
        team = frozenset(team_ids) - {user.pk}
        if user.has_perm("leads.change_own_lead"):
            return cls(
                fields=LEAD_CONTACT_FIELDS,
                owner_ids=frozenset({user.pk, *team}),
                accounts=accounts,
                team=bool(team),
            )
        return cls(fields=frozenset(), owner_ids=frozenset(), accounts=False)

    def check(
        self,
        *,
        lead: Lead | None,
        fields: Iterable[str],
        account: bool = False,
    ) -> None:
        """Raise LeadEditDenied (saying what is allowed) unless the change may
        be made: ``fields`` of ``lead`` (None: a new lead), and with
        ``account`` an account created or changed and linked to it."""
        if self.owner_ids is not None and (
            lead is None or lead.owner_id not in self.owner_ids
        ):
            whose = "you or your team own" if self.team else "you own"
            raise LeadEditDenied(
                f"You may edit only leads {whose}"
                + (f"; lead {lead.id} is not one of them." if lead else ".")
            )
        if account:
            self.check_account()
        refused = sorted(set(fields) - self.fields)
        if refused:
            raise LeadEditDenied(
                f"Your role may not change {', '.join(refused)}; it may change "
                f"{', '.join(sorted(self.fields)) or 'no lead field'}. Ask "
                "Marketing to change the rest (they feed the lead's score)."
            )

    def check_account(self) -> None:
        """Raise LeadEditDenied unless accounts may be created or changed."""
        if not self.accounts:
            raise LeadEditDenied(
                "Accounts are changed by Marketing or an Admin: their size and "
                "industry score every lead of the account."
            )
