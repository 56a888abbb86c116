"""LeadRank: each lead's stage and score in a narrow table, kept by triggers.

The lists sorted by score read the narrow table's indexes; the lead row keeps
its score columns but no index on them, so a rescore's update of a lead is a
heap-only tuple on PostgreSQL, for which the lead table keeps half of each page
free (fillfactor 50; rows already stored move into that layout when the table
is rewritten, for example by ``VACUUM FULL leads_lead``).

The SQL is written out here rather than imported, so this migration does
not change when the application code does.
"""

import django.db.models.deletion
from django.db import migrations, models


# PostgreSQL: one set-based statement per statement on leads_lead, over its
# transition tables, so a bulk rescore's update of thousands of leads costs
# one join, not a trigger call per row. The planner has no statistics on a
# transition table and, left to itself, read the whole narrow table for each
# statement (a hash join); these joins probe its primary key for each
# changed lead instead, which is what any number of rows wants.
POSTGRESQL_CREATE = [
    """
    CREATE FUNCTION leads_lead_rank_insert() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO leads_leadrank (lead_id, stage, score)
        SELECT id, stage, score FROM new_rows;
        RETURN NULL;
    END $$
    """,
    """
    CREATE FUNCTION leads_lead_rank_update() RETURNS trigger
    LANGUAGE plpgsql
    SET enable_seqscan = off SET enable_hashjoin = off SET enable_mergejoin = off
    AS $$
    BEGIN
        UPDATE leads_leadrank AS r SET stage = n.stage, score = n.score
        FROM new_rows AS n
        WHERE r.lead_id = n.id AND (r.stage <> n.stage OR r.score <> n.score);
        RETURN NULL;
    END $$
    """,
    """
    CREATE FUNCTION leads_lead_rank_delete() RETURNS trigger
    LANGUAGE plpgsql
    SET enable_seqscan = off SET enable_hashjoin = off SET enable_mergejoin = off
    AS $$
    BEGIN
        DELETE FROM leads_leadrank AS r USING old_rows AS o WHERE r.lead_id = o.id;
        RETURN NULL;
    END $$
    """,
    "CREATE TRIGGER leads_lead_rank_insert AFTER INSERT ON leads_lead "
    "REFERENCING NEW TABLE AS new_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION leads_lead_rank_insert()",
    "CREATE TRIGGER leads_lead_rank_update AFTER UPDATE ON leads_lead "
    "REFERENCING NEW TABLE AS new_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION leads_lead_rank_update()",
    "CREATE TRIGGER leads_lead_rank_delete AFTER DELETE ON leads_lead "
    "REFERENCING OLD TABLE AS old_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION leads_lead_rank_delete()",
    # TRUNCATE fires no delete trigger (and there is no foreign key to
    # cascade along): empty the copy with the table. When the same statement
    # truncated the copy too (Django's flush names every table), it is empty
    # and may not be truncated again.
    """
    CREATE FUNCTION leads_lead_rank_truncate() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        IF EXISTS (SELECT 1 FROM leads_leadrank) THEN
            TRUNCATE leads_leadrank;
        END IF;
        RETURN NULL;
    END $$
    """,
    "CREATE TRIGGER leads_lead_rank_truncate AFTER TRUNCATE ON leads_lead "
    "FOR EACH STATEMENT EXECUTE FUNCTION leads_lead_rank_truncate()",
    "ALTER TABLE leads_lead SET (fillfactor = 50)",
]
POSTGRESQL_DROP = [
    "ALTER TABLE leads_lead RESET (fillfactor)",
    "DROP TRIGGER leads_lead_rank_insert ON leads_lead",
    "DROP TRIGGER leads_lead_rank_update ON leads_lead",
    "DROP TRIGGER leads_lead_rank_delete ON leads_lead",
    "DROP TRIGGER leads_lead_rank_truncate ON leads_lead",
    "DROP FUNCTION leads_lead_rank_insert()",
    "DROP FUNCTION leads_lead_rank_update()",
    "DROP FUNCTION leads_lead_rank_delete()",
    "DROP FUNCTION leads_lead_rank_truncate()",
]
# SQLite has row triggers only.
SQLITE_CREATE = [
    "CREATE TRIGGER leads_lead_rank_insert AFTER INSERT ON leads_lead BEGIN "
    "INSERT INTO leads_leadrank (lead_id, stage, score) "
    "VALUES (NEW.id, NEW.stage, NEW.score); END",
    "CREATE TRIGGER leads_lead_rank_update AFTER UPDATE OF stage, score "
    "ON leads_lead BEGIN "
    "UPDATE leads_leadrank SET stage = NEW.stage, score = NEW.score "
    "WHERE lead_id = NEW.id; END",
    "CREATE TRIGGER leads_lead_rank_delete AFTER DELETE ON leads_lead BEGIN "
    "DELETE FROM leads_leadrank WHERE lead_id = OLD.id; END",
]
SQLITE_DROP = [
    "DROP TRIGGER leads_lead_rank_insert",
    "DROP TRIGGER leads_lead_rank_update",
    "DROP TRIGGER leads_lead_rank_delete",
]


def _run(schema_editor, statements):
    for statement in statements:
        schema_editor.execute(statement)


def rank_triggers_create(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    statements = {"postgresql": POSTGRESQL_CREATE, "sqlite": SQLITE_CREATE}[vendor]
    # The triggers first: creating them locks out writes to leads_lead until
    # this migration commits, so no lead is missed between the copy and them.
    _run(schema_editor, statements)
    schema_editor.execute(
        "INSERT INTO leads_leadrank (lead_id, stage, score) "
        "SELECT id, stage, score FROM leads_lead"
    )


def rank_triggers_drop(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    _run(schema_editor, {"postgresql": POSTGRESQL_DROP, "sqlite": SQLITE_DROP}[vendor])


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0022_pipeline_follow_up_place"),
    ]

    operations = [
        migrations.CreateModel(
            name="LeadRank",
            fields=[
                (
                    "lead",
                    models.OneToOneField(
                        db_constraint=False,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        primary_key=True,
                        related_name="rank",
                        serialize=False,
                        to="leads.lead",
                    ),
                ),
                (
                    "stage",
                    models.CharField(
                        choices=[
                            ("lead", "Lead"),
                            ("mql", "Marketing-qualified (MQL)"),
                            ("sal", "Sales-accepted (SAL)"),
                            ("sql", "Sales-qualified (SQL)"),
                            ("opportunity", "Opportunity"),
                            ("customer", "Customer"),
                            ("nurture", "Nurture"),
                            ("disqualified", "Disqualified"),
                        ],
                        max_length=16,
                    ),
                ),
                ("score", models.DecimalField(decimal_places=2, max_digits=9)),
            ],
        ),
        migrations.RemoveIndex(model_name="lead", name="lead_stage_score_idx"),
        migrations.RemoveIndex(model_name="lead", name="lead_score_idx"),
        migrations.RunPython(rank_triggers_create, rank_triggers_drop),
        migrations.AddIndex(
            model_name="leadrank",
            index=models.Index(
                fields=["stage", "-score", "-lead"], name="lead_rank_stage_score_idx"
            ),
        ),
        migrations.AddIndex(
            model_name="leadrank",
            index=models.Index(fields=["-score", "-lead"], name="lead_rank_score_idx"),
        ),
    ]
