"""Store each lead's pipeline place (its follow-up group and time) from its
handoffs, as handoff.services.follow_up keeps it from now on."""

from django.db import migrations

# A copy of handoff.services.follow_up.REBUILD_SQL as it stood: a migration
# must not change when the service does.
REBUILD_SQL = """
UPDATE leads_lead AS l
SET follow_up_group = p.grp, follow_up_at = p.at
FROM (
    SELECT lead.id AS lead_id,
           COALESCE(c.grp, 2) AS grp,
           c.at AS at
    FROM leads_lead AS lead
    LEFT JOIN (
        SELECT DISTINCT ON (h.lead_id)
               h.lead_id,
               CASE WHEN h.followed_up_at IS NOT NULL THEN 1
                    WHEN h.follow_up_due_at IS NOT NULL THEN 0
                    ELSE 2 END AS grp,
               CASE WHEN h.followed_up_at IS NOT NULL THEN GREATEST(
                        h.followed_up_at,
                        COALESCE(
                            (SELECT a.at FROM handoff_contactattempt AS a
                             WHERE a.handoff_id = h.id
                             ORDER BY a.at DESC LIMIT 1),
                            h.followed_up_at
                        )
                    )
                    ELSE h.follow_up_due_at END AS at
        FROM handoff_handoff AS h
        WHERE h.status = 'accepted'
        ORDER BY h.lead_id, h.decided_at DESC, h.id DESC
    ) AS c ON c.lead_id = lead.id
) AS p
WHERE l.id = p.lead_id
  AND (l.follow_up_group, l.follow_up_at) IS DISTINCT FROM (p.grp, p.at)
"""




def places_store(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(REBUILD_SQL)
        return
    # Elsewhere (SQLite, the embedded default) the same, lead by lead.
    Lead = apps.get_model("leads", "Lead")
    Handoff = apps.get_model("handoff", "Handoff")
    ContactAttempt = apps.get_model("handoff", "ContactAttempt")
    latest = {}
    for handoff in Handoff.objects.filter(status="accepted").order_by(
        "lead_id", "-decided_at", "-id"
    ):
        latest.setdefault(handoff.lead_id, handoff)
    for lead_id, handoff in latest.items():
        if handoff.followed_up_at is not None:
            last = (
                ContactAttempt.objects.filter(handoff_id=handoff.id)
                .order_by("-at")
                .values_list("at", flat=True)
                .first()
            )
            group, at = 1, max(handoff.followed_up_at, last or handoff.followed_up_at)
        elif handoff.follow_up_due_at is not None:
            group, at = 0, handoff.follow_up_due_at
        else:
            group, at = 2, None
        Lead.objects.filter(id=lead_id).update(follow_up_group=group, follow_up_at=at)


class Migration(migrations.Migration):
    dependencies = [
        ("handoff", "0009_queue_team_index"),
        ("leads", "0022_pipeline_follow_up_place"),
    ]

    operations = [
        migrations.RunPython(places_store, migrations.RunPython.noop, elidable=True),
    ]
