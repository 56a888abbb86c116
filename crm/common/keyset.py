"""Keyset ("cursor") pagination: the page after or before a position, never OFFSET.

A list is ordered by one sort field and then by id in the same direction, so
the order is total even where many rows share a value (every unscored lead has
score 0). A cursor carries the sort, the (value, id) of the row at the page
boundary and a direction; the next page is "the rows after that position",
which an index on (field, id) serves as a range scan whatever the page number
(OFFSET to page 1000 costs 130 ms at 1M leads, a keyset page 0.4 ms).

Nullable sort fields keep NULLs at the end of the list in both directions.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from dataclasses import dataclass, replace
from typing import Any, Generic, TypeVar

from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db.models import F, Model, OrderBy, Q, QuerySet
from django.utils import timezone

from crm.common import strict_json

T = TypeVar("T", bound=Model)

#: Largest primary key a cursor may carry (a signed 64-bit integer column).
MAX_ID = 2**63 - 1


class InvalidCursor(ValueError):
    """The cursor is not one this module made for this sort (tampered, stale)."""


@dataclass(frozen=True)
class SortKey:
    """One sort field and its direction; ties are broken by id, same direction.

    ``path``: where the database reads the field to sort and page by, when
    that is not the model's own column but a copy with the index elsewhere
    (``"rank__score"``: a lead's score in the narrow LeadRank table). The
    cursor still names ``field`` and takes the row's value of ``field``.
    """

    field: str
    descending: bool
    path: str | None = None

    @classmethod
    def parse(cls, token: str) -> SortKey:
        """``"-score"`` is score, highest first; ``"created_at"`` oldest first."""
        field = token.removeprefix("-")
        return cls(field="id" if field == "pk" else field, descending=token[:1] == "-")

    def via(self, paths: dict[str, str]) -> SortKey:
        """This sort, read through ``paths[field]`` when ``paths`` names it."""
        return replace(self, path=paths.get(self.field, self.path))

    @property
    def column(self) -> str:
        """The ORM path the database sorts and pages by."""
        return self.path or self.field

    @property
    def token(self) -> str:
        return f"-{self.field}" if self.descending else self.field


@dataclass(frozen=True)
class Cursor:
    """A page boundary: the sort value and id of a row, and which side to read."""

    value: Any
    id: int
    before: bool = False


@dataclass(frozen=True)
class KeysetPage(Generic[T]):
    items: list[T]
    next_cursor: Cursor | None
    previous_cursor: Cursor | None


def _field(model: type[Model], sort: SortKey) -> Any:
    try:
        return model._meta.get_field(sort.field)
    except FieldDoesNotExist as exc:
        raise ValueError(f"{model.__name__} has no field {sort.field!r}") from exc


def encode_cursor(cursor: Cursor, *, sort: SortKey, model: type[Model]) -> str:
    """The cursor as an opaque URL-safe token that names its sort."""
    value = cursor.value
    if value is not None and sort.field != "id":
        value = _field(model, sort).value_to_string(_Holder(sort.field, value))
    payload = {"s": sort.token, "i": cursor.id, "v": value}
    if cursor.before:
        payload["b"] = 1
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


class _Holder:
    """An object with one attribute, for ``Field.value_to_string``."""

    def __init__(self, name: str, value: Any) -> None:
        setattr(self, name, value)


def decode_cursor(token: str, *, sort: SortKey, model: type[Model]) -> Cursor:
    """Parse a token made by ``encode_cursor`` for the same sort.

    Raises InvalidCursor for anything else: bad base64 or JSON, another sort,
    an id out of range, or a value the sort field cannot hold.
    """
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        payload = strict_json.loads(raw)
    except (binascii.Error, ValueError, RecursionError) as exc:
        raise InvalidCursor("Invalid cursor") from exc
    if not isinstance(payload, dict) or payload.get("s") != sort.token:
        raise InvalidCursor("Invalid cursor")
    row_id, value = payload.get("i"), payload.get("v")
    if type(row_id) is not int or not 1 <= row_id <= MAX_ID:
        raise InvalidCursor("Invalid cursor")
    field = _field(model, sort)
    if sort.field == "id":
        value = row_id
    elif value is not None:
        if not isinstance(value, str):
            raise InvalidCursor("Invalid cursor")
        try:
            value = field.to_python(value)
            field.run_validators(value)
            if isinstance(value, dt.datetime):
                # Naive or beyond what the database can compare: not ours.
                if timezone.is_naive(value):
                    raise ValueError("naive")
                value = value.astimezone(dt.UTC)
        except (ValidationError, ValueError, TypeError, OverflowError) as exc:
            raise InvalidCursor("Invalid cursor") from exc
        if isinstance(value, str) and "\x00" in value:
            raise InvalidCursor("Invalid cursor")
    elif not field.null:
        raise InvalidCursor("Invalid cursor")
    return Cursor(value=value, id=row_id, before=payload.get("b") == 1)


def _ordering(sort: SortKey, *, nullable: bool, flip: bool) -> list[OrderBy]:
    descending = sort.descending != flip
    by_id = F("id").desc() if descending else F("id").asc()
    if sort.field == "id":
        return [by_id]
    # NULLs stay at the end of the list, so reading it backwards meets them first.
    nulls = {}
    if nullable:
        nulls = {"nulls_first": True} if flip else {"nulls_last": True}
    field = F(sort.column)
    return [field.desc(**nulls) if descending else field.asc(**nulls), by_id]


def _after(sort: SortKey, cursor: Cursor, *, nullable: bool, flip: bool) -> Q:
    """Rows strictly after the cursor's row in the (possibly flipped) order."""
    descending = sort.descending != flip
    op = "lt" if descending else "gt"
    id_after = Q(**{f"id__{op}": cursor.id})
    if sort.field == "id":
        return id_after
    field = sort.column
    if cursor.value is None:
        # Among the NULLs, which sit last (forward) or first (flipped).
        after = Q(**{f"{field}__isnull": True}) & id_after
        if flip:
            after |= Q(**{f"{field}__isnull": False})
        return after
    # The inclusive bound is redundant but lets the database start an index
    # range scan at the position instead of filtering from the top.
    after = Q(**{f"{field}__{op}e": cursor.value}) & (
        Q(**{f"{field}__{op}": cursor.value}) | (Q(**{field: cursor.value}) & id_after)
    )
    if nullable and not flip:
        after |= Q(**{f"{field}__isnull": True})
    return after


def ordering_for(sort: SortKey, model: type[Model]) -> list[OrderBy]:
    """The ORDER BY of ``sort`` (ties by id), for reading a whole list in order."""
    nullable = sort.field != "id" and _field(model, sort).null
    return _ordering(sort, nullable=nullable, flip=False)


def keyset_page(
    queryset: QuerySet[T],
    *,
    sort: SortKey,
    cursor: Cursor | None,
    size: int,
    ids_first: bool = False,
) -> KeysetPage[T]:
    """One page of ``queryset`` in ``sort`` order, after or before ``cursor``.

    Reads ``size + 1`` rows with one query to learn whether more follow. A
    page reached forwards always offers a way back (when it had a cursor); a
    page reached backwards always offers a way forwards.

    ``ids_first``: the query picks the page's ids from the bare table in a
    subquery and joins ``queryset``'s related rows to those only. Worth it
    when the database must sort many matching rows to find the page (a
    search through an index that is not in sort order): it then sorts
    narrow rows and joins ``size + 1``, not every match.
    """
    nullable = sort.field != "id" and _field(queryset.model, sort).null
    flip = cursor is not None and cursor.before
    ordering = _ordering(sort, nullable=nullable, flip=flip)
    qs = queryset.order_by(*ordering)
    if cursor is not None:
        qs = qs.filter(_after(sort, cursor, nullable=nullable, flip=flip))
    if ids_first:
        qs = queryset.filter(pk__in=qs.values("pk")[: size + 1]).order_by(*ordering)
    rows = list(qs[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    if flip:
        rows.reverse()
    if not rows:
        return KeysetPage(items=[], next_cursor=None, previous_cursor=None)
    has_next, has_previous = (True, more) if flip else (more, cursor is not None)

    def position(row: T, *, before: bool) -> Cursor:
        value = row.pk if sort.field == "id" else getattr(row, sort.field)
        return Cursor(value=value, id=row.pk, before=before)

    return KeysetPage(
        items=rows,
        next_cursor=position(rows[-1], before=False) if has_next else None,
        previous_cursor=position(rows[0], before=True) if has_previous else None,
    )
