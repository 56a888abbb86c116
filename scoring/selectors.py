"""Reads of the scoring domain: the active model and a lead's scoring inputs."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.db.models import (
    Case,
    Count,
    F,
    IntegerField,
    Prefetch,
    QuerySet,
    Value,
    When,
)
from django.utils import timezone

from leads.models import Lead, Touchpoint, TouchpointKind
from scoring.engine import ACTIVITY_KINDS, ModelSpec, Rule
from scoring.models import (
    AccountScore,
    ModelReplay,
    ModelSuggestion,
    PublishPreview,
    ScoringModel,
    ScoringRule,
)
from scoring.sentences import rule_sentence

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


#: Specs of published models, by (model id, published_at). A published model
#: never changes (only drafts are edited; scoring.services refuses the rest),
#: so an entry never goes stale, and publishing another model makes a new
#: key. Each process keeps its own; a handful of models is a few KB.
_SPEC_CACHE: dict[tuple[int, dt.datetime], ModelSpec] = {}
_SPEC_CACHE_SIZE = 8


def model_spec(model: ScoringModel) -> ModelSpec:
    """The model and its rules (in order) as plain data for the engine.

    One query for a draft; none for a published model whose spec this
    process built before (rescore tasks ask for it once per batch of leads).
    """
    key = None
    if model.status != ScoringModel.Status.DRAFT and model.published_at is not None:
        key = (model.id, model.published_at)
        cached = _SPEC_CACHE.get(key)
        if cached is not None:
            return cached
    spec = _model_spec_build(model)
    if key is not None:
        if len(_SPEC_CACHE) >= _SPEC_CACHE_SIZE:
            _SPEC_CACHE.clear()
        _SPEC_CACHE[key] = spec
    return spec


def _model_spec_build(model: ScoringModel) -> ModelSpec:
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


# Recycle cool-down: when a recycled lead may become an MQL again
# ------------------------------------------------------------------------------


@dataclass(frozen=True)
class HighIntentTouch:
    """A touchpoint of a high-intent kind that lifts a lead's recycle hold."""

    lead_id: int
    touchpoint_id: int
    kind: str
    label: str
    occurred_at: dt.datetime


def recycle_hold_active(recycle_until: dt.datetime | None, now: dt.datetime) -> bool:
    """Whether a lead recycled with this ``recycle_until`` is still cooling down."""
    return recycle_until is not None and now < recycle_until


def high_intent_touches_since_recycle(
    *, lead_ids: Iterable[int]
) -> dict[int, HighIntentTouch]:
    """Per lead: its first high-intent touchpoint since it was recycled.

    "Since it was recycled" is ``occurred_at >= lead.stage_changed_at``: a
    lead on hold is in nurture, and entering nurture is its last stage change.
    A lead with no such touchpoint (or no ``stage_changed_at``) is absent.
    One query for all leads, whatever their number (the per-lead and bulk
    paths both call this, so they decide alike); none for no leads.
    """
    ids = sorted(set(lead_ids))
    if not ids:
        return {}
    rows = (
        Touchpoint.objects.filter(
            lead_id__in=ids,
            kind__is_high_intent=True,
            occurred_at__gte=F("lead__stage_changed_at"),
        )
        .order_by("lead_id", "occurred_at", "id")
        .values_list("lead_id", "id", "kind_id", "kind__label", "occurred_at")
    )
    first: dict[int, HighIntentTouch] = {}
    for lead_id, touch_id, kind, label, occurred_at in rows:
        first.setdefault(
            lead_id, HighIntentTouch(lead_id, touch_id, kind, label, occurred_at)
        )
    return first


def recycle_holds_check(
    *, holds: Mapping[int, dt.datetime | None], now: dt.datetime
) -> dict[int, HighIntentTouch | None]:
    """Which of these leads a recycle hold keeps from becoming an MQL at ``now``.

    ``holds`` maps lead ids to their ``recycle_until``. The answer has an
    entry for each lead still cooling down: the high-intent touchpoint since
    it was recycled that lets it through anyway, or None when the hold
    blocks its promotion. Leads not on hold are absent. At most one query.
    """
    held = [
        lead_id for lead_id, until in holds.items() if recycle_hold_active(until, now)
    ]
    touches = high_intent_touches_since_recycle(lead_ids=held)
    return {lead_id: touches.get(lead_id) for lead_id in held}


