"""Candidate rules: conditions found in the data that pick out the leads that
reach SQL, whether or not today's model has a rule for them.

One selector (``rule_candidates``) serves the "Candidate rules" section of
``/scoring/analytics/`` and the ``candidates`` of
``GET /api/v1/reports/rules/``; one service (``candidate_add_to_draft``)
turns a candidate into a rule of a draft through the scoring app's services.

**The leads** are rule analytics' cohort (``rule_analytics._cohort_sql``):
the period's scored leads under the chosen model. **A candidate** is a
condition that holds for at least ``min_support`` of them:

- a touchpoint kind the lead did at least once in the period, or 3 or more
  times (``TOUCH_REPEAT``);
- a value of a lead field (country, region, seniority, department, source)
  or of its account (industry; employee count in the bins of
  ``EMPLOYEE_BINS``);
- a value of the lead's free-form ``attributes``: a text or true/false value
  as a rule compares it (case and surrounding spaces ignored), or a number in
  one of ``NUMBER_BINS`` quantile bins of that attribute's numbers (a bin
  holds whole values, so ties never straddle two; a bin runs from its
  smallest value to its largest).

For each: its leads, the rates of reaching SQL and of becoming customer
with it and without it (the rest of the cohort), and the lifts with the
intervals of ``rule_stats``. Candidates are sorted by the SQL lift's lower
bound, best first (those without one last). A candidate the active model
already has a rule for (a condition rule on the same attribute that holds for
the value, or both ends of the bin; an activity rule on the kind with no
property condition) is marked with that rule's label.

**Counting**: on PostgreSQL, three grouped queries over the cohort (fields
unpivoted with ``VALUES``, attributes expanded with ``jsonb_each``, each lead's
touchpoints of the period counted per kind); elsewhere (SQLite) the fields and
attributes are read lead by lead to the same counts, the touchpoints with the
same grouped query. A text value only one lead holds is not kept
(``MIN_SUPPORT_MIN``).

**Off the request path**: counting takes seconds at 100k leads and tens of
seconds at a million, so pages and the API never count. The counts are
stored per model and period (whatever the minimum support, which only
filters them) with the time they were counted, for ``KEEP_SECONDS``, by the
task ``crm.count_rule_candidates`` (``candidate_counts_refresh``).
``candidates_state`` reads the store: *ready* when the counts are younger
than ``STALE_AFTER``, *stale* (shown with their age) and *counting* (none
yet) while a count runs. It starts that count itself, claimed in the cache
(``cache.add``) for ``CLAIM_SECONDS`` so that two requests start one count.

**Suggested points**: ``POINTS_PER_LOG_LIFT`` times the natural log of the SQL
lift's bound nearest to 1 (the lower bound of a lift clearly above 1, the
upper of one clearly below), rounded to whole points, at most
``POINTS_MAX`` either way and at least 1: a lift of 2 (surely) gives 7
points, 3 gives 11, 0.5 gives -7. A lift whose interval holds 1, or that has
no interval, suggests nothing and cannot be added.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from crm.marketing.rule_analytics import (
    Comparison,
    _bounds,
    _cohort_sql,
    _fetch,
)
from crm.marketing.rule_stats import Lift, Rate
from leads.models import Account, Lead, Touchpoint, TouchpointKind
from scoring.engine import compile_condition
from scoring.exceptions import ModelNotEditable
from scoring.models import ScoringModel, ScoringRule
from scoring.selectors import model_active
from scoring.services import drafts
from scoring.validation import ATTRIBUTE_MAX, VALUE_TEXT_MAX, known_attribute

#: Leads a candidate needs by default: below about 30 a rate's interval is
#: too wide to rank on (Wilson's half-width is still about 0.15 at 30).
MIN_SUPPORT_DEFAULT = 30
MIN_SUPPORT_MAX = 1_000_000
#: The smallest minimum support: a value only one lead holds is no pattern,
#: and leaving those out of the counts keeps a free-text attribute (a value
#: per lead) from filling the cache with one group per lead.
MIN_SUPPORT_MIN = 2
#: "Did it often": touchpoints of one kind in the period.
TOUCH_REPEAT = 3
#: Quantile bins of a numeric attribute (quartiles).
NUMBER_BINS = 4
#: Account sizes, as the sales team talks about them (the last has no top).
EMPLOYEE_BINS: tuple[tuple[int, int | None], ...] = (
    (1, 49),
    (50, 199),
    (200, 999),
    (1000, 4999),
    (5000, None),
)
#: Suggested points per unit of log lift, and the most a suggestion gives:
#: a sure doubling is worth about a seventh of the default MQL threshold (60).
POINTS_PER_LOG_LIFT = 10
POINTS_MAX = 25
#: The longest candidate key a form may send.
KEY_MAX = 700
#: How long counted candidates are kept: a day, so a page reopened the next
#: morning shows the old figures with their age at once while they recount.
KEEP_SECONDS = 24 * 60 * 60
#: Counts older than this are shown as stale and recounted.
STALE_AFTER = dt.timedelta(minutes=15)
#: How long a started count holds its claim: past the task's hard time limit
#: (15 minutes at most), so a count lost with its worker is started again.
CLAIM_SECONDS = 16 * 60
#: The longest ``?candidates=wait`` blocks an API request, and how often it
#: looks: under a gateway's usual 60 s, above a 1M count's 10-30 s.
WAIT_SECONDS = 45
WAIT_POLL_SECONDS = 0.5
#: Keys of the advisory lock that serialises adding candidates (PostgreSQL):
#: "CAND", then the active model's id.
_LOCK_SPACE = 0x43414E44

#: Lead and account fields offered as candidates: (rule attribute, SQL column,
#: what people call it).
_FIELDS = (
    ("country", "l.country", "Country"),
    ("region", "l.region", "Region"),
    ("seniority", "l.seniority", "Seniority"),
    ("department", "l.department", "Department"),
    ("source", "l.source", "Source"),
    ("account.industry", "a.industry", "Industry"),
)
_SIZE = "account.employee_count"

TOUCH, TOUCH_OFTEN, FIELD, SIZE, ATTRIBUTE, NUMBER = (
    "touch",
    "touch_often",
    "field",
    "size",
    "attribute",
    "number",
)
_PREFIXES = (TOUCH, TOUCH_OFTEN, FIELD, SIZE, ATTRIBUTE, NUMBER)

NOT_OFTEN = (
    "A rule adds points for every touchpoint it counts; the rule language has "
    f"no “{TOUCH_REPEAT} or more times” condition. Add the kind's own candidate, "
    "or a rule on the kind in the editor."
)


DOTTED = "A rule reads a dot in an attribute's name as a nested value."
UNNAMEABLE = "A rule cannot name this attribute (too long, or spaces around it)."
TOO_LONG = f"A rule compares at most {VALUE_TEXT_MAX} characters."
_SHORT_REASONS = {
    NOT_OFTEN: f"No “{TOUCH_REPEAT}+ times” rule",
    DOTTED: "A dot in the name",
    UNNAMEABLE: "Name not usable",
    TOO_LONG: "Value too long",
}


class CandidateRefused(Exception):
    """A candidate that cannot be added: the message says what to do."""


@dataclass(frozen=True)
class Candidate:
    #: Stable within a model and period: what the add button sends.
    key: str
    source: str
    label: str
    leads: int
    rest: int
    sql: Comparison
    customer: Comparison
    #: The rule's fields (scoring.validation.RULE_INPUT_FIELDS but points),
    #: or None when the rule language cannot say it (``why_not`` says why).
    rule: dict[str, Any] | None
    why_not: str = ""
    #: Labels of the active model's rules that already test it.
    covered_by: list[str] = field(default_factory=list)

    @property
    def points(self) -> int:
        return suggested_points(self.sql.lift)

    @property
    def addable(self) -> bool:
        return self.rule is not None and self.points != 0

    @property
    def reason_short(self) -> str:
        """``reason_not_addable`` in a few words, for a table cell."""
        if self.rule is None:
            return _SHORT_REASONS.get(self.why_not, "Not a rule")
        if self.points == 0:
            return "No clear lift"
        return ""

    @property
    def reason_not_addable(self) -> str:
        if self.rule is None:
            return self.why_not
        if self.points == 0:
            return (
                "No clear lift of reaching SQL (its interval holds 1, or has no end)."
            )
        return ""


@dataclass(frozen=True)
class CandidateReport:
    model: ScoringModel
    start: dt.date
    end: dt.date
    min_support: int
    counted_at: dt.datetime
    leads: int
    candidates: list[Candidate]


def suggested_points(sql_lift: Lift) -> int:
    """Whole points for a candidate from its SQL lift (the module's docstring)."""
    low, high = sql_lift.low, sql_lift.high
    if low is None or high is None:
        return 0
    if low > 1:
        basis = low
    elif high < 1:
        basis = high
    else:
        return 0
    points = round(POINTS_PER_LOG_LIFT * math.log(basis))
    points = max(-POINTS_MAX, min(POINTS_MAX, points))
    return points or (1 if basis > 1 else -1)


# Counting ------------------------------------------------------------------


@dataclass
class _Counts:
    """Leads, SQLs and customers per condition; the cohort's totals."""

    totals: list[int]
    #: (source, name, value) -> [leads, sql, customer]; a NUMBER's value is
    #: the number (a Decimal), binned later.
    groups: dict[tuple[str, str, Any], list[int]]


def _add(groups: dict, key: tuple[str, str, Any], n: int, sql: int, cust: int) -> None:
    row = groups.setdefault(key, [0, 0, 0])
    row[0] += n
    row[1] += sql
    row[2] += cust


def _size_bin(count: Any) -> str | None:
    if count is None:
        return None
    for low, high in EMPLOYEE_BINS:
        if count >= low and (high is None or count <= high):
            return _size_label(low, high)
    return None


def _size_label(low: int, high: int | None) -> str:
    return f"{low}+" if high is None else f"{low}-{high}"


def _size_sql() -> str:
    parts = " ".join(
        f"WHEN a.employee_count >= {low}"
        + ("" if high is None else f" AND a.employee_count <= {high}")
        + f" THEN '{_size_label(low, high)}'"
        for low, high in EMPLOYEE_BINS
    )
    return f"CASE {parts} END"


def _text_value(value: Any) -> str | None:
    """A text or true/false attribute value as a rule compares it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        text = value.strip(" ").lower()
        return text or None
    return None


def _number_value(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _count(model_id: int, start: dt.date, end: dt.date) -> _Counts:
    since, until = _bounds(start, end)
    cohort, params = _cohort_sql(model_id, since, until)
    groups: dict[tuple[str, str, Any], list[int]] = {}
    with transaction.atomic():
        total = _fetch(
            "SELECT count(*), sum(c.reached_sql), sum(c.reached_customer) "  # nosec B608: names are constants, values bound
            f"FROM ({cohort}) c",
            params,
        )[0]
        if connection.vendor == "postgresql":
            _count_fields_sql(cohort, params, groups)
        else:
            _count_fields_python(cohort, params, groups)
        _count_touches(cohort, params, since, until, groups)
    return _Counts([int(n or 0) for n in total], groups)


def _tables() -> dict[str, str]:
    return {
        "lead": Lead._meta.db_table,
        "account": Account._meta.db_table,
        "touchpoint": Touchpoint._meta.db_table,
    }


def _count_fields_sql(cohort: str, params: list[Any], groups: dict) -> None:
    """Fields and attributes counted by PostgreSQL."""
    t = _tables()
    values = ", ".join(f"('{name}', {column}::text)" for name, column, _ in _FIELDS)
    rows = _fetch(
        "SELECT v.name, v.value, count(*), sum(c.reached_sql), "  # nosec B608: names from model meta and constants, values bound
        "sum(c.reached_customer) "
        f"FROM ({cohort}) c JOIN {t['lead']} l ON l.id = c.lead_id "
        f"LEFT JOIN {t['account']} a ON a.id = l.account_id "
        f"CROSS JOIN LATERAL (VALUES {values}, ('{_SIZE}', {_size_sql()})) "
        "v(name, value) WHERE v.value IS NOT NULL AND v.value <> '' GROUP BY 1, 2",
        params,
    )
    for name, value, n, sql, cust in rows:
        source = SIZE if name == _SIZE else FIELD
        _add(groups, (source, name, value), n, sql, cust)
    rows = _fetch(
        "SELECT e.key, jsonb_typeof(e.value), "  # nosec B608: names from model meta, values bound
        "CASE WHEN jsonb_typeof(e.value) = 'number' THEN e.value #>> '{}' "
        "ELSE lower(btrim(e.value #>> '{}', ' ')) END, "
        "count(*), sum(c.reached_sql), sum(c.reached_customer) "
        f"FROM ({cohort}) c JOIN {t['lead']} l ON l.id = c.lead_id "
        "CROSS JOIN LATERAL jsonb_each(CASE WHEN jsonb_typeof(l.attributes) = "
        "'object' THEN l.attributes ELSE '{}' END) e "
        "WHERE jsonb_typeof(e.value) IN ('string', 'number', 'boolean') "
        # Numbers are binned later, so every one counts.
        "GROUP BY 1, 2, 3 HAVING count(*) >= %s OR jsonb_typeof(e.value) = 'number'",
        [*params, MIN_SUPPORT_MIN],
    )
    for key, kind, value, n, sql, cust in rows:
        if kind == "number":
            _add(groups, (NUMBER, key, Decimal(value)), n, sql, cust)
        elif value:
            _add(groups, (ATTRIBUTE, key, value), n, sql, cust)


def _count_fields_python(cohort: str, params: list[Any], groups: dict) -> None:
    """``_count_fields_sql`` read lead by lead: the path of databases without
    jsonb (SQLite), and the PostgreSQL path's check in the tests."""
    t = _tables()
    columns = ", ".join(column for _, column, _ in _FIELDS)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {columns}, a.employee_count, l.attributes, "  # nosec B608: names from model meta and constants, values bound
            "c.reached_sql, c.reached_customer "
            f"FROM ({cohort}) c JOIN {t['lead']} l ON l.id = c.lead_id "
            f"LEFT JOIN {t['account']} a ON a.id = l.account_id",
            params,
        )
        while batch := cursor.fetchmany(2000):
            for row in batch:
                *values, employees, attributes, sql, cust = row
                sql, cust = int(sql), int(cust)
                for (name, _, _), value in zip(_FIELDS, values, strict=True):
                    if value:
                        _add(groups, (FIELD, name, value), 1, sql, cust)
                size = _size_bin(employees)
                if size:
                    _add(groups, (SIZE, _SIZE, size), 1, sql, cust)
                if isinstance(attributes, str | bytes):
                    attributes = json.loads(attributes)
                if not isinstance(attributes, dict):
                    continue
                for key, value in attributes.items():
                    number = _number_value(value)
                    if number is not None:
                        _add(groups, (NUMBER, key, number), 1, sql, cust)
                        continue
                    text = _text_value(value)
                    if text:
                        _add(groups, (ATTRIBUTE, key, text), 1, sql, cust)
    rare = [
        key
        for key, row in groups.items()
        if key[0] == ATTRIBUTE and row[0] < MIN_SUPPORT_MIN
    ]
    for key in rare:
        del groups[key]


