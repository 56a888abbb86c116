"""People leaving: deactivating a user (their work handed over) or deleting one."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.db import transaction
from django.utils import timezone

from crm.common.people import full_name
from handoff.exceptions import DecisionInvalid
from handoff.models import Handoff, HandoffEvent
from handoff.selectors import pipeline_handoffs_owned, user_owned_work
from handoff.services.shared import OWNER_ROLES, Status, _event, _notify
from leads.audit import audit_record
from leads.locks import lock_leads
from leads.models import Account, AuditEvent, Lead

logger = logging.getLogger(__name__)


def user_deactivate(
    *,
    user: Any,
    to_user: Any | None,
    actor: Any,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """Deactivate a person and hand everything they own to ``to_user``.

    People who own work are deactivated, never deleted: deleting them would
    leave their leads ownerless and their handoffs out of every queue and
    pipeline. ``to_user`` receives their leads, their accounts, their
    pending handoffs (an ``assigned`` event on each, as a claim writes) and
    the accepted handoffs whose lead is still in the sales pipeline. It must
    be another active SDR, sales rep or admin; it may be None only when
    there is nothing to hand over. Refusals raise DecisionInvalid (field
    ``to_user``) and change nothing.

    Locks the person's user row, then the handoffs in id order, then the
    leads in id order (handoff before lead, as every handoff service).
    Writes one ``user_deactivate`` audit row with the ids and counts, and
    returns its details. Their sign-in and API token stop working at once
    (both refuse inactive users).
    """
    now = now or timezone.now()
    errors: dict[str, str] = {}
    if to_user is not None:
        if to_user.pk == user.pk:
            errors["to_user"] = "Choose someone else to take the work over."
        elif not (
            to_user.is_active and to_user.groups.filter(name__in=OWNER_ROLES).exists()
        ):
            errors["to_user"] = (
                f"{to_user} is not an active SDR, sales rep or admin; "
                "choose one who is."
            )
    if errors:
        raise DecisionInvalid(errors)
    user_model = type(user)
    with transaction.atomic():
        # NO KEY: rows that point at the user (events, audit rows a decision
        # in flight writes) only take a key-share lock, which this lets
        # through; a full lock here would deadlock with a decision holding
        # its handoff.
        person = user_model.objects.select_for_update(no_key=True).get(pk=user.pk)
        owned = user_owned_work(user_id=person.pk)
        if any(owned.values()) and to_user is None:
            raise DecisionInvalid(
                {"to_user": "Choose who takes over their leads and handoffs."}
            )
        candidates = [
            *Handoff.objects.filter(
                assigned_to_id=person.pk, status=Status.PENDING
            ).values_list("id", flat=True),
            *pipeline_handoffs_owned(person.pk).values_list("id", flat=True),
        ]
        handoffs = list(
            Handoff.objects.select_for_update(of=("self",))
            .filter(id__in=candidates)
            .order_by("id")
        )
        lead_ids = list(
            lock_leads(
                Lead.objects.filter(owner_id=person.pk).values_list("id", flat=True),
                no_key=True,
            ).values_list("id", flat=True)
        )
        # Read again under the locks: a decision that committed meanwhile
        # changed what is theirs.
        pending_ids, accepted_ids = [], []
        for handoff in handoffs:
            if handoff.status == Status.PENDING and handoff.assigned_to_id == person.pk:
                pending_ids.append(handoff.id)
                handoff.assigned_to = to_user
                handoff.save(update_fields=["assigned_to"])
                _event(
                    handoff,
                    HandoffEvent.Kind.ASSIGNED,
                    at=now,
                    actor=actor,
                    detail=(
                        f"Reassigned from {full_name(person)} to "
                        f"{full_name(to_user)} (deactivated)"
                    ),
                )
                _notify("reassigned", handoff.id)
            elif handoff.status == Status.ACCEPTED and handoff.owner_id == person.pk:
                accepted_ids.append(handoff.id)
                handoff.owner = to_user
                handoff.save(update_fields=["owner"])
        leads = Lead.objects.filter(id__in=lead_ids, owner_id=person.pk).update(
            owner=to_user, updated_at=now
        )
        accounts = Account.objects.filter(owner_id=person.pk).update(owner=to_user)
        person.is_active = False
        person.save(update_fields=["is_active"])
        details = {
            "user_id": person.pk,
            "to_user_id": getattr(to_user, "pk", None),
            "leads": leads,
            "accounts": accounts,
            "pending_handoff_ids": pending_ids,
            "accepted_handoff_ids": accepted_ids,
        }
        audit_record(
            actor=actor,
            action=AuditEvent.Action.USER_DEACTIVATE,
            at=now,
            details=details,
        )
    logger.info(
        "user %s deactivated by user %s; work to user %s",
        user.pk,
        getattr(actor, "pk", None),
        getattr(to_user, "pk", None),
    )
    return details


@transaction.atomic
def user_delete(*, user: Any, actor: Any) -> None:
    """Delete a person who owns nothing; audited (``user_delete``).

    Someone who owns leads, accounts or handoffs raises DecisionInvalid
    (deactivate them with ``user_deactivate`` instead) and stays. Locks the
    user row first, so work handed to them meanwhile is seen.
    """
    person = type(user).objects.select_for_update().get(pk=user.pk)
    owned = user_owned_work(user_id=person.pk)
    if any(owned.values()):
        raise DecisionInvalid({"user": owned_work_text(person, owned)})
    user_id = person.pk
    person.delete()
    audit_record(
        actor=actor,
        action=AuditEvent.Action.USER_DELETE,
        details={"user_id": user_id},
    )


def owned_work_text(user: Any, owned: dict[str, int]) -> str:
    """Why ``user`` cannot be deleted, naming what they own, for people."""
    nouns = {
        "leads": ("lead", "leads"),
        "accounts": ("account", "accounts"),
        "pending_handoffs": ("pending handoff", "pending handoffs"),
        "accepted_handoffs": (
            "accepted handoff in the pipeline",
            "accepted handoffs in the pipeline",
        ),
    }
    parts = [
        f"{n} {one if n == 1 else many}"
        for key, (one, many) in nouns.items()
        if (n := owned.get(key, 0))
    ]
    return (
        f"The user {user} owns {', '.join(parts)}; they cannot be deleted. "
        "Deactivate them and reassign their work instead."
    )
