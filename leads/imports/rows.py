"""Validate one CSV record against a column mapping: clean values or a reason.

Pure functions (no database): ``mapping_check`` turns a mapping into a
``ColumnPlan`` once per file, ``lead_row_clean`` / ``touchpoint_row_clean``
turn a record into typed values or raise RowRejected with a reason a person
can act on. Checks that need the database (owners, campaigns, existing leads)
are the caller's, in bulk per chunk.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError

from crm.common.text import text_problem
from leads.emails import normalize_email
from leads.exceptions import ImportFileError
from leads.geo import country_from_text
from leads.imports.presets import (
    DEPARTMENT_WORDS,
    FREEFORM,
    OUTBOUND_EMAIL_WORDS,
    SENIORITY_WORDS,
    SKIP,
    STAGE_DATE_FIELDS,
    TARGET_FIELDS,
    freeform_key,
    industry_from_word,
    normalize_word,
    source_from_word,
    stage_from_word,
)
from leads.imports.reading import Record
from leads.imports.values import (
    BOOLEAN,
    FALSE_WORDS,
    NUMBER,
    TEXT,
    TRUE_WORDS,
    as_number,
    domain_from,
    email_problem,
    employee_count,
    money,
    parse_when,
    typed_value,
    yes_no,
)
from leads.ingestion import json_object_problem
from leads.models import Account, Lead, Stage


class RowRejected(Exception):
    """This record cannot be stored; the message says why and what to fix."""


class RowSkipped(Exception):
    """This record is not stored on purpose and is no error: the message is
    the note the import shows for it."""


# The mapping of a file
# ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ColumnPlan:
    """Which column feeds which field, checked against the file's header."""

    kind: str
    header: list[str]
    # column position -> field code, for the mapped (non free-form) columns
    fields: dict[int, str]
    # column position -> attribute / property key, for the free-form columns
    freeform: dict[int, str]

    def column_of(self, code: str) -> int | None:
        return next((i for i, f in self.fields.items() if f == code), None)


def mapping_check(
    *, kind: str, header: list[str], mapping: dict[str, str], keep_unmapped: bool
) -> ColumnPlan:
    """Check a mapping (CSV column -> field) against the header.

    A column mapped to ``SKIP`` is never stored. Unmapped columns (mapped to
    "" or not named) become free-form attributes/properties when
    ``keep_unmapped`` and are dropped otherwise. Raises ImportFileError
    naming the fix: a column the file lacks, an unknown field, a field fed by
    two columns, a required field (the e-mail; for touchpoints also kind and
    time) left unmapped, or two columns that would write the same free-form
    key.
    """
    known = {f.code for f in TARGET_FIELDS[kind]} | {SKIP}
    positions = {name: i for i, name in enumerate(header)}
    for column, target in mapping.items():
        if column not in positions:
            raise ImportFileError(
                f"The mapping names the column {column!r}, which the file does not "
                f"have; its columns are: {', '.join(header)}."
            )
        if target and target not in known:
            raise ImportFileError(
                f"Unknown field {target!r} for the column {column!r}; use one of: "
                f"{', '.join(sorted(known))}."
            )
    fields: dict[int, str] = {}
    freeform: dict[int, str] = {}
    by_field: dict[str, str] = {}
    for position, column in enumerate(header):
        target = mapping.get(column, "")
        if target == SKIP:
            continue
        if target == FREEFORM[kind] or (not target and keep_unmapped):
            freeform[position] = freeform_key(column, position)
            continue
        if not target:
            continue
        if target in by_field:
            raise ImportFileError(
                f"The columns {by_field[target]!r} and {column!r} are both mapped to "
                f"{target}; map only one of them."
            )
        by_field[target] = column
        fields[position] = target
    for target in TARGET_FIELDS[kind]:
        if target.required and target.code not in by_field:
            raise ImportFileError(
                f"Map a column to {target.code} ({target.label}); every row needs it."
            )
    keys: dict[str, int] = {}
    for position, key in freeform.items():
        if key in keys:
            raise ImportFileError(
                f"The columns {header[keys[key]]!r} and {header[position]!r} would "
                f"both be kept as {FREEFORM[kind]} {key!r}; skip or rename one."
            )
        keys[key] = position
    return ColumnPlan(kind=kind, header=header, fields=fields, freeform=freeform)