def _count_touches(
    cohort: str,
    params: list[Any],
    since: dt.datetime,
    until: dt.datetime,
    groups: dict,
) -> None:
    """Leads that did each kind in the period, and did it TOUCH_REPEAT times:
    plain grouped SQL, the same on every database."""
    t = _tables()
    rows = _fetch(
        "SELECT x.kind, CASE WHEN x.n >= %s THEN 1 ELSE 0 END, count(*), "  # nosec B608: names from model meta, values bound
        "sum(c.reached_sql), sum(c.reached_customer) "
        f"FROM ({cohort}) c JOIN (SELECT lead_id, kind, count(*) AS n "
        f"FROM {t['touchpoint']} WHERE occurred_at >= %s AND occurred_at < %s "
        "GROUP BY lead_id, kind) x ON x.lead_id = c.lead_id GROUP BY 1, 2",
        [TOUCH_REPEAT, *params, since, until],
    )
    for kind, often, n, sql, cust in rows:
        _add(groups, (TOUCH, kind, kind), n, sql, cust)
        if often:
            _add(groups, (TOUCH_OFTEN, kind, kind), n, sql, cust)


# Candidates ----------------------------------------------------------------


def _number_bins(
    values: dict[Decimal, list[int]],
) -> list[tuple[Decimal, Decimal, list[int]]]:
    """Quantile bins of one attribute's numbers: (low, high, counts). A value
    goes to bin floor(leads below it * NUMBER_BINS / leads), so equal values
    share a bin."""
    total = sum(counts[0] for counts in values.values())
    bins: dict[int, list[Any]] = {}
    below = 0
    for number in sorted(values):
        counts = values[number]
        index = below * NUMBER_BINS // total
        entry = bins.setdefault(index, [number, number, [0, 0, 0]])
        entry[1] = number
        for i in range(3):
            entry[2][i] += counts[i]
        below += counts[0]
    return [tuple(bins[i]) for i in sorted(bins)]  # type: ignore[misc]


