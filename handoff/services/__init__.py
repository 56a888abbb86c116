"""Write use-cases of the handoff: open, assign, decide, escalate, sales moves.

Every status change of a Handoff happens here, as a claim: a row lock
(``select_for_update`` in id order, handoff before lead) or a conditional
UPDATE whose row count is checked. The database constraints (one pending
handoff per lead, each escalation step once) are the backstop. E-mails are
sent by a task enqueued after commit, so a mail server that is down delays a
notification and never rolls back the step that caused it.

The use-cases live by sub-domain: ``opening`` (a handoff for a new MQL and
its SDR), ``decisions`` (accept, reject, claim, contact attempts),
``escalation`` (the SLA timer ladder), ``sales`` (the pipeline moves and a
manager's reassignments), ``teams`` (away flags, team membership) and
``leaving`` (deactivating or deleting a user), ``slas`` (an SLA's volume
commitment); ``shared`` holds what they
share. This module re-exports their public names.
"""

from handoff.services.decisions import (
    attempt_log,
    handoff_accept,
    handoff_claim,
    handoff_reject,
)
from handoff.services.escalation import (
    escalation_run,
    handoffs_expire_overdue,
    handoffs_follow_up_breaches,
    handoffs_remind_at_risk,
)
from handoff.services.leaving import owned_work_text, user_deactivate, user_delete
from handoff.services.opening import (
    handoff_open,
    handoffs_assign_waiting,
    mqls_reconcile,
)
from handoff.services.opening_many import handoffs_open_many
from handoff.services.sales import (
    SALES_FORWARD,
    SALES_STAGES,
    deal_terms,
    lead_reassign,
    lead_sales_move,
)
from handoff.services.shared import (
    ESCALATION_BATCH,
    FEEDBACK_MAX,
    NOTE_MAX,
    OWNER_ROLES,
    SYSTEM_ACTOR,
)
from handoff.services.slas import (
    COMMITMENT_MAX,
    CommitmentChange,
    sla_commitment_set,
)
from handoff.services.teams import availability_set, team_member_add

__all__ = [
    "COMMITMENT_MAX",
    "ESCALATION_BATCH",
    "FEEDBACK_MAX",
    "NOTE_MAX",
    "OWNER_ROLES",
    "SALES_FORWARD",
    "SALES_STAGES",
    "SYSTEM_ACTOR",
    "CommitmentChange",
    "attempt_log",
    "availability_set",
    "deal_terms",
    "escalation_run",
    "handoff_accept",
    "handoff_claim",
    "handoff_open",
    "handoff_reject",
    "handoffs_assign_waiting",
    "handoffs_expire_overdue",
    "handoffs_follow_up_breaches",
    "handoffs_open_many",
    "handoffs_remind_at_risk",
    "lead_reassign",
    "lead_sales_move",
    "mqls_reconcile",
    "owned_work_text",
    "sla_commitment_set",
    "team_member_add",
    "user_deactivate",
    "user_delete",
]
