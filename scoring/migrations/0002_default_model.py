"""The default scoring model (active), used until marketing publishes its own."""

from decimal import Decimal

from django.db import migrations
from django.utils import timezone

# kind, label, points, condition or activity (see scoring.engine)
FIT_RULES = [
    ("fit", "Decision maker: C-level or VP", 20, "seniority", "one_of", ["executive", "vp"]),
    ("fit", "Director or head of a function", 15, "seniority", "equals", "director"),
    ("fit", "Manager", 8, "seniority", "equals", "manager"),
    ("fit", "Works in a go-to-market team", 5, "job_title", "matches",
     r"\b(marketing|sales|revenue|growth|demand)\b"),
    ("fit", "Mid-market to enterprise (200-5,000 employees)", 15,
     "account.employee_count", "between", [200, 5000]),
    ("fit", "Large enterprise (over 5,000 employees)", 10,
     "account.employee_count", "at_least", 5001),
    ("fit", "Target industry", 10, "account.industry", "one_of",
     ["software", "financial_services", "professional_services", "telecom"]),
    ("fit", "In our market (North America or Europe)", 5, "region", "one_of",
     ["north_america", "europe"]),
]
ACTIVITY_RULES = [
    # kind, label, points, touchpoint kind, property, operator, value, cap, half-life
    ("engagement", "Pricing page view", 10, "page_view", "url", "contains", "/pricing", 3, 14),
    ("engagement", "Content download", 8, "content_download", "", "", None, 3, 30),
    ("engagement", "Webinar attended", 12, "webinar_attended", "", "", None, 2, 30),
    ("engagement", "Demo request", 60, "demo_request", "", "", None, 1, 30),
    ("engagement", "Trial sign-up", 40, "trial_signup", "", "", None, 1, 30),
    ("engagement", "E-mail click", 3, "email_click", "", "", None, 5, 14),
    ("negative", "Unsubscribed", -10, "unsubscribe", "", "", None, 1, 90),
    ("negative", "E-mail bounced", -15, "email_bounce", "", "", None, 1, 90),
    ("negative", "Careers page visit (job seeker)", -10, "page_view", "url", "contains",
     "/careers", 2, 30),
]
DISQUALIFYING_RULES = [
    ("Competitor", "email_domain", "one_of",
     ["hubspot.com", "salesforce.com", "marketo.com", "pardot.com", "pipedrive.com"]),
    ("Student", "seniority", "equals", "student"),
    ("Outside our market", "region", "one_of", ["latam", "mea", "apac"]),
]


def create_default_model(apps, schema_editor):
    ScoringModel = apps.get_model("scoring", "ScoringModel")
    ScoringRule = apps.get_model("scoring", "ScoringRule")
    if ScoringModel.objects.exists():
        return
    now = timezone.now()
    model = ScoringModel.objects.create(
        name="Default",
        version=1,
        status="active",
        mql_threshold=Decimal(60),
        default_half_life_days=30,
        notes="Created with Leadflow. Clone it into a draft to change it.",
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
    for label, attribute, operator, value in DISQUALIFYING_RULES:
        position += 1
        ScoringRule.objects.create(
            model=model, position=position, kind="disqualifying", label=label,
            points=Decimal(0), attribute=attribute, operator=operator, value=value,
        )


class Migration(migrations.Migration):
    dependencies = [("scoring", "0001_initial")]
    operations = [migrations.RunPython(create_default_model, migrations.RunPython.noop)]
