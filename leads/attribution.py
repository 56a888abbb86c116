"""Multi-touch attribution: how much of a conversion each campaign earned.

Pure functions over plain data, so every model can be reproduced by hand
from a lead's touchpoints. ``credit`` splits an amount (one lead, one MQL,
one customer, or a deal's revenue) over the lead's touches by one of the
models below and sums the shares per campaign; a touch with no campaign
credits ``None`` (unattributed), and so does a conversion with no touches.
The shares are rounded to ``places`` by the largest-remainder method, so the
credits of every model add up to the amount exactly.

Touches after the conversion (``converted_at``) earn nothing: they cannot
have caused it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal, localcontext

#: The models and the sentence each page shows to explain them.
MODELS: dict[str, str] = {
    "first_touch": "All the credit goes to the campaign of the lead's first touch.",
    "last_touch": "All the credit goes to the campaign of the last touch before "
    "the conversion.",
    "linear": "Every touch before the conversion gets an equal share.",
    "u_shaped": "40% to the first touch, 40% to the last touch before the "
    "conversion, 20% shared by the touches between (half each when there are "
    "only two).",
    "w_shaped": "30% to the first touch, 30% to the touch that made the lead an "
    "MQL, 30% to the last touch before the opportunity opened and 10% shared "
    "by the rest; the share of a step the lead never reached, or of a rest "
    "that is empty, is spread over the other shares in proportion.",
    "time_decay": "Each touch's share halves for every 7 days it came before "
    "the conversion.",
}
#: Half-life of the time-decay model.
TIME_DECAY_HALF_LIFE = dt.timedelta(days=7)
#: The unit credits are rounded to.
PLACES = Decimal("0.0001")


class UnknownModel(ValueError):
    """An attribution model that is not one of ``MODELS``."""

    def __init__(self, model: str) -> None:
        choices = ", ".join(MODELS)
        super().__init__(f"No attribution model is called {model!r}; use {choices}.")


@dataclass(frozen=True)
class Touch:
    """One touchpoint: when it happened and its campaign (None: no campaign)."""

    at: dt.datetime
    campaign_id: int | None


def credit(
    touches: Sequence[Touch],
    *,
    model: str,
    amount: Decimal | int = 1,
    converted_at: dt.datetime | None = None,
    mql_at: dt.datetime | None = None,
    opportunity_at: dt.datetime | None = None,
    places: Decimal = PLACES,
) -> dict[int | None, Decimal]:
    """``amount`` split over ``touches`` by ``model``, summed per campaign.

    ``converted_at`` bounds the touches that count (all of them when None);
    the W-shaped model also needs when the lead became an MQL (``mql_at``)
    and when its opportunity opened (``opportunity_at``): the touch that made
    each step is the last one at or before it. The result's values add up to
    ``amount`` exactly; campaigns with no share are left out.
    """
    if model not in MODELS:
        raise UnknownModel(model)
    amount = Decimal(amount)
    if not amount.is_finite() or amount < 0:
        raise ValueError(f"Credit a finite amount of zero or more, not {amount}.")
    counted = sorted(
        (t for t in touches if converted_at is None or t.at <= converted_at),
        key=lambda t: t.at,
    )
    if not counted:
        return {None: amount.quantize(places)} if amount else {}
    campaigns = {t.campaign_id for t in counted}
    if len(campaigns) == 1:
        # Every model gives the one campaign every share (each model's
        # weights are positive somewhere), so the whole amount, rounded as
        # below would round it. Most conversions, a lead's creation above
        # all, count the touches of one campaign only: no weights to compute.
        whole = amount.quantize(places)
        return {campaigns.pop(): whole} if whole else {}
    end = converted_at or counted[-1].at
    weights = _WEIGHTS[model](counted, end, mql_at, opportunity_at)
    total = sum(weights)
    per_campaign: dict[int | None, Decimal] = {}
    with localcontext() as context:
        context.prec = 40
        for touch, weight in zip(counted, weights, strict=True):
            share = amount * weight / total
            per_campaign[touch.campaign_id] = (
                per_campaign.get(touch.campaign_id, Decimal(0)) + share
            )
    return _rounded(per_campaign, amount, places)


def _first(touches: Sequence[Touch], *_: object) -> list[Decimal]:
    return [Decimal(1 if i == 0 else 0) for i in range(len(touches))]


def _last(touches: Sequence[Touch], *_: object) -> list[Decimal]:
    last = len(touches) - 1
    return [Decimal(1 if i == last else 0) for i in range(len(touches))]


def _linear(touches: Sequence[Touch], *_: object) -> list[Decimal]:
    return [Decimal(1)] * len(touches)


def _u_shaped(touches: Sequence[Touch], *_: object) -> list[Decimal]:
    count = len(touches)
    if count <= 2:
        return [Decimal(1)] * count
    middle = Decimal(20) / (count - 2)
    return [Decimal(40), *([middle] * (count - 2)), Decimal(40)]


def _last_at_or_before(touches: Sequence[Touch], moment: dt.datetime | None) -> int:
    """Index of the last touch at or before ``moment``; -1 for none."""
    if moment is None:
        return -1
    found = -1
    for index, touch in enumerate(touches):
        if touch.at <= moment:
            found = index
    return found


def _w_shaped(
    touches: Sequence[Touch],
    end: dt.datetime,
    mql_at: dt.datetime | None,
    opportunity_at: dt.datetime | None,
) -> list[Decimal]:
    weights = [Decimal(0)] * len(touches)
    steps = [0, _last_at_or_before(touches, mql_at)]
    steps.append(_last_at_or_before(touches, opportunity_at))
    for index in steps:
        if index >= 0:
            weights[index] += 30
    rest = [i for i in range(len(touches)) if i not in steps]
    for index in rest:
        weights[index] += Decimal(10) / len(rest)
    return weights


def _time_decay(
    touches: Sequence[Touch], end: dt.datetime, *_: object
) -> list[Decimal]:
    half_life = Decimal(TIME_DECAY_HALF_LIFE.total_seconds())
    with localcontext() as context:
        context.prec = 40
        return [
            Decimal(2) ** (-Decimal((end - t.at).total_seconds()) / half_life)
            for t in touches
        ]


_WEIGHTS = {
    "first_touch": _first,
    "last_touch": _last,
    "linear": _linear,
    "u_shaped": _u_shaped,
    "w_shaped": _w_shaped,
    "time_decay": _time_decay,
}


def _rounded(
    shares: dict[int | None, Decimal], amount: Decimal, places: Decimal
) -> dict[int | None, Decimal]:
    """Shares rounded down to ``places``; the units left go to the largest
    remainders (ties to the campaign listed first), so they add up exactly."""
    target = amount.quantize(places)
    floors = {
        key: value.quantize(places, rounding=ROUND_FLOOR)
        for key, value in shares.items()
    }
    left = int((target - sum(floors.values())) / places)
    by_remainder = sorted(
        shares, key=lambda key: shares[key] - floors[key], reverse=True
    )
    for key in by_remainder[:left]:
        floors[key] += places
    return {key: value for key, value in floors.items() if value}