def _plain(number: Decimal) -> str:
    text = format(number.normalize(), "f")
    return text


def _attribute_problem(key: str) -> str:
    """Why ``attributes.<key>`` cannot be a rule's attribute, or ""."""
    path = f"attributes.{key}"
    if "." in key:
        return DOTTED
    if len(path) > ATTRIBUTE_MAX or not known_attribute(path):
        return UNNAMEABLE
    return ""


def _candidate(
    key: str,
    source: str,
    label: str,
    counts: list[int],
    totals: list[int],
    rule: dict[str, Any] | None,
    why_not: str = "",
) -> Candidate:
    leads, sqls, customers = totals
    n, sql, cust = counts
    return Candidate(
        key=key,
        source=source,
        label=label,
        leads=n,
        rest=leads - n,
        sql=Comparison(Rate(sql, n), Rate(sqls - sql, leads - n)),
        customer=Comparison(Rate(cust, n), Rate(customers - cust, leads - n)),
        rule=rule,
        why_not=why_not,
    )


def _choice_labels() -> dict[str, dict[str, str]]:
    labels = {
        name: {str(k): str(v) for k, v in Lead._meta.get_field(name).flatchoices}
        for name in ("region", "seniority", "department", "source")
    }
    labels["account.industry"] = {
        str(k): str(v) for k, v in Account._meta.get_field("industry").flatchoices
    }
    return labels


