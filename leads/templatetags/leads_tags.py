"""Lead facts as people read them on every page."""

from __future__ import annotations

from django import template

from leads.geo import country_name as _country_name

register = template.Library()


@register.filter
def country_name(code: str | None) -> str:
    """A country code as its name: "DE" -> "Germany"; blank stays blank."""
    return _country_name(code or "")
