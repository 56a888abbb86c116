"""Attribution models, checked against answers worked out by hand."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from leads.attribution import MODELS, Touch, UnknownModel, credit

DAY = dt.timedelta(days=1)
T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def touches(*campaigns: int | None, gap: dt.timedelta = DAY) -> list[Touch]:
    """One touch a ``gap`` apart per campaign id, from T0."""
    return [Touch(at=T0 + i * gap, campaign_id=c) for i, c in enumerate(campaigns)]


def d(value: str) -> Decimal:
    return Decimal(value)


# Four touches: ads (1), webinar (2), e-mail (3), ads (1) again.
JOURNEY = touches(1, 2, 3, 1)


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("first_touch", {1: d("100")}),
        ("last_touch", {1: d("100")}),
        # 25 each; ads has two touches.
        ("linear", {1: d("50"), 2: d("25"), 3: d("25")}),
        # 40 first + 40 last to ads; 20 shared by the two between.
        ("u_shaped", {1: d("80"), 2: d("10"), 3: d("10")}),
    ],
)
def test_position_models_on_a_four_touch_journey(model, expected):
    assert credit(JOURNEY, model=model, amount=100) == expected


def test_last_touch_is_the_last_before_the_conversion():
    converted = T0 + 2 * DAY  # the e-mail touch; the second ads touch is later

    assert credit(JOURNEY, model="last_touch", converted_at=converted) == {3: d("1")}
    assert credit(JOURNEY, model="linear", amount=90, converted_at=converted) == {
        1: d("30"),
        2: d("30"),
        3: d("30"),
    }


def test_u_shaped_splits_two_touches_in_half_and_gives_one_touch_everything():
    assert credit(touches(1, 2), model="u_shaped", amount=10) == {1: d("5"), 2: d("5")}
    assert credit(touches(7), model="u_shaped", amount=10) == {7: d("10")}


def test_w_shaped_rewards_first_touch_mql_touch_and_opportunity_touch():
    journey = touches(1, 2, 3, 4, 5)
    # The MQL came a day after touch 2 (campaign 2), the opportunity right at
    # touch 4 (campaign 4): 30/30/30 to 1, 2 and 4, and 10 shared by 3 and 5.
    shares = credit(
        journey,
        model="w_shaped",
        amount=1000,
        mql_at=T0 + DAY + dt.timedelta(hours=12),
        opportunity_at=T0 + 3 * DAY,
    )

    assert shares == {1: d("300"), 2: d("300"), 3: d("50"), 4: d("300"), 5: d("50")}


def test_w_shaped_spreads_the_share_of_a_step_never_reached():
    # No opportunity: weights 30 (first), 30 (MQL touch), 10 shared by the
    # other two (5 each), out of 70.
    shares = credit(touches(1, 2, 3, 4), model="w_shaped", amount=70, mql_at=T0 + DAY)

    assert shares == {1: d("30"), 2: d("30"), 3: d("5"), 4: d("5")}


def test_w_shaped_gives_a_touch_that_holds_two_steps_both_shares():
    # The first touch also made the MQL: 60 of 100 before spreading; the
    # opportunity came at touch 3; touch 2 gets the 10.
    shares = credit(
        touches(1, 2, 3),
        model="w_shaped",
        amount=100,
        mql_at=T0,
        opportunity_at=T0 + 2 * DAY,
    )

    assert shares == {1: d("60"), 2: d("10"), 3: d("30")}


def test_time_decay_halves_a_share_every_seven_days():
    # Touches 14, 7 and 0 days before the conversion weigh 1/4, 1/2 and 1:
    # 100 * (1, 2, 4) / 7.
    journey = touches(1, 2, 3, gap=7 * DAY)
    shares = credit(journey, model="time_decay", amount=100)

    assert shares == {1: d("14.2857"), 2: d("28.5714"), 3: d("57.1429")}


def test_touches_without_a_campaign_and_leads_without_touches_are_unattributed():
    assert credit(touches(None, 1), model="linear", amount=2) == {None: 1, 1: 1}
    assert credit([], model="w_shaped", amount=5) == {None: d("5")}
    assert credit(touches(1), model="linear", amount=0) == {}


@pytest.mark.parametrize("model", list(MODELS))
def test_touches_of_one_campaign_give_it_the_whole_amount_rounded(model):
    # Far apart (time decay), no MQL or opportunity touch (W-shaped).
    journey = touches(4, 4, 4, gap=9 * DAY)

    assert credit(journey, model=model, amount=d("10.00005")) == {4: d("10.0000")}
    assert credit(touches(None, None), model=model, amount=3) == {None: d("3")}
    assert credit(journey, model=model, amount=d("0.00004")) == {}


def test_an_unknown_model_or_a_negative_amount_is_refused_with_the_choices():
    with pytest.raises(UnknownModel, match="use first_touch, last_touch, linear"):
        credit(JOURNEY, model="position")
    with pytest.raises(ValueError, match="zero or more"):
        credit(JOURNEY, model="linear", amount=-1)


def test_rounding_leaves_nothing_out():
    # Thirds of 1 at four places: 0.3334 + 0.3333 + 0.3333.
    shares = credit(touches(1, 2, 3), model="linear")

    assert sorted(shares.values()) == [d("0.3333"), d("0.3333"), d("0.3334")]
    assert sum(shares.values()) == 1


journeys = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=60 * 24 * 90),
        st.one_of(st.none(), st.integers(min_value=1, max_value=6)),
    ),
    max_size=25,
).map(
    lambda rows: [
        Touch(at=T0 + dt.timedelta(minutes=m), campaign_id=c) for m, c in rows
    ]
)
moments = st.one_of(
    st.none(),
    st.integers(min_value=-60 * 24, max_value=60 * 24 * 91).map(
        lambda m: T0 + dt.timedelta(minutes=m)
    ),
)


@given(
    journey=journeys,
    model=st.sampled_from(list(MODELS)),
    amount=st.decimals(min_value=0, max_value=10**9, places=2),
    converted_at=moments,
    mql_at=moments,
    opportunity_at=moments,
)
def test_every_models_credits_add_up_to_the_amount(
    journey, model, amount, converted_at, mql_at, opportunity_at
):
    shares = credit(
        journey,
        model=model,
        amount=amount,
        converted_at=converted_at,
        mql_at=mql_at,
        opportunity_at=opportunity_at,
    )

    assert sum(shares.values(), Decimal(0)) == amount
    assert all(share > 0 for share in shares.values())
    counted = {
        t.campaign_id for t in journey if not converted_at or t.at <= converted_at
    }
    assert set(shares) <= (counted or {None})