def _condition_rule(label: str, attribute: str, operator: str, value: Any) -> dict:
    return {
        "kind": "fit",
        "label": label[:200],
        "attribute": attribute,
        "operator": operator,
        "value": value,
    }


def _candidates(counts: _Counts, min_support: int) -> list[Candidate]:
    totals = counts.totals
    kinds = dict(TouchpointKind.objects.values_list("code", "label"))
    choices = _choice_labels()
    titles = {name: title for name, _, title in _FIELDS}
    found: list[Candidate] = []
    numbers: dict[str, dict[Decimal, list[int]]] = defaultdict(dict)
    for (source, name, value), row in counts.groups.items():
        if source == NUMBER:
            numbers[name][value] = row
            continue
        if row[0] < min_support:
            continue
        if source == TOUCH:
            label = f"Did “{kinds.get(name, name)}” in the period"
            rule = {
                "kind": "engagement",
                "label": f"{kinds.get(name, name)}, counted once",
                "touchpoint_kind": name,
                "max_occurrences": 1,
            }
            found.append(
                _candidate(f"{TOUCH}:{name}", source, label, row, totals, rule)
            )
        elif source == TOUCH_OFTEN:
            label = f"Did “{kinds.get(name, name)}” {TOUCH_REPEAT}+ times in the period"
            found.append(
                _candidate(
                    f"{TOUCH_OFTEN}:{name}", source, label, row, totals, None, NOT_OFTEN
                )
            )
        elif source in (FIELD, SIZE):
            if source == SIZE:
                low, _, high = value.rstrip("+").partition("-")
                label = (
                    f"Employees {int(low):,}\u2013{int(high):,}"
                    if high
                    else f"Employees {int(low):,} or more"
                )
            else:
                shown = choices.get(name, {}).get(value, value)
                label = f"{titles[name]} is {shown}"
            if source == SIZE:
                low, _, high = value.rstrip("+").partition("-")
                rule = (
                    _condition_rule(label, name, "between", [int(low), int(high)])
                    if high
                    else _condition_rule(label, name, "at_least", int(low))
                )
            else:
                rule = _condition_rule(label, name, "equals", value)
            found.append(
                _candidate(f"{source}:{name}:{value}", source, label, row, totals, rule)
            )
        else:
            label = f"attributes.{name} is “{value}”"
            problem = _attribute_problem(name)
            if not problem and len(value) > VALUE_TEXT_MAX:
                problem = TOO_LONG
            rule = (
                None
                if problem
                else _condition_rule(label, f"attributes.{name}", "equals", value)
            )
            found.append(
                _candidate(
                    f"{ATTRIBUTE}:{name}:{value}",
                    source,
                    label,
                    row,
                    totals,
                    rule,
                    problem,
                )
            )
    for name, values in numbers.items():
        for low, high, row in _number_bins(values):
            if row[0] < min_support:
                continue
            low_text, high_text = _plain(low), _plain(high)
            label = (
                f"attributes.{name} is {low_text}"
                if low == high
                else f"attributes.{name} is {low_text} to {high_text}"
            )
            problem = _attribute_problem(name)
            rule = (
                None
                if problem
                else _condition_rule(
                    label, f"attributes.{name}", "between", [low_text, high_text]
                )
            )
            found.append(
                _candidate(
                    f"{NUMBER}:{name}:{low_text}:{high_text}",
                    NUMBER,
                    label,
                    row,
                    totals,
                    rule,
                    problem,
                )
            )
    found.sort(key=_rank)
    return found


