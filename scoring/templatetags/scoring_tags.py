"""Formatting for the scoring pages: numbers, rules, progress, model status."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import template
from django.utils.formats import date_format
from django.utils.timezone import localtime

from scoring.models import ScoringModel, ScoringRule
from scoring.selectors import FACT_LABELS, PreviewProgress, RescoreProgress, RuleRow

register = template.Library()

_OPERATOR_LABELS = dict(ScoringRule.Operator.choices)
_STATUS_NOTES = {
    ScoringModel.Status.DRAFT: "A draft: change its rules and settings, then "
    "publish it to rescore every lead.",
    ScoringModel.Status.ACTIVE: "Scores every lead now. To change it, clone it "
    "into a new draft.",
    ScoringModel.Status.ARCHIVED: "Archived: it scored leads until a newer model "
    "was published. Clone it to use its rules again.",
}


@register.filter
def num(value: Decimal | int | float | None) -> str:
    """60.00 -> "60", 2.50 -> "2.5", 5000 -> "5,000"; None -> "—"."""
    if value is None or value == "":
        return "—"
    number = Decimal(str(value))
    if number == number.to_integral_value():
        return f"{int(number):,}"
    return format(number.normalize(), ",f")


@register.filter
def signed(value: Decimal | int | None) -> str:
    """Points with their sign: "+10", "\u221215" (a real minus sign), "0"."""
    if value is None:
        return "—"
    number = Decimal(str(value))
    if number > 0:
        return f"+{num(number)}"
    if number < 0:
        return f"\u2212{num(-number)}"
    return "0"


@register.filter
def rule_points(rule: ScoringRule) -> str:
    if rule.kind == ScoringRule.Kind.DISQUALIFYING:
        return "Blocks MQL"
    suffix = " each" if rule.kind in ("engagement", "negative") else ""
    return f"{signed(rule.points)}{suffix}"


@register.filter
def rule_condition(row: RuleRow) -> str:
    """When the rule holds, in words: 'Seniority is one of “vp”, “executive”'."""
    rule = row.rule
    if rule.kind in ("fit", "disqualifying"):
        return _comparison(_attribute_label(rule.attribute), rule.operator, rule.value)
    text = row.touchpoint_label
    if rule.property_name:
        condition = _comparison(
            rule.property_name, rule.property_operator, rule.property_value
        )
        text = f"{text} where {condition}"
    return text


@register.filter
def rule_limits(rule: ScoringRule) -> str:
    """An activity rule's cap, look-back window and half-life, or "—"."""
    parts = []
    if rule.max_occurrences:
        parts.append(f"at most {rule.max_occurrences:,}")
    if rule.lookback_days:
        parts.append(f"last {rule.lookback_days:,} days")
    if rule.half_life_days:
        parts.append(f"half-life {rule.half_life_days:,} days")
    return " · ".join(parts) or "—"


@register.filter
def progress_text(progress: RescoreProgress) -> str:
    """One sentence on the publish rescore (the page's script shows it too)."""
    if progress.state == "finished":
        when = date_format(localtime(progress.finished_at), "j M Y, H:i")
        return f"Rescored {progress.done:,} leads; finished {when}."
    if progress.state == "running":
        return (
            f"Rescoring: {progress.done:,} of {progress.total:,} leads "
            f"({progress.percent}%)."
        )
    if progress.state == "failed":
        when = date_format(localtime(progress.failed_at), "j M Y, H:i")
        return (
            f"The rescore failed on {when} after {progress.done:,} of "
            f"{progress.total:,} leads ({progress.error}). Publishing was undone: "
            "the model it replaced is active again. Retry, or change the rules "
            "first."
        )
    if progress.state == "stopped":
        return (
            f"Stopped at {progress.done:,} of {progress.total:,} leads: a newer "
            "model was published."
        )
    return "Not rescored by a publish."


@register.filter
def preview_text(progress: PreviewProgress) -> str:
    """One sentence on a publish preview (the page's script shows it too)."""
    if progress.state == "finished":
        when = date_format(localtime(progress.finished_at), "j M Y, H:i")
        return f"Counted {progress.done:,} leads at {when}."
    return (
        f"Calculating: {progress.done:,} of {progress.total:,} leads "
        f"({progress.percent}%)."
    )


@register.filter
def status_note(model: ScoringModel) -> str:
    return _STATUS_NOTES.get(model.status, "")


def _attribute_label(path: str) -> str:
    if path in FACT_LABELS:
        return FACT_LABELS[path]
    if path.startswith("attributes."):
        return f"Attribute {path.removeprefix('attributes.')}"
    return path


def _comparison(subject: str, operator: str, value: Any) -> str:
    label = _OPERATOR_LABELS.get(operator, operator)
    if operator == "is_empty":
        return f"{subject} is empty"
    if operator == "between" and isinstance(value, list) and len(value) == 2:
        return f"{subject} is between {_value(value[0])} and {_value(value[1])}"
    if isinstance(value, list):
        return f"{subject} {label} {', '.join(_value(v) for v in value)}"
    return f"{subject} {label} {_value(value)}"


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal):
        return num(value)
    return f"“{value}”"
