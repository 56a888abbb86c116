"""Formatting filters of the crm pages."""

from __future__ import annotations

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
