"""The marketing-sales handoff: SLAs, SDR teams, handoffs and their decisions.

A Handoff is one MQL handed to sales development under a
ServiceLevelAgreement. Its status changes only through ``handoff/services/``
(conditional updates and row locks); the fields here are the facts those
services write, and the database constraints are the backstop: one pending
handoff per lead, decisions that carry who and when, each escalation step at
most once.

The models live by sub-domain: ``calendars`` (business calendars,
holidays), ``teams`` (teams, members, sales profiles), ``slas`` (SLAs,
rejection reasons) and ``handoffs`` (handoffs, contact attempts, events,
sales outcomes). Import them from here.
"""

from handoff.models.calendars import BusinessCalendar, Holiday, validate_time_zone
from handoff.models.handoffs import (
    ESCALATION_STEPS,
    ContactAttempt,
    Handoff,
    HandoffEvent,
    SalesOutcome,
)
from handoff.models.slas import RejectionReason, ServiceLevelAgreement
from handoff.models.teams import SalesProfile, Team, TeamMember

__all__ = [
    "ESCALATION_STEPS",
    "BusinessCalendar",
    "ContactAttempt",
    "Handoff",
    "HandoffEvent",
    "Holiday",
    "RejectionReason",
    "SalesOutcome",
    "SalesProfile",
    "ServiceLevelAgreement",
    "Team",
    "TeamMember",
    "validate_time_zone",
]
