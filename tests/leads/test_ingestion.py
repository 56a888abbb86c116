"""Ingestion core: input checks, bulk lookups and set-based touchpoint ingest."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import connection

from crm.common.text import text_problem
from leads.accounts import accounts_for_domains
from leads.ingestion import (
    BATCH_LIMIT,
    TouchpointIn,
    json_object_problem,
    leads_for_emails,
    touchpoints_ingest,
)
from leads.models import Account, Lead, Touchpoint
from tests.factories import (
    AccountFactory,
    CampaignFactory,
    LeadFactory,
    TouchpointFactory,
)

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


# Input checks
# ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("plain text, ünïcode ✓", None),
        ("a\x00b", "Remove the NUL character (\\u0000); it cannot be stored."),
        (
            "\ud800",
            "Remove the invalid character (an unpaired surrogate); use UTF-8 text.",
        ),
    ],
)
def test_text_problem(value, problem):
    assert text_problem(value) == problem


def _nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(depth - 1):
        value = {"a": value}
    return value


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ({}, None),
        ({"url": "https://x.test/", "tags": ["a", {"b": 1}], "n": 1.5}, None),
        (_nested(10), None),
        (_nested(11), "Nest objects at most 10 levels deep."),
        ([1], 'Send a JSON object such as {"key": "value"}.'),
        ("text", 'Send a JSON object such as {"key": "value"}.'),
        ({"k\x00": 1}, "Remove the NUL character (\\u0000); it cannot be stored."),
        (
            {"k": ["ok", "n\x00"]},
            "Remove the NUL character (\\u0000); it cannot be stored.",
        ),
        ({"k": "x" * 16_376}, None),  # 16,384 bytes exactly
        (
            {"k": "x" * 16_377},
            "Keep it under 16,384 bytes of JSON (this one has 16,385).",
        ),
        ({"k": "é" * 8_188}, None),  # two bytes each in UTF-8: 16,384
        (
            {"k": "é" * 8_189},
            "Keep it under 16,384 bytes of JSON (this one has 16,386).",
        ),
    ],
)
def test_json_object_problem(value, problem):
    assert json_object_problem(value) == problem


# Accounts and leads in bulk
# ------------------------------------------------------------------------------


def test_accounts_for_domains_matches_parents_creates_missing_and_skips_freemail():
    acme = AccountFactory(name="Acme", domain="acme.example")

    result = accounts_for_domains(["EU.Acme.example", "gmail.com", "new-co.example"])

    new = Account.objects.get(domain="new-co.example")
    assert result == {"eu.acme.example": acme, "gmail.com": None, "new-co.example": new}
    assert new.name == "New Co"
    assert Account.objects.count() == 2


def test_accounts_for_domains_never_makes_or_matches_a_public_suffix():
    AccountFactory(name="Co", domain="co.uk")  # an old record made by hand
    acme = AccountFactory(name="Acme", domain="acme.co.uk")

    result = accounts_for_domains(["co.uk", "eu.acme.co.uk", "initech.co.uk"])

    initech = Account.objects.get(domain="initech.co.uk")
    assert result == {"co.uk": None, "eu.acme.co.uk": acme, "initech.co.uk": initech}
    assert Account.objects.count() == 3


def test_accounts_for_domains_twice_creates_nothing_more():
    first = accounts_for_domains(["one.example", "two.example"])
    second = accounts_for_domains(["two.example", "one.example"])

    assert first == second
    assert Account.objects.count() == 2


def test_leads_for_emails_creates_only_the_unknown_ones():
    known = LeadFactory(email="Known@acme.example")

    found, created = leads_for_emails(
        ["known@acme.example", "New@acme.example"], now=NOW
    )

    new = Lead.objects.get(email="New@acme.example")
    assert found == {"known@acme.example": known, "new@acme.example": new}
    assert created == {new.id}
    assert (new.stage, new.created_at, new.entered_lead_at) == ("lead", NOW, NOW)
    assert new.account.domain == "acme.example"


# touchpoints_ingest
# ------------------------------------------------------------------------------


def test_ingest_answers_each_item_in_order(changed, django_capture_on_commit_callbacks):
    lead = LeadFactory()
    TouchpointFactory(lead=lead, source="api", external_id="seen")
    items = [
        TouchpointIn(kind="page_view", lead_id=lead.id, external_id="x1"),
        TouchpointIn(kind="fax", lead_id=lead.id),
        TouchpointIn(kind="chat", lead_email="new@initech.example"),
        TouchpointIn(kind="page_view", lead_id=lead.id, external_id="seen"),
        TouchpointIn(kind="page_view", lead_id=lead.id, external_id="x1"),
    ]

    with django_capture_on_commit_callbacks() as callbacks:
        outcomes = touchpoints_ingest(items=items, source="api", now=NOW)

    new_lead = Lead.objects.get(email="new@initech.example")
    x1 = Touchpoint.objects.get(external_id="x1")
    assert [o.status for o in outcomes] == [
        "created",
        "invalid",
        "created",
        "duplicate",
        "duplicate",
    ]
    assert outcomes[0].touchpoint == x1
    assert outcomes[4].touchpoint == x1
    assert outcomes[3].touchpoint.external_id == "seen"
    assert outcomes[2].touchpoint.lead_id == new_lead.id
    assert [o.lead_created for o in outcomes] == [False, False, True, False, False]
    assert outcomes[1].errors == {
        "kind": [
            "Unknown touchpoint kind 'fax'; use one of: call, cart_add, chat, "
            "content_download, demo_request, email_bounce, email_click, "
            "email_open, form_submit, page_view, sms, trial_signup, unsubscribe, "
            "webinar_attended, webinar_registered."
        ]
    }
    assert (x1.occurred_at, x1.received_at, x1.source) == (NOW, NOW, "api")
    assert Touchpoint.objects.count() == 3
    marks = dict(Lead.objects.values_list("id", "rescore_requested_at"))
    assert marks == {lead.id: NOW, new_lead.id: NOW}
    assert changed == []  # only after commit
    for callback in callbacks:
        callback()
    assert changed == [sorted([lead.id, new_lead.id])]


def test_invalid_item_stores_nothing_not_even_its_lead(
    changed, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        (outcome,) = touchpoints_ingest(
            items=[TouchpointIn(kind="fax", lead_email="ghost@acme.example")],
            source="api",
            now=NOW,
        )

    assert outcome.status == "invalid"
    assert (
        Lead.objects.count(),
        Account.objects.count(),
        Touchpoint.objects.count(),
    ) == (0, 0, 0)
    assert callbacks == []
    assert changed == []


@pytest.mark.parametrize(
    ("item", "errors"),
    [
        (
            {"occurred_at": dt.datetime(2026, 3, 1, 9, 0)},  # noqa: DTZ001
            {"occurred_at": ["Give a time zone offset, e.g. 2026-03-01T09:30Z."]},
        ),
        (
            {"occurred_at": NOW + dt.timedelta(minutes=5, seconds=1)},
            {
                "occurred_at": [
                    "This time is in the future; send when it happened (at most 5 "
                    "minutes ahead of the server)."
                ]
            },
        ),
        (
            {"occurred_at": dt.datetime(1999, 12, 31, tzinfo=dt.UTC)},
            {"occurred_at": ["This time is before the year 2000; check it."]},
        ),
        (
            {"external_id": "  "},
            {"external_id": ["Use 1 to 200 characters, or leave it out."]},
        ),
        (
            {"external_id": "x" * 201},
            {"external_id": ["Use 1 to 200 characters, or leave it out."]},
        ),
        (
            {"external_id": "a\x00"},
            {
                "external_id": [
                    "Remove the NUL character (\\u0000); it cannot be stored."
                ]
            },
        ),
        (
            {"campaign_id": "existing", "utm_campaign": "spring"},
            {"campaign": ["Give either a campaign id or its UTM keys, not both."]},
        ),
        (
            {"campaign_id": 424242},
            {"campaign": ["There is no campaign with id 424242."]},
        ),
        (
            {"lead_email": "x@acme.example"},
            {"lead": ["Give either lead (an id) or lead_email, not both."]},
        ),
        (
            {"properties": {"k": "\x00"}},
            {
                "properties": [
                    "Remove the NUL character (\\u0000); it cannot be stored."
                ]
            },
        ),
    ],
)
def test_ingest_refuses_bad_items_with_field_errors(item, errors):
    lead = LeadFactory()
    if item.get("campaign_id") == "existing":
        item = {**item, "campaign_id": CampaignFactory().id}

    (outcome,) = touchpoints_ingest(
        items=[TouchpointIn(**{"kind": "chat", "lead_id": lead.id, **item})],
        source="api",
        now=NOW,
    )

    assert (outcome.status, outcome.errors) == ("invalid", errors)
    assert Touchpoint.objects.count() == 0
    lead.refresh_from_db()
    assert lead.rescore_requested_at is None


def test_ingest_accepts_the_edges_of_the_time_window():
    lead = LeadFactory()
    items = [
        TouchpointIn(
            kind="chat", lead_id=lead.id, occurred_at=NOW + dt.timedelta(minutes=5)
        ),
        TouchpointIn(
            kind="chat",
            lead_id=lead.id,
            occurred_at=dt.datetime(2000, 1, 1, tzinfo=dt.UTC),
        ),
    ]

    outcomes = touchpoints_ingest(items=items, source="api", now=NOW)

    assert [o.status for o in outcomes] == ["created", "created"]


def test_an_external_id_reused_for_another_event_is_a_conflict_that_stores_nothing():
    lead, other = LeadFactory(), LeadFactory()
    stored = TouchpointFactory(
        lead=lead, source="api", external_id="seen", kind_id="page_view"
    )
    items = [
        TouchpointIn(kind="page_view", lead_id=other.id, external_id="seen"),
        TouchpointIn(kind="chat", lead_id=lead.id, external_id="seen"),
        TouchpointIn(
            kind="page_view",
            lead_id=lead.id,
            external_id="seen",
            occurred_at=stored.occurred_at + dt.timedelta(seconds=1),
        ),
        TouchpointIn(
            kind="page_view", lead_email="nobody@initech.example", external_id="seen"
        ),
        TouchpointIn(kind="page_view", lead_id=lead.id, external_id="seen"),
        TouchpointIn(
            kind="page_view",
            lead_id=lead.id,
            external_id="seen",
            occurred_at=stored.occurred_at,
        ),
    ]

    outcomes = touchpoints_ingest(items=items, source="api", now=NOW)

    assert [o.status for o in outcomes] == ["conflict"] * 4 + ["duplicate"] * 2
    assert {o.touchpoint.id for o in outcomes} == {stored.id}
    assert outcomes[0].errors == {
        "external_id": [
            f"This external_id was stored before for touchpoint {stored.id}, "
            "with another lead, kind or time. Give a new event a new "
            "external_id; a retry must send the same lead, kind and time."
        ]
    }
    assert Touchpoint.objects.count() == 1
    assert not Lead.objects.filter(email="nobody@initech.example").exists()
    assert Lead.objects.filter(rescore_requested_at__isnull=False).count() == 0


def test_external_ids_are_unique_per_source():
    lead = LeadFactory()
    item = TouchpointIn(kind="chat", lead_id=lead.id, external_id="evt-1")

    first = touchpoints_ingest(items=[item], source="api", now=NOW)
    other_source = touchpoints_ingest(items=[item], source="form:demo", now=NOW)
    again = touchpoints_ingest(items=[item], source="api", now=NOW)

    assert [o.status for o in first + other_source + again] == [
        "created",
        "created",
        "duplicate",
    ]
    assert again[0].touchpoint == first[0].touchpoint
    assert Touchpoint.objects.count() == 2


def test_campaign_resolves_by_id_or_by_utm_keys():
    lead = LeadFactory()
    spring = CampaignFactory(
        utm_source="news", utm_medium="email", utm_campaign="spring"
    )
    other = CampaignFactory(utm_source="ads", utm_medium="cpc", utm_campaign="spring")
    items = [
        TouchpointIn(kind="chat", lead_id=lead.id, campaign_id=other.id),
        TouchpointIn(
            kind="chat",
            lead_id=lead.id,
            utm_source="news",
            utm_medium="email",
            utm_campaign="spring",
        ),
        TouchpointIn(kind="chat", lead_id=lead.id, utm_campaign="spring"),
    ]

    outcomes = touchpoints_ingest(items=items, source="api", now=NOW)

    assert [o.touchpoint.campaign for o in outcomes] == [other, spring, None]


def test_more_than_the_batch_limit_is_refused_before_anything_happens():
    lead = LeadFactory()
    items = [TouchpointIn(kind="chat", lead_id=lead.id)] * (BATCH_LIMIT + 1)

    with pytest.raises(ValueError, match=r"Send at most 1,000 touchpoints per batch\."):
        touchpoints_ingest(items=items, source="api", now=NOW)

    assert Touchpoint.objects.count() == 0


def test_ingest_of_a_full_batch_for_known_leads_is_a_few_queries(
    django_assert_num_queries,
):
    leads = LeadFactory.create_batch(20)
    items = [
        TouchpointIn(kind="page_view", lead_id=leads[i % 20].id, external_id=f"e{i}")
        for i in range(BATCH_LIMIT)
    ]
    tp_fields = [f for f in Touchpoint._meta.concrete_fields if not f.primary_key]
    inserts = -(-BATCH_LIMIT // connection.ops.bulk_batch_size(tp_fields, items))

    # On PostgreSQL the kinds, leads by id and stored external ids in one
    # query, one insert (a concurrent external id skipped, no savepoint) and
    # the rescore marks locked in id order and updated in one statement;
    # elsewhere kinds, leads by id, known external ids, [savepoint, inserts,
    # release] and the marks. No savepoint around it all: no caller goes on
    # after an error.
    if connection.vendor == "postgresql":
        expected = 1 + 1 + 1
    else:
        expected = 3 + (1 + inserts + 1) + 1
    with django_assert_num_queries(expected):
        outcomes = touchpoints_ingest(items=items, source="api", now=NOW)

    assert {o.status for o in outcomes} == {"created"}
    assert Touchpoint.objects.count() == BATCH_LIMIT
