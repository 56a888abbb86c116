"""Write use-cases of the leads domain: leads and their accounts.

Stage changes are not here: they belong to ``leads.lifecycle``.
"""

from __future__ import annotations

import ipaddress
import logging
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from leads.audit import audit_record
from leads.domains import account_domain_candidates
from leads.exceptions import LeadAlreadyExists, LeadEditDenied
from leads.locks import lock_lead, lock_leads
from leads.models import (
    Account,
    AuditEvent,
    Campaign,
    Lead,
    Stage,
    Touchpoint,
    WebForm,
)
from leads.signals import leads_changed
from leads.titles import department_from_title

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

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


#: What an SDR or a rep may change on a lead: how to reach the person and
#: whether they may be reached. The title, country, source and the rest are
#: Marketing's: they feed the score (a new title can make a lead an MQL).
LEAD_CONTACT_FIELDS = frozenset(
    {"first_name", "last_name", "phone", "do_not_email", "do_not_call"}
)

#: Every field a person may set through a lead edit. The owner is not one: it
#: changes only when an SDR accepts the lead's handoff (lead_owner_set).
LEAD_PERSON_FIELDS = LEAD_EDITABLE_FIELDS - {"owner"}


@dataclass(frozen=True)
class LeadEditScope:
    """What one person may change on leads and accounts.

    ``fields``: the lead fields they may set. ``owner_ids``: the people whose
    leads they may edit (None: every lead; an unowned lead only then).
    ``accounts``: whether they may create or change accounts. Built by
    ``for_user`` from the person's permissions; the layer that knows who
    manages whom (crm) passes the team in. The services enforce it.
    """

    fields: frozenset[str]
    owner_ids: frozenset[int] | None
    accounts: bool
    team: bool = False

    @classmethod
    def for_user(cls, user: Any, *, team_ids: Iterable[int] = ()) -> LeadEditScope:
        """``change_lead`` edits every field of every lead (Marketing, Admin);
        ``change_own_lead`` the contact fields of the user's own leads, and of
        the leads owned by ``team_ids`` (a manager's team); else nothing."""
        accounts = user.has_perm("leads.change_account")
        if user.has_perm("leads.change_lead"):
            return cls(fields=LEAD_PERSON_FIELDS, owner_ids=None, accounts=accounts)
        team = frozenset(team_ids) - {user.pk}
        if user.has_perm("leads.change_own_lead"):
            return cls(
                fields=LEAD_CONTACT_FIELDS,
                owner_ids=frozenset({user.pk, *team}),
                accounts=accounts,
                team=bool(team),
            )
        return cls(fields=frozenset(), owner_ids=frozenset(), accounts=False)

    def check(
        self,
        *,
        lead: Lead | None,
        fields: Iterable[str],
        account: bool = False,
    ) -> None:
        """Raise LeadEditDenied (saying what is allowed) unless the change may
        be made: ``fields`` of ``lead`` (None: a new lead), and with
        ``account`` an account created or changed and linked to it."""
        if self.owner_ids is not None and (
            lead is None or lead.owner_id not in self.owner_ids
        ):
            whose = "you or your team own" if self.team else "you own"
            raise LeadEditDenied(
                f"You may edit only leads {whose}"
                + (f"; lead {lead.id} is not one of them." if lead else ".")
            )
        if account:
            self.check_account()
        refused = sorted(set(fields) - self.fields)
        if refused:
            raise LeadEditDenied(
                f"Your role may not change {', '.join(refused)}; it may change "
                f"{', '.join(sorted(self.fields)) or 'no lead field'}. Ask "
                "Marketing to change the rest (they feed the lead's score)."
            )

    def check_account(self) -> None:
        """Raise LeadEditDenied unless accounts may be created or changed."""
        if not self.accounts:
            raise LeadEditDenied(
                "Accounts are changed by Marketing or an Admin: their size and "
                "industry score every lead of the account."
            )


#: Scripts one name may mix: Japanese writes kanji with kana, Korean may
#: write hanja with hangul (the first word of unicodedata.name()).
_SCRIPT_FAMILIES = {"HIRAGANA": "CJK", "KATAKANA": "CJK", "HANGUL": "CJK"}


def _script(char: str) -> str:
    word = unicodedata.name(char, "UNKNOWN").split()[0].split("-")[0]
    return _SCRIPT_FAMILIES.get(word, word)


