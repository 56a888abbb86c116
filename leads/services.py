"""Write use-cases of leads: create, update, upsert, fill blanks, edit, set the
owner and merge.

Stage changes are not here: they belong to ``leads.lifecycle``. Accounts are
in ``leads.accounts``, who may edit what in ``leads.edit_scope``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from leads.accounts import account_for_email, account_upsert
from leads.attribution_marks import attribution_days_mark
from leads.audit import audit_record
from leads.edit_scope import LEAD_EDITABLE_FIELDS, UTM_FIELDS, LeadEditScope
from leads.emails import normalize_email
from leads.exceptions import LeadAlreadyExists
from leads.locks import leads_for_update, lock_lead, lock_leads
from leads.models import Account, AuditEvent, Lead, OwnerChange, Stage, Touchpoint
from leads.rescore import leads_mark_for_rescore
from leads.titles import department_from_title

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

logger = logging.getLogger(__name__)


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
    actor: AbstractBaseUser | None = None,
    **fields: Any,
) -> Lead:
    """Create a lead in stage ``lead``.

    The e-mail is normalised; the account is the one given or else matched
    (or created) from the e-mail domain, never for free-mail. Seniority,
    department and region are derived from title and country unless given.
    With an ``actor`` (a person, not a form or an import) one ``lead_create``
    audit row names the fields set. Raises ValidationError (field errors,
    nothing stored) for bad input and LeadAlreadyExists when the e-mail is
    taken in any letter case.
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
    attribution_days_mark(moments=[at])
    if actor is not None:
        audit_record(
            actor=actor,
            action=AuditEvent.Action.LEAD_CREATE,
            lead_id=lead.id,
            details={"fields": sorted(fields), "account_id": lead.account_id},
            at=at,
        )
    logger.info("lead %s created", lead.id)
    return lead


@transaction.atomic
def lead_update(
    *, lead: Lead, actor: AbstractBaseUser | None = None, **fields: Any
) -> Lead:
    """Change editable fields of a lead; derived fields follow.

    With an ``actor`` (a person, not a form or an import) one ``lead_edit``
    audit row names the fields whose value changed (names only: the values
    are personal data), when any did. Raises ValidationError (nothing
    saved) for an unknown or invalid field. The stage cannot be changed
    here: use ``leads.lifecycle.lead_move``.
    """
    # As stored, not as on ``lead``: the admin hands in an instance its form
    # has already changed.
    attnames = {name: Lead._meta.get_field(name).attname for name in fields}
    before = (
        Lead.objects.filter(pk=lead.pk).values(*attnames.values()).first() or {}
        if actor is not None and fields
        else {}
    )
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
    changed = sorted(
        name
        for name, attname in attnames.items()
        if before.get(attname) != getattr(lead, attname)
    )
    if actor is not None and changed:
        audit_record(
            actor=actor,
            action=AuditEvent.Action.LEAD_EDIT,
            lead_id=lead.id,
            details={"fields": changed},
        )
    return lead


@transaction.atomic
def lead_upsert(
    *,
    email: str,
    account_data: dict[str, Any] | None = None,
    now: datetime | None = None,
    actor: AbstractBaseUser | None = None,
    scope: LeadEditScope | None = None,
    **fields: Any,
) -> tuple[Lead, bool]:
    """Create a lead, or update the one with this e-mail (any letter case).

    Returns ``(lead, created)``. With ``account_data`` the account is found or
    created by its domain (else name) and linked. The existing lead is locked
    while it is updated; a concurrent create of the same address makes this
    call update the winner's row instead. Marks the lead for a rescore (fit
    data changed) and announces it after commit. A person's call passes
    ``actor`` (one audit row: ``lead_create`` or ``lead_edit``) and ``scope``
    (LeadEditDenied, nothing stored, for a change it does not allow); forms
    and imports pass neither. Raises ValidationError.
    """
    at = now or timezone.now()
    normalized = normalize_email(email)
    if scope is not None and account_data:
        scope.check_account()
    if account_data:
        try:
            fields["account"] = account_upsert(**account_data, actor=actor, now=at)
        except ValidationError as exc:
            # Name the nested object, so the answer points at account.<field>.
            raise ValidationError({"account": exc.messages}) from exc
    lead = leads_for_update(email__lower=normalized.lower()).first()
    created = lead is None
    if lead is None:
        if scope is not None:
            scope.check(lead=None, fields=fields, account=bool(account_data))
        try:
            with transaction.atomic():
                lead = lead_create(email=normalized, now=at, actor=actor, **fields)
        except LeadAlreadyExists:
            lead = leads_for_update(email__lower=normalized.lower()).get()
            created = False
    if not created:
        if scope is not None:
            scope.check(lead=lead, fields=fields, account=bool(account_data))
        if fields:
            lead_update(lead=lead, actor=actor, **fields)
    leads_mark_for_rescore([lead.id], now=at)
    return lead, created


