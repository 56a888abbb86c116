"""Accounts: matching an e-mail domain to its account (the one home of the
domain walk, by ``leads.domains``), and the account write use-cases
(upsert, update, delete).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from leads.audit import audit_record
from leads.domains import account_domain_candidates
from leads.locks import lock_leads
from leads.models import Account, AuditEvent, Lead
from leads.rescore import leads_mark_for_rescore

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

logger = logging.getLogger(__name__)


def name_from_domain(domain: str) -> str:
    """A readable account name for a domain: ``northwind-labs.io`` is Northwind Labs."""
    label = domain.split(".")[0] if domain else domain
    return " ".join(part.capitalize() for part in label.replace("_", "-").split("-"))


def _accounts_by_domain(candidates: Iterable[str]) -> dict[str, Account]:
    """The stored accounts whose domain is one of ``candidates``, by domain."""
    return {
        a.domain.lower(): a
        for a in Account.objects.filter(domain__lower__in=set(candidates))
    }


def _most_specific(found: dict[str, Account], candidates: list[str]) -> Account | None:
    """The account of the first (most specific) candidate domain found, or None."""
    return next((found[c] for c in candidates if c in found), None)


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
    return _most_specific(_accounts_by_domain(candidates), candidates)


def accounts_match_domains(domains: Iterable[str]) -> dict[str, Account | None]:
    """Map each e-mail domain to its stored account, or None; creates nothing.

    The read-only counterpart of ``accounts_for_domains`` (a dry run): a
    parent domain matches too, as in ``account_match_domain``. One query.
    """
    parents = {d: account_domain_candidates(d) for d in domains}
    found = _accounts_by_domain(c for found in parents.values() for c in found)
    return {d: _most_specific(found, parents[d]) for d in parents}


def accounts_for_domains(domains: Iterable[str]) -> dict[str, Account | None]:
    """Map each e-mail domain to its account, creating missing ones.

    Free-mail domains and public suffixes map to None. A subdomain joins the
    account of its parent domain when only that exists, never one on a public
    suffix (``leads.domains.account_domain_candidates``). Two queries plus
    one insert whatever the number of domains; concurrent callers converge
    on the same rows (the unique domain index decides, ``ignore_conflicts``
    skips the loser).
    """
    result: dict[str, Account | None] = {d.lower(): None for d in domains if d}
    parents = {d: account_domain_candidates(d) for d in result}
    wanted = {d for d, found in parents.items() if found}
    if not wanted:
        return result
    found = _accounts_by_domain(c for d in wanted for c in parents[d])
    missing = [d for d in wanted if not any(c in found for c in parents[d])]
    if missing:
        Account.objects.bulk_create(
            [Account(name=name_from_domain(d), domain=d) for d in sorted(missing)],
            ignore_conflicts=True,
        )
        found.update(_accounts_by_domain(missing))
    for domain in wanted:
        result[domain] = _most_specific(found, parents[domain])
    return result


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


def _field_value(obj: Any, name: str) -> Any:
    # Foreign keys by id: the related row need not be loaded to compare.
    field = obj._meta.get_field(name)
    return getattr(obj, field.attname)


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
