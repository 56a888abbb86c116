"""The statistics of rule analytics (crm.marketing.rule_stats): Wilson's
interval, the lift's log-method interval and ROC AUC with ties."""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crm.marketing.rule_stats import Rate, lift, roc_auc, wilson_interval


def test_wilson_worked_by_hand():
    # 1 of 2 with z = 1.96: centre (0.5 + z^2/4) / (1 + z^2/2) = 0.5, half
    # z / (1 + z^2/2) * sqrt(0.25/2 + z^2/16) = 0.4055.
    low, high = wilson_interval(1, 2)

    assert (low, high) == (
        pytest.approx(0.0945, abs=5e-5),
        pytest.approx(0.9055, abs=5e-5),
    )


def test_wilson_at_the_edges_stays_in_zero_to_one():
    assert wilson_interval(0, 6)[0] == 0.0
    assert wilson_interval(0, 6)[1] == pytest.approx(0.3903, abs=5e-5)
    assert wilson_interval(5, 5)[1] == 1.0
    assert wilson_interval(0, 0) is None
    with pytest.raises(ValueError, match="7 successes of 5 trials"):
        wilson_interval(7, 5)


@given(st.integers(1, 500).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_wilson_holds_the_rate_and_narrows_with_more_trials(sample):
    hits, total = sample

    low, high = wilson_interval(hits, total)

    assert 0 <= low <= hits / total <= high <= 1
    ten_times = wilson_interval(10 * hits, 10 * total)
    assert ten_times[1] - ten_times[0] < high - low


def test_lift_of_equal_rates_is_one_with_an_interval_around_it():
    same = lift(Rate(20, 100), Rate(40, 200))

    assert same.value == pytest.approx(1.0)
    assert same.low < 1 < same.high
    assert same.includes_one


def test_lift_without_a_success_on_a_side():
    # The rest has none: no ratio. The fired side has none: 0 with no interval.
    assert lift(Rate(3, 10), Rate(0, 10)).value is None
    zero = lift(Rate(0, 10), Rate(3, 10))
    assert (zero.value, zero.low, zero.high, zero.includes_one) == (0, None, None, None)
    assert lift(Rate(0, 0), Rate(3, 10)).value is None


def test_auc_worked_by_hand_with_ties():
    # Positives at 3, 2, 2; negatives at 2, 1. Pairs: 3 beats both (2), each
    # 2 ties the 2 (1/2) and beats the 1 (1): (2 + 1.5 + 1.5) / 6 = 5/6.
    groups = [
        (Decimal(3), 1, 0),
        (Decimal(2), 2, 1),
        (Decimal(1), 0, 1),
    ]

    assert roc_auc(groups) == Fraction(5, 6)


def test_auc_needs_both_kinds():
    assert roc_auc([(Decimal(1), 3, 0)]) is None
    assert roc_auc([]) is None


scores = st.lists(st.tuples(st.integers(-5, 5), st.booleans()), min_size=1, max_size=40)


@given(scores)
def test_auc_is_the_share_of_pairs_ranked_right(leads):
    positives = [s for s, hit in leads if hit]
    negatives = [s for s, hit in leads if not hit]
    groups = [(Decimal(s), int(hit), int(not hit)) for s, hit in leads]

    auc = roc_auc(groups)

    if not positives or not negatives:
        assert auc is None
        return
    # Every (positive, negative) pair: 1 ranked right, 1/2 a tie.
    pairs = sum(
        Fraction(1) if p > n else Fraction(1, 2) if p == n else Fraction(0)
        for p in positives
        for n in negatives
    )
    assert auc == pairs / (len(positives) * len(negatives))


def test_log_interval_formula():
    # 6 of 10 against 3 of 10: lift 2, spread 1.96 sqrt(1/6 - 1/10 + 1/3 - 1/10).
    result = lift(Rate(6, 10), Rate(3, 10))
    spread = 1.959963984540054 * math.sqrt(1 / 6 - 1 / 10 + 1 / 3 - 1 / 10)

    assert result.value == pytest.approx(2.0)
    assert result.low == pytest.approx(2 * math.exp(-spread))
    assert result.high == pytest.approx(2 * math.exp(spread))
    assert (result.low, result.high) == (
        pytest.approx(0.6836, abs=5e-5),
        pytest.approx(5.8513, abs=5e-5),
    )
