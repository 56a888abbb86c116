"""Scores as people read them: one decimal everywhere.

The pages (through the ``score`` filters) and the text the product stores
for people to read, such as a stage transition's reason, format scores here.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

#: Scores, thresholds and points of a breakdown show one decimal everywhere.
SCORE_PLACES = Decimal("0.1")


def score_number(value: Decimal | int | float | str | None) -> Decimal | None:
    """``value`` rounded half up to one decimal; None when it is not a number."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    if not number.is_finite():
        return None
    return number.quantize(SCORE_PLACES, rounding=ROUND_HALF_UP)


def score_text(value: Decimal | int | float | str | None) -> str:
    """A score as every page shows it: 32.94 -> "32.9", 20 -> "20.0",
    1234.5 -> "1,234.5"; None or not a number -> "—"."""
    number = score_number(value)
    if number is None:
        return "—"
    return f"{number:,}"
