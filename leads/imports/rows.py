"""Validate one CSV record against a column mapping: clean values or a reason.

Pure functions (no database): ``mapping_check`` turns a mapping into a
``ColumnPlan`` once per file, ``lead_row_clean`` / ``touchpoint_row_clean``
turn a record into typed values or raise RowRejected with a reason a person
can act on. Checks that need the database (owners, campaigns, existing leads)
are the caller's, in bulk per chunk.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import re
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone

from crm.common.text import text_problem
from leads.domains import account_domain_problem
from leads.emails import normalize_email
from leads.exceptions import ImportFileError
from leads.geo import is_known_country
from leads.imports.presets import (
    COUNTRY_NAMES,
    DEPARTMENT_WORDS,
    FREEFORM,
    SENIORITY_WORDS,
    TARGET_FIELDS,
    freeform_key,
    industry_from_word,
    normalize_word,
    source_from_word,
    stage_from_word,
)
from leads.imports.reading import Record
from leads.ingestion import CLOCK_SKEW, EARLIEST_OCCURRED_AT, json_object_problem
from leads.models import Account, Lead, Stage

#: Largest employee count accepted (the API's limit too).
MAX_EMPLOYEES = 10_000_000
#: Annual revenue must fit Account.annual_revenue (16 digits, 2 decimals).
MAX_REVENUE = Decimal("99999999999999.99")

TRUE_WORDS = frozenset({"true", "yes", "1"})
FALSE_WORDS = frozenset({"false", "no", "0"})

NUMBER = "number"
BOOLEAN = "yes/no"
TEXT = "text"


class RowRejected(Exception):
    """This record cannot be stored; the message says why and what to fix."""


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
    """Check a mapping (CSV column -> field, "" = skip) against the header.

    Unmapped columns become free-form attributes/properties when
    ``keep_unmapped``. Raises ImportFileError naming the fix: a column the
    file lacks, an unknown field, a field fed by two columns, a required
    field (the e-mail; for touchpoints also kind and time) left unmapped, or
    two columns that would write the same free-form key.
    """
    known = {f.code for f in TARGET_FIELDS[kind]}
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
            if _number(value) is None:
                numbers[position] = False
    types: dict[int, str] = {}
    for position in plan.freeform:
        if booleans[position]:
            types[position] = BOOLEAN
        else:
            types[position] = NUMBER if numbers[position] else TEXT
    return types


# Values
# ------------------------------------------------------------------------------

_NUMBER_RE = re.compile(r"-?\d+(\.\d+)?")
_US_DATE_RE = re.compile(
    r"(\d{1,2})/(\d{1,2})/(\d{4})"
    r"(?:,?\s+(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([AaPp][Mm])?)?"
)
_DOTTED_DATE_RE = re.compile(
    r"(\d{1,2})\.(\d{1,2})\.(\d{4})(?:,?\s+(\d{1,2}):(\d{2})(?::(\d{2}))?)?"
)
_DOMAIN_RE = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9-]{1,63})+")


def _number(value: str) -> int | float | None:
    """The cell as a JSON number, or None when it is none (then the column is
    text). A cell too long to be a number anyone meant (past the int parser's
    digit limit, or a decimal beyond a float, which would be Infinity, and
    JSON has no Infinity) is text too."""
    if not _NUMBER_RE.fullmatch(value):
        return None
    if "." not in value:
        try:
            return int(value)
        except ValueError:  # more digits than int() reads (sys.int_info)
            return None
    number = float(value)
    return number if math.isfinite(number) else None


def typed_value(value: str, kind: str) -> Any:
    """A free-form cell as JSON: a number, true/false, or the text."""
    if kind == BOOLEAN:
        return value.lower() in TRUE_WORDS
    if kind == NUMBER:
        return _number(value)
    return value


@functools.cache
def time_zone_names() -> frozenset[str]:
    """The IANA time zone names this server knows (Europe/Berlin, UTC ...)."""
    return frozenset(zoneinfo.available_timezones())


def import_time_zone(name: str) -> zoneinfo.ZoneInfo | None:
    """The zone of an import's dates that give none; None for "" (refuse them).

    Every import passes here (the upload form, the commands' ``--timezone``
    and each run of a stored job). Raises ImportFileError for a name that is
    not an IANA time zone.
    """
    if not name:
        return None
    if name not in time_zone_names():
        raise ImportFileError(
            f"Unknown time zone {name!r}; use a name such as Europe/Berlin, "
            "America/New_York or UTC."
        )
    return zoneinfo.ZoneInfo(name)


def parse_when(
    value: str, *, now: dt.datetime, tz: dt.tzinfo | None = None
) -> dt.datetime:
    """An aware datetime from the date formats CRM exports use.

    ISO 8601 (``2026-03-01``, ``2026-03-01 09:30``, with or without offset),
    US ``3/1/2026`` and ``3/1/2026, 9:30 AM`` (Salesforce and HubSpot in
    English write month first), and ``1.3.2026`` (day first). A date or time
    without an offset is read in ``tz``; without ``tz`` it is refused, as the
    API refuses it: guessing the zone would shift it by hours unseen. Raises
    ValueError with the reason.
    """
    text = value.strip()
    parsed: dt.datetime | None = None
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        for regex, month_first in ((_US_DATE_RE, True), (_DOTTED_DATE_RE, False)):
            match = regex.fullmatch(text)
            if match:
                parsed = _from_parts(match.groups(), month_first=month_first)
                break
    if parsed is None:
        raise ValueError(
            f"{value!r} is not a date; write it as 2026-03-01, 2026-03-01 09:30 or "
            "3/1/2026."
        )
    if timezone.is_naive(parsed):
        if tz is None:
            raise ValueError(
                f"{value!r} has no time zone; add its offset (2026-03-01 "
                "09:30+01:00 or Z), or choose the time zone of dates without one "
                "when you import (the upload form, or --timezone)."
            )
        parsed = timezone.make_aware(parsed, tz)
    if parsed > now + CLOCK_SKEW:
        raise ValueError(f"{value!r} is in the future; give when it happened.")
    if parsed < EARLIEST_OCCURRED_AT:
        raise ValueError(f"{value!r} is before the year 2000; check it.")
    return parsed


def _from_parts(
    groups: tuple[str | None, ...], *, month_first: bool
) -> dt.datetime | None:
    """A naive datetime from regex groups, or None for an impossible date."""
    a, b, year, hour, minute, second, *ampm = groups
    month, day = (int(a), int(b)) if month_first else (int(b), int(a))  # type: ignore[arg-type]
    h = int(hour or 0)
    if ampm and ampm[0]:
        if not 1 <= h <= 12:
            return None
        h = h % 12 + (12 if ampm[0].lower() == "pm" else 0)
    try:
        return dt.datetime(  # noqa: DTZ001 - made aware by the caller
            int(year),  # type: ignore[arg-type]
            month,
            day,
            h,
            int(minute or 0),
            int(second or 0),
        )
    except ValueError:  # 2/30/2026, 25:00 ...
        return None


def country_code(value: str) -> str:
    """ISO code for ``US``, ``de``, ``United Kingdom`` ...; ValueError if unknown."""
    text = value.strip()
    if len(text) == 2 and is_known_country(text):
        return text.upper()
    code = COUNTRY_NAMES.get(normalize_word(text))
    if code is None:
        raise ValueError(
            f"{value!r} is not a country we know; use an ISO two-letter code such "
            "as US, DE or GB, or the English name."
        )
    return code


def _email_problem(raw: str, error: ValidationError) -> str:
    """What to fix in a refused e-mail: the service's reason when it has one."""
    if error.code == "invalid":
        return f"{raw!r} is not a valid e-mail address."
    return " ".join(error.messages)