def freeform_types(plan: ColumnPlan, records: Iterable[Record]) -> dict[int, str]:
    """The type of each free-form column, judged from all its non-blank cells.

    A column whose values are all true/false/yes/no/1/0 is yes/no; one whose
    values are all numbers is a number; anything else is text. Typing by
    column (not cell) keeps a 0/1/2 counter numeric throughout.
    """
    booleans = dict.fromkeys(plan.freeform, True)
    numbers = dict.fromkeys(plan.freeform, True)
    for record in records:
        for position in plan.freeform:
            if position >= len(record.cells):
                continue
            value = record.cells[position].strip().lower()
            if not value:
                continue
            if value not in TRUE_WORDS | FALSE_WORDS:
                booleans[position] = False
            if as_number(value) is None:
                numbers[position] = False
    types: dict[int, str] = {}
    for position in plan.freeform:
        if booleans[position]:
            types[position] = BOOLEAN
        else:
            types[position] = NUMBER if numbers[position] else TEXT
    return types


# Records
# ------------------------------------------------------------------------------


@dataclass
class LeadRow:
    """A lead record that passed the checks; only non-blank cells are present."""

    line: int
    cells: list[str]
    email: str
    fields: dict[str, Any] = field(default_factory=dict)
    owner: str = ""
    account: dict[str, Any] = field(default_factory=dict)
    attributes: dict[str, Any] = field(default_factory=dict)
    stage: str | None = None
    stage_word: str = ""
    created_at: dt.datetime | None = None
    # When the row says the lead reached a stage (stage code -> moment).
    stage_dates: dict[str, dt.datetime] = field(default_factory=dict)
    # Cells no table could read (field -> column, text), kept as attributes,
    # and what the import says about each (the job's notes).
    unread: dict[str, tuple[str, str]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


@dataclass
class TouchpointRow:
    line: int
    cells: list[str]
    email: str
    kind: str
    occurred_at: dt.datetime
    campaign: str = ""
    utm: dict[str, str] = field(default_factory=dict)
    properties: dict[str, Any] = field(default_factory=dict)
    external_id: str | None = None


_TEXT_LIMITS = {
    name: Lead._meta.get_field(name).max_length
    for name in (
        "first_name",
        "last_name",
        "job_title",
        "phone",
        "utm_source",
        "utm_medium",
        "utm_campaign",
        "utm_term",
        "utm_content",
    )
}
_TEXT_LIMITS["account_name"] = Account._meta.get_field("name").max_length


def _cells(record: Record, plan: ColumnPlan) -> list[str]:
    if len(record.cells) != len(plan.header):
        raise RowRejected(
            f"This row has {len(record.cells)} cells but the header has "
            f"{len(plan.header)} columns; check for an unquoted comma or a missing "
            "cell."
        )
    for position, cell in enumerate(record.cells):
        if problem := text_problem(cell):
            raise RowRejected(f"{plan.header[position]}: {problem}")
    return [cell.strip() for cell in record.cells]


#: Why a cell no table could read is kept, by field; {column}, {value}, {key}.
_UNREAD = {
    "country": "{column}: {value!r} is not a country Leadflow recognises, so the "
    "country was not set; the text is kept as the attribute {key}. Write an ISO "
    "code (DE, DEU) or the English name (Germany).",
    "source": "{column}: {value!r} is not a lead source Leadflow knows, so the "
    "source is other; the text is kept as the attribute {key}.",
    "employee_count": "{column}: {value!r} is not a number of employees, so the "
    "account's was not set; the text is kept as the attribute {key}. Write a "
    "number (250) or a range (201-500, 10,000+).",
}


def _freeform(
    cells: list[str],
    plan: ColumnPlan,
    types: dict[int, str],
    *,
    row: LeadRow | None = None,
) -> dict[str, Any]:
    """The free-form columns' values; for a lead ``row``, also its unread
    cells, each under its field's name (``country``) or, when a free-form
    column has that key, under its column's (``country_region``), with the
    row's warning naming the key."""
    values = {
        key: typed_value(cells[position], types.get(position, TEXT))
        for position, key in plan.freeform.items()
        if cells[position]
    }
    for code, (column, value) in (row.unread if row else {}).items():
        key = code
        if key in values:
            key = freeform_key(column, plan.header.index(column))
        while key in values:
            key += "_text"
        values[key] = value
        row.warnings.append(_UNREAD[code].format(column=column, value=value, key=key))
    if problem := json_object_problem(values):
        raise RowRejected(f"{FREEFORM[plan.kind].capitalize()}: {problem}")
    return values


def _email_cell(raw: str, column: str, blank: str, problems: list[str]) -> str:
    """The cell's e-mail, normalised; "" with the reason added to ``problems``
    when it is blank (the reason ``blank``) or not an address we take."""
    if not raw:
        problems.append(f"{column}: {blank}")
        return ""
    try:
        return normalize_email(raw)
    except ValidationError as exc:
        problems.append(f"{column}: {email_problem(raw, exc)}")
        return ""


def lead_row_clean(
    record: Record,
    *,
    plan: ColumnPlan,
    types: dict[int, str],
    now: dt.datetime,
    tz: dt.tzinfo | None = None,
) -> LeadRow:
    """Check a lead record and return its typed values.

    RowRejected names every bad cell of the row (column: reason), so one
    round of fixes is enough. ``tz``: as in ``parse_when``.
    """
    cells = _cells(record, plan)
    problems: list[str] = []
    email_at = plan.column_of("email")
    raw_email = cells[email_at] if email_at is not None else ""
    column = plan.header[email_at] if email_at is not None else "email"
    email = _email_cell(
        raw_email, column, "the e-mail is blank; every lead needs one.", problems
    )
    if len(email) > Lead._meta.get_field("email").max_length:
        problems.append(f"{column}: keep the e-mail to 254 characters.")
    row = LeadRow(line=record.line, cells=record.cells, email=email)
    for position, code in plan.fields.items():
        value = cells[position]
        if not value or code == "email":
            continue
        try:
            _lead_value(row, code, value, now=now, tz=tz, column=plan.header[position])
        except ValueError as exc:
            problems.append(f"{plan.header[position]}: {exc}")
    try:
        row.attributes = _freeform(cells, plan, types, row=row)
    except RowRejected as exc:
        problems.append(str(exc))
    if problems:
        raise RowRejected(" ".join(problems))
    return row


def _lead_value(
    row: LeadRow,
    code: str,
    value: str,
    *,
    now: dt.datetime,
    tz: dt.tzinfo | None,
    column: str,
) -> None:
    """Put one non-blank cell into ``row``; ValueError with the reason if bad.

    A country or source no table knows does not reject the row: the country
    is left out (the source is other), and the text goes to ``row.unread``
    to be kept as an attribute with a warning (``_freeform``).
    """
    if code in _TEXT_LIMITS and len(value) > _TEXT_LIMITS[code]:
        raise ValueError(
            f"keep it to {_TEXT_LIMITS[code]} characters (this one has {len(value)})."
        )
    if code in {"first_name", "last_name", "job_title", "phone"} or code.startswith(
        "utm_"
    ):
        row.fields[code] = value
    elif code == "country":
        country = country_from_text(value)
        if country is None:
            row.unread["country"] = (column, value)
        else:
            row.fields["country"] = country
    elif code == "seniority_override":
        row.fields[code] = _choice(value, SENIORITY_WORDS, "seniority")
    elif code == "department":
        row.fields[code] = _choice(value, DEPARTMENT_WORDS, "department")
    elif code == "source":
        source = source_from_word(value)
        if source is None:
            row.fields["source"] = Lead.Source.OTHER
            row.unread["source"] = (column, value)
        else:
            row.fields["source"] = source
    elif code in {"do_not_email", "do_not_call"}:
        row.fields[code] = yes_no(value)
    elif code == "owner":
        row.owner = value
    elif code == "stage":
        stage = stage_from_word(value)
        if stage is None:
            raise ValueError(
                f"{value!r} is not a lifecycle stage we know; use one of "
                f"{', '.join(Stage.values)} or a HubSpot/Salesforce stage name."
            )
        row.stage, row.stage_word = stage, value
    elif code == "created_at":
        row.created_at = parse_when(value, now=now, tz=tz)
    elif code in STAGE_DATE_FIELDS:
        row.stage_dates[STAGE_DATE_FIELDS[code]] = parse_when(value, now=now, tz=tz)
    elif code == "account_name":
        row.account["name"] = value
    elif code == "account_domain":
        row.account["domain"] = domain_from(value)
    elif code == "industry":
        row.account["industry"] = industry_from_word(value)
    elif code == "employee_count":
        count = employee_count(value)
        if count is None:
            row.unread["employee_count"] = (column, value)
        else:
            row.account["employee_count"] = count
    elif code == "annual_revenue":
        row.account["annual_revenue"] = money(value)


def _choice(value: str, words: dict[str, str], what: str) -> str:
    code = words.get(normalize_word(value))
    if code is None:
        codes = ", ".join(sorted(set(words.values())))
        raise ValueError(f"{value!r} is not a {what}; use one of {codes}.")
    return code


def touchpoint_row_clean(
    record: Record,
    *,
    plan: ColumnPlan,
    types: dict[int, str],
    kinds: dict[str, str],
    now: dt.datetime,
    tz: dt.tzinfo | None = None,
) -> TouchpointRow:
    """Check a touchpoint record; ``kinds`` maps normalised code/label -> code.

    RowRejected names every bad cell of the row (column: reason); RowSkipped
    says why a well-formed row is not a touchpoint (an e-mail sent to the
    lead, ``OUTBOUND_EMAIL_WORDS``). ``tz``: as in ``parse_when``.
    """
    cells = _cells(record, plan)
    values = {code: cells[position] for position, code in plan.fields.items()}
    problems: list[str] = []

    def header(code: str) -> str:
        position = plan.column_of(code)
        return plan.header[position] if position is not None else code

    email = _email_cell(
        values.get("lead_email", ""),
        header("lead_email"),
        "the lead's e-mail is blank.",
        problems,
    )
    raw_kind = values.get("kind", "")
    kind = kinds.get(normalize_word(raw_kind), "")
    if not kind and normalize_word(raw_kind) in OUTBOUND_EMAIL_WORDS:
        raise RowSkipped(
            f"{header('kind')}: {raw_kind!r} is an e-mail sent to the lead, not "
            "the lead's engagement: not imported (its opens and clicks are)."
        )
    if not kind:
        problems.append(
            f"{header('kind')}: {raw_kind!r} is not a touchpoint kind; use one of "
            f"{', '.join(sorted(set(kinds.values())))}."
        )
    occurred_at = None
    if not values.get("occurred_at"):
        problems.append(f"{header('occurred_at')}: give when it happened.")
    else:
        try:
            occurred_at = parse_when(values["occurred_at"], now=now, tz=tz)
        except ValueError as exc:
            problems.append(f"{header('occurred_at')}: {exc}")
    external_id = values.get("external_id") or None
    if external_id is not None and len(external_id) > 200:
        problems.append(f"{header('external_id')}: keep it to 200 characters.")
    utm = {
        key: values[key]
        for key in ("utm_source", "utm_medium", "utm_campaign")
        if values.get(key)
    }
    for key, value in utm.items():
        if len(value) > 200:
            problems.append(f"{header(key)}: keep it to 200 characters.")
    if utm and not utm.get("utm_campaign"):
        problems.append(
            f"{header('utm_campaign')}: give utm_campaign with utm_source and "
            "utm_medium, or leave them all blank."
        )
    properties: dict[str, Any] = {}
    try:
        properties = _freeform(cells, plan, types)
    except RowRejected as exc:
        problems.append(str(exc))
    if problems or occurred_at is None:
        raise RowRejected(" ".join(problems))
    # Unknown UTM keys stay visible on the touchpoint (ingestion's convention):
    # a campaign may be set up after its first clicks arrive.
    properties.update(utm)
    return TouchpointRow(
        line=record.line,
        cells=record.cells,
        email=email,
        kind=kind,
        occurred_at=occurred_at,
        campaign=values.get("campaign", ""),
        utm=utm,
        properties=properties,
        external_id=external_id,
    )
