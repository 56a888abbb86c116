"""Grant the campaign spend ledger's permissions to the roles (crm/roles.py)."""

from django.db import migrations

from crm.roles import sync_role_permissions


def forwards(apps, schema_editor):
    sync_role_permissions(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0006_sla_report_role"),
        ("leads", "0011_campaign_spend"),
    ]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
