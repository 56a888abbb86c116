"""Lead facts as people read them on every page."""

from __future__ import annotations

from typing import Any

from django import template

from crm.common.money import money_text
from leads.geo import country_name as _country_name

register = template.Library()


@register.filter
def country_name(code: str | None) -> str:
    """A country code as its name: "DE" -> "Germany"; blank stays blank."""
    return _country_name(code or "")


@register.filter
def money(amount: Any, detail: str = "") -> str:
    """An amount in the settings' currency: 12500 -> "$12,500"; None -> "—";
    ``amount|money:"cents"`` -> "$12,500.00"."""
    return money_text(amount, cents=detail == "cents")
