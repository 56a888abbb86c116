"""Grant website tracking's permissions to the roles (crm/roles.py): Marketing
manages tracking sources and event mappings, as Admin does."""

from django.db import migrations

from crm.roles import sync_role_permissions


def forwards(apps, schema_editor):
    sync_role_permissions(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0011_rule_rollup"),
        ("leads", "0019_tracking"),
    ]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
