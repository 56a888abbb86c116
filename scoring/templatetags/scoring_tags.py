"""Formatting for the scoring pages: numbers, rules, progress, model status."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import template
from django.utils.formats import date_format
from django.utils.text import capfirst
from django.utils.timezone import localtime

from scoring.models import ScoringModel, ScoringRule
from scoring.numbers import score_number, score_text
from scoring.selectors import PreviewProgress, RescoreProgress, RuleRow
from scoring.sentences import rule_sentence

register = template.Library()

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
def score(value: Decimal | int | float | str | None) -> str:
    """A score as every page shows it, one decimal: 32.94 -> "32.9",
    20 -> "20.0", 1234.5 -> "1,234.5"; None or not a number -> "—"."""
    return score_text(value)


@register.filter
def score_signed(value: Decimal | int | float | str | None) -> str:
    """Breakdown points, one decimal with their sign: "+32.9", "\u22125.0"
    (a real minus sign), "0.0"."""
    number = score_number(value)
    if number is None:
        return "—"
    if number > 0:
        return f"+{number:,}"
    if number < 0:
        return f"\u2212{-number:,}"
    return f"{abs(number):,}"


@register.filter
def rule_points(rule: ScoringRule) -> str:
    """A rule's points in the format of every score: "+20.0", "\\u221210.0 each"."""
    if rule.kind == ScoringRule.Kind.DISQUALIFYING:
        return "Blocks MQL"
    suffix = " each" if rule.kind in ("engagement", "negative") else ""
    return f"{score_signed(rule.points)}{suffix}"


@register.filter
def rule_condition(row: RuleRow) -> str:
    """When the rule holds, as a sentence: "Seniority is one of Vice president
    or Executive (C-level, founder)" (``scoring.sentences.rule_sentence``)."""
    sentence = rule_sentence(
        row.rule, touchpoint_label=row.touchpoint_label, with_limits=False
    )
    return capfirst(sentence)


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


@register.inclusion_tag("scoring/partials/grade_legend.html")
def grade_legend(model: ScoringModel | None) -> dict[str, Any]:
    """What grades A to D mean under ``model`` (its fit-score bands); nothing
    without an active model."""
    if model is None:
        return {"bands": []}
    a, b, c = (
        score(m) for m in (model.grade_a_min, model.grade_b_min, model.grade_c_min)
    )
    return {
        "bands": [
            ("A", f"fit {a} or more"),
            ("B", f"fit {b} to under {a}"),
            ("C", f"fit {c} to under {b}"),
            ("D", f"fit under {c}"),
        ]
    }