@transaction.atomic
def lead_edit(
    *,
    lead_id: int,
    actor: AbstractBaseUser,
    scope: LeadEditScope,
    account_data: dict[str, Any] | None = None,
    now: datetime | None = None,
    **fields: Any,
) -> Lead:
    """One person's change to one lead (the API's PATCH).

    ``scope`` says what ``actor`` may change (LeadEditScope.for_user): a
    change outside it raises LeadEditDenied and stores nothing. With
    ``account_data`` the account is found or created (``account_upsert``)
    and linked, which needs ``scope.accounts``. The account is locked
    before the lead, as in ``lead_upsert``. Writes one ``lead_edit`` audit
    row when a field changed (and ``account_edit`` for a changed account)
    and marks the lead for a rescore. Raises Lead.DoesNotExist (missing or
    erased) and ValidationError for bad values.
    """
    at = now or timezone.now()
    # Checked before anything is written, so a refusal takes no account lock;
    # checked again under the lead's lock (its owner may have changed).
    current = Lead.objects.get(id=lead_id, erased_at__isnull=True)
    scope.check(lead=current, fields=fields, account=bool(account_data))
    if account_data:
        try:
            fields["account"] = account_upsert(**account_data, actor=actor, now=at)
        except ValidationError as exc:
            raise ValidationError({"account": exc.messages}) from exc
    lead = lock_lead(lead_id)
    if lead.erased_at is not None:
        raise Lead.DoesNotExist(f"Lead {lead_id} was erased.")
    scope.check(lead=lead, fields=fields, account=bool(account_data))
    if fields:
        lead_update(lead=lead, actor=actor, **fields)
    leads_mark_for_rescore([lead.id], now=at)
    return lead


#: What a caller with no authenticated user may give ``lead_fill_blanks``.
LEAD_FILLABLE_FIELDS = frozenset(
    {"first_name", "last_name", "job_title", "phone", "country", "attributes"}
) | frozenset(UTM_FIELDS)


@dataclass(frozen=True)
class LeadFill:
    """What ``lead_fill_blanks`` did: the (locked) lead and what it left out."""

    lead: Lead
    created: bool
    #: Field -> given value that differs from the stored one and was not
    #: applied; attribute keys under ``"attributes"`` as a dict of their own.
    differs: dict[str, Any]


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