def _rank(candidate: Candidate) -> tuple[Any, ...]:
    low = candidate.sql.lift.low
    return (low is None, -(low or 0), -candidate.leads, candidate.label)


def _covered_by(candidate: Candidate, rules: Iterable[ScoringRule]) -> list[str]:
    """Labels of ``rules`` that already test the candidate."""
    rule = candidate.rule
    if candidate.source in (TOUCH, TOUCH_OFTEN):
        kind = candidate.key.split(":", 1)[1]
        return [
            r.label
            for r in rules
            if r.kind in ("engagement", "negative")
            and r.touchpoint_kind == kind
            and not r.property_name
        ]
    if rule is None:
        return []
    if rule["operator"] == "between":
        probes = rule["value"]
    elif rule["operator"] == "at_least":
        probes = [rule["value"], 10**9]
    else:
        probes = [rule["value"]]
    covered = []
    for r in rules:
        if r.kind not in ("fit", "disqualifying") or r.attribute != rule["attribute"]:
            continue
        try:
            test = compile_condition(r.operator, r.value)
            if all(test(probe) for probe in probes):
                covered.append(r.label)
        except (ValueError, TypeError, ArithmeticError):
            continue
    return covered


def _cache_key(model: ScoringModel, start: dt.date, end: dt.date) -> str:
    published = model.published_at.isoformat() if model.published_at else ""
    return (
        f"rule-candidates:2:{model.id}:{model.status}:{published}:"
        f"{start.isoformat()}:{end.isoformat()}"
    )


