"""What the rule editor suggests: the attribute keys in the leads' data and
their most frequent values, with how many leads have each.

``Lead.attributes`` holds whatever an import or the API brought, so a
marketer picks a key from the data rather than typing it from memory. One
selector per question serves the rule form (its list of keys, the values of
the key picked) and the API (``/api/v1/scoring/attribute-keys/``).

The newest SAMPLE_LEADS leads that were not erased are read (by id, through
the primary key's index), so a suggestion costs the same on 100,000 leads or
ten million, and the counts say how many of those leads have a key or a
value; below SAMPLE_LEADS leads they are exact. PostgreSQL counts in SQL;
the embedded SQLite default reads the sample's documents in Python.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.db import connection

from leads.attribute_labels import attribute_label
from leads.models import Lead
from scoring.validation import ATTRIBUTE_MAX

#: Leads read for a suggestion: the newest ones. Big enough that a key or a
#: value found on one lead in a thousand shows up tens of times; small
#: enough to count in a few tens of milliseconds on PostgreSQL.
SAMPLE_LEADS = 20_000
#: Most keys offered, the most frequent first.
KEYS_MAX = 200
#: Most values offered for one key, the most frequent first.
VALUES_MAX = 10
#: Longer values are not offered: nobody writes a rule about a paragraph.
VALUE_TEXT_MAX = 200
#: How a rule names an attribute key.
PREFIX = "attributes."


@dataclass(frozen=True)
class AttributeKey:
    """A key of the leads' attributes, with how many sampled leads have it."""

    key: str
    label: str
    leads: int

    @property
    def path(self) -> str:
        """What a rule tests: ``attributes.<key>``."""
        return PREFIX + self.key


@dataclass(frozen=True)
class AttributeValue:
    """A value of one key (its most frequent spelling; case and surrounding
    spaces aside, as rules compare) with how many sampled leads have it."""

    value: str
    leads: int


@dataclass(frozen=True)
class AttributeKeys:
    keys: list[AttributeKey]
    #: Leads read (at most SAMPLE_LEADS).
    sampled: int


@dataclass(frozen=True)
class AttributeValues:
    key: str
    label: str
    values: list[AttributeValue]
    #: Sampled leads that have the key (with any value).
    leads: int
    sampled: int


def rule_can_test(key: str) -> bool:
    """Whether a rule can name ``key`` as ``attributes.<key>``: not blank, no
    surrounding spaces, no dot (a dot walks into a nested object), short
    enough for the rule's attribute field."""
    return (
        bool(key.strip())
        and key == key.strip()
        and "." not in key
        and len(PREFIX + key) <= ATTRIBUTE_MAX
    )


def untestable_key_message(key: str) -> str:
    """Why a rule cannot name ``key`` (see rule_can_test), in the user's words."""
    longest = ATTRIBUTE_MAX - len(PREFIX)
    return (
        f"“{key}” is not a key a rule can test: use a key without dots or "
        f"surrounding spaces, of at most {longest} characters, such as plan."
    )


def attribute_keys(*, limit: int = KEYS_MAX) -> AttributeKeys:
    """The attribute keys of the newest SAMPLE_LEADS leads a rule can test,
    the most frequent first (ties by key), at most ``limit``."""
    if connection.vendor == "postgresql":
        sampled, counts = _keys_pg()
    else:
        sampled, counts = _keys_python()
    ranked = sorted(
        ((key, n) for key, n in counts if rule_can_test(key)),
        key=lambda item: (-item[1], item[0]),
    )[:limit]
    return AttributeKeys(
        keys=[AttributeKey(key, attribute_label(key).label, n) for key, n in ranked],
        sampled=sampled,
    )


def attribute_values(*, key: str, limit: int = VALUES_MAX) -> AttributeValues:
    """The most frequent values of ``key`` in the newest SAMPLE_LEADS leads.

    Values that differ only in case or surrounding spaces are one value (a
    rule compares them so), shown in their most frequent spelling (ties: the
    first in code-point order). Only text, numbers and yes/no values up to
    VALUE_TEXT_MAX characters; blanks, nulls, lists and objects are left
    out. An unknown key has no values.
    """
    key = key.removeprefix(PREFIX)
    if connection.vendor == "postgresql":
        sampled, leads, rows = _values_pg(key, limit)
    else:
        sampled, leads, rows = _values_python(key, limit)
    return AttributeValues(
        key=key,
        label=attribute_label(key).label,
        values=[AttributeValue(value, n) for value, n in rows],
        leads=leads,
        sampled=sampled,
    )


