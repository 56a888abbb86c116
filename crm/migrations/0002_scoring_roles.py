"""Grant the roles their permissions on the scoring models."""

from django.db import migrations

from crm.roles import sync_role_permissions


def forwards(apps, schema_editor):
    sync_role_permissions(apps)


class Migration(migrations.Migration):
    dependencies = [("crm", "0001_roles"), ("scoring", "0002_default_model")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