def _claim_key(key: str) -> str:
    return f"{key}:claim"


def _check(start: dt.date, end: dt.date, min_support: int) -> None:
    if end <= start:
        raise ValueError("The period ends before it starts.")
    if not MIN_SUPPORT_MIN <= min_support <= MIN_SUPPORT_MAX:
        raise ValueError(
            f"The minimum support is {MIN_SUPPORT_MIN} to {MIN_SUPPORT_MAX:,} leads."
        )


def _report(
    model: ScoringModel,
    start: dt.date,
    end: dt.date,
    min_support: int,
    stored: tuple[dt.datetime, _Counts],
) -> CandidateReport:
    counted_at, counts = stored
    active = model_active()
    rules = list(active.rules.all()) if active else []
    candidates = [
        _with_cover(candidate, rules) for candidate in _candidates(counts, min_support)
    ]
    return CandidateReport(
        model=model,
        start=start,
        end=end,
        min_support=min_support,
        counted_at=counted_at,
        leads=counts.totals[0],
        candidates=candidates,
    )


def candidate_counts_refresh(
    *, model_id: int, start: dt.date, end: dt.date, now: dt.datetime | None = None
) -> dt.datetime | None:
    """Count the candidates of model ``model_id``'s period ``[start, end)``
    and store the counts for ``KEEP_SECONDS`` with when they were counted;
    return that time, or None when the model is gone (nothing stored).

    Reads only (four queries); releases the period's claim when done, even
    on an error, so a later request can start the count again. A second run
    stores the figures of the moment again.
    """
    key = None
    try:
        model = ScoringModel.objects.filter(id=model_id).first()
        if model is None:
            return None
        key = _cache_key(model, start, end)
        counted_at = now or timezone.now()
        cache.set(key, (counted_at, _count(model.id, start, end)), KEEP_SECONDS)
        return counted_at
    finally:
        if key is not None:
            cache.delete(_claim_key(key))


