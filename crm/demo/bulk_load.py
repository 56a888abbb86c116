"""Loading the demo's many rows the way PostgreSQL loads a dump.

Three costs dominate a million-lead load, and none of them is the data:

- Django's ``bulk_create`` builds an ``INSERT ... VALUES`` text per batch and
  quotes every value in Python. ``rows_insert`` streams rows through
  ``COPY`` instead, with ids taken from the table's sequence first, so the
  caller still knows every row's id (children point at parents).
- Django declares foreign keys ``DEFERRABLE INITIALLY DEFERRED``: every row
  inserted queues a check that runs at COMMIT, one index probe per key per
  row (more than 8 minutes at a million leads). ``LoadWindow`` drops the keys
  of the loaded tables and adds them back at the end; adding a key checks the
  whole table in one join.
- A lead carries about twenty indexes, each updated row by row. The window
  drops the secondary (non-unique) indexes during the load and builds each
  in one sorted pass afterwards. Unique indexes stay, so uniqueness is
  enforced throughout.

All of it happens inside the caller's transaction: DDL is transactional in
PostgreSQL, so an error rolls the keys and indexes back with the rows. The
tables are locked for the duration, which a seed that owns the database can
afford. Elsewhere (SQLite) everything falls back to ``bulk_create`` and the
window does nothing.
"""

from __future__ import annotations

import functools
import json
import logging
import operator
import time
from collections.abc import Callable, Iterable, Sequence

from django.db import connection, models
from psycopg.types.json import Jsonb

logger = logging.getLogger("crm.demo")

#: Rows per bulk_create batch where COPY is not available.
BULK_BATCH = 2_000


def _copy_available() -> bool:
    return connection.vendor == "postgresql"


def rows_insert(
    model: type[models.Model],
    objs: Sequence[models.Model],
    *,
    stamps_kept: Iterable[str] = (),
) -> None:
    """Insert ``objs`` (unsaved instances of ``model``) and give each its id.

    As ``bulk_create`` would: related objects saved since the instance was
    built lend it their ids, ``auto_now``/``auto_now_add`` fields take the
    wall clock, and no signal is sent. On PostgreSQL the ``auto_now`` fields
    named in ``stamps_kept`` keep the instance's value instead (a caller
    that sets them from the story saves an UPDATE of every row); elsewhere
    they take the wall clock all the same.
    """
    if not objs:
        return
    if not _copy_available():
        model.objects.bulk_create(objs, batch_size=BULK_BATCH)
        return
    meta = model._meta
    pk = meta.pk
    fields = list(meta.concrete_fields)
    table = meta.db_table
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) "
            "FROM generate_series(1, %s)",
            [quote(table), pk.column, len(objs)],
        )
        ids = [row[0] for row in cursor.fetchall()]
        for obj, new_id in zip(objs, ids, strict=True):
            obj._prepare_related_fields_for_save(operation_name="rows_insert")
            setattr(obj, pk.attname, new_id)
        columns = ", ".join(quote(f.column) for f in fields)
        values = _row_values(fields, stamps_kept=frozenset(stamps_kept))
        with cursor.cursor.copy(
            f"COPY {quote(table)} ({columns}) FROM STDIN"  # nosec B608: names from model meta
        ) as copy:
            for obj in objs:
                copy.write_row(values(obj))
    for obj in objs:
        obj._state.adding = False
        obj._state.db = connection.alias


def rows_copy(
    model: type[models.Model], columns: Sequence[str], rows: Sequence[tuple]
) -> list[int]:
    """Insert plain ``rows`` (values of ``columns``, attnames) of ``model``; their ids.

    For rows only written, never read back as instances: no model instance
    is built on PostgreSQL (building them cost more than writing them). The
    values must be what the columns store (ids for keys, aware datetimes);
    JSON columns take the Python value. No default is applied, no
    ``auto_now`` field stamped and no signal sent: give every column the
    rows need. Elsewhere (SQLite) the rows become instances for
    ``bulk_create``. The ids come in the order of ``rows``.
    """
    if not rows:
        return []
    meta = model._meta
    if not _copy_available():
        objs = [model(**dict(zip(columns, row, strict=True))) for row in rows]
        model.objects.bulk_create(objs, batch_size=BULK_BATCH)
        return [obj.pk for obj in objs]
    fields = [meta.get_field(name) for name in columns]
    # JSON goes in as its text: COPY hands the text to jsonb's input function.
    json_at = [i for i, f in enumerate(fields) if isinstance(f, models.JSONField)]
    quote = connection.ops.quote_name
    table = meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) "
            "FROM generate_series(1, %s)",
            [quote(table), meta.pk.column, len(rows)],
        )
        ids = [row[0] for row in cursor.fetchall()]
        names = ", ".join(quote(f.column) for f in (meta.pk, *fields))
        with cursor.cursor.copy(
            f"COPY {quote(table)} ({names}) FROM STDIN"  # nosec B608: names from model meta
        ) as copy:
            write = copy.write_row
            if json_at:
                dumps = json.dumps
                for new_id, row in zip(ids, rows, strict=True):
                    values = [new_id, *row]
                    for i in json_at:
                        if values[i + 1] is not None:
                            values[i + 1] = dumps(values[i + 1])
                    write(values)
            else:
                for new_id, row in zip(ids, rows, strict=True):
                    write((new_id, *row))
    return ids