def domain_from(value: str) -> str:
    """``https://www.Acme.com/about`` -> ``acme.com``; ValueError if not a domain."""
    text = value.strip().lower()
    text = re.sub(r"^[a-z][a-z0-9+.-]*://", "", text)
    text = text.split("/", 1)[0].split("?", 1)[0].split(":", 1)[0]
    text = text.removeprefix("www.")
    if len(text) > 253 or not _DOMAIN_RE.fullmatch(text):
        raise ValueError(f"{value!r} is not a domain or website such as acme.com.")
    if problem := account_domain_problem(text):
        raise ValueError(problem)
    return text


def whole_number(value: str, *, maximum: int) -> int:
    text = value.strip().replace(",", "").replace("_", "").replace(" ", "")
    if re.fullmatch(r"\d+(\.0+)?", text):
        number = int(text.split(".")[0])
        if number <= maximum:
            return number
        raise ValueError(f"{value!r} is too large (at most {maximum:,}).")
    raise ValueError(f"{value!r} is not a whole number such as 250 or 1,200.")


def money(value: str) -> Decimal:
    text = re.sub(r"(?i)^(usd|us\$|\$)\s*|\s*(usd)$", "", value.strip())
    text = text.replace(",", "").replace(" ", "")
    if not re.fullmatch(r"\d+(\.\d+)?", text):
        raise ValueError(f"{value!r} is not an amount such as 1200000 or $1,200,000.")
    amount = Decimal(text)
    if amount > MAX_REVENUE:
        raise ValueError(f"{value!r} is too large.")
    return amount.quantize(Decimal("0.01"))