@dataclass(frozen=True)
class CandidateState:
    """What the store holds for a model, period and minimum support."""

    #: READY, STALE (``report`` is older than STALE_AFTER; a recount runs)
    #: or COUNTING (no ``report`` yet).
    status: str
    report: CandidateReport | None
    #: Since when ``report`` was counted; None while counting.
    age: dt.timedelta | None

    @property
    def counted_at(self) -> dt.datetime | None:
        return self.report.counted_at if self.report else None


READY, STALE, COUNTING = "ready", "stale", "counting"


def _count_start(model: ScoringModel, start: dt.date, end: dt.date, key: str) -> None:
    """Enqueue the count unless one is claimed: ``cache.add`` sets the claim
    only when absent (atomically on Redis), so of two requests one enqueues."""
    # The task's module imports this one's services: import it here.
    from crm.tasks import count_rule_candidates_task

    if cache.add(_claim_key(key), timezone.now().isoformat(), CLAIM_SECONDS):
        count_rule_candidates_task.delay(model.id, start.isoformat(), end.isoformat())


def candidates_state(
    *,
    model: ScoringModel,
    start: dt.date,
    end: dt.date,
    min_support: int = MIN_SUPPORT_DEFAULT,
    now: dt.datetime | None = None,
) -> CandidateState:
    """The stored candidates of ``model``'s period ``[start, end)`` that
    hold for at least ``min_support`` leads, never counted here: when none
    are stored or they are older than ``STALE_AFTER``, a count is started
    (once per period, ``_count_start``) and the state says so. Reads the
    cache and the active model's rules; raises ValueError on a bad period
    or minimum support."""
    _check(start, end, min_support)
    now = now or timezone.now()
    key = _cache_key(model, start, end)
    stored = cache.get(key)
    if stored is None or now - stored[0] >= STALE_AFTER:
        _count_start(model, start, end, key)
        # Without a worker (Celery eager, the embedded default) the count
        # has just run.
        stored = cache.get(key) or stored
    if stored is None:
        return CandidateState(status=COUNTING, report=None, age=None)
    age = max(now - stored[0], dt.timedelta(0))
    return CandidateState(
        status=STALE if age >= STALE_AFTER else READY,
        report=_report(model, start, end, min_support, stored),
        age=age,
    )


def candidates_wait(
    *,
    model: ScoringModel,
    start: dt.date,
    end: dt.date,
    min_support: int = MIN_SUPPORT_DEFAULT,
    seconds: float | None = None,
) -> CandidateState:
    """``candidates_state``, but while counting (not while stale) look again
    every ``WAIT_POLL_SECONDS`` for up to ``seconds`` (``WAIT_SECONDS``);
    still counting after that, the state says so."""
    deadline = time.monotonic() + (WAIT_SECONDS if seconds is None else seconds)
    while True:
        state = candidates_state(
            model=model, start=start, end=end, min_support=min_support
        )
        if state.status != COUNTING or time.monotonic() >= deadline:
            return state
        time.sleep(WAIT_POLL_SECONDS)


def rule_candidates(
    *,
    model: ScoringModel,
    start: dt.date,
    end: dt.date,
    min_support: int = MIN_SUPPORT_DEFAULT,
    now: dt.datetime | None = None,
) -> CandidateReport:
    """Candidate rules over the leads of ``model``'s cohort created in
    ``[start, end)`` that hold for at least ``min_support`` of them (the
    module's docstring), from the stored counts whatever their age (the ones
    a page showed), counted here and stored only when none are: adding a
    candidate needs them, and pages show candidates only once counted."""
    _check(start, end, min_support)
    key = _cache_key(model, start, end)
    stored = cache.get(key)
    if stored is None:
        stored = (now or timezone.now(), _count(model.id, start, end))
        cache.set(key, stored, KEEP_SECONDS)
    return _report(model, start, end, min_support, stored)