# PostgreSQL: counted in SQL over the sample
# ------------------------------------------------------------------------------

_SAMPLE = (
    "SELECT attributes FROM "  # nosec B608: names from model meta, values bound
    f"{Lead._meta.db_table} WHERE erased_at IS NULL ORDER BY id DESC LIMIT %s"
)


def _keys_pg() -> tuple[int, list[tuple[str, int]]]:
    sql = (
        f"WITH sample AS ({_SAMPLE}) "  # nosec B608: the sample above
        "SELECT (SELECT count(*) FROM sample), k, count(*) FROM sample "
        "LEFT JOIN LATERAL jsonb_object_keys(CASE WHEN jsonb_typeof(attributes) "
        "= 'object' THEN attributes END) AS k ON true "
        "GROUP BY k"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [SAMPLE_LEADS])
        rows = cursor.fetchall()
    sampled = rows[0][0] if rows else 0
    return sampled, [(key, n) for _, key, n in rows if key is not None]


def _values_pg(key: str, limit: int) -> tuple[int, int, list[tuple[str, int]]]:
    sql = (
        f"WITH sample AS ({_SAMPLE}), "  # nosec B608: the sample above
        "keyed AS (SELECT attributes -> %s AS v FROM sample "
        "WHERE jsonb_typeof(attributes) = 'object' AND jsonb_exists(attributes, %s)), "
        "texts AS (SELECT v #>> '{}' AS t, lower(btrim(v #>> '{}')) AS norm "
        "FROM keyed WHERE jsonb_typeof(v) IN ('string', 'number', 'boolean')) "
        "SELECT (SELECT count(*) FROM sample), (SELECT count(*) FROM keyed), "
        'norm, count(*) AS n, mode() WITHIN GROUP (ORDER BY t COLLATE "C") '
        "FROM texts WHERE norm <> '' AND length(t) <= %s "
        'GROUP BY norm ORDER BY n DESC, norm COLLATE "C" LIMIT %s'
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [SAMPLE_LEADS, key, key, VALUE_TEXT_MAX, limit])
        rows = cursor.fetchall()
        if not rows:
            cursor.execute(
                f"WITH sample AS ({_SAMPLE}) "  # nosec B608: the sample above
                "SELECT count(*), count(*) FILTER (WHERE jsonb_typeof(attributes) "
                "= 'object' AND jsonb_exists(attributes, %s)) FROM sample",
                [SAMPLE_LEADS, key],
            )
            sampled, leads = cursor.fetchone()
            return sampled, leads, []
    sampled, leads = rows[0][0], rows[0][1]
    return sampled, leads, [(spelling, n) for _, _, _, n, spelling in rows]


# SQLite (the embedded default): the sample's documents read in Python
# ------------------------------------------------------------------------------


def _sample_documents() -> Iterator[Any]:
    query = (
        Lead.objects.filter(erased_at__isnull=True)
        .order_by("-id")
        .values_list("attributes", flat=True)[:SAMPLE_LEADS]
    )
    yield from query.iterator(chunk_size=2_000)


def _keys_python() -> tuple[int, list[tuple[str, int]]]:
    sampled = 0
    counts: Counter[str] = Counter()
    for document in _sample_documents():
        sampled += 1
        if isinstance(document, dict):
            counts.update(document.keys())
    return sampled, list(counts.items())


def _values_python(key: str, limit: int) -> tuple[int, int, list[tuple[str, int]]]:
    sampled = leads = 0
    spellings: dict[str, Counter[str]] = defaultdict(Counter)
    for document in _sample_documents():
        sampled += 1
        if not isinstance(document, dict) or key not in document:
            continue
        leads += 1
        text = _as_text(document[key])
        if text is None or len(text) > VALUE_TEXT_MAX:
            continue
        # Spaces only, as PostgreSQL's btrim: both paths group alike.
        norm = text.strip(" ").lower()
        if norm:
            spellings[norm][text] += 1
    ranked = sorted(
        spellings.items(), key=lambda item: (-sum(item[1].values()), item[0])
    )[:limit]
    return (
        sampled,
        leads,
        [(min(c, key=lambda s: (-c[s], s)), sum(c.values())) for _, c in ranked],
    )


def _as_text(value: Any) -> str | None:
    """A JSON scalar as PostgreSQL's ``#>> '{}'`` writes it; None otherwise."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return json.dumps(value)
    return None
