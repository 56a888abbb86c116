"""The demo's scoring model: a B2B model with market and industry gates.

A fresh install's default model is neutral (it scores activity and seniority,
and gates nothing). The demo tells the story of a B2B software vendor selling
to mid-market and enterprise companies in North America and Europe, so its
data comes with a model that says so: fit points for size, industry and
go-to-market teams, and gates for competitors, students and leads outside
that market. ``demo_seed`` makes it the active model before it scores the
leads, so the demo looks the same whatever model the install had.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.db import transaction

from scoring import selectors
from scoring.models import ScoringModel, ScoringRule
from scoring.validation import rule_clean

DEMO_MODEL_NAME = "B2B demo"

# label, points, attribute, operator, value
FIT_RULES: list[tuple[str, int, str, str, Any]] = [
    ("Decision maker: C-level or VP", 20, "seniority", "one_of", ["executive", "vp"]),
    ("Director or head of a function", 15, "seniority", "equals", "director"),
    ("Manager", 8, "seniority", "equals", "manager"),
    (
        "Works in a go-to-market team",
        5,
        "job_title",
        "matches",
        r"\b(marketing|sales|revenue|growth|demand)\b",
    ),
    (
        "Mid-market to enterprise (200-5,000 employees)",
        15,
        "account.employee_count",
        "between",
        [200, 5000],
    ),
    (
        "Large enterprise (over 5,000 employees)",
        10,
        "account.employee_count",
        "at_least",
        5001,
    ),
    (
        "Target industry",
        10,
        "account.industry",
        "one_of",
        ["software", "financial_services", "professional_services", "telecom"],
    ),
    (
        "In our market (North America or Europe)",
        5,
        "region",
        "one_of",
        ["north_america", "europe"],
    ),
]
# kind, label, points, touchpoint kind, property, operator, value, cap, half-life
ACTIVITY_RULES: list[tuple[str, str, int, str, str, str, Any, int, int]] = [
    (
        "engagement",
        "Pricing page view",
        10,
        "page_view",
        "url",
        "contains",
        "/pricing",
        3,
        14,
    ),
    ("engagement", "Content download", 8, "content_download", "", "", None, 3, 30),
    ("engagement", "Webinar attended", 12, "webinar_attended", "", "", None, 2, 30),
    ("engagement", "Demo request", 60, "demo_request", "", "", None, 1, 30),
    ("engagement", "Trial sign-up", 40, "trial_signup", "", "", None, 1, 30),
    ("engagement", "E-mail click", 3, "email_click", "", "", None, 5, 14),
    ("negative", "Unsubscribed", -10, "unsubscribe", "", "", None, 1, 90),
    ("negative", "E-mail bounced", -15, "email_bounce", "", "", None, 1, 90),
    (
        "negative",
        "Careers page visit (job seeker)",
        -10,
        "page_view",
        "url",
        "contains",
        "/careers",
        2,
        30,
    ),
]
# label, attribute, operator, value
DISQUALIFYING_RULES: list[tuple[str, str, str, Any]] = [
    (
        "Competitor",
        "email_domain",
        "one_of",
        ["hubspot.com", "salesforce.com", "marketo.com", "pardot.com", "pipedrive.com"],
    ),
    ("Student", "seniority", "equals", "student"),
    ("Outside our market", "region", "one_of", ["latam", "mea", "apac"]),
]


def demo_model_rules() -> list[dict[str, Any]]:
    """The demo model's rules as rule fields (scoring.validation.RULE_INPUT_FIELDS),
    in their order."""
    rules: list[dict[str, Any]] = []
    for label, points, attribute, operator, value in FIT_RULES:
        rules.append(
            {
                "kind": "fit",
                "label": label,
                "points": points,
                "attribute": attribute,
                "operator": operator,
                "value": value,
            }
        )
    for (
        kind,
        label,
        points,
        tp_kind,
        prop,
        prop_op,
        prop_value,
        cap,
        half,
    ) in ACTIVITY_RULES:
        rules.append(
            {
                "kind": kind,
                "label": label,
                "points": points,
                "touchpoint_kind": tp_kind,
                "property_name": prop,
                "property_operator": prop_op,
                "property_value": prop_value,
                "max_occurrences": cap,
                "half_life_days": half,
            }
        )
    for label, attribute, operator, value in DISQUALIFYING_RULES:
        rules.append(
            {
                "kind": "disqualifying",
                "label": label,
                "attribute": attribute,
                "operator": operator,
                "value": value,
            }
        )
    return rules


@transaction.atomic
def demo_model_activate(*, now: dt.datetime) -> ScoringModel:
    """Make the demo's B2B model the active scoring model; return it.

    When the active model is already a version of it (a earlier seed, or a
    version marketing published since), it stays as it is. Otherwise the
    next version of "B2B demo" is created with the demo's rules (each
    checked as the rule editor checks it) and activated in place of the
    active model, which is archived (remembered as ``replaced``). No lead
    is rescored here: ``demo_seed`` scores every lead right after.
    """
    active = (
        ScoringModel.objects.select_for_update()
        .filter(status=ScoringModel.Status.ACTIVE)
        .first()
    )
    if active is not None and active.name == DEMO_MODEL_NAME:
        return active
    kinds = selectors.touchpoint_kind_codes()
    rules = [rule_clean(rule, touchpoint_kinds=kinds) for rule in demo_model_rules()]
    latest = (
        ScoringModel.objects.filter(name=DEMO_MODEL_NAME)
        .order_by("-version")
        .values_list("version", flat=True)
        .first()
    )
    if active is not None:
        ScoringModel.objects.filter(id=active.id).update(
            status=ScoringModel.Status.ARCHIVED
        )
    model = ScoringModel.objects.create(
        name=DEMO_MODEL_NAME,
        version=(latest or 0) + 1,
        status=ScoringModel.Status.ACTIVE,
        mql_threshold=Decimal(60),
        default_half_life_days=30,
        notes="The demo's model: a B2B vendor selling to mid-market and "
        "enterprise companies in North America and Europe.",
        published_at=now,
        replaced=active,
    )
    ScoringRule.objects.bulk_create(
        ScoringRule(model=model, position=position, **rule)
        for position, rule in enumerate(rules, start=1)
    )
    return model
