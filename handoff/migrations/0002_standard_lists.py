"""The standard rejection reasons, a default calendar, team and SLA.

Every MQL needs an SLA, so a default one exists from the start: 8 business
hours (Monday to Friday, 09:00-17:00 UTC) for the "Sales development" team,
whose members an Admin adds. A second, reroute-only SLA receives leads an
SDR rejects as outside their territory.
"""

import datetime as dt
from decimal import Decimal

from django.db import migrations

# code, label, action, cooldown days, feedback required, minimum attempts
SDR_REASONS = [
    ("unable_to_reach", "Unable to reach", "recycle", 30, False, 3),
    ("bad_contact_data", "Bad contact data", "disqualify", 0, False, 0),
    ("not_decision_maker", "Not a decision maker", "recycle", 30, False, 0),
    ("no_need", "No need or interest", "recycle", 90, False, 0),
    ("no_budget", "No budget", "recycle", 90, False, 0),
    ("bad_timing", "Bad timing", "recycle", 60, False, 0),
    ("no_fit", "No fit", "disqualify", 0, True, 0),
    ("wrong_region", "Wrong region or territory", "reroute", 0, False, 0),
    ("duplicate", "Duplicate", "merge", 0, False, 0),
    ("existing_customer", "Existing customer or open deal", "account_owner", 0, False, 0),
    ("competitor_spam", "Competitor, student, job seeker or spam", "disqualify", 0, False, 0),
    ("other", "Other", "recycle", 30, True, 0),
]
SALES_REASONS = [
    ("sales_no_budget", "No budget", "recycle", 90, False, 0),
    ("sales_no_authority", "Not the decision maker", "recycle", 30, False, 0),
    ("sales_no_need", "No need", "recycle", 90, False, 0),
    ("sales_bad_timing", "Bad timing", "recycle", 60, False, 0),
    ("sales_went_dark", "Went dark", "recycle", 30, False, 0),
    ("sales_lost_competitor", "Closed lost: chose a competitor", "recycle", 180, False, 0),
    ("sales_lost_price", "Closed lost: price", "recycle", 180, False, 0),
    ("sales_no_fit", "Not a fit", "disqualify", 0, True, 0),
    ("sales_other", "Other", "recycle", 30, True, 0),
]


def seed(apps, schema_editor):
    calendar_model = apps.get_model("handoff", "BusinessCalendar")
    team_model = apps.get_model("handoff", "Team")
    sla_model = apps.get_model("handoff", "ServiceLevelAgreement")
    reason_model = apps.get_model("handoff", "RejectionReason")
    calendar, _ = calendar_model.objects.get_or_create(
        name="Business days",
        defaults={"time_zone": "UTC", "day_start": dt.time(9), "day_end": dt.time(17)},
    )
    team, _ = team_model.objects.get_or_create(
        name="Sales development", defaults={"strategy": "round_robin"}
    )
    sla_model.objects.get_or_create(
        name="Standard MQL",
        defaults={
            "is_default": True,
            "priority": 1000,
            "team": team,
            "calendar": calendar,
            "accept_within_hours": Decimal("8"),
            "at_risk_percent": 75,
            "follow_up_within_hours": Decimal("16"),
            "notes": "Covers every MQL no other SLA matches.",
        },
    )
    review, _ = sla_model.objects.get_or_create(
        name="Territory review",
        defaults={
            "reroute_only": True,
            "priority": 2000,
            "team": team,
            "calendar": calendar,
            "accept_within_hours": Decimal("16"),
            "notes": "Leads an SDR rejected as outside their territory.",
        },
    )
    for audience, rows in (("sdr", SDR_REASONS), ("sales", SALES_REASONS)):
        for position, (code, label, action, days, feedback, attempts) in enumerate(
            rows
        ):
            reason_model.objects.get_or_create(
                code=code,
                defaults={
                    "label": label,
                    "audience": audience,
                    "action": action,
                    "cooldown_days": days,
                    "feedback_required": feedback,
                    "min_attempts": attempts,
                    "position": position,
                    "reroute_sla": review if action == "reroute" else None,
                },
            )


class Migration(migrations.Migration):
    dependencies = [("handoff", "0001_initial")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