def _idn_domain_problem(domain: str) -> str | None:
    """Why a non-ASCII (lower-cased, NFC) domain is no honest IDN, or None.

    Each label must be letters, marks and digits of one script (plus ASCII
    digits and hyphens): a Cyrillic a (U+0430) among Latin letters is a
    homoglyph, and invisible or punctuation characters hide what a domain is.
    """
    for label in domain.split("."):
        scripts = set()
        for char in label:
            if char.isascii():
                if char.isalpha():
                    scripts.add("LATIN")
                continue
            category = unicodedata.category(char)
            if category[0] == "L":
                scripts.add(_script(char))
            elif category[0] != "M" and category != "Nd":
                return (
                    f"The domain contains U+{ord(char):04X}, which is not a letter "
                    "or digit; type the plain domain."
                )
        if len(scripts) > 1:
            names = " and ".join(sorted(s.capitalize() for s in scripts))
            return (
                f"{domain} mixes {names} letters in one name, as look-alike "
                "(homoglyph) domains do; type the domain in one alphabet."
            )
    return None


def _idna_decoded(domain: str) -> str:
    try:
        return domain.encode("ascii").decode("idna")
    except UnicodeError:
        return domain  # not valid IDNA: the e-mail check refuses what it must


def _is_ip_address(domain: str) -> bool:
    if domain.startswith("["):
        return True
    try:
        ipaddress.ip_address(domain)
    except ValueError:
        return False
    return True


