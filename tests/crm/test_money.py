"""Amounts in the one currency of the settings."""

from __future__ import annotations

from decimal import Decimal

from django.template import Context, Template

from crm.common.money import money_text


def test_amounts_show_the_currency_symbol_and_grouping(settings):
    settings.CURRENCY = "USD"
    assert money_text(12500) == "$12,500"
    assert money_text(Decimal("1234.5"), cents=True) == "$1,234.50"
    assert money_text(None) == "\u2014"

    settings.CURRENCY = "EUR"
    assert money_text(Decimal("99.99")) == "\u20ac100"

    rendered = Template("{% load leads_tags %}{{ a|money }}").render(
        Context({"a": 2000})
    )
    assert rendered == "\u20ac2,000"
