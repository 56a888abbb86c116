"""Reading one cell of an import: numbers, yes/no, dates, domains.

Pure functions over strings (no database). Each returns the typed value or
raises ValueError with a reason a person can act on; ``leads.imports.rows``
puts the reason next to the column's name.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import re
import zoneinfo
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone

from leads.domains import account_domain_problem
from leads.exceptions import ImportFileError
from leads.ingestion import CLOCK_SKEW, EARLIEST_OCCURRED_AT

#: Largest employee count accepted (the API's limit too).
MAX_EMPLOYEES = 10_000_000
#: Annual revenue must fit Account.annual_revenue (16 digits, 2 decimals).
MAX_REVENUE = Decimal("99999999999999.99")

TRUE_WORDS = frozenset({"true", "yes", "1"})
FALSE_WORDS = frozenset({"false", "no", "0"})

NUMBER = "number"
BOOLEAN = "yes/no"
TEXT = "text"


_NUMBER_RE = re.compile(r"-?\d+(\.\d+)?")
_US_DATE_RE = re.compile(
    r"(\d{1,2})/(\d{1,2})/(\d{4})"
    r"(?:,?\s+(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([AaPp][Mm])?)?"
)
_DOTTED_DATE_RE = re.compile(
    r"(\d{1,2})\.(\d{1,2})\.(\d{4})(?:,?\s+(\d{1,2}):(\d{2})(?::(\d{2}))?)?"
)
_DOMAIN_RE = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9-]{1,63})+")


def as_number(value: str) -> int | float | None:
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
        return as_number(value)
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


def email_problem(raw: str, error: ValidationError) -> str:
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


#: Employee ranges as enrichment tools write them: "11-50", "1,001 - 5,000"
#: (or with an en or em dash), "51 to 200", "10,000+", "10K+". Group 1 is
#: the number before the dash, "to" or plus; group 2 its "k".
_EMPLOYEE_RANGE = re.compile(
    r"(\d+)(k?)\s*(?:(?:-|\u2013|\u2014|to)\s*\d+k?|\+)", re.IGNORECASE
)


def employee_count(value: str) -> int | None:
    """A company's number of employees: a whole number (``1,200``), or the
    lower end of a range as exports and enrichment tools write them
    (``11-50``, ``1,001-5,000``, ``10,000+``, ``10K+``): the count it
    surely has, which falls in the same size band as the range. None when
    the text is neither. Raises ValueError for a negative number or one over
    MAX_EMPLOYEES."""
    text = value.strip().replace(",", "").replace("_", "")
    if re.fullmatch(r"\d+(\.0+)?", text.replace(" ", "")):
        return whole_number(text, maximum=MAX_EMPLOYEES)
    if re.fullmatch(r"-\d+(\.\d+)?", text.replace(" ", "")):
        raise ValueError(f"{value!r} is negative; give a count such as 250.")
    match = _EMPLOYEE_RANGE.fullmatch(text)
    if match is None:
        return None
    number = int(match.group(1)) * (1000 if match.group(2) else 1)
    if number > MAX_EMPLOYEES:
        raise ValueError(f"{value!r} is too large (at most {MAX_EMPLOYEES:,}).")
    return number


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
