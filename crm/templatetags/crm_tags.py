"""Formatting filters of the crm pages."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

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
def percent(fraction: Decimal | None) -> str:
    """A fraction as a percent with one decimal: 0.4445 -> "44.5%",
    -1.2 -> "\u2212120.0%" (a real minus sign); None -> "—"."""
    if fraction is None:
        return "—"
    value = (Decimal(fraction) * 100).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    text = f"{abs(value):,}%"
    return f"\u2212{text}" if value < 0 else text


@register.filter
def ratio(value: float | None) -> str:
    """A lift or an AUC with two decimals: 1.8361 -> "1.84"; None -> "—"."""
    if value is None:
        return "—"
    return f"{Decimal(float(value)).quantize(Decimal('0.01'), ROUND_HALF_UP):,}"


@register.filter
def interval(bounds: tuple[float | None, float | None] | None, kind: str = "") -> str:
    """A 95% interval as "low\u2013high": rates (``kind`` "percent") as percents
    with one decimal, lifts with two decimals; "—" when there is none."""
    if not bounds or bounds[0] is None or bounds[1] is None:
        return "—"
    if kind == "percent":
        low, high = (percent(Decimal(b)).removesuffix("%") for b in bounds)
        return f"{low}\u2013{high}%"
    return f"{ratio(bounds[0])}\u2013{ratio(bounds[1])}"


_CANDIDATE_SOURCES = {
    "touch": "touchpoint",
    "touch_often": "touchpoint, often",
    "field": "lead or account field",
    "size": "account size",
    "attribute": "free-form attribute",
    "number": "free-form attribute, quartile bin",
}


@register.filter
def candidate_source(code: str) -> str:
    """Where a candidate rule comes from, in words: "touch" -> "touchpoint"."""
    return _CANDIDATE_SOURCES.get(code, code)


@register.filter
def signed(value: int) -> str:
    """Whole points with their sign: 3 -> "+3", -3 -> "\u22123" (a real minus)."""
    return f"+{value}" if value > 0 else f"\u2212{-value}" if value < 0 else "0"
