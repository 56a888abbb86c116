"""Create the role groups (Marketing, SDR, Sales, Admin) with their permissions."""

from django.db import migrations

from crm.roles import sync_role_permissions


def forwards(apps, schema_editor):
    sync_role_permissions(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("leads", "0002_touchpoint_kinds"),
    ]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
