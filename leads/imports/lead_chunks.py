"""One chunk of a lead import: classify the rows and store them set-based.

Leads are created or updated by e-mail (any letter case). Imported lifecycle
stages of new leads become history transitions made by the import
(``system_actor="import"``) along the funnel, via
``leads.lifecycle.history_replay``; an existing lead's history is never
rewritten, and neither is its owner (``lead_owner_change_problem``): that
cell is left out, noted with its line and counted (``cells_refused``) while
the rest of the row is applied. Dates without an offset are read in the
job's ``time_zone``, or rejected row by row when it has none.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Q, Value
from django.db.models.functions import Concat, Lower

from leads.accounts import accounts_for_domains, accounts_match_domains
from leads.attribution_marks import attribution_days_mark, lead_conversion_moments
from leads.domains import account_domain_candidates
from leads.edit_scope import LEAD_SOURCE_FIELDS
from leads.imports.chunks import IMPORT_ACTOR, ImportChunk, ImportRun
from leads.imports.reading import Record
from leads.imports.rows import LeadRow, RowRejected, lead_row_clean
from leads.lifecycle import FUNNEL, HistoryStep, history_replay, stage_rank
from leads.locks import lock_leads
from leads.models import Account, Lead, Stage, StageTransition
from leads.rescore import leads_mark_for_rescore
from leads.services import lead_fields_apply, lead_owner_change_problem

#: Lead columns compared to tell an updated lead from an unchanged one.
_COMPARED = (
    "first_name",
    "last_name",
    "job_title",
    "seniority_override",
    "seniority",
    "department",
    "phone",
    "country",
    "region",
    *LEAD_SOURCE_FIELDS,
    "owner_id",
    "account_id",
    "do_not_email",
    "do_not_call",
    "attributes",
)
_COLUMN_OF = {"owner_id": "owner", "account_id": "account"}
_ACCOUNT_FIELDS = ("name", "industry", "employee_count", "annual_revenue")

#: Stands for an account a dry run would create: the lead would change.
_PENDING_ACCOUNT = Account(name="(to be created)")


def import_path(
    stage: str, at: dt.datetime, dates: dict[str, dt.datetime] | None = None
) -> list[HistoryStep]:
    """The moves that bring a new lead from ``lead`` to an imported stage.

    Along the funnel (``customer`` passes mql, sal, sql and opportunity) so
    funnel reports count the lead at every stage; ``nurture`` and
    ``disqualified`` are one step from ``lead``. Each move is at its date in
    ``dates`` (stage code -> moment, from the export's "Became a ... Date"
    columns) or, without one, at the earliest date given for a later stage
    (a lead that became a customer on a day had passed sql by then), else at
    the move before it; never before ``at`` (the lead's created date) nor
    before the move before it. Without dates every move is at ``at``: the
    other CRM did not say when each stage was reached. Dates of stages the
    lead did not reach are ignored.
    """
    reason = f"Imported as {stage}"
    if stage in (Stage.NURTURE, Stage.DISQUALIFIED):
        return [HistoryStep(stage, at, reason)]
    path = FUNNEL[1 : stage_rank(stage) + 1]
    dates = dates or {}
    steps = []
    previous = at
    for n, step_stage in enumerate(path):
        later = [dates[s] for s in path[n:] if s in dates]
        moment = max(min(later) if later else previous, previous)
        steps.append(HistoryStep(step_stage, moment, reason))
        previous = moment
    return steps


def lead_chunk(run: ImportRun, records: list[Record]) -> ImportChunk:
    """Classify and (unless a dry run) store one chunk of lead records.

    Queries, whatever the number of rows: owners (1), existing leads (1, plus
    1 to lock them), accounts (1-3), then one bulk statement each for changed
    accounts, new leads, their transitions, changed leads and rescore marks.
    """
    chunk = ImportChunk()
    rows: list[LeadRow] = []
    for record in records:
        try:
            rows.append(
                lead_row_clean(
                    record, plan=run.plan, types=run.types, now=run.now, tz=run.tz
                )
            )
        except RowRejected as exc:
            chunk.reject(record.line, record.cells, str(exc))
    rows = _owners_attach(rows, run, chunk)
    rows = _first_occurrences(rows, run, chunk)
    existing = _leads_existing([r.email for r in rows], lock=not run.job.dry_run)
    kept: list[LeadRow] = []
    for row in rows:
        lead = existing.get(row.email.lower())
        if lead is not None and lead.erased_at is not None:
            chunk.reject(
                row.line,
                row.cells,
                f"The personal data of {row.email} was erased on request; it is not "
                "imported again.",
            )
        else:
            kept.append(row)
    accounts = _accounts_resolve(kept, existing, create=not run.job.dry_run)

    new_leads: list[Lead] = []
    transitions: list[StageTransition] = []
    changed_leads: list[Lead] = []
    lead_columns: set[str] = set()
    changed_accounts: dict[int, Account] = {}
    account_columns: set[str] = set()
    for row in kept:
        for warning in row.warnings:
            chunk.note(row.line, warning)
        lead = existing.get(row.email.lower())
        account = accounts.get(row.line)
        account_changes = _account_apply(account, row.account)
        if account_changes and account is not None and account.pk:
            changed_accounts[account.pk] = account
            account_columns.update(account_changes)
        if lead is None:
            lead, steps = _lead_new(row, account, now=run.now)
            new_leads.append(lead)
            transitions.extend(steps)
            chunk.created += 1
            continue
        _owner_keep(lead, row, run, chunk)
        columns = _lead_change(lead, row, account)
        if columns:
            changed_leads.append(lead)
            lead_columns.update(columns)
        if columns or account_changes or account is _PENDING_ACCOUNT:
            chunk.updated += 1
        else:
            chunk.unchanged += 1
        if row.stage and row.stage != lead.stage:
            chunk.note(
                row.line,
                f"Stage kept: the lead is already {lead.stage} (the file says "
                f"{row.stage_word!r}); an import never rewrites history.",
            )
    if run.job.dry_run:
        return chunk

    for account in changed_accounts.values():
        account.updated_at = run.now
    if changed_accounts:
        Account.objects.bulk_update(
            list(changed_accounts.values()),
            fields=sorted(account_columns | {"updated_at"}),
        )
    # bulk_create sets the ids (RETURNING on PostgreSQL and SQLite 3.35+),
    # which the transitions need.
    Lead.objects.bulk_create(new_leads)
    StageTransition.objects.bulk_create(transitions)
    attribution_days_mark(
        moments=[m for lead in new_leads for m in lead_conversion_moments(lead)]
    )
    for lead in changed_leads:
        lead.updated_at = run.now
    if changed_leads:
        fields = sorted({_COLUMN_OF.get(c, c) for c in lead_columns} | {"updated_at"})
        Lead.objects.bulk_update(changed_leads, fields=fields)
    leads_mark_for_rescore([lead.id for lead in new_leads + changed_leads], now=run.now)
    return chunk


def _owners_attach(
    rows: list[LeadRow], run: ImportRun, chunk: ImportChunk
) -> list[LeadRow]:
    """Resolve owner names to active users (one query); reject the unknown."""
    wanted = {row.owner.lower() for row in rows if row.owner}
    if not wanted:
        return rows
    users = (
        get_user_model()
        .objects.filter(is_active=True)
        .annotate(full_name=Lower(Concat("first_name", Value(" "), "last_name")))
        .filter(
            Q(username__lower__in=wanted)
            | Q(email__lower__in=wanted)
            | Q(full_name__in=wanted)
        )
    )
    matches: dict[str, set[int]] = {}
    by_id = {}
    for user in users:
        by_id[user.pk] = user
        for key in {user.username.lower(), user.email.lower(), user.full_name}:
            matches.setdefault(key, set()).add(user.pk)
    column = run.plan.header[run.plan.column_of("owner") or 0]
    kept = []
    for row in rows:
        if not row.owner:
            kept.append(row)
            continue
        found = matches.get(row.owner.lower(), set())
        if len(found) == 1:
            row.fields["owner"] = by_id[next(iter(found))]
            kept.append(row)
        elif found:
            chunk.reject(
                row.line,
                row.cells,
                f"{column}: {row.owner!r} matches {len(found)} users; give the "
                "username or e-mail instead.",
            )
        else:
            chunk.reject(
                row.line,
                row.cells,
                f"{column}: no active user is {row.owner!r}; give a Leadflow "
                "username, e-mail or full name, or leave the column unmapped.",
            )
    return kept


def _owner_keep(lead: Lead, row: LeadRow, run: ImportRun, chunk: ImportChunk) -> None:
    """Drop an owner the import may not give this existing lead, with a note.

    The rest of the row is still applied: the owner is refused, not the row.
    """
    if "owner" not in row.fields:
        return
    problem = lead_owner_change_problem(lead, row.fields["owner"])
    if problem:
        del row.fields["owner"]
        column = run.plan.header[run.plan.column_of("owner") or 0]
        chunk.refuse(row.line, f"{column}: {problem}")


def _first_occurrences(
    rows: list[LeadRow], run: ImportRun, chunk: ImportChunk
) -> list[LeadRow]:
    """Reject a second row for the same e-mail: which one should win is unclear."""
    kept = []
    for row in rows:
        key = row.email.lower()
        first = run.seen.get(key) or chunk.seen.get(key)
        if first is not None:
            chunk.reject(
                row.line,
                row.cells,
                f"The e-mail {row.email} is already on line {first} of this file; "
                "merge the two rows.",
            )
            continue
        chunk.seen[key] = row.line
        kept.append(row)
    return kept


def _leads_existing(emails: list[str], *, lock: bool) -> dict[str, Lead]:
    """Leads with these e-mails keyed by lower-cased e-mail; locked if ``lock``.

    ``email__lower__in`` uses the unique Lower(email) index. Locking (in id
    order, through leads.locks) keeps a concurrent edit from being undone by
    the bulk update that follows.
    """
    if not emails:
        return {}
    found = Lead.objects.filter(email__lower__in={e.lower() for e in emails})
    if lock:
        found = lock_leads(found.values_list("id", flat=True))
    return {lead.email.lower(): lead for lead in found}


def _accounts_resolve(
    rows: list[LeadRow], existing: dict[str, Lead], *, create: bool
) -> dict[int, Account | None]:
    """The account of each row (by line) whose account the file decides.

    The company domain column wins; else the e-mail domain (never free-mail
    nor a public suffix) for new leads, leads without an account and rows
    naming a company; else a company name matches an existing account of that
    exact name. Rows left out keep the lead's account. With ``create``
    missing domain accounts are created (``accounts_for_domains``); without
    (a dry run) they are ``_PENDING_ACCOUNT``.
    """
    domains: dict[int, str] = {}
    names: dict[int, str] = {}
    for row in rows:
        lead = existing.get(row.email.lower())
        email_domain = row.email.rpartition("@")[2].lower()
        if row.account.get("domain"):
            domains[row.line] = row.account["domain"]
        elif row.account or lead is None or lead.account_id is None:
            if account_domain_candidates(email_domain):
                domains[row.line] = email_domain
            elif row.account.get("name"):
                names[row.line] = row.account["name"]
    result: dict[int, Account | None] = {}
    if domains:
        wanted = set(domains.values())
        found = (accounts_for_domains if create else accounts_match_domains)(wanted)
        for line, domain in domains.items():
            result[line] = found.get(domain) or _PENDING_ACCOUNT
    if names:
        by_name: dict[str, Account] = {}
        for account in Account.objects.filter(
            name__lower__in={n.lower() for n in names.values()}
        ).order_by("-id"):
            by_name[account.name.lower()] = account  # the oldest wins
        for line, name in names.items():
            result[line] = by_name.get(name.lower())
    return result


def _account_apply(account: Account | None, values: dict[str, Any]) -> list[str]:
    """Set the account fields a row gives; return the columns that changed."""
    if account is None or account is _PENDING_ACCOUNT:
        return []
    changed = []
    for name in _ACCOUNT_FIELDS:
        if name in values and getattr(account, name) != values[name]:
            setattr(account, name, values[name])
            changed.append(name)
    return changed


def _lead_new(
    row: LeadRow, account: Account | None, *, now: dt.datetime
) -> tuple[Lead, list[StageTransition]]:
    """An unsaved lead with its imported history (unsaved transitions)."""
    at = row.created_at or now
    lead = Lead(
        email=row.email,
        source=Lead.Source.IMPORT,
        attributes=row.attributes,
        created_at=at,
        entered_lead_at=at,
        stage_changed_at=at,
    )
    # As lead_create does: seniority, department and region follow title/country.
    lead_fields_apply(lead, {"job_title": "", **row.fields})
    if account is not _PENDING_ACCOUNT:
        lead.account = account
    steps = import_path(row.stage, at, row.stage_dates) if row.stage else []
    transitions = history_replay(lead, steps, system_actor=IMPORT_ACTOR)
    return lead, transitions


def _lead_change(lead: Lead, row: LeadRow, account: Account | None) -> list[str]:
    """Apply a row to an existing lead in memory; return the changed columns.

    Blank cells change nothing (as in HubSpot and Salesforce imports), the
    title and country are set only when they differ (so a department or
    region someone set stays), attributes are merged, and the account
    changes only to a real account. The stage is never touched here.
    """
    before = {name: getattr(lead, name) for name in _COMPARED}
    fields: dict[str, Any] = {}
    for name, value in row.fields.items():
        current = lead.owner_id if name == "owner" else getattr(lead, name)
        wanted = value.pk if name == "owner" else value
        if current != wanted:
            fields[name] = value
    if account is not None and account.pk and account.pk != lead.account_id:
        fields["account"] = account
    if fields:
        lead_fields_apply(lead, fields)
    if row.attributes:
        merged = {**lead.attributes, **row.attributes}
        if merged != lead.attributes:
            lead.attributes = merged
    return [name for name in _COMPARED if getattr(lead, name) != before[name]]
