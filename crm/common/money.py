"""Amounts of money as people read them, in the one currency of the settings."""

from __future__ import annotations

from decimal import Decimal

from babel import Locale
from babel.numbers import format_currency, get_currency_symbol, parse_pattern
from django.conf import settings

#: The locale and the whole-amount pattern, parsed once: Babel parses a
#: locale name or a pattern string again on every call, half the cost of
#: formatting an amount (a pipeline page formats one per opportunity card).
_LOCALE = Locale.parse("en_US")
_WHOLE = parse_pattern("¤#,##0")


def money_text(amount: Decimal | int | float | None, *, cents: bool = False) -> str:
    """``amount`` in ``settings.CURRENCY`` with its symbol and grouping:
    12500 -> "$12,500" ("$12,500.00" with ``cents``); None -> "—"."""
    if amount is None:
        return "—"
    return format_currency(
        Decimal(str(amount)),
        settings.CURRENCY,
        format=None if cents else _WHOLE,
        locale=_LOCALE,
        currency_digits=cents,
    )


def currency_symbol() -> str:
    """The symbol of ``settings.CURRENCY`` as labels show it: "$", "€"."""
    return get_currency_symbol(settings.CURRENCY, locale=_LOCALE)