def recycle_holds(
    leads: Iterable[Lead], *, now: dt.datetime | None = None
) -> dict[int, dict[str, Any]]:
    """The recycle holds that keep these leads from becoming MQLs, by lead id.

    For each lead in nurture whose cool-down runs past ``now`` (default: the
    current time) and that has had no high-intent touchpoint since it was
    recycled: ``{"until": datetime, "since": datetime | None, "reason": str}``
    (``since`` is when it was recycled). Other leads are absent. For a list
    page: at most two queries whatever the number of leads, none when no
    lead is on hold.
    """
    now = now or timezone.now()
    candidates = {
        lead.id: lead
        for lead in leads
        if lead.stage == Lead.Stage.NURTURE
        and recycle_hold_active(lead.recycle_until, now)
    }
    checks = recycle_holds_check(
        holds={lead_id: lead.recycle_until for lead_id, lead in candidates.items()},
        now=now,
    )
    blocked = [lead_id for lead_id, touch in checks.items() if touch is None]
    if not blocked:
        return {}
    kinds = ", ".join(
        label.lower()
        for label in TouchpointKind.objects.filter(is_high_intent=True)
        .order_by("label")
        .values_list("label", flat=True)
    )
    holds = {}
    for lead_id in blocked:
        lead = candidates[lead_id]
        since, until = lead.stage_changed_at, lead.recycle_until
        recycled = f"Recycled on {since.astimezone(dt.UTC):%Y-%m-%d}" if since else ""
        holds[lead_id] = {
            "until": until,
            "since": since,
            "reason": (
                f"{recycled or 'Recycled'}: cooling down until "
                f"{until.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC. Until then only "
                f"a high-intent touchpoint ({kinds}) makes it an MQL again, "
                "whatever its score."
            ),
        }
    return holds


def recycle_hold(
    lead: Lead, *, now: dt.datetime | None = None
) -> dict[str, Any] | None:
    """The recycle hold that keeps ``lead`` from becoming an MQL, or None.

    The lead page's companion of ``gated_by``: while a recycled lead cools
    down (``now < lead.recycle_until``) and has had no high-intent
    touchpoint since it was recycled, scoring leaves it in nurture even when
    its score reaches the threshold. Returns ``{"until": datetime, "since":
    datetime | None, "reason": str}`` then; None otherwise (no hold, the hold
    has passed, or a high-intent touchpoint lifted it). See recycle_holds.
    """
    return recycle_holds([lead], now=now).get(lead.id)


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
    ``finished``, ``stopped`` (a newer model was published before it ended)
    or ``failed`` (a chunk failed and the publish was undone: ``error`` says
    what, ``failed_at`` when; the model is a draft again, to retry).
    """

    state: str
    total: int
    done: int
    percent: int
    finished_at: dt.datetime | None
    failed_at: dt.datetime | None = None
    error: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "total": self.total,
            "done": self.done,
            "percent": self.percent,
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "failed_at": self.failed_at.isoformat() if self.failed_at else None,
            "error": self.error,
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


def rule_sentences(rule_ids: Iterable[Any]) -> dict[int, str]:
    """What each rule tests, as a sentence (``scoring.sentences.rule_sentence``),
    by rule id: two queries (rules, touchpoint kinds) however many ids. Ids
    that are not whole numbers or name no rule are left out."""
    ids = {i for i in rule_ids if isinstance(i, int) and not isinstance(i, bool)}
    if not ids:
        return {}
    rules = list(ScoringRule.objects.filter(id__in=ids))
    labels = dict(
        TouchpointKind.objects.filter(
            code__in={r.touchpoint_kind for r in rules if r.touchpoint_kind}
        ).values_list("code", "label")
    )
    return {
        rule.id: rule_sentence(
            rule, touchpoint_label=labels.get(rule.touchpoint_kind, "")
        )
        for rule in rules
    }


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
    if model.rescore_failed_at is not None:
        return RescoreProgress(
            "failed",
            total,
            done,
            done * 100 // total if total else 0,
            None,
            model.rescore_failed_at,
            model.rescore_error,
        )
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


@dataclass(frozen=True)
class PreviewProgress:
    """How far the preview of publishing a draft has come.

    ``state``: ``running`` (counting) or ``finished`` (``counts`` holds
    scoring.simulation.model_simulate's counts).
    """

    preview_id: int
    state: str
    total: int
    done: int
    percent: int
    counts: dict[str, Any] | None
    finished_at: dt.datetime | None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.preview_id,
            "state": self.state,
            "total": self.total,
            "done": self.done,
            "percent": self.percent,
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
        }


def publish_preview_progress(preview: PublishPreview) -> PreviewProgress:
    """The progress (and, once finished, the counts) of a publish preview."""
    finished = preview.status == PublishPreview.Status.FINISHED
    done = preview.done if finished else min(preview.done, preview.total)
    if finished:
        percent = 100
    else:
        # Never 100% while counting (leads added since it started count too).
        percent = min(99, done * 100 // preview.total) if preview.total else 0
    return PreviewProgress(
        preview_id=preview.id,
        state=preview.status,
        total=max(preview.total, done),
        done=done,
        percent=percent,
        counts=preview.counts if finished else None,
        finished_at=preview.finished_at,
    )


def publish_preview_find(*, model_id: int, preview_id: int) -> PublishPreview:
    """One preview of one model; raises PublishPreview.DoesNotExist otherwise."""
    return PublishPreview.objects.get(id=preview_id, model_id=model_id)


def suggestion_latest() -> ModelSuggestion | None:
    """The latest suggestion of points (any status), for the models page."""
    return ModelSuggestion.objects.select_related("draft").first()


def replay_latest(model: ScoringModel) -> ModelReplay | None:
    """The model's latest replay on history (any status), for its page."""
    return ModelReplay.objects.filter(draft=model).first()
