"""Formatting filters of the crm pages."""

from __future__ import annotations

from decimal import Decimal

from django import template

from leads.models import Stage

register = template.Library()

_STAGE_LABELS = dict(Stage.choices)


@register.filter
def stage_short(code: str) -> str:
    """A stage's short label for badges and chips: ``mql`` is "MQL"."""
    label = str(_STAGE_LABELS.get(code, code))
    # "Marketing-qualified (MQL)" -> "MQL"; "Opportunity" stays as it is.
    return label.partition("(")[2].rstrip(")") or label


@register.filter
def signed(value: Decimal | int | None) -> str:
    """Points with their sign: ``+12.50``, or a real minus sign before negatives."""
    if value is None:
        return ""
    number = Decimal(value)
    if number < 0:
        return f"\u2212{-number}"
    return f"+{number}"
