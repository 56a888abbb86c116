"""Reads that combine apps for the crm screens: the lead page."""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Prefetch
from django.shortcuts import get_object_or_404

from handoff.models import ContactAttempt, Handoff, HandoffEvent, SalesOutcome
from handoff.selectors import handoff_for_user, is_manager
from leads.attribute_labels import attribute_groups
from leads.models import Lead, OwnerChange, StageTransition, Touchpoint
from scoring import selectors as scoring_selectors
from scoring.models import AccountScore, LeadScore, LeadScoreHistory, ScoringModel
from scoring.sentences import VALUE_LABELS, breakdown_reasons, value_text

#: Entries shown in a lead's timeline (touchpoints, stage moves and owner
#: changes together).
TIMELINE_LIMIT = 60
#: The score chart's drawing area in SVG units.
CHART_WIDTH, CHART_HEIGHT, CHART_PAD = 640, 180, 24


@dataclass
class ScoreChart:
    points: str  # SVG polyline "x,y x,y ..."
    dots: list[dict[str, Any]]
    low: Decimal
    high: Decimal
    threshold_y: float | None
    first_at: Any
    last_at: Any

    @property
    def steady(self) -> bool:
        """One stored score: the total has not changed since it was scored."""
        return len(self.dots) == 1


def lead_get_for_page(*, lead_id: int) -> Lead:
    """The lead (not erased) with account and owner, or 404."""
    return get_object_or_404(
        Lead.objects.select_related("account", "owner"),
        id=lead_id,
        erased_at__isnull=True,
    )


def lead_score_active(*, lead: Lead) -> tuple[LeadScore | None, ScoringModel | None]:
    model = ScoringModel.objects.filter(status=ScoringModel.Status.ACTIVE).first()
    if model is None:
        return None, None
    return LeadScore.objects.filter(lead=lead, model=model).first(), model


def account_score_active(
    *, lead: Lead, model: ScoringModel | None
) -> AccountScore | None:
    """The lead's account's engagement roll-up under the active model."""
    if model is None or lead.account_id is None:
        return None
    return AccountScore.objects.filter(account_id=lead.account_id, model=model).first()


def lead_breakdown_rows(*, score: LeadScore | None) -> list[dict[str, Any]]:
    """Breakdown items in their stored order (fit rules first), each with
    ``sentence`` (what its rule tests, ``scoring.sentences``), ``shown_value``
    (the lead's value a fit rule tested, in words) and its evidence
    touchpoints (three queries)."""
    if score is None:
        return []
    ids = {i for item in score.breakdown for i in item.get("touchpoints", [])}
    touches = {
        t.id: t for t in Touchpoint.objects.filter(id__in=ids).select_related("kind")
    }
    sentences = scoring_selectors.rule_sentences(
        item.get("rule") for item in score.breakdown
    )
    return [
        {
            **item,
            "shown_value": _shown_value(item),
            "evidence": [
                touches[i] for i in item.get("touchpoints", []) if i in touches
            ],
        }
        for item in breakdown_reasons(score.breakdown, sentences, largest_first=False)
    ]


def lead_gate_rows(*, score: LeadScore | None) -> list[dict[str, Any]]:
    """The disqualifying rules holding for the lead, each with ``sentence``
    and ``shown_value`` as in ``lead_breakdown_rows`` (one query)."""
    if score is None or not score.gated_by:
        return []
    sentences = scoring_selectors.rule_sentences(
        item.get("rule") for item in score.gated_by
    )
    return [
        {**item, "shown_value": _shown_value(item)}
        for item in breakdown_reasons(score.gated_by, sentences)
    ]


def lead_attribute_groups(*, lead: Lead) -> list[tuple[str, list[dict[str, Any]]]]:
    """The lead's imported attributes with labels, grouped (Company, Contact,
    Marketing, Other) and alphabetical within a group; values in words."""
    attributes = lead.attributes if isinstance(lead.attributes, dict) else {}
    return [
        (group, [{**item, "shown": _attribute_value(item["value"])} for item in items])
        for group, items in attribute_groups(attributes)
    ]


def _shown_value(item: dict[str, Any]) -> str:
    """The lead's value a condition rule tested, in words ("" for activity)."""
    attribute = item.get("attribute") or ""
    if not attribute:
        return ""
    return value_text(item.get("value"), VALUE_LABELS.get(attribute))


def _attribute_value(value: Any) -> str:
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    if value is None or value == "":
        return "—"
    return value_text(value)


