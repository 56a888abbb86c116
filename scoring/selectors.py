"""Reads of the scoring domain: the active model and a lead's scoring inputs."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db.models import Case, Count, IntegerField, Prefetch, QuerySet, Value, When

from leads.models import Lead, Touchpoint, TouchpointKind
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


# The scoring screens and API: models, rules, progress
# ------------------------------------------------------------------------------

#: What people call the facts a fit rule may test (the rule form suggests them).
FACT_LABELS = {
    "seniority": "Seniority",
    "job_title": "Job title",
    "department": "Department",
    "country": "Country (two-letter code)",
    "region": "Region",
    "email_domain": "E-mail domain",
    "source": "Lead source",
    "utm_source": "UTM source",
    "utm_medium": "UTM medium",
    "utm_campaign": "UTM campaign",
    "do_not_email": "Do not e-mail",
    "do_not_call": "Do not call",
    "email": "E-mail address",
    "first_name": "First name",
    "last_name": "Last name",
    "phone": "Phone",
    "account.name": "Account name",
    "account.domain": "Account domain",
    "account.industry": "Account industry",
    "account.employee_count": "Account employees",
    "account.annual_revenue": "Account annual revenue (USD)",
    "account.country": "Account country",
    "account.score": "Account engagement score",
}
#: Kinds in the order the pages group them, with what each kind does.
KIND_DESCRIPTIONS = {
    "fit": "Points for who the lead is: a condition on a lead or account field.",
    "engagement": "Points for what the lead did: each touchpoint of a kind, "
    "decaying with age.",
    "negative": "Points taken away for signs against buying (an unsubscribe).",
    "disqualifying": "While one of these holds, the lead cannot become an MQL, "
    "whatever its score.",
}
_STATUS_ORDER = Case(
    When(status=ScoringModel.Status.ACTIVE, then=Value(0)),
    When(status=ScoringModel.Status.DRAFT, then=Value(1)),
    default=Value(2),
    output_field=IntegerField(),
)


@dataclass(frozen=True)
class RuleRow:
    """One rule as the model page shows it.

    ``move_up`` and ``move_down`` are the model's rule ids, comma-separated,
    in the order after moving this rule one place within its kind ("" when
    it cannot move that way): what the reorder buttons post.
    """

    rule: ScoringRule
    touchpoint_label: str
    move_up: str
    move_down: str


@dataclass(frozen=True)
class RuleGroup:
    kind: str
    label: str
    description: str
    rows: list[RuleRow]

    @property
    def counts_touchpoints(self) -> bool:
        """Engagement and negative rules: they have a cap, look-back, half-life."""
        return self.kind in ACTIVITY_KINDS


@dataclass(frozen=True)
class RescoreProgress:
    """How far the rescore that publishing a model started has come.

    ``state``: ``none`` (never rescored by a publish), ``running``,
    ``finished``, or ``stopped`` (a newer model was published before it ended).
    """

    state: str
    total: int
    done: int
    percent: int
    finished_at: dt.datetime | None

    def as_json(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "total": self.total,
            "done": self.done,
            "percent": self.percent,
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
        }


def attribute_suggestions() -> list[tuple[str, str]]:
    """(path, label) of the lead and account facts, for the rule form's list."""
    paths = [
        *LEAD_FACT_FIELDS,
        "email_domain",
        *(f"account.{name}" for name in ACCOUNT_FACT_FIELDS),
        "account.score",
    ]
    ordered = sorted(paths, key=lambda p: (p.startswith("account."), FACT_LABELS[p]))
    return [(path, FACT_LABELS[path]) for path in ordered]


def touchpoint_kind_choices() -> list[tuple[str, str]]:
    """(code, label) of every touchpoint kind, by label."""
    return list(TouchpointKind.objects.order_by("label").values_list("code", "label"))


def touchpoint_kind_codes() -> set[str]:
    """The codes of every touchpoint kind (what a rule may count)."""
    return set(TouchpointKind.objects.values_list("code", flat=True))


def model_list() -> QuerySet[ScoringModel]:
    """Every scoring model: the active one, then drafts, then archived ones.

    Newest version first within each; annotated with ``rules_count``, with
    the people who created and published it.
    """
    return (
        ScoringModel.objects.select_related("created_by", "published_by")
        .annotate(rules_count=Count("rules"), status_rank=_STATUS_ORDER)
        .order_by("status_rank", "name", "-version", "-id")
    )


def model_get(*, model_id: int) -> ScoringModel:
    """One model as ``model_list`` gives it, with its rules in order prefetched.

    Raises ScoringModel.DoesNotExist for an unknown id.
    """
    return model_list().prefetch_related(model_rules_prefetch()).get(id=model_id)


def model_rules_prefetch() -> Prefetch:
    """A model's rules in order (position, then id), for ``prefetch_related``."""
    return Prefetch("rules", queryset=ScoringRule.objects.order_by("position", "id"))


def rule_get(*, model_id: int, rule_id: int) -> ScoringRule:
    """One rule of one model; raises ScoringRule.DoesNotExist for another model's."""
    return ScoringRule.objects.select_related("model").get(
        id=rule_id, model_id=model_id
    )


def rule_groups(model: ScoringModel) -> list[RuleGroup]:
    """The model's rules grouped by kind (fit, engagement, negative,
    disqualifying), in position order, with the orders the move buttons post."""
    rules = sorted(model.rules.all(), key=lambda r: (r.position, r.id))
    order = [rule.id for rule in rules]
    kind_labels = dict(ScoringRule.Kind.choices)
    touchpoint_labels = dict(touchpoint_kind_choices())
    groups = []
    for kind, description in KIND_DESCRIPTIONS.items():
        members = [rule for rule in rules if rule.kind == kind]
        rows = [
            RuleRow(
                rule=rule,
                touchpoint_label=touchpoint_labels.get(
                    rule.touchpoint_kind, rule.touchpoint_kind
                ),
                move_up=_swapped(order, rule.id, members[i - 1].id) if i else "",
                move_down=(
                    _swapped(order, rule.id, members[i + 1].id)
                    if i + 1 < len(members)
                    else ""
                ),
            )
            for i, rule in enumerate(members)
        ]
        groups.append(RuleGroup(kind, kind_labels[kind], description, rows))
    return groups


def _swapped(order: list[int], a: int, b: int) -> str:
    swapped = [b if i == a else a if i == b else i for i in order]
    return ",".join(str(i) for i in swapped)


def model_progress(model: ScoringModel) -> RescoreProgress:
    """The progress of the rescore that publishing ``model`` started."""
    total, done = model.rescore_total, min(model.rescore_done, model.rescore_total)
    if model.rescore_finished_at is not None:
        state = "finished"
    elif total == 0:
        state = "none"
    elif model.status != ScoringModel.Status.ACTIVE:
        state = "stopped"
    else:
        state = "running"
    percent = 100 if state == "finished" else (done * 100 // total if total else 0)
    return RescoreProgress(state, total, done, percent, model.rescore_finished_at)
