"""Grant the roles their permissions on the handoff models."""

from django.db import migrations

from crm.roles import sync_role_permissions


def forwards(apps, schema_editor):
    sync_role_permissions(apps)


class Migration(migrations.Migration):
    dependencies = [("crm", "0002_scoring_roles"), ("handoff", "0002_standard_lists")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
