"""Amounts of money as people read them, in the one currency of the settings."""

from __future__ import annotations

from decimal import Decimal

from babel.numbers import format_currency, get_currency_symbol
from django.conf import settings


def money_text(amount: Decimal | int | float | None, *, cents: bool = False) -> str:
    """``amount`` in ``settings.CURRENCY`` with its symbol and grouping:
    12500 -> "$12,500" ("$12,500.00" with ``cents``); None -> "—"."""
    if amount is None:
        return "—"
    pattern = None if cents else "¤#,##0"
    return format_currency(
        Decimal(str(amount)),
        settings.CURRENCY,
        format=pattern,
        locale="en_US",
        currency_digits=cents,
    )


def currency_symbol() -> str:
    """The symbol of ``settings.CURRENCY`` as labels show it: "$", "€"."""
    return get_currency_symbol(settings.CURRENCY, locale="en_US")
