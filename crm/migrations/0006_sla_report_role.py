"""Grant the SLA report permission (``handoff.view_sla_report``) to the
roles that read the report (crm/roles.py)."""

from django.db import migrations

from crm.roles import sync_role_permissions


def forwards(apps, schema_editor):
    sync_role_permissions(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0005_lead_edit_roles"),
        ("handoff", "0004_sla_report_permission"),
    ]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
