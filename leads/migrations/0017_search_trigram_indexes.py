"""Trigram indexes for the lead list's word search (PostgreSQL only).

The pg_trgm extension and two GIN indexes: the lead's first name, last name
and e-mail joined by spaces (the expression ``leads.search.LeadSearchText``
writes, to the character) and the account's name. On another database the
migration does nothing: there the search reads row by row, as before.
"""

from django.db import migrations

INDEXES = (
    (
        "lead_search_trgm_idx",
        "leads_lead",
        "(first_name || ' ' || last_name || ' ' || email) gin_trgm_ops",
    ),
    ("account_name_trgm_idx", "leads_account", "name gin_trgm_ops"),
)


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, table, expression in INDEXES:
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON {table} USING gin ({expression})"  # nosec B608: fixed names above
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, _, _ in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")  # nosec B608: fixed names above


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0016_touchpoint_keys_share_indexes"),
    ]

    operations = [migrations.RunPython(create, drop, elidable=False)]