def normalize_email(raw: str) -> str:
    """Return the e-mail trimmed, with its domain lower-cased and in ASCII.

    The local part keeps its case (some mail servers honour it) but uniqueness
    is checked case-insensitively by the database. An internationalised
    domain is stored in its IDNA form (``xn--``), so both spellings of one
    mailbox are one lead and match one account; a Unicode local part
    (SMTPUTF8) is refused, since most mail systems cannot deliver to it.
    Refused too, as they pass for another address or no company: text that
    compatibility normalisation (NFKC) would change (a full-width at sign
    U+FF20 or letter), a domain that mixes scripts in one name (a Cyrillic a
    U+0430 in ``example.com``) or holds invisible or punctuation characters, and an IP
    address or address literal (``[127.0.0.1]``) instead of a domain name.
    Raises ValidationError with a message for people when it is not an address.
    """
    # Canonical composition is the same text (ü typed as u + diaeresis);
    # compatibility forms only look like the plain characters they stand for.
    email = unicodedata.normalize("NFC", (raw or "").strip())
    if unicodedata.normalize("NFKC", email) != email:
        raise ValidationError(
            "Type the address with plain characters: it contains look-alike "
            "ones (such as a full-width \uff20 or \uff41) that stand for ordinary "
            "letters or signs.",
            code="lookalike",
        )
    local, at, domain = email.rpartition("@")
    domain = domain.lower()
    if at and not local.isascii():
        raise ValidationError(
            "Use an address whose part before the @ is plain ASCII (letters, "
            "digits and . _ + -); Unicode mailbox names are not supported.",
            code="invalid",
        )
    if at and _is_ip_address(domain):
        raise ValidationError(
            "Use an address at a domain name, such as ada@example.com; addresses "
            "at an IP address are not accepted.",
            code="ip_domain",
        )
    # A domain typed in its xn-- form is checked as the Unicode it stands for.
    shown = _idna_decoded(domain) if "xn--" in domain else domain
    if not shown.isascii() and (problem := _idn_domain_problem(shown)):
        raise ValidationError(problem, code="lookalike_domain")
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
    account for ``eu.acme.com`` itself; the most specific domain wins. Never
    a public suffix: ``eu.acme.co.uk`` stops at ``acme.co.uk``, and an address
    at ``co.uk`` itself has no account (``leads.domains``).
    """
    candidates = account_domain_candidates(domain)
    if not candidates:
        return None
    found = Account.objects.filter(domain__lower__in=candidates)
    matches = {account.domain: account for account in found}
    for candidate in candidates:
        if candidate in matches:
            return matches[candidate]
    return None


def account_for_email(email: str) -> Account | None:
    """Return the account an e-mail belongs to, creating it from the domain.

    None for free-mail domains and public suffixes. Safe under concurrency:
    two leads from a new domain arriving at once end up on one account (the
    unique domain index decides, the loser reads the winner's row).
    """
    domain = email.rpartition("@")[2].lower()
    if not account_domain_candidates(domain):
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


def _field_value(obj: Any, name: str) -> Any:
    # Foreign keys by id: the related row need not be loaded to compare.
    field = obj._meta.get_field(name)
    return getattr(obj, field.attname)


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

#: Account fields the scoring model reads (scoring.selectors.ACCOUNT_FACT_FIELDS):
#: changing one rescores every lead of the account.
ACCOUNT_SCORED_FIELDS = frozenset({*ACCOUNT_FIELDS, "domain"})

#: Account fields a person may change on an existing account (the admin).
ACCOUNT_EDITABLE_FIELDS = frozenset({*ACCOUNT_SCORED_FIELDS, "owner"})


def _account_changed(
    account: Account,
    *,
    changed: list[str],
    actor: AbstractBaseUser | None,
    now: datetime | None,
) -> None:
    """What follows a change of an existing, locked account, in its transaction.

    Every lead of the account is marked for a rescore when a field scoring
    reads changed (the leads' fit depends on it); a person's change writes
    one ``account_edit`` audit row with the field names and the lead count.
    """
    if not changed:
        return
    at = now or timezone.now()
    lead_ids: list[int] = []
    if set(changed) & ACCOUNT_SCORED_FIELDS:
        lead_ids = list(
            Lead.objects.filter(account_id=account.id).values_list("id", flat=True)
        )
        leads_mark_for_rescore(lead_ids, now=at)
    if actor is not None:
        audit_record(
            actor=actor,
            action=AuditEvent.Action.ACCOUNT_EDIT,
            details={
                "account_id": account.id,
                "fields": sorted(changed),
                "leads_rescored": len(lead_ids),
            },
            at=at,
        )
    logger.info(
        "account %s changed (%s); %s leads marked for a rescore",
        account.id,
        ", ".join(sorted(changed)),
        len(lead_ids),
    )


@transaction.atomic
def account_update(
    *,
    account_id: int,
    actor: AbstractBaseUser | None,
    now: datetime | None = None,
    **fields: Any,
) -> Account:
    """Change fields of an existing account (a person's edit, e.g. the admin).

    Locks the account; saves only the fields whose value changed. When one
    that scoring reads changed, every lead of the account is marked for a
    rescore; ``actor``'s change writes one ``account_edit`` audit row.
    Raises ValidationError (nothing saved) for an unknown or invalid field,
    Account.DoesNotExist when missing.
    """
    unknown = set(fields) - ACCOUNT_EDITABLE_FIELDS
    if unknown:
        raise ValidationError(
            dict.fromkeys(sorted(unknown), "This field cannot be set here.")
        )
    account = Account.objects.select_for_update().get(id=account_id)
    before = {name: _field_value(account, name) for name in fields}
    for name, value in fields.items():
        setattr(account, name, value)
    if "domain" in fields:
        account.domain = (account.domain or "").strip().lower().removeprefix("www.")
    if "country" in fields:
        account.country = (account.country or "").strip().upper()
    changed = [name for name in fields if before[name] != _field_value(account, name)]
    if not changed:
        return account
    account.full_clean(validate_constraints=False)
    try:
        with transaction.atomic():
            account.save(update_fields=[*sorted(changed), "updated_at"])
    except IntegrityError as exc:
        raise ValidationError(
            {"domain": "An account with this domain already exists."}
        ) from exc
    _account_changed(account, changed=changed, actor=actor, now=now)
    return account


@transaction.atomic
def account_upsert(
    *,
    domain: str = "",
    name: str = "",
    actor: AbstractBaseUser | None = None,
    now: datetime | None = None,
    **fields: Any,
) -> Account:
    """Find an account by domain (else by exact name) and update it, or create it.

    Only the fields given are changed. A change of an existing account marks
    every lead of it for a rescore when scoring reads the field, and with an
    ``actor`` writes one ``account_edit`` audit row (``_account_changed``).
    Raises ValidationError with field errors (nothing saved) for bad values,
    a domain that is a public suffix (``Account.clean``) or when neither
    domain nor name is given.
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
        given = {**fields, **({"name": name} if name else {})}
        before = (
            {key: getattr(account, key) for key in given}
            if account is not None
            else None
        )
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
        if before is not None:
            changed = [key for key in given if before[key] != getattr(account, key)]
            _account_changed(account, changed=changed, actor=actor, now=now)
        return account
    raise AssertionError("unreachable")  # pragma: no cover


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
    lead = (
        Lead.objects.select_for_update(of=("self",))
        .filter(email__lower=normalized.lower())
        .first()
    )
    created = lead is None
    if lead is None:
        if scope is not None:
            scope.check(lead=None, fields=fields, account=bool(account_data))
        try:
            with transaction.atomic():
                lead = lead_create(email=normalized, now=at, actor=actor, **fields)
        except LeadAlreadyExists:
            lead = (
                Lead.objects.select_for_update(of=("self",))
                .filter(email__lower=normalized.lower())
                .get()
            )
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


#: The lead's first touch: set together, and only on a lead that has none.
UTM_FIELDS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")

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
    lead = (
        Lead.objects.select_for_update(of=("self",))
        .filter(email__lower=normalized.lower())
        .first()
    )
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
            lead = (
                Lead.objects.select_for_update(of=("self",))
                .filter(email__lower=normalized.lower())
                .get()
            )
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
