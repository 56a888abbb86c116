"""Reads of the scoring domain: the active model and a lead's scoring inputs."""

from __future__ import annotations

from typing import Any

from leads.models import Lead, Touchpoint
from scoring.engine import ACTIVITY_KINDS, ModelSpec, Rule, Touch
from scoring.models import AccountScore, ScoringModel, ScoringRule

#: Lead columns a fit rule may test, besides ``attributes.*`` and ``account.*``.
LEAD_FACT_FIELDS = (
    "email",
    "first_name",
    "last_name",
    "job_title",
    "seniority",
    "department",
    "phone",
    "country",
    "region",
    "source",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "do_not_email",
    "do_not_call",
)
ACCOUNT_FACT_FIELDS = (
    "name",
    "domain",
    "industry",
    "employee_count",
    "annual_revenue",
    "country",
)


def model_active() -> ScoringModel | None:
    """The active scoring model, or None before one is published."""
    return ScoringModel.objects.filter(status=ScoringModel.Status.ACTIVE).first()


def model_spec(model: ScoringModel) -> ModelSpec:
    """The model and its rules (in order) as plain data for the engine."""
    rules = tuple(
        Rule(
            id=r.id,
            kind=r.kind,
            label=r.label,
            points=r.points,
            attribute=r.attribute,
            operator=r.operator,
            value=r.value,
            touchpoint_kind=r.touchpoint_kind,
            property_name=r.property_name,
            property_operator=r.property_operator,
            property_value=r.property_value,
            max_occurrences=r.max_occurrences,
            lookback_days=r.lookback_days,
            half_life_days=r.half_life_days,
        )
        for r in ScoringRule.objects.filter(model=model).order_by("position", "id")
    )
    return ModelSpec(
        id=model.id,
        mql_threshold=model.mql_threshold,
        min_fit_score=model.min_fit_score,
        default_half_life_days=model.default_half_life_days,
        grade_a_min=model.grade_a_min,
        grade_b_min=model.grade_b_min,
        grade_c_min=model.grade_c_min,
        rules=rules,
    )


def facts_from_values(
    lead: dict[str, Any], account: dict[str, Any] | None, account_score: Any
) -> dict[str, Any]:
    """Lead facts from plain values: what fit rules can test.

    ``email_domain``, the lead columns, ``attributes`` (the free-form object),
    and ``account`` (its columns plus ``score``, the account's engagement).
    """
    facts = {name: lead.get(name) for name in LEAD_FACT_FIELDS}
    facts["email_domain"] = (lead.get("email") or "").rpartition("@")[2].lower()
    facts["attributes"] = lead.get("attributes") or {}
    if account is not None:
        facts["account"] = {**account, "score": account_score}
    else:
        facts["account"] = {}
    return facts


def lead_facts(lead: Lead, *, model_id: int) -> dict[str, Any]:
    account = None
    account_score = None
    if lead.account_id:
        account = {f: getattr(lead.account, f) for f in ACCOUNT_FACT_FIELDS}
        account_score = (
            AccountScore.objects.filter(account_id=lead.account_id, model_id=model_id)
            .values_list("engagement_score", flat=True)
            .first()
        )
    values = {f: getattr(lead, f) for f in (*LEAD_FACT_FIELDS, "attributes")}
    return facts_from_values(values, account, account_score)


def lead_touches(lead_id: int, spec: ModelSpec) -> list[Touch]:
    """The lead's touchpoints of the kinds the model's activity rules count."""
    kinds = {r.touchpoint_kind for r in spec.rules if r.kind in ACTIVITY_KINDS}
    if not kinds:
        return []
    rows = Touchpoint.objects.filter(lead_id=lead_id, kind_id__in=kinds).values_list(
        "id", "kind_id", "occurred_at", "properties"
    )
    return [
        Touch(id=i, kind=k, occurred_at=at, properties=p or {}) for i, k, at, p in rows
    ]