def _pending_checks_run(cursor) -> None:
    """Run the deferred key checks queued so far in this transaction.

    PostgreSQL refuses to alter a table with checks pending on it. Django
    declares every key initially deferred, so deferring all again afterwards
    restores the transaction's behaviour.
    """
    cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    cursor.execute("SET CONSTRAINTS ALL DEFERRED")


def _row_values(
    fields: list[models.Field], *, stamps_kept: frozenset[str] = frozenset()
) -> Callable[[models.Model], list]:
    """A function giving an instance's column values in ``fields`` order.

    What ``pre_save`` and ``get_db_prep_save`` would give, without calling
    them per value: most columns are the attribute as it is; JSON columns
    are wrapped for psycopg; ``auto_now`` fields take the wall clock, but
    for those named in ``stamps_kept``, which keep the attribute.
    """
    plain = operator.attrgetter(*(f.attname for f in fields))
    special: list[tuple[int, Callable[[models.Model], object]]] = []
    for i, field in enumerate(fields):
        if isinstance(field, models.JSONField):
            special.append((i, _json_value(field)))
        elif field.name in stamps_kept:
            continue
        elif getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            special.append((i, functools.partial(field.pre_save, add=True)))
    if len(fields) == 1:
        single = plain

        def plain(obj: models.Model) -> tuple[object, ...]:
            return (single(obj),)

    def values(obj: models.Model) -> list:
        row = list(plain(obj))
        for i, get in special:
            row[i] = get(obj)
        return row

    return values


def _json_value(field: models.JSONField) -> Callable[[models.Model], object]:
    attname = field.attname

    def get(obj: models.Model) -> object:
        value = getattr(obj, attname)
        return None if value is None else Jsonb(value)

    return get


class LoadWindow:
    """Foreign keys and secondary indexes of some tables, set aside for a load.

    ``open()`` drops them (PostgreSQL only; a no-op elsewhere),
    ``indexes_restore()`` builds the indexes again (before the statements
    that read the loaded tables), ``close()`` adds the keys back, which
    checks every row. Must run inside one transaction.
    """

    def __init__(self, models_: Iterable[type[models.Model]]):
        self.tables = sorted({m._meta.db_table for m in models_})
        self.keys: list[tuple[str, str, str]] = []
        self.indexes: list[tuple[str, str]] = []

    def open(self) -> None:
        if not _copy_available() or not self.tables:
            return
        quote = connection.ops.quote_name
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT c.conname, c.conrelid::regclass::text, "
                "pg_get_constraintdef(c.oid) FROM pg_constraint c "
                "WHERE c.contype = 'f' AND c.conrelid = ANY(%s::regclass[]) "
                "ORDER BY 2, 1",
                [self.tables],
            )
            self.keys = list(cursor.fetchall())
            cursor.execute(
                "SELECT ci.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i "
                "JOIN pg_class ci ON ci.oid = i.indexrelid "
                "WHERE i.indrelid = ANY(%s::regclass[]) AND NOT i.indisunique "
                "AND NOT i.indisprimary AND NOT EXISTS (SELECT 1 FROM pg_constraint "
                "c WHERE c.conindid = i.indexrelid) ORDER BY 1",
                [self.tables],
            )
            self.indexes = list(cursor.fetchall())
            _pending_checks_run(cursor)
            for name, table, _ in self.keys:
                cursor.execute(f"ALTER TABLE {table} DROP CONSTRAINT {quote(name)}")
            for name, _ in self.indexes:
                cursor.execute(f"DROP INDEX {quote(name)}")
        logger.info(
            "load window: %s foreign keys and %s indexes set aside on %s tables",
            len(self.keys),
            len(self.indexes),
            len(self.tables),
        )

    def indexes_restore(self) -> None:
        if not self.indexes:
            return
        started = time.monotonic()
        with connection.cursor() as cursor:
            # One sorted pass per index; memory makes the sorts in-core.
            cursor.execute("SET LOCAL maintenance_work_mem = '512MB'")
            for _, definition in self.indexes:
                cursor.execute(definition)
        logger.info(
            "load window: %s indexes built in %.1f s",
            len(self.indexes),
            time.monotonic() - started,
        )
        self.indexes = []

    def close(self) -> None:
        self.indexes_restore()
        if not self.keys:
            return
        started = time.monotonic()
        quote = connection.ops.quote_name
        with connection.cursor() as cursor:
            _pending_checks_run(cursor)
            for name, table, definition in self.keys:
                cursor.execute(
                    f"ALTER TABLE {table} ADD CONSTRAINT {quote(name)} {definition}"
                )
        logger.info(
            "load window: %s foreign keys checked and restored in %.1f s",
            len(self.keys),
            time.monotonic() - started,
        )
        self.keys = []
