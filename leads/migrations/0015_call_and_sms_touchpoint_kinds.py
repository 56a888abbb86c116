"""Add the touchpoint kinds of phone calls and text messages (SMS).

CRM exports log calls and SMS as activities; the chat kind exists since 0002.
Neither is high intent: a logged call is mostly a sales rep's outreach, not
the lead asking to buy. The fresh-install scoring model gives them no points
(a marketer adds rules for them when they matter).
"""

from django.db import migrations

KINDS = [
    # code, label, high intent, description
    ("call", "Phone call", False, "A phone call with the lead, inbound or logged."),
    ("sms", "SMS", False, "A text message to or from the lead."),
]


def add_kinds(apps, schema_editor):
    TouchpointKind = apps.get_model("leads", "TouchpointKind")
    for code, label, high_intent, description in KINDS:
        # A kind someone already made with this code keeps its label and flags.
        TouchpointKind.objects.get_or_create(
            code=code,
            defaults={
                "label": label,
                "is_high_intent": high_intent,
                "description": description,
            },
        )


def remove_kinds(apps, schema_editor):
    TouchpointKind = apps.get_model("leads", "TouchpointKind")
    Touchpoint = apps.get_model("leads", "Touchpoint")
    codes = [k[0] for k in KINDS]
    # A kind with stored touchpoints stays (they PROTECT it).
    used = set(
        Touchpoint.objects.filter(kind_id__in=codes).values_list("kind_id", flat=True)
    )
    TouchpointKind.objects.filter(code__in=set(codes) - used).delete()


class Migration(migrations.Migration):
    dependencies = [("leads", "0014_funnel_rollup_indexes")]
    operations = [migrations.RunPython(add_kinds, remove_kinds)]
