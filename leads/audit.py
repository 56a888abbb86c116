"""The audit log's one writer: ``audit_record``.

Every state-changing action a person takes (and the SLA timer's
reassignments) writes exactly one AuditEvent, from the service that makes the
change and inside its transaction: a change that rolls back leaves no row, a
committed one always has its row. The writer lives in the lowest app (leads,
which owns AuditEvent) because leads, scoring, handoff and crm all call it;
apps may not import from ``crm``.

What is written where (the action codes are AuditEvent.Action):

- ``export``, ``erase``: ``crm.privacy``;
- ``import``: ``leads.imports.run`` (one per finished job);
- ``lead_export_csv``: the lead list page's CSV (``crm.views``) and
  ``GET /api/v1/leads/csv/`` (``crm.api.leads``);
- ``bulk_stage_change``: the admin's move action (``leads.admin``), one row
  per run with the moved lead ids;
- ``handoff_accept``, ``handoff_reject``, ``handoff_claim``, ``sales_move``,
  ``handoff_reassign`` (SLA timer, no actor), ``lead_reassign`` (a manager
  hands a pipeline lead to another rep): ``handoff.services``;
- ``rule_edit``, ``model_publish``: ``scoring.services``;
- ``role_change``, ``token_issue``: receivers in ``crm.audit``;
- ``lead_create``, ``lead_edit``, ``account_edit``: ``leads.services`` and
  ``leads.accounts`` when a person (the API, the admin) creates or changes a
  lead or an account, with
  the names of the fields that changed, never their values;
- ``campaign_delete``, ``account_delete``: ``leads.campaigns`` and
  ``leads.accounts`` (the admin's delete pages call them);
- ``campaign_create``, ``campaign_edit``, ``spend_add``, ``spend_edit``,
  ``spend_delete``: ``leads.campaigns`` (the campaign pages call them), with
  the names of the fields that changed on an edit;
- ``user_deactivate``, ``user_delete``: ``handoff.services`` (the user
  admin's "Deactivate and reassign" page and its delete page);
- ``sla_commitment``: ``handoff.services.slas`` (an SLA's volume commitment
  set from a saved MQL plan), with the old and new values;
- ``plan_create``, ``plan_delete``: ``crm.marketing.plans`` (the planner's
  saved MQL plans).

Not audited here, on purpose: leads created or updated by the public form
(the visitor's own data) and by imports (one ``import`` row per job); stage
moves made by scoring (MQL promotion, recycling) are StageTransitions with a
system actor, and a publish's
rescoring of every lead is covered by its one ``model_publish`` row; contact
attempts are work records (HandoffEvent ``attempt``), not changes of who may
do what.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import TYPE_CHECKING, Any

from django.utils import timezone

from leads.models import AuditEvent

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

logger = logging.getLogger(__name__)


def audit_record(
    *,
    actor: AbstractBaseUser | None,
    action: str,
    lead_id: int | None = None,
    details: dict[str, Any] | None = None,
    at: dt.datetime | None = None,
) -> AuditEvent:
    """Write one audit row in the caller's transaction and return it.

    ``actor`` is the user who acted, None for the system (the SLA timer, a
    management command) or an anonymous request. ``details`` must hold ids,
    codes and counts only, never a person's e-mail, name or phone: erasure
    leaves audit rows as they are. Unknown actions raise ValueError.
    """
    if action not in AuditEvent.Action.values:
        raise ValueError(f"Unknown audit action {action!r}.")
    if actor is not None and not getattr(actor, "is_authenticated", False):
        actor = None  # AnonymousUser is no row to point at.
    event = AuditEvent.objects.create(
        at=at or timezone.now(),
        actor=actor,
        action=action,
        lead_id=lead_id,
        details=details or {},
    )
    logger.info(
        "audit %s: %s by user %s (lead %s)",
        event.id,
        action,
        getattr(actor, "pk", None),
        lead_id,
    )
    return event
