"""Where a rejection reason sends the lead.

An SDR rejecting an MQL, or a sales rep sending a lead back, picks a
managed reason; its action says where the lead goes. This module is the one
statement of that rule, read by the decision services, the reject forms'
hints and the demo data alike. It decides nothing about locks or writes:
the services carry the destination out.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from handoff.models import RejectionReason
from leads.models import Stage

if TYPE_CHECKING:
    from handoff.models import ServiceLevelAgreement

Action = RejectionReason.Action


@dataclass(frozen=True)
class Destination:
    """Where a reason sends the lead, and what goes with the move."""

    #: The lead's next stage; empty when it stays where it is (a reroute).
    to_stage: str = ""
    #: Days the lead is held in nurture (the reason's cool-down), 0 for none.
    hold_days: int = 0
    #: A reroute: a new pending handoff under this SLA; the lead stays an MQL.
    reroute_sla: ServiceLevelAgreement | None = None
    #: A duplicate: folded into another lead first (its touchpoints move).
    merge: bool = False
    #: Owned from now on by its account's owner, who is told by e-mail.
    to_account_owner: bool = False

    def move(self, now: dt.datetime) -> dict[str, Any]:
        """``lifecycle.lead_move``'s keyword arguments (empty: the lead stays)."""
        move: dict[str, Any] = {}
        if self.to_stage:
            move["to_stage"] = self.to_stage
        if self.hold_days:
            move["hold_until"] = now + dt.timedelta(days=self.hold_days)
        return move

    @property
    def recycles(self) -> bool:
        """Back to nurture to be worked again (not handed to someone)."""
        return self.to_stage == Stage.NURTURE and not self.to_account_owner


#: Each SDR action's destination; the cool-down and the SLA come from the reason.
_SDR_ACTIONS = {
    Action.RECYCLE: Destination(Stage.NURTURE),
    Action.DISQUALIFY: Destination(Stage.DISQUALIFIED),
    Action.MERGE: Destination(Stage.DISQUALIFIED, merge=True),
    Action.REROUTE: Destination(),
    Action.ACCOUNT_OWNER: Destination(Stage.NURTURE, to_account_owner=True),
}


def rejection_destination(reason: RejectionReason) -> Destination:
    """Where an SDR's rejection with ``reason`` sends the MQL.

    Recycle: nurture, held for the reason's cool-down. Disqualify:
    disqualified. Merge: into the duplicate, then disqualified. Reroute: a new
    handoff under the reason's SLA. Account owner: nurture, owned by the
    account's owner. An action not in the table leaves the lead where it is.
    """
    destination = _SDR_ACTIONS.get(reason.action, Destination())
    if reason.action == Action.RECYCLE:
        return replace(destination, hold_days=reason.cooldown_days)
    if reason.action == Action.REROUTE:
        return replace(destination, reroute_sla=reason.reroute_sla)
    return destination


def send_back_destination(reason: RejectionReason) -> Destination:
    """Where a sales rep sending a lead back with ``reason`` puts it:
    disqualified, or else back to nurture held for the reason's cool-down."""
    if reason.action == Action.DISQUALIFY:
        return Destination(Stage.DISQUALIFIED)
    return Destination(Stage.NURTURE, hold_days=reason.cooldown_days)


def decision_label(prefix: str, reason: RejectionReason, feedback: str) -> str:
    """The reason written on the lead's stage change: "Rejected by SDR: No
    budget (their words)", feedback cut to 200 characters."""
    return f"{prefix}: {reason.label}" + (f" ({feedback[:200]})" if feedback else "")


def account_owner_label(owner_name: str) -> str:
    """The stage change's reason when the lead is handed to its account's
    owner, named as people read it (their full name)."""
    return f"Existing customer or open deal: handed to {owner_name}"
