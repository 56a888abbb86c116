"""Campaign write use-cases: creating and editing a campaign, its spend
ledger (lines of actual cost by month), deleting a campaign nothing points at.

Each is one transaction with its one audit row; bad input raises
ValidationError (messages in the user's words, keyed by field) and changes
nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from leads.audit import audit_record
from leads.models import AuditEvent, Campaign, CampaignSpend, Touchpoint, WebForm

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


def _changes_applied(row: Any, wanted: dict[str, Any]) -> list[str]:
    """Set ``wanted``'s values that differ on ``row`` (not saved); the names
    of the fields changed, sorted."""
    changed = sorted(
        name for name, value in wanted.items() if getattr(row, name) != value
    )
    for name in changed:
        setattr(row, name, wanted[name])
    return changed


#: The campaign fields a person sets on the campaign pages.
CAMPAIGN_FIELDS = (
    "name",
    "channel",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "budget",
    "starts_on",
    "ends_on",
)


def _campaign_checked_save(campaign: Campaign) -> None:
    """Validate (unique name, UTM keys, dates, budget) and save, or raise
    ValidationError; a clash with a concurrent save is reported the same way."""
    campaign.full_clean(exclude=["created_at"])
    try:
        with transaction.atomic():
            campaign.save()
    except IntegrityError as error:
        raise ValidationError(
            {"name": "Another campaign was saved with this name or these UTM keys."},
            code="conflict",
        ) from error


@transaction.atomic
def campaign_create(*, actor: Any | None, **fields: Any) -> Campaign:
    """Create a campaign from ``CAMPAIGN_FIELDS``; audited (``campaign_create``).

    Raises ValidationError for a taken name or UTM keys, an end before the
    start, a negative budget or an unknown channel; nothing is stored then.
    """
    unknown = set(fields) - set(CAMPAIGN_FIELDS)
    if unknown:
        raise TypeError(f"Not campaign fields: {sorted(unknown)}")
    campaign = Campaign(**fields)
    _campaign_checked_save(campaign)
    audit_record(
        actor=actor,
        action=AuditEvent.Action.CAMPAIGN_CREATE,
        details={"campaign_id": campaign.pk},
    )
    return campaign


@transaction.atomic
def campaign_update(*, campaign_id: int, actor: Any | None, **fields: Any) -> Campaign:
    """Change a campaign's ``CAMPAIGN_FIELDS``; audited (``campaign_edit``)
    with the names of the fields that changed, when any did.

    The row is locked for the check and the write. Raises ValidationError as
    ``campaign_create`` does, Campaign.DoesNotExist when it is gone.
    """
    unknown = set(fields) - set(CAMPAIGN_FIELDS)
    if unknown:
        raise TypeError(f"Not campaign fields: {sorted(unknown)}")
    campaign = Campaign.objects.select_for_update().get(id=campaign_id)
    changed = _changes_applied(campaign, fields)
    if not changed:
        return campaign
    _campaign_checked_save(campaign)
    audit_record(
        actor=actor,
        action=AuditEvent.Action.CAMPAIGN_EDIT,
        details={"campaign_id": campaign.pk, "fields": changed},
    )
    return campaign


def month_start(month: dt.date) -> dt.date:
    """The first day of ``month``'s month."""
    return month.replace(day=1)


def _spend_checked_save(line: CampaignSpend) -> None:
    line.month = month_start(line.month)
    line.full_clean(exclude=["campaign", "created_by", "created_at"])
    line.save()


@transaction.atomic
def spend_add(
    *,
    campaign_id: int,
    actor: Any | None,
    month: dt.date,
    amount: Decimal,
    note: str = "",
) -> CampaignSpend:
    """Add a line of actual spend to a campaign's ledger; audited
    (``spend_add``). ``month`` may be any day of the month (stored as its
    first day); a month may have several lines.

    Raises ValidationError for a negative amount, more than 12 digits or 2
    decimals, a note over 300 characters; Campaign.DoesNotExist when the
    campaign is gone (its row is locked, so a delete waits).
    """
    campaign = Campaign.objects.select_for_update().get(id=campaign_id)
    line = CampaignSpend(
        campaign=campaign,
        month=month,
        amount=amount,
        note=note,
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    _spend_checked_save(line)
    audit_record(
        actor=actor,
        action=AuditEvent.Action.SPEND_ADD,
        details={"campaign_id": campaign_id, "spend_id": line.pk},
    )
    return line


@transaction.atomic
def spend_update(
    *,
    campaign_id: int,
    spend_id: int,
    actor: Any | None,
    month: dt.date,
    amount: Decimal,
    note: str = "",
) -> CampaignSpend:
    """Change one line of a campaign's ledger; audited (``spend_edit``) with
    the names of the fields that changed, when any did.

    Raises CampaignSpend.DoesNotExist when the line is gone or belongs to
    another campaign, ValidationError as ``spend_add`` does.
    """
    line = CampaignSpend.objects.select_for_update().get(
        id=spend_id, campaign_id=campaign_id
    )
    wanted = {"month": month_start(month), "amount": amount, "note": note}
    changed = _changes_applied(line, wanted)
    if not changed:
        return line
    _spend_checked_save(line)
    audit_record(
        actor=actor,
        action=AuditEvent.Action.SPEND_EDIT,
        details={"campaign_id": campaign_id, "spend_id": spend_id, "fields": changed},
    )
    return line


@transaction.atomic
def spend_delete(*, campaign_id: int, spend_id: int, actor: Any | None) -> None:
    """Delete one line of a campaign's ledger; audited (``spend_delete``).

    Raises CampaignSpend.DoesNotExist when the line is gone or belongs to
    another campaign.
    """
    line = CampaignSpend.objects.select_for_update().get(
        id=spend_id, campaign_id=campaign_id
    )
    line.delete()
    audit_record(
        actor=actor,
        action=AuditEvent.Action.SPEND_DELETE,
        details={"campaign_id": campaign_id, "spend_id": spend_id},
    )
