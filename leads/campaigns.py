"""Campaign write use-cases: deleting a campaign nothing points at."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from leads.audit import audit_record
from leads.models import AuditEvent, Campaign, Touchpoint, WebForm

logger = logging.getLogger(__name__)


class CampaignInUse(ValidationError):
    """The campaign has touchpoints (or web forms); it cannot be deleted."""


def campaign_in_use(campaign: Campaign) -> str:
    """Why the campaign cannot be deleted, for people; "" when it can."""
    touchpoints = Touchpoint.objects.filter(campaign_id=campaign.pk).count()
    forms = WebForm.objects.filter(campaign_id=campaign.pk).count()
    if not (touchpoints or forms):
        return ""
    used = [
        f"{n:,} {noun}{'' if n == 1 else 's'}"
        for n, noun in ((touchpoints, "touchpoint"), (forms, "web form"))
        if n
    ]
    return (
        f"Campaign “{campaign.name}” has {' and '.join(used)}; it cannot be "
        "deleted. Keep it for the reports (set its end date to retire it)."
    )


@transaction.atomic
def campaign_delete(*, campaign_id: int, actor: Any | None) -> None:
    """Delete a campaign nothing points at; audited (``campaign_delete``).

    Touchpoints and web forms protect their campaign (a deleted campaign
    would drop them out of attribution without a trace): a campaign with
    either raises CampaignInUse, with a message naming how many, and nothing
    changes. The campaign row is locked, so a touchpoint stored meanwhile
    either lands first (and protects it) or waits and fails on the missing
    row. Raises Campaign.DoesNotExist when it is gone.
    """
    campaign = Campaign.objects.select_for_update().get(id=campaign_id)
    problem = campaign_in_use(campaign)
    if problem:
        raise CampaignInUse(problem, code="in_use")
    campaign.delete()
    audit_record(
        actor=actor,
        action=AuditEvent.Action.CAMPAIGN_DELETE,
        details={"campaign_id": campaign_id},
    )
    logger.info(
        "campaign %s deleted by user %s", campaign_id, getattr(actor, "pk", None)
    )
