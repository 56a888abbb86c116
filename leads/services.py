"""Write use-cases of the leads domain: leads and their accounts.

Stage changes are not here: they belong to ``leads.lifecycle``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from leads.audit import audit_record
from leads.exceptions import LeadAlreadyExists
from leads.freemail import is_freemail
from leads.locks import lock_leads
from leads.models import Account, AuditEvent, Campaign, Lead, Touchpoint, WebForm
from leads.signals import leads_changed
from leads.titles import department_from_title

logger = logging.getLogger(__name__)

_email_validator = EmailValidator(message="Enter a valid e-mail address.")

#: Domain of the placeholder address an erased lead gets (crm.privacy). The
#: ``.invalid`` TLD can never be a real mailbox (RFC 2606), and refusing it in
#: normalize_email keeps every upsert, import and form from writing into an
#: erased lead by its placeholder address.
ERASED_EMAIL_DOMAIN = "erased.invalid"

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
        "source",
        "utm_source",
        "utm_medium",
        "utm_campaign",
        "utm_term",
        "utm_content",
        "owner",
        "account",
        "do_not_email",
        "do_not_call",
        "attributes",
    }
)


def normalize_email(raw: str) -> str:
    """Return the e-mail trimmed, with its domain lower-cased and in ASCII.

    The local part keeps its case (some mail servers honour it) but uniqueness
    is checked case-insensitively by the database. An internationalised
    domain is stored in its IDNA form (``xn--``), so both spellings of one
    mailbox are one lead and match one account; a Unicode local part
    (SMTPUTF8) is refused, since most mail systems cannot deliver to it.
    Raises ValidationError with a message for people when it is not an address.
    """
    email = (raw or "").strip()
    local, at, domain = email.rpartition("@")
    domain = domain.lower()
    if at and not local.isascii():
        raise ValidationError(
            "Use an address whose part before the @ is plain ASCII (letters, "
            "digits and . _ + -); Unicode mailbox names are not supported.",
            code="invalid",
        )
    if not domain.isascii():
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError:
            raise ValidationError(
                _email_validator.message, code=_email_validator.code
            ) from None
    email = f"{local}{at}{domain}"
    _email_validator(email)
    if domain.lower() == ERASED_EMAIL_DOMAIN:
        raise ValidationError(
            f"Addresses at {ERASED_EMAIL_DOMAIN} are reserved for erased leads.",
            code="reserved",
        )
    return email


def name_from_domain(domain: str) -> str:
    """A readable account name for a domain: ``northwind-labs.io`` is Northwind Labs."""
    label = domain.split(".")[0] if domain else domain
    return " ".join(part.capitalize() for part in label.replace("_", "-").split("-"))


def account_match_domain(domain: str) -> Account | None:
    """Return the account for an e-mail domain, or None (always for free-mail).

    ``eu.acme.com`` matches an account with domain ``acme.com`` when there is no
    account for ``eu.acme.com`` itself; the most specific domain wins.
    """
    domain = domain.lower().strip()
    if not domain or is_freemail(domain):
        return None
    labels = domain.split(".")
    candidates = [".".join(labels[i:]) for i in range(len(labels) - 1)]
    found = Account.objects.filter(domain__lower__in=candidates)
    matches = {account.domain: account for account in found}
    for candidate in candidates:
        if candidate in matches:
            return matches[candidate]
    return None


def account_for_email(email: str) -> Account | None:
    """Return the account an e-mail belongs to, creating it from the domain.

    None for free-mail domains. Safe under concurrency: two leads from a new
    domain arriving at once end up on one account (the unique domain index
    decides, the loser reads the winner's row).
    """
    domain = email.rpartition("@")[2].lower()
    if not domain or is_freemail(domain):
        return None
    account = account_match_domain(domain)
    if account is not None:
        return account
    try:
        with transaction.atomic():
            return Account.objects.create(name=name_from_domain(domain), domain=domain)
    except IntegrityError:
        return Account.objects.get(domain=domain)


def lead_fields_apply(lead: Lead, fields: dict[str, Any]) -> None:
    """Set editable fields on an unsaved or locked lead; derived fields follow.

    Seniority follows the title (unless overridden), region the country, and
    the department the title when no department is given. Saves nothing;
    ValidationError names a field that may not be set here.
    """
    unknown = set(fields) - LEAD_EDITABLE_FIELDS
    if unknown:
        raise ValidationError(
            dict.fromkeys(sorted(unknown), "This field cannot be set here.")
        )
    for name, value in fields.items():
        if name == "job_title":
            lead.set_job_title(value or "")
        elif name == "seniority_override":
            lead.set_seniority_override(value or "")
        elif name == "country":
            lead.set_country(value or "")
        else:
            setattr(lead, name, value)
    if "job_title" in fields and "department" not in fields:
        lead.department = department_from_title(lead.job_title)


@transaction.atomic
def lead_create(
    *,
    email: str,
    account: Account | None = None,
    now: datetime | None = None,
    **fields: Any,
) -> Lead:
    """Create a lead in stage ``lead``.

    The e-mail is normalised; the account is the one given or else matched
    (or created) from the e-mail domain, never for free-mail. Seniority,
    department and region are derived from title and country unless given.
    Raises ValidationError (field errors, nothing stored) for bad input and
    LeadAlreadyExists when the e-mail is taken in any letter case.
    """
    at = now or timezone.now()
    lead = Lead(email=normalize_email(email))
    lead_fields_apply(lead, {"job_title": "", **fields})
    lead.account = account if account is not None else account_for_email(lead.email)
    lead.created_at = at
    lead.entered_lead_at = at
    lead.stage_changed_at = at
    lead.full_clean(validate_constraints=False)
    if Lead.objects.filter(email__lower=lead.email.lower()).exists():
        raise LeadAlreadyExists(f"A lead with the e-mail {lead.email} already exists.")
    try:
        with transaction.atomic():
            lead.save()
    except IntegrityError as exc:
        # Lost a race with a concurrent create of the same address.
        raise LeadAlreadyExists(
            f"A lead with the e-mail {lead.email} already exists."
        ) from exc
    logger.info("lead %s created", lead.id)
    return lead


@transaction.atomic
def lead_update(*, lead: Lead, **fields: Any) -> Lead:
    """Change editable fields of a lead; derived fields follow.

    Raises ValidationError (nothing saved) for an unknown or invalid field.
    The stage cannot be changed here: use ``leads.lifecycle.lead_move``.
    """
    lead_fields_apply(lead, fields)
    lead.full_clean(validate_constraints=False)
    # Save only what changed: a full save from a stale instance would undo a
    # concurrent stage move made by the lifecycle.
    columns = set(fields) | {"updated_at"}
    if "job_title" in fields:
        columns |= {"seniority", "department"}
    if "seniority_override" in fields:
        columns.add("seniority")
    if "country" in fields:
        columns.add("region")
    lead.save(update_fields=sorted(columns))
    return lead


def leads_mark_for_rescore(lead_ids: Iterable[int], *, now: datetime) -> None:
    """Mark leads as needing a rescore and announce it after commit.

    The mark is the time of the latest change: a rescore clears it only when
    the mark is not newer than what the rescore read (a conditional update),
    so activity that lands during a rescore keeps its lead marked. Call inside
    the transaction that changed the leads.
    """
    ids = sorted(set(lead_ids))
    if not ids:
        return
    if connection.vendor == "postgresql":
        # Lock in id order first, as rescores lock their leads: an UPDATE
        # takes its rows in whatever order its plan reads them, and two
        # transactions taking overlapping sets in different orders deadlock.
        list(
            Lead.objects.filter(id__in=ids)
            .order_by("id")
            .select_for_update(of=("self",), no_key=True)
            .values_list("id", flat=True)
        )
    Lead.objects.filter(id__in=ids).update(rescore_requested_at=now)
    transaction.on_commit(lambda: _send_leads_changed(ids))


def _send_leads_changed(lead_ids: list[int]) -> None:
    # A receiver that fails (the broker is down) must not turn committed data
    # into an error: the marks stay and the reconciler re-enqueues them.
    for receiver, result in leads_changed.send_robust(sender=Lead, lead_ids=lead_ids):
        if isinstance(result, Exception):
            logger.error(
                "leads_changed receiver %r failed for %s leads: %r",
                receiver,
                len(lead_ids),
                result,
            )


#: Account fields the API and imports may set.
ACCOUNT_FIELDS = frozenset(
    {"name", "industry", "employee_count", "annual_revenue", "country"}
)


@transaction.atomic
def account_upsert(*, domain: str = "", name: str = "", **fields: Any) -> Account:
    """Find an account by domain (else by exact name) and update it, or create it.

    Only the fields given are changed. Raises ValidationError with field
    errors (nothing saved) for bad values or when neither domain nor name is
    given.
    """
    unknown = set(fields) - ACCOUNT_FIELDS
    if unknown:
        raise ValidationError(dict.fromkeys(unknown, "This field cannot be set here."))
    domain = (domain or "").strip().lower().removeprefix("www.")
    name = (name or "").strip()
    if not domain and not name:
        raise ValidationError({"domain": "Give the account's domain or its name."})
    # A second round only after losing a race to create this domain: the
    # winner's row is committed by then, so the lookup finds and updates it.
    for attempt in range(2):
        account = None
        if domain:
            account = (
                Account.objects.select_for_update().filter(domain__lower=domain).first()
            )
        elif name:
            account = Account.objects.select_for_update().filter(name=name).first()
        if account is None:
            account = Account(domain=domain, name=name or name_from_domain(domain))
        elif name:
            account.name = name
        for key, value in fields.items():
            setattr(account, key, value)
        if "country" in fields:
            account.country = (account.country or "").strip().upper()
        account.full_clean(validate_constraints=False)
        try:
            with transaction.atomic():
                account.save()
        except IntegrityError as exc:
            if account.pk is None and domain and attempt == 0:
                continue
            raise ValidationError(
                {"domain": "Another account was just created with this domain; retry."}
            ) from exc
        return account
    raise AssertionError("unreachable")  # pragma: no cover


@transaction.atomic
def lead_upsert(
    *,
    email: str,
    account_data: dict[str, Any] | None = None,
    now: datetime | None = None,
    **fields: Any,
) -> tuple[Lead, bool]:
    """Create a lead, or update the one with this e-mail (any letter case).

    Returns ``(lead, created)``. With ``account_data`` the account is found or
    created by its domain (else name) and linked. The existing lead is locked
    while it is updated; a concurrent create of the same address makes this
    call update the winner's row instead. Marks the lead for a rescore (fit
    data changed) and announces it after commit. Raises ValidationError.
    """
    at = now or timezone.now()
    normalized = normalize_email(email)
    if account_data:
        try:
            fields["account"] = account_upsert(**account_data)
        except ValidationError as exc:
            # Name the nested object, so the answer points at account.<field>.
            raise ValidationError({"account": exc.messages}) from exc
    lead = (
        Lead.objects.select_for_update(of=("self",))
        .filter(email__lower=normalized.lower())
        .first()
    )
    created = lead is None
    if lead is None:
        try:
            with transaction.atomic():
                lead = lead_create(email=normalized, now=at, **fields)
        except LeadAlreadyExists:
            lead = (
                Lead.objects.select_for_update(of=("self",))
                .filter(email__lower=normalized.lower())
                .get()
            )
            created = False
    if not created and fields:
        lead_update(lead=lead, **fields)
    leads_mark_for_rescore([lead.id], now=at)
    return lead, created


def lead_owner_set(*, lead_id: int, owner: Any | None) -> None:
    """Make ``owner`` (a user, or None) the lead's owner.

    Call inside the transaction of the use-case that decided it (accepting a
    handoff, handing a lead to its account's owner), after locking the lead.
    """
    Lead.objects.filter(id=lead_id).update(owner=owner, updated_at=timezone.now())


#: Fields a merge copies from the duplicate where the surviving lead has none.
MERGE_FILL_FIELDS = (
    "first_name",
    "last_name",
    "job_title",
    "phone",
    "country",
    "account_id",
    "source",
    "utm_source",
    "utm_medium",
    "utm_campaign",
)


@transaction.atomic
def lead_merge(
    *, duplicate_id: int, survivor_id: int, now: datetime | None = None
) -> Lead:
    """Fold the lead ``duplicate_id`` into ``survivor_id``; return the survivor.

    Locks both leads (id order). The duplicate's touchpoints move to the
    survivor, blank fields of the survivor are filled from the duplicate, its
    attributes are merged (the survivor's win), the duplicate points at the
    survivor (``merged_into``) and the survivor is marked for a rescore. The
    duplicate's stage is the caller's to change (through the lifecycle).
    Raises ValidationError when the two are the same lead, either is erased
    or the survivor was itself merged away; Lead.DoesNotExist when missing.
    """
    at = now or timezone.now()
    if duplicate_id == survivor_id:
        raise ValidationError({"duplicate_of": "A lead cannot be merged into itself."})
    locked = {lead.id: lead for lead in lock_leads([duplicate_id, survivor_id])}
    if survivor_id not in locked:
        raise ValidationError({"duplicate_of": f"There is no lead {survivor_id}."})
    duplicate, survivor = locked[duplicate_id], locked[survivor_id]
    if survivor.merged_into_id is not None:
        raise ValidationError(
            {
                "duplicate_of": (
                    f"Lead {survivor_id} was itself merged into lead "
                    f"{survivor.merged_into_id}; merge into that one."
                )
            }
        )
    if duplicate.erased_at or survivor.erased_at:
        raise ValidationError({"duplicate_of": "An erased lead cannot be merged."})
    changed = ["attributes", "updated_at"]
    for field in MERGE_FILL_FIELDS:
        if not getattr(survivor, field) and getattr(duplicate, field):
            setattr(survivor, field, getattr(duplicate, field))
            changed.append(field)
            if field == "country":
                survivor.set_country(duplicate.country)
                changed.append("region")
            if field == "job_title":
                survivor.set_job_title(duplicate.job_title)
                changed += ["seniority", "department"]
    survivor.attributes = {
        **(duplicate.attributes or {}),
        **(survivor.attributes or {}),
    }
    survivor.save(update_fields=sorted(set(changed)))
    moved = Touchpoint.objects.filter(lead_id=duplicate_id).update(lead_id=survivor_id)
    Lead.objects.filter(id=duplicate_id).update(merged_into=survivor, updated_at=at)
    # Both scores change: the touchpoints moved from one to the other.
    leads_mark_for_rescore([duplicate_id, survivor_id], now=at)
    logger.info(
        "lead %s merged into lead %s (%s touchpoints moved)",
        duplicate_id,
        survivor_id,
        moved,
    )
    return survivor


# Deleting campaigns and accounts
# ------------------------------------------------------------------------------


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


def account_lead_count(account_id: int) -> int:
    """How many leads deleting the account would detach (and rescore)."""
    return Lead.objects.filter(account_id=account_id).count()


@transaction.atomic
def account_delete(
    *, account_id: int, actor: Any | None, now: datetime | None = None
) -> int:
    """Delete an account; its leads are detached and marked for a rescore.

    The leads stay (a lead is a person, the account only their company), but
    their fit scores read the account's industry and size, so each one is
    marked for a rescore in this transaction. Locks the account, then its
    leads in id order. Writes one ``account_delete`` audit row with the
    account id and the number of leads detached; returns that number.
    Raises Account.DoesNotExist when it is gone.
    """
    now = now or timezone.now()
    account = Account.objects.select_for_update().get(id=account_id)
    lead_ids = list(
        lock_leads(
            Lead.objects.filter(account_id=account.id).values_list("id", flat=True),
            no_key=True,
        ).values_list("id", flat=True)
    )
    Lead.objects.filter(id__in=lead_ids).update(account=None, updated_at=now)
    leads_mark_for_rescore(lead_ids, now=now)
    account.delete()
    audit_record(
        actor=actor,
        action=AuditEvent.Action.ACCOUNT_DELETE,
        at=now,
        details={"account_id": account_id, "leads_detached": len(lead_ids)},
    )
    logger.info(
        "account %s deleted by user %s, %s leads detached",
        account_id,
        getattr(actor, "pk", None),
        len(lead_ids),
    )
    return len(lead_ids)
