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


#: (text in the user agent, name shown), first match wins: Edge and Opera
#: carry "Chrome" too, Chrome carries "Safari".
_BROWSERS = (
    ("Edg/", "Edge"),
    ("OPR/", "Opera"),
    ("Firefox/", "Firefox"),
    ("Chrome/", "Chrome"),
    ("Safari/", "Safari"),
)
_SYSTEMS = (
    ("iPhone", "iPhone"),
    ("iPad", "iPad"),
    ("Android", "Android"),
    ("Windows", "Windows"),
    ("Mac OS X", "macOS"),
    ("CrOS", "ChromeOS"),
    ("Linux", "Linux"),
)


@register.filter
def device(user_agent: str | None) -> str:
    """A browser's user agent as people say it: "Chrome on macOS"; an
    unknown one as "Unknown browser"."""
    agent = user_agent or ""
    browser = next((name for mark, name in _BROWSERS if mark in agent), "")
    system = next((name for mark, name in _SYSTEMS if mark in agent), "")
    if browser and system:
        return f"{browser} on {system}"
    return browser or system or "Unknown browser"