def lead_score_chart(*, lead: Lead, threshold: Decimal | None) -> ScoreChart | None:
    """The lead's total over time as SVG coordinates (None if never scored).

    A single stored score is drawn as a level line from its dot on the left.
    """
    history = list(
        LeadScoreHistory.objects.filter(lead=lead)
        .order_by("at", "id")
        .values_list("at", "total")
    )
    if not history:
        return None
    values = [total for _, total in history]
    low = min([*values, Decimal(0)])
    high = max([*values, threshold or Decimal(0)])
    span = (high - low) or Decimal(1)
    start, end = history[0][0], history[-1][0]
    seconds = (end - start).total_seconds() or 1.0

    def y(value: Decimal) -> float:
        usable = CHART_HEIGHT - 2 * CHART_PAD
        return round(CHART_PAD + usable * float((high - value) / span), 1)

    dots = []
    for at, total in history:
        x = round(
            CHART_PAD
            + (CHART_WIDTH - 2 * CHART_PAD) * (at - start).total_seconds() / seconds,
            1,
        )
        dots.append({"x": x, "y": y(total), "at": at, "total": total})
    if len(dots) == 1:
        line = f"{dots[0]['x']},{dots[0]['y']} {CHART_WIDTH - CHART_PAD},{dots[0]['y']}"
    else:
        line = " ".join(f"{d['x']},{d['y']}" for d in dots)
    return ScoreChart(
        points=line,
        dots=dots,
        low=low,
        high=high,
        threshold_y=y(threshold) if threshold is not None else None,
        first_at=start,
        last_at=end,
    )


def lead_timeline(*, lead: Lead) -> list[dict[str, Any]]:
    """Touchpoints, stage moves (with the deal of a move that opened or won
    one) and owner changes, newest first, as one list."""
    touches = (
        Touchpoint.objects.filter(lead=lead)
        .select_related("kind", "campaign")
        .order_by("-occurred_at", "-id")[:TIMELINE_LIMIT]
    )
    moves = (
        StageTransition.objects.filter(lead=lead)
        .select_related("actor")
        .order_by("-at", "-id")[:TIMELINE_LIMIT]
    )
    entries = [
        {"type": "touchpoint", "at": t.occurred_at, "touchpoint": t} for t in touches
    ]
    owners = (
        OwnerChange.objects.filter(lead=lead)
        .select_related("actor", "from_owner", "to_owner")
        .order_by("-at", "-id")[:TIMELINE_LIMIT]
    )
    deals = {
        (o.at, o.to_stage): o
        for o in SalesOutcome.objects.filter(lead=lead, amount__isnull=False).only(
            "at", "to_stage", "amount", "expected_close_on"
        )
    }
    entries += [
        {
            "type": "stage",
            "at": m.at,
            "transition": m,
            # A sales move's deal amount (and expected close date), if any.
            "deal": deals.get((m.at, m.to_stage)),
        }
        for m in moves
    ]
    entries += [{"type": "owner", "at": c.at, "change": c} for c in owners]
    entries.sort(key=lambda e: e["at"], reverse=True)
    return entries[:TIMELINE_LIMIT]


def lead_handoffs(*, lead: Lead) -> list[Handoff]:
    """The lead's handoffs, newest first, with their attempts and events.

    A fixed number of queries however many handoffs: the SLA's calendar is
    joined for the clocks, attempts and events are prefetched with who.
    """
    return list(
        Handoff.objects.filter(lead=lead)
        .select_related(
            "sla__calendar", "team", "assigned_to", "decided_by", "owner", "reason"
        )
        .prefetch_related(
            "sla__calendar__holidays",
            Prefetch(
                "attempts", queryset=ContactAttempt.objects.select_related("user")
            ),
            Prefetch("events", queryset=HandoffEvent.objects.select_related("actor")),
        )
        .order_by("-created_at", "-id")
    )


def lead_handoff_access(
    *, lead: Lead, handoffs: list[Handoff], user: Any
) -> tuple[set[int], Handoff | None]:
    """Which of the lead's handoff pages ``user`` may open, and the one to decide.

    The second value is the lead's pending handoff when it is in the user's
    SAL queue (assigned to them) or the user is a manager who may decide it.
    """
    visible = set(handoff_for_user(user).filter(lead=lead).values_list("id", flat=True))
    manager = is_manager(user)
    to_decide = next(
        (
            h
            for h in handoffs
            if h.is_open
            and h.id in visible
            and (manager or h.assigned_to_id == user.pk)
        ),
        None,
    )
    return visible, to_decide
