"""The reads and writes both scoring paths share, and what keeps a rescore cheap.

``scoring.store`` reads a lead (locked) with its account, account roll-up and
previous totals in one query, with a plain cursor on PostgreSQL and the ORM
elsewhere; ``account_scores_refresh`` is one statement on PostgreSQL. The
PostgreSQL tests check that both ways return the same. ``model_spec`` keeps
the specs of published models, which never change.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from leads.models import Lead
from scoring import selectors, services, store
from scoring.models import AccountRollupRequest, AccountScore, LeadScore, ScoringModel
from scoring.selectors import model_active, model_spec
from scoring.services import (
    account_rollups_pending,
    account_rollups_refresh_requested,
    account_scores_refresh,
    lead_rescore,
)
from tests.factories import AccountFactory, LeadFactory, TouchpointFactory
from tests.scoring.builders import published_with_account_rule

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("b2b_model")]
NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)


# Reading a lead for its rescore
# ------------------------------------------------------------------------------


def test_lead_for_rescore_reads_the_lead_its_account_and_previous_totals():
    model = published_with_account_rule()
    account = AccountFactory(name="Acme", employee_count=800, industry="software")
    AccountScore.objects.create(
        account=account, model=model, engagement_score=Decimal("80"), computed_at=NOW
    )
    lead = LeadFactory(account=account, attributes={"plan": "team"})
    LeadScore.objects.create(
        lead=lead,
        model=model,
        total=Decimal("12.50"),
        fit_score=Decimal("10"),
        engagement_score=Decimal("2.50"),
        grade="D",
        computed_at=NOW,
    )

    with transaction.atomic():
        row = store.lead_for_rescore(lead_id=lead.id, spec=model_spec(model))

    assert (row["email"], row["stage"], row["attributes"]) == (
        lead.email,
        "lead",
        {"plan": "team"},
    )
    assert (row["account__name"], row["account__employee_count"]) == ("Acme", 800)
    assert row["account_score"] == Decimal("80.00")
    assert row["previous"] == (Decimal("12.50"), Decimal("10.00"), Decimal("2.50"))


def test_lead_for_rescore_reads_no_roll_up_when_no_rule_tests_it():
    account = AccountFactory()
    AccountScore.objects.create(
        account=account,
        model=model_active(),
        engagement_score=Decimal("80"),
        computed_at=NOW,
    )
    lead = LeadFactory(account=account)

    with transaction.atomic():
        row = store.lead_for_rescore(lead_id=lead.id, spec=model_spec(model_active()))

    assert (row["account_score"], row["previous"]) == (None, None)


def test_lead_for_rescore_of_a_missing_lead_is_none():
    with transaction.atomic():
        row = store.lead_for_rescore(lead_id=999_999, spec=model_spec(model_active()))
    assert row is None


@pytest.mark.postgres
def test_the_postgresql_read_returns_what_the_orm_reads(monkeypatch):
    # Given leads with and without an account, roll-up and previous score
    model = published_with_account_rule()
    spec = model_spec(model)
    account = AccountFactory(annual_revenue=Decimal("1250000.50"), country="DE")
    AccountScore.objects.create(
        account=account, model=model, engagement_score=Decimal("7.25"), computed_at=NOW
    )
    leads = [
        LeadFactory(account=account, attributes={"seats": 5, "tags": ["a", "ü"]}),
        LeadFactory(account=None, attributes={}, do_not_email=True),
        LeadFactory(account=AccountFactory()),
    ]
    LeadScore.objects.create(
        lead=leads[0],
        model=model,
        total=Decimal("-3.10"),
        fit_score=Decimal("0"),
        engagement_score=Decimal("-3.10"),
        grade="D",
        computed_at=NOW,
    )

    def read(vendor: str) -> list:
        with transaction.atomic(), monkeypatch.context() as patch:
            patch.setattr(connection, "vendor", vendor)
            return [
                store.lead_for_rescore(lead_id=lead.id, spec=spec) for lead in leads
            ]

    # Then the plain cursor and the ORM read the same values
    assert read("postgresql") == read("portable")


# The account roll-up
# ------------------------------------------------------------------------------


@pytest.mark.postgres
def test_the_postgresql_roll_up_writes_what_the_orm_writes(monkeypatch):
    # Given two accounts with scored leads (one capped, one negative) and an
    # account whose leads are not scored
    model = model_active()
    busy, quiet = AccountFactory(), AccountFactory()
    AccountFactory()
    engagement = {busy: ["75", "-5", "3.25"], quiet: ["0"]}
    for account, scores in engagement.items():
        for value in scores:
            LeadScore.objects.create(
                lead=LeadFactory(account=account),
                model=model,
                total=Decimal(value),
                fit_score=Decimal(0),
                engagement_score=Decimal(value),
                grade="D",
                computed_at=NOW,
            )
    LeadFactory(account=None)

    def refresh(vendor: str, account_ids: list[int] | None) -> tuple:
        with transaction.atomic(), monkeypatch.context() as patch:
            patch.setattr(connection, "vendor", vendor)
            written = account_scores_refresh(
                model=model, account_ids=account_ids, now=NOW
            )
            rows = list(
                AccountScore.objects.order_by("account_id").values_list(
                    "account_id", "engagement_score", "engaged_leads", "computed_at"
                )
            )
            transaction.set_rollback(True)
        return written, rows

    for account_ids in (None, [quiet.id]):
        assert refresh("postgresql", account_ids) == refresh("portable", account_ids)
    assert refresh("postgresql", None) == (
        2,
        [(busy.id, Decimal("53.25"), 2, NOW), (quiet.id, Decimal("0.00"), 0, NOW)],
    )


def test_a_rescore_that_leaves_engagement_unchanged_skips_the_roll_up():
    model = model_active()
    lead = LeadFactory(account=AccountFactory())
    TouchpointFactory(lead=lead, kind_id="email_click", occurred_at=NOW)
    lead_rescore(lead_id=lead.id, model=model, now=NOW)
    account_rollups_refresh_requested()

    lead_rescore(lead_id=lead.id, model=model, now=NOW)
    assert not AccountRollupRequest.objects.exists()
    TouchpointFactory(lead=lead, kind_id="email_click", occurred_at=NOW)
    lead_rescore(lead_id=lead.id, model=model, now=NOW)
    assert list(AccountRollupRequest.objects.values_list("account_id", "model_id")) == [
        (lead.account_id, model.id)
    ]

    assert account_rollups_refresh_requested() == 1
    assert not AccountRollupRequest.objects.exists()
    score = AccountScore.objects.get(account=lead.account, model=model)
    assert (score.engagement_score, score.engaged_leads) == (Decimal("6.00"), 1)


@pytest.mark.postgres
def test_a_roll_up_refresh_does_not_wait_while_another_one_runs():
    # Given a committed request, and another session holding the roll-up lock
    # (a refresh running elsewhere)
    import psycopg

    model = model_active()
    lead = LeadFactory(account=AccountFactory())
    TouchpointFactory(lead=lead, kind_id="email_click", occurred_at=NOW)
    lead_rescore(lead_id=lead.id, model=model, now=NOW)
    settings = connection.settings_dict
    with psycopg.connect(
        dbname=settings["NAME"],
        user=settings["USER"],
        password=settings["PASSWORD"],
        host=settings["HOST"],
        port=settings["PORT"] or 5432,
        autocommit=True,
    ) as other:
        other.execute("SELECT pg_advisory_lock(%s)", [services.ROLLUPS_LOCK_KEY])

        # When a refresh runs meanwhile, it returns at once and takes nothing
        assert account_rollups_refresh_requested() is None
        assert account_rollups_pending()

        other.execute("SELECT pg_advisory_unlock(%s)", [services.ROLLUPS_LOCK_KEY])
    # Then the next one takes the request
    assert account_rollups_refresh_requested() == 1
    assert not account_rollups_pending()
    assert AccountScore.objects.get(account=lead.account).engagement_score == 3


@pytest.mark.postgres
def test_a_single_lead_rescore_on_postgresql_is_a_handful_of_statements():
    model = model_active()
    spec = model_spec(model)
    lead = LeadFactory(account=AccountFactory())
    TouchpointFactory(lead=lead, kind_id="email_click", occurred_at=NOW)
    lead_rescore(lead_id=lead.id, model=model, spec=spec, now=NOW)

    with CaptureQueriesContext(connection) as unchanged:
        lead_rescore(lead_id=lead.id, model=model, spec=spec, now=NOW)
    TouchpointFactory(lead=lead, kind_id="email_click", occurred_at=NOW)
    with CaptureQueriesContext(connection) as changed:
        lead_rescore(lead_id=lead.id, model=model, spec=spec, now=NOW)

    # Savepoint, lock, read, touchpoints, writes, release; and, when
    # engagement moved, the roll-up request.
    assert len(unchanged) == 6
    assert len(changed) == 7
    assert Lead.objects.get(id=lead.id).engagement_score == Decimal("6.00")


# The spec of a model
# ------------------------------------------------------------------------------


def test_the_spec_of_a_published_model_is_built_once(django_assert_num_queries):
    model = published_with_account_rule()
    first = model_spec(model)
    fresh = ScoringModel.objects.get(id=model.id)

    with django_assert_num_queries(0):
        again = model_spec(fresh)

    assert again is first
    assert [rule.label for rule in first.rules][-4:] == [
        "Competitor",
        "Student",
        "Outside our market",
        "Engaged account",
    ]


def test_the_spec_of_a_draft_follows_its_rules():
    draft = services.model_clone(model=model_active())
    before = model_spec(draft)
    services.rule_create(
        model=draft,
        kind="fit",
        label="Germany",
        points=5,
        attribute="country",
        operator="equals",
        value="DE",
    )

    after = model_spec(draft)

    assert len(after.rules) == len(before.rules) + 1
    assert after.rules[-1].label == "Germany"


def test_publishing_gives_the_new_model_its_own_spec():
    old = model_spec(model_active())

    new = published_with_account_rule()

    assert selectors.model_active().id == new.id
    assert model_spec(selectors.model_active()).id == new.id != old.id
