"""Writing many rows fast: COPY on PostgreSQL, bulk_create elsewhere."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

from django.db import connection, models

#: Rows per COPY write / bulk_create batch.
WRITE_BATCH = 10_000


def copy_text(value: Any) -> str:
    """A Python value as PostgreSQL COPY text (our values need no escaping)."""
    if value is None:
        return r"\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


class RowWriter:
    """Inserts rows of one model: COPY on PostgreSQL, bulk_create elsewhere.

    Rows are dicts of the fields that vary; every other column takes its
    value from ``template`` (an unsaved instance with the defaults set).
    """

    def __init__(self, model: type[models.Model], template: models.Model):
        self.model = model
        self.fields = [f for f in model._meta.concrete_fields if not f.primary_key]
        self.template = {f.attname: getattr(template, f.attname) for f in self.fields}
        self.copy = connection.vendor == "postgresql"
        self.texts = [copy_text(self.template[f.attname]) for f in self.fields]
        self.index = {f.attname: i for i, f in enumerate(self.fields)}

    def write(self, rows: Iterator[dict[str, Any]]) -> int:
        done = 0
        batch: list[dict[str, Any]] = []
        for row in rows:
            batch.append(row)
            if len(batch) >= WRITE_BATCH:
                done += self._flush(batch)
                batch = []
        return done + self._flush(batch)

    def _flush(self, batch: list[dict[str, Any]]) -> int:
        if not batch:
            return 0
        if not self.copy:
            self.model.objects.bulk_create(
                [self.model(**{**self.template, **row}) for row in batch],
                batch_size=2_000,
            )
            return len(batch)
        lines = []
        for row in batch:
            texts = self.texts.copy()
            for name, value in row.items():
                texts[self.index[name]] = copy_text(value)
            lines.append("\t".join(texts))
        columns = ", ".join(connection.ops.quote_name(f.column) for f in self.fields)
        table = connection.ops.quote_name(self.model._meta.db_table)
        with (
            connection.cursor() as cursor,
            cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy,
        ):
            copy.write("\n".join(lines) + "\n")
        return len(batch)