@transaction.atomic
def lead_fill_blanks(
    *, email: str, now: datetime | None = None, **fields: Any
) -> LeadFill:
    """Create a lead, or fill in only the blank fields of the one with this e-mail.

    For paths with no authenticated user (public web forms): anyone can type
    any address there, so what they send may start a lead or complete it but
    never replaces what is stored. Blank values given are ignored. On a known
    lead (any letter case, locked) a field is set only when it is blank,
    ``attributes`` key by key, and the UTM keys together only when the lead
    has none (its first touch); derived fields follow what is filled, and a
    department already set stays. Every given value that differs from a
    stored one is left out and returned in ``differs`` for a person to review
    (UTM keys excepted: a later touch's campaign is no claim about the lead).
    A concurrent create of the same address makes this call fill the
    winner's row. Marks the lead for a rescore when it was created or filled.
    Raises ValidationError for a field outside ``LEAD_FILLABLE_FIELDS`` or a
    bad value (nothing stored).
    """
    unknown = set(fields) - LEAD_FILLABLE_FIELDS
    if unknown:
        raise ValidationError(
            dict.fromkeys(sorted(unknown), "This field cannot be set here.")
        )
    at = now or timezone.now()
    given = {name: value for name, value in fields.items() if not _blank(value)}
    if "country" in given:
        given["country"] = str(given["country"]).strip().upper()
    attributes = {
        key: value
        for key, value in (given.pop("attributes", None) or {}).items()
        if not _blank(value)
    }
    normalized = normalize_email(email)
    lead = leads_for_update(email__lower=normalized.lower()).first()
    if lead is None:
        try:
            with transaction.atomic():
                lead = lead_create(
                    email=normalized,
                    now=at,
                    **given,
                    **({"attributes": attributes} if attributes else {}),
                )
        except LeadAlreadyExists:
            lead = leads_for_update(email__lower=normalized.lower()).get()
        else:
            leads_mark_for_rescore([lead.id], now=at)
            return LeadFill(lead=lead, created=True, differs={})

    fill: dict[str, Any] = {}
    differs: dict[str, Any] = {}
    utm = {name: given.pop(name) for name in UTM_FIELDS if name in given}
    if utm and not any(getattr(lead, name) for name in UTM_FIELDS):
        fill.update(utm)
    for name, value in given.items():
        stored = getattr(lead, name)
        if _blank(stored):
            fill[name] = value
        elif stored != value:
            differs[name] = value
    stored_attributes = lead.attributes or {}
    new_keys = {k: v for k, v in attributes.items() if _blank(stored_attributes.get(k))}
    if new_keys:
        fill["attributes"] = {**stored_attributes, **new_keys}
    if other := {
        k: v
        for k, v in attributes.items()
        if k not in new_keys and stored_attributes[k] != v
    }:
        differs["attributes"] = other
    if "job_title" in fill and lead.department:
        fill["department"] = lead.department
    if fill:
        lead_update(lead=lead, **fill)
        leads_mark_for_rescore([lead.id], now=at)
    return LeadFill(lead=lead, created=False, differs=differs)


def lead_owner_set(*, lead_id: int, owner: Any | None) -> None:
    """Make ``owner`` (a user, or None) the lead's owner.

    Call inside the transaction of the use-case that decided it (accepting a
    handoff, handing a lead to its account's owner), after locking the lead.
    """
    Lead.objects.filter(id=lead_id).update(owner=owner, updated_at=timezone.now())


def lead_owner_change(
    *, lead: Lead, owner: Any, actor: Any, reason: str, at: datetime
) -> OwnerChange:
    """Hand the locked ``lead`` to ``owner`` and record who did it and why.

    Call inside the transaction of the use-case that decided it (a manager
    reassigning a lead in the sales pipeline), after locking the lead. The
    OwnerChange row is the lead's history of the change (its page's
    timeline); the caller writes the audit row.
    """
    change = OwnerChange.objects.create(
        lead=lead,
        at=at,
        actor=actor,
        from_owner_id=lead.owner_id,
        to_owner=owner,
        reason=reason,
    )
    Lead.objects.filter(id=lead.id).update(owner=owner, updated_at=at)
    lead.owner = owner
    return change


#: Sales stages, as a refusal to change the owner names them.
_SALES_STAGE_WORDS = {
    Stage.SAL: "a sales-accepted lead (SAL)",
    Stage.SQL: "a sales-qualified lead (SQL)",
    Stage.OPPORTUNITY: "an opportunity",
    Stage.CUSTOMER: "a customer",
}


def lead_owner_change_problem(lead: Lead, owner: Any | None) -> str | None:
    """Why a bulk write may not make ``owner`` the owner of the stored ``lead``.

    None when ``owner`` already owns it. The owner of a lead changes only when
    an SDR accepts its handoff (``lead_owner_set`` from the handoff service)
    or an admin reassigns it; the API refuses the field outright. Imports call
    this for every existing lead they update, so a file cannot move a lead,
    least of all one sales is working, to someone else.
    """
    if (owner.pk if owner is not None else None) == lead.owner_id:
        return None
    if lead.stage in _SALES_STAGE_WORDS:
        return (
            f"lead {lead.id} is {_SALES_STAGE_WORDS[lead.stage]}; its owner changes "
            "through the pipeline, not an import."
        )
    return (
        f"lead {lead.id} already exists; its owner is set when an SDR accepts its "
        "handoff, not by an import."
    )


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
