"""JSON from clients, read strictly: only what every JSON reader agrees on.

Python's json module reads ``NaN``, ``Infinity`` and ``-Infinity``, turns a
number too large for a float (``1e400``) into infinity, and keeps the last
of two equal keys in one object. None of these is JSON that can be kept:
PostgreSQL's jsonb (and SQLite's JSON check) refuse the non-finite numbers,
so they would end as a 500 at the database, and a key given twice is
ambiguous (other readers keep the first, so a proxy or a log could see a
different e-mail than the one stored). ``loads`` refuses all of them with a
message that says what to fix; every parser of client JSON goes through it.
"""

from __future__ import annotations

import json
import math
from typing import Any, NoReturn

#: How much of a number or key a message repeats.
SHOWN_MAX = 100


class JSONInputError(ValueError):
    """The text is JSON Python can read, but not JSON Leadflow accepts."""


def _refuse_constant(name: str) -> NoReturn:
    raise JSONInputError(
        f"{name} is not a number JSON allows; send a finite number, or null."
    )


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise JSONInputError(
            f"the number {text[:SHOWN_MAX]} is too large; numbers must lie "
            "between -1.7e308 and 1.7e308."
        )
    return value


def _object_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) < len(pairs):
        seen: set[str] = set()
        for key, _value in pairs:
            if key in seen:
                raise JSONInputError(
                    f'the key "{key[:SHOWN_MAX]}" appears more than once in one '
                    "object; send each key once."
                )
            seen.add(key)
    return obj


def loads(text: str | bytes) -> Any:
    """Parse client JSON; raise ValueError for anything that is not plain JSON.

    On top of ``json.loads``' own errors (``json.JSONDecodeError``, a
    RecursionError for very deep nesting), a non-finite number or a key given
    twice in one object raises ``JSONInputError``.
    """
    return json.loads(
        text,
        parse_constant=_refuse_constant,
        parse_float=_finite_float,
        object_pairs_hook=_object_without_duplicates,
    )
