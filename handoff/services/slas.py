"""Changing an SLA's terms from the product's pages: the volume commitment."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from handoff.models import ServiceLevelAgreement
from leads.audit import audit_record
from leads.models import AuditEvent

logger = logging.getLogger(__name__)

#: The largest commitment taken (the field's column holds more; no team hands
#: off a million MQLs a period).
COMMITMENT_MAX = 1_000_000


@dataclass(frozen=True)
class CommitmentChange:
    sla: ServiceLevelAgreement
    old_commitment: int
    old_period: str


@transaction.atomic
def sla_commitment_set(
    *, sla_id: int, commitment: int, period: str, actor: Any, source: str = ""
) -> CommitmentChange:
    """Set the MQLs marketing commits to deliver to an SLA per ``period``
    (``ServiceLevelAgreement.Period``); audited (``sla_commitment``) with the
    old and new values and ``source`` (e.g. ``plan:<id>``).

    Locks the SLA row, so two changes apply one after the other and each
    audit row records the value it replaced. Setting the same values again
    changes nothing and writes no audit row. Raises ValueError for a
    commitment below 0 or above ``COMMITMENT_MAX`` or an unknown period, and
    ServiceLevelAgreement.DoesNotExist when the SLA is gone.
    """
    if period not in ServiceLevelAgreement.Period.values:
        raise ValueError("An SLA's volume period is a week or a month.")
    if not 0 <= commitment <= COMMITMENT_MAX:
        raise ValueError(
            f"A volume commitment is between 0 and {COMMITMENT_MAX:,} MQLs."
        )
    sla = ServiceLevelAgreement.objects.select_for_update().get(id=sla_id)
    change = CommitmentChange(
        sla=sla, old_commitment=sla.volume_commitment, old_period=sla.volume_period
    )
    if (sla.volume_commitment, sla.volume_period) == (commitment, period):
        return change
    sla.volume_commitment, sla.volume_period = commitment, period
    sla.save(update_fields=["volume_commitment", "volume_period", "updated_at"])
    audit_record(
        actor=actor,
        action=AuditEvent.Action.SLA_COMMITMENT,
        details={
            "sla_id": sla.id,
            "from": [change.old_commitment, change.old_period],
            "to": [commitment, period],
            "source": source,
        },
    )
    logger.info(
        "sla %s commitment %s/%s -> %s/%s by user %s",
        sla.id,
        change.old_commitment,
        change.old_period,
        commitment,
        period,
        getattr(actor, "pk", None),
    )
    return change