def yes_no(value: str) -> bool:
    word = value.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError(f"{value!r} is not yes/no; use true, false, yes, no, 1 or 0.")


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


def _freeform(
    cells: list[str], plan: ColumnPlan, types: dict[int, str]
) -> dict[str, Any]:
    values = {
        key: typed_value(cells[position], types.get(position, TEXT))
        for position, key in plan.freeform.items()
        if cells[position]
    }
    if problem := json_object_problem(values):
        raise RowRejected(f"{FREEFORM[plan.kind].capitalize()}: {problem}")
    return values


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
    email = ""
    if not raw_email:
        problems.append(f"{column}: the e-mail is blank; every lead needs one.")
    else:
        try:
            email = normalize_email(raw_email)
        except ValidationError as exc:
            problems.append(f"{column}: {_email_problem(raw_email, exc)}")
        else:
            if len(email) > Lead._meta.get_field("email").max_length:
                problems.append(f"{column}: keep the e-mail to 254 characters.")
    row = LeadRow(line=record.line, cells=record.cells, email=email)
    for position, code in plan.fields.items():
        value = cells[position]
        if not value or code == "email":
            continue
        try:
            _lead_value(row, code, value, now=now, tz=tz)
        except ValueError as exc:
            problems.append(f"{plan.header[position]}: {exc}")
    try:
        row.attributes = _freeform(cells, plan, types)
    except RowRejected as exc:
        problems.append(str(exc))
    if problems:
        raise RowRejected(" ".join(problems))
    return row


def _lead_value(
    row: LeadRow, code: str, value: str, *, now: dt.datetime, tz: dt.tzinfo | None
) -> None:
    """Put one non-blank cell into ``row``; ValueError with the reason if bad."""
    if code in _TEXT_LIMITS and len(value) > _TEXT_LIMITS[code]:
        raise ValueError(
            f"keep it to {_TEXT_LIMITS[code]} characters (this one has {len(value)})."
        )
    if code in {"first_name", "last_name", "job_title", "phone"} or code.startswith(
        "utm_"
    ):
        row.fields[code] = value
    elif code == "country":
        row.fields["country"] = country_code(value)
    elif code == "seniority_override":
        row.fields[code] = _choice(value, SENIORITY_WORDS, "seniority")
    elif code == "department":
        row.fields[code] = _choice(value, DEPARTMENT_WORDS, "department")
    elif code == "source":
        row.fields["source"] = source_from_word(value)
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
    elif code == "account_name":
        row.account["name"] = value
    elif code == "account_domain":
        row.account["domain"] = domain_from(value)
    elif code == "industry":
        row.account["industry"] = industry_from_word(value)
    elif code == "employee_count":
        row.account["employee_count"] = whole_number(value, maximum=MAX_EMPLOYEES)
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

    RowRejected names every bad cell of the row (column: reason). ``tz``: as
    in ``parse_when``.
    """
    cells = _cells(record, plan)
    values = {code: cells[position] for position, code in plan.fields.items()}
    problems: list[str] = []

    def header(code: str) -> str:
        position = plan.column_of(code)
        return plan.header[position] if position is not None else code

    raw_email = values.get("lead_email", "")
    email = ""
    if not raw_email:
        problems.append(f"{header('lead_email')}: the lead's e-mail is blank.")
    else:
        try:
            email = normalize_email(raw_email)
        except ValidationError as exc:
            problems.append(f"{header('lead_email')}: {_email_problem(raw_email, exc)}")
    raw_kind = values.get("kind", "")
    kind = kinds.get(normalize_word(raw_kind), "")
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
