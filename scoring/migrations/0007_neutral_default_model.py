"""Rules may say "is not" and "is none of"; a fresh install's neutral default model.

The default model is created only when no scoring model exists (a fresh
install): an install that already has models keeps them exactly as they are.
It is neutral: it scores what leads do (demo requests, trials, pricing page
views, webinars, e-mail clicks, with decay) and who they are only by
seniority, and it has no region, industry or other gate that would keep a
company's leads from becoming MQLs. The demo's B2B model, with its gates,
comes with the demo data (crm.demo.scoring_model).
"""

from decimal import Decimal

from django.db import migrations, models
from django.utils import timezone

OPERATOR_CHOICES = [
    ("equals", "equals"),
    ("not_equals", "is not"),
    ("one_of", "is one of"),
    ("none_of", "is none of"),
    ("contains", "contains"),
    ("starts_with", "starts with"),
    ("matches", "matches pattern"),
    ("at_least", "is at least"),
    ("at_most", "is at most"),
    ("between", "is between"),
    ("is_empty", "is empty"),
]

# kind, label, points, attribute, operator, value
FIT_RULES = [
    ("fit", "Decision maker: C-level or VP", 20, "seniority", "one_of", ["executive", "vp"]),
    ("fit", "Director or head of a function", 15, "seniority", "equals", "director"),
    ("fit", "Manager", 8, "seniority", "equals", "manager"),
]
# kind, label, points, touchpoint kind, property, operator, value, cap, half-life
ACTIVITY_RULES = [
    ("engagement", "Demo request", 60, "demo_request", "", "", None, 1, 30),
    ("engagement", "Trial sign-up", 40, "trial_signup", "", "", None, 1, 30),
    ("engagement", "Pricing page view", 10, "page_view", "url", "contains", "/pricing", 3, 14),
    ("engagement", "Webinar attended", 12, "webinar_attended", "", "", None, 2, 30),
    ("engagement", "Content download", 8, "content_download", "", "", None, 3, 30),
    ("engagement", "E-mail click", 3, "email_click", "", "", None, 5, 14),
    ("negative", "Unsubscribed", -10, "unsubscribe", "", "", None, 1, 90),
    ("negative", "E-mail bounced", -15, "email_bounce", "", "", None, 1, 90),
]


def create_neutral_default(apps, schema_editor):
    ScoringModel = apps.get_model("scoring", "ScoringModel")
    ScoringRule = apps.get_model("scoring", "ScoringRule")
    if ScoringModel.objects.exists():
        return
    now = timezone.now()
    model = ScoringModel.objects.create(
        name="Default",
        version=1,
        status="active",
        # A demo request alone, or a trial with two pricing page views.
        mql_threshold=Decimal(60),
        default_half_life_days=30,
        # Grades come from the fit score (seniority here): A for C-level or
        # VP, B for directors, C for managers.
        grade_a_min=Decimal(20),
        grade_b_min=Decimal(15),
        grade_c_min=Decimal(8),
        notes=(
            "Created with Leadflow: scores what leads do, with no market or "
            "industry gate. Clone it into a draft to fit it to your business."
        ),
        published_at=now,
        created_at=now,
    )
    position = 0
    for kind, label, points, attribute, operator, value in FIT_RULES:
        position += 1
        ScoringRule.objects.create(
            model=model, position=position, kind=kind, label=label,
            points=Decimal(points), attribute=attribute, operator=operator, value=value,
        )
    for (kind, label, points, tp_kind, prop, prop_op, prop_value, cap,
         half_life) in ACTIVITY_RULES:
        position += 1
        ScoringRule.objects.create(
            model=model, position=position, kind=kind, label=label,
            points=Decimal(points), touchpoint_kind=tp_kind, property_name=prop,
            property_operator=prop_op, property_value=prop_value,
            max_occurrences=cap, half_life_days=half_life,
        )


class Migration(migrations.Migration):
    dependencies = [("scoring", "0006_publish_failure")]
    operations = [
        migrations.AlterField(
            model_name="scoringrule",
            name="operator",
            field=models.CharField(blank=True, choices=OPERATOR_CHOICES, max_length=16),
        ),
        migrations.AlterField(
            model_name="scoringrule",
            name="property_operator",
            field=models.CharField(blank=True, choices=OPERATOR_CHOICES, max_length=16),
        ),
        migrations.RunPython(create_neutral_default, migrations.RunPython.noop),
    ]
