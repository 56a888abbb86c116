"""The recycle cool-down: a recycled lead becomes an MQL again only when it may.

An SDR who rejects an MQL with a recycle reason moves it to nurture with
``recycle_until``. Until then scoring leaves it in nurture, whatever its
score, unless a high-intent touchpoint (demo request, trial sign-up, added
to cart) happened after it was recycled. Each behaviour is checked on the
per-lead path and on the bulk path (one chunk, and a full rescore).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from leads import lifecycle
from leads.models import Lead, StageTransition
from scoring.bulk import chunk_rescore, model_rescore_all
from scoring.models import LeadScore, ScoringModel
from scoring.selectors import model_active, model_spec, recycle_hold, recycle_holds
from scoring.services import lead_rescore
from scoring.simulation import model_simulate
from tests.factories import AccountFactory, LeadFactory, TouchpointFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("b2b_model")]

#: When the SDR recycled the lead, and how long it cools down.
RECYCLED_AT = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)
HOLD_UNTIL = RECYCLED_AT + dt.timedelta(days=30)
REASON = "Score {total} reached the MQL threshold 60.0 (B2B demo v1)"

Rescore = Callable[[Lead, dt.datetime], None]


def _per_lead(lead: Lead, now: dt.datetime) -> None:
    lead_rescore(lead_id=lead.id, model=model_active(), now=now)


def _chunk(lead: Lead, now: dt.datetime) -> None:
    model = model_active()
    chunk_rescore(
        model=model, spec=model_spec(model), low=lead.id, high=lead.id + 1, now=now
    )


def _rescore_all(lead: Lead, now: dt.datetime) -> None:
    model_rescore_all(model=model_active(), now=now)


@pytest.fixture(params=[_per_lead, _chunk, _rescore_all], ids=lambda f: f.__name__)
def rescore(request: pytest.FixtureRequest) -> Rescore:
    """Each path that rescores and promotes: they must decide alike."""
    return request.param


def _recycled_lead(**kwargs) -> Lead:
    """A director of marketing at a fit account (fit 50), recycled with a hold.

    It was an MQL and an SDR sent it back to nurture at RECYCLED_AT, to cool
    down until HOLD_UNTIL.
    """
    account = AccountFactory(employee_count=800, industry="software")
    lead = LeadFactory(account=account, **kwargs)
    lifecycle.lead_move(
        lead_id=lead.id,
        to_stage="mql",
        system_actor="test",
        now=RECYCLED_AT - dt.timedelta(days=5),
    )
    lifecycle.lead_move(
        lead_id=lead.id,
        to_stage="nurture",
        system_actor="test",
        reason="Not now: recycle",
        hold_until=HOLD_UNTIL,
        now=RECYCLED_AT,
    )
    lead.refresh_from_db()
    return lead


def _moves_after_recycle(lead: Lead) -> list[tuple[str, str, str]]:
    return list(
        StageTransition.objects.filter(lead=lead, at__gt=RECYCLED_AT)
        .order_by("at", "id")
        .values_list("from_stage", "to_stage", "reason")
    )


def test_a_recycled_lead_is_held_in_nurture_though_its_score_qualifies(rescore):
    # Given a recycled lead whose pricing-page visits since lift it over 60
    lead = _recycled_lead()
    for hours in (1, 2):
        TouchpointFactory(
            lead=lead,
            kind_id="page_view",
            properties={"url": "https://x/pricing"},
            occurred_at=RECYCLED_AT + dt.timedelta(hours=hours),
        )

    # When it is rescored during the cool-down
    rescore(lead, RECYCLED_AT + dt.timedelta(days=1))

    # Then it is scored, and stays in nurture with its hold
    lead.refresh_from_db()
    assert (lead.stage, lead.score, lead.recycle_until) == (
        "nurture",
        Decimal("70.00"),  # fit 50 + two pricing views under a day old, 10 each
        HOLD_UNTIL,
    )
    assert LeadScore.objects.get(lead=lead).total == Decimal("70.00")
    assert _moves_after_recycle(lead) == []


def test_a_high_intent_touchpoint_from_before_the_recycle_does_not_lift_it(rescore):
    # Given a lead recycled a minute after it asked for a demo (fit 50 + demo)
    lead = _recycled_lead()
    TouchpointFactory(
        lead=lead,
        kind_id="demo_request",
        occurred_at=RECYCLED_AT - dt.timedelta(minutes=1),
    )

    rescore(lead, RECYCLED_AT + dt.timedelta(days=1))

    lead.refresh_from_db()
    assert (lead.stage, lead.score) == ("nurture", Decimal("108.63"))
    assert _moves_after_recycle(lead) == []


@pytest.mark.parametrize(
    ("kind", "label"),
    [("trial_signup", "trial sign-up"), ("demo_request", "demo request")],
)
def test_a_high_intent_touchpoint_after_the_recycle_makes_it_an_mql(
    rescore, kind, label
):
    # Given a recycled lead that signs up for a trial (or asks for a demo)
    # the moment after it was recycled
    lead = _recycled_lead()
    TouchpointFactory(lead=lead, kind_id=kind, occurred_at=RECYCLED_AT)
    now = RECYCLED_AT + dt.timedelta(days=2)

    rescore(lead, now)

    # Then it is an MQL again, the hold is gone, and the reason says why
    lead.refresh_from_db()
    # fit 50 + 40 or 60 points two days old
    total, shown = {
        "trial_signup": ("88.19", "88.2"),
        "demo_request": ("107.29", "107.3"),
    }[kind]
    assert (lead.stage, lead.score, lead.recycle_until) == (
        "mql",
        Decimal(total),
        None,
    )
    assert _moves_after_recycle(lead) == [
        (
            "nurture",
            "mql",
            REASON.format(total=shown)
            + f"; high-intent {label} during the recycle cool-down",
        )
    ]


def test_a_low_intent_touchpoint_after_the_recycle_does_not_lift_it(rescore):
    lead = _recycled_lead()
    TouchpointFactory(
        lead=lead,
        kind_id="demo_request",
        occurred_at=RECYCLED_AT - dt.timedelta(days=1),
    )
    TouchpointFactory(lead=lead, kind_id="webinar_attended", occurred_at=RECYCLED_AT)

    rescore(lead, RECYCLED_AT + dt.timedelta(days=2))

    lead.refresh_from_db()
    assert lead.stage == "nurture"


def test_once_the_hold_has_passed_the_next_rescore_makes_it_an_mql(rescore):
    # Given a recycled lead that qualifies by a demo request from before
    lead = _recycled_lead()
    TouchpointFactory(
        lead=lead,
        kind_id="demo_request",
        occurred_at=RECYCLED_AT - dt.timedelta(days=5),
    )
    rescore(lead, HOLD_UNTIL - dt.timedelta(seconds=1))
    assert Lead.objects.get(id=lead.id).stage == "nurture"

    # When it is rescored as its cool-down ends (the nightly decay pass)
    rescore(lead, HOLD_UNTIL)

    # Then it is promoted as any lead would be
    lead.refresh_from_db()
    assert (lead.stage, lead.score, lead.recycle_until) == (
        "mql",
        Decimal("76.73"),
        None,
    )
    assert _moves_after_recycle(lead) == [
        ("nurture", "mql", REASON.format(total="76.7"))
    ]


def test_a_nurture_lead_without_a_hold_is_promoted_as_before(rescore):
    lead = LeadFactory(account=AccountFactory(employee_count=800, industry="software"))
    lifecycle.lead_move(
        lead_id=lead.id,
        to_stage="nurture",
        system_actor="test",
        reason="Parked",
        now=RECYCLED_AT,
    )
    TouchpointFactory(
        lead=lead,
        kind_id="page_view",
        properties={"url": "https://x/pricing"},
        occurred_at=RECYCLED_AT + dt.timedelta(days=1),
    )

    rescore(lead, RECYCLED_AT + dt.timedelta(days=1))

    assert Lead.objects.get(id=lead.id).stage == "mql"


def test_the_bulk_path_checks_the_holds_of_a_chunk_in_one_query():
    # Given a chunk with two and one with six qualifying leads on hold; in
    # each, the first was lifted by a trial sign-up since it was recycled
    model = model_active()
    spec = model_spec(model)

    def chunk(size: int) -> tuple[int, int]:
        leads = [_recycled_lead() for _ in range(size)]
        TouchpointFactory(
            lead=leads[0], kind_id="trial_signup", occurred_at=RECYCLED_AT
        )
        for lead in leads[1:]:
            TouchpointFactory(
                lead=lead,
                kind_id="demo_request",
                occurred_at=RECYCLED_AT - dt.timedelta(hours=1),
            )
        return leads[0].id, leads[-1].id + 1

    chunks = {"two": chunk(2), "six": chunk(6)}
    now = RECYCLED_AT + dt.timedelta(days=1)

    # When each chunk is rescored
    queries = {}
    for name, (low, high) in chunks.items():
        with CaptureQueriesContext(connection) as captured:
            chunk_rescore(model=model, spec=spec, low=low, high=high, now=now)
        queries[name] = len(captured)

    # Then only the lifted lead of each moved, and three times the held leads
    # cost no extra query: their touchpoints were read in one
    mql = Lead.objects.filter(stage="mql").order_by("id")
    assert list(mql.values_list("id", flat=True)) == [
        chunks["two"][0],
        chunks["six"][0],
    ]
    assert Lead.objects.filter(stage="nurture", recycle_until=HOLD_UNTIL).count() == 6
    assert queries["two"] == queries["six"]


# What the lead page and the publish preview show
# ------------------------------------------------------------------------------


def test_recycle_hold_says_until_when_and_why_the_lead_is_held():
    lead = _recycled_lead()

    hold = recycle_hold(lead, now=RECYCLED_AT + dt.timedelta(days=1))

    assert hold == {
        "until": HOLD_UNTIL,
        "since": RECYCLED_AT,
        "reason": (
            "Recycled on 2026-06-01: cooling down until 2026-07-01 12:00 UTC. Until "
            "then only a high-intent touchpoint (added to cart, demo request, "
            "trial sign-up) makes it an MQL again, whatever its score."
        ),
    }


def test_recycle_hold_is_none_once_lifted_or_over_or_for_other_leads():
    lifted = _recycled_lead()
    TouchpointFactory(
        lead=lifted,
        kind_id="cart_add",
        occurred_at=RECYCLED_AT + dt.timedelta(hours=3),
    )
    held = _recycled_lead()
    plain = LeadFactory()
    during = RECYCLED_AT + dt.timedelta(days=1)

    assert recycle_hold(lifted, now=during) is None
    assert recycle_hold(held, now=HOLD_UNTIL) is None
    assert recycle_hold(plain, now=during) is None
    assert recycle_hold(held, now=during)["until"] == HOLD_UNTIL


def test_recycle_holds_of_a_page_of_leads_costs_two_queries(
    django_assert_num_queries,
):
    leads = [_recycled_lead() for _ in range(4)] + [LeadFactory() for _ in range(3)]
    leads = list(Lead.objects.filter(id__in=[lead.id for lead in leads]).order_by("id"))

    with django_assert_num_queries(2):
        holds = recycle_holds(leads, now=RECYCLED_AT + dt.timedelta(days=1))

    assert sorted(holds) == sorted(lead.id for lead in leads[:4])


def test_the_publish_preview_counts_held_leads_apart(settings):
    # Given three recycled leads that qualify under the active model: one
    # lifted by a demo request since, two still held; and a draft like it
    held = [_recycled_lead() for _ in range(2)]
    lifted = _recycled_lead()
    for lead in held:
        TouchpointFactory(
            lead=lead,
            kind_id="demo_request",
            occurred_at=RECYCLED_AT - dt.timedelta(days=1),
        )
    TouchpointFactory(
        lead=lifted,
        kind_id="demo_request",
        occurred_at=RECYCLED_AT + dt.timedelta(days=1),
    )
    draft = ScoringModel.objects.create(name="Draft", version=1, mql_threshold=40)
    draft.rules.create(
        kind="fit",
        label="Director",
        points=40,
        attribute="seniority",
        operator="equals",
        value="director",
    )

    counts = model_simulate(model=draft, now=RECYCLED_AT + dt.timedelta(days=2))

    assert (counts["would_become_mql"], counts["held_in_cool_down"]) == (1, 2)
    assert Lead.objects.filter(stage="nurture").count() == 3
