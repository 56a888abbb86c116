"""Give SDRs and reps the contact-field permission on leads instead of
``change_lead``, and take ``change_account`` from reps (crm/roles.py)."""

from django.db import migrations

from crm.roles import sync_role_permissions


def forwards(apps, schema_editor):
    sync_role_permissions(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0004_failed_task"),
        ("leads", "0008_lead_edit_permission_and_audit"),
    ]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