def _with_cover(candidate: Candidate, rules: list[ScoringRule]) -> Candidate:
    covered = _covered_by(candidate, rules)
    if not covered:
        return candidate
    return replace(candidate, covered_by=covered)


# Adding one to a draft -----------------------------------------------------


@dataclass(frozen=True)
class AddedRule:
    draft: ScoringModel
    rule: ScoringRule
    created_draft: bool


def candidate_key_problem(key: str) -> str:
    """Why ``key`` cannot be a candidate's key, or ""."""
    if not key or len(key) > KEY_MAX or key.split(":", 1)[0] not in _PREFIXES:
        return (
            "That is not a candidate rule; reload the page and pick one from the list."
        )
    return ""


@transaction.atomic
def candidate_add_to_draft(
    *,
    key: str,
    model: ScoringModel,
    start: dt.date,
    end: dt.date,
    min_support: int,
    actor: Any | None = None,
) -> AddedRule:
    """Add the candidate ``key`` of ``model``'s period as a rule (its
    suggested points) at the end of the newest draft of the active model's
    name, cloning the active model into a draft first when it has none.

    The candidate is found again among the period's candidates (from the
    cached counts when fresh), so a key from a page whose figures changed is
    refused, as is one that cannot be a rule, one without a clear lift or
    one the draft already tests. Refusals raise ``CandidateRefused`` with what
    to do; nothing is written then (the clone too is undone). The draft's
    services lock it and write its audit rows. Adds are serialised per active
    model (an advisory lock on PostgreSQL; SQLite has one writer), so two at
    once with no draft make one draft, not two.
    """
    problem = candidate_key_problem(key)
    if problem:
        raise CandidateRefused(problem)
    report = rule_candidates(model=model, start=start, end=end, min_support=min_support)
    candidate = next((c for c in report.candidates if c.key == key), None)
    if candidate is None:
        raise CandidateRefused(
            "This candidate is no longer among the period's candidates (the "
            "figures changed since the page was counted); reload the page."
        )
    if not candidate.addable:
        raise CandidateRefused(
            f"“{candidate.label}” cannot be added. {candidate.reason_not_addable}"
        )
    active = model_active()
    if active is None:
        raise CandidateRefused(
            "No scoring model is active, so there is no draft to add to; "
            "publish a model first."
        )
    if connection.vendor == "postgresql":
        # Two marketers adding at once would each clone a draft when there is
        # none. Not a row lock on the active model: publishing locks the draft
        # and then the active model, the other way round.
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s, %s)", [_LOCK_SPACE, active.id]
            )
    draft = (
        ScoringModel.objects.filter(name=active.name, status=ScoringModel.Status.DRAFT)
        .order_by("-version", "-id")
        .first()
    )
    created = draft is None
    if draft is None:
        draft = drafts.model_clone(model=active, actor=actor)
    already = _covered_by(candidate, draft.rules.all())
    if already and created:
        raise CandidateRefused(
            f"The active model already tests “{candidate.label}” with the rule "
            f"“{already[0]}”, so a draft cloned from it would too; change that "
            "rule in a draft instead."
        )
    if already:
        raise CandidateRefused(
            f"Draft {draft} already tests “{candidate.label}” with the rule "
            f"“{already[0]}”; change that rule in the draft instead."
        )
    fields = dict(candidate.rule or {})
    points = candidate.points
    if fields["kind"] == "engagement" and points < 0:
        fields["kind"] = "negative"
    try:
        rule = drafts.rule_create(
            model=draft, actor=actor, points=Decimal(points), **fields
        )
    except (ValidationError, ModelNotEditable) as exc:
        messages = exc.messages if isinstance(exc, ValidationError) else [str(exc)]
        raise CandidateRefused(
            f"The draft refused “{candidate.label}”: {' '.join(messages)}"
        ) from exc
    return AddedRule(draft=draft, rule=rule, created_draft=created)
