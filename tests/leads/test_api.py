"""REST API v1 of leads and touchpoints: contract, validation, permissions, races."""

from __future__ import annotations

import base64
import datetime as dt
import json
import math
from decimal import Decimal
from io import StringIO
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from crm.roles import ADMIN, MARKETING, SALES, SDR
from leads.models import Account, AuditEvent, Lead, Touchpoint
from tests.clients import token_client
from tests.factories import (
    AccountFactory,
    CampaignFactory,
    LeadFactory,
    TouchpointFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

LEADS = "/api/v1/leads/"
TOUCHPOINTS = "/api/v1/touchpoints/"
BATCH = "/api/v1/touchpoints/batch/"
T0 = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)


def nothing_stored() -> tuple[int, int, int]:
    return Lead.objects.count(), Account.objects.count(), Touchpoint.objects.count()


# Leads: create or update by e-mail
# ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("country", "code", "region"),
    [
        ("DEU", "DE", "europe"),
        (" germany ", "DE", "europe"),
        ("United States of America", "US", "north_america"),
        ("Korea, Republic of", "KR", "apac"),
        ("UK", "GB", "europe"),
        ("Antarctica", "AQ", ""),
    ],
)
def test_post_reads_a_country_from_its_code_or_english_name(api, country, code, region):
    response = api.post(
        LEADS, {"email": "ada@acme.example", "country": country}, format="json"
    )

    assert response.status_code == 201
    assert (response.json()["country"], response.json()["region"]) == (code, region)
    assert Lead.objects.values_list("country", "region").get() == (code, region)


def test_post_new_email_creates_the_lead_with_its_account(api):
    response = api.post(
        LEADS,
        {
            "email": " Grace@Northwind-Labs.example ",
            "first_name": "Grace",
            "last_name": "Hopper",
            "job_title": "VP of Engineering",
            "country": "de",
            "attributes": {"plan": "trial", "seats": 12},
        },
        format="json",
    )

    assert response.status_code == 201
    lead = Lead.objects.get()
    body = response.json()
    assert body["id"] == lead.id
    assert body["email"] == "Grace@northwind-labs.example"
    assert (body["first_name"], body["last_name"]) == ("Grace", "Hopper")
    assert (body["seniority"], body["department"]) == ("vp", "engineering")
    assert (body["country"], body["region"]) == ("DE", "europe")
    assert body["stage"] == "lead"
    assert body["owner"] is None
    assert body["attributes"] == {"plan": "trial", "seats": 12}
    assert body["score"] == "0.00"
    assert body["account"] == {
        "id": lead.account_id,
        "name": "Northwind Labs",
        "domain": "northwind-labs.example",
        "industry": "",
        "employee_count": None,
        "country": "",
    }


@pytest.mark.parametrize(
    "sent", ["ada@acme.example", "ADA@ACME.EXAMPLE", "Ada@Acme.Example"]
)
def test_post_known_email_in_any_letter_case_updates_that_lead(api, sent):
    lead = LeadFactory(email="Ada@acme.example", first_name="Ada", job_title="")

    response = api.post(
        LEADS, {"email": sent, "job_title": "Head of Marketing"}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["id"] == lead.id
    lead.refresh_from_db()
    assert Lead.objects.count() == 1
    assert lead.email == "Ada@acme.example"
    assert (lead.first_name, lead.job_title) == ("Ada", "Head of Marketing")
    assert lead.seniority == "director"


def test_post_account_object_creates_and_links_the_account(api):
    response = api.post(
        LEADS,
        {
            "email": "ops@gmail.com",
            "account": {
                "domain": "www.Initech.example",
                "name": "Initech",
                "industry": "software",
                "employee_count": 120,
                "annual_revenue": "2500000.00",
                "country": "us",
            },
        },
        format="json",
    )

    assert response.status_code == 201
    account = Account.objects.get()
    assert (account.domain, account.name, account.country) == (
        "initech.example",
        "Initech",
        "US",
    )
    assert (account.industry, account.employee_count) == ("software", 120)
    assert account.annual_revenue == Decimal("2500000.00")
    assert Lead.objects.get().account_id == account.id
    assert response.json()["account"]["id"] == account.id


def test_post_account_object_updates_the_account_with_that_domain(api):
    account = AccountFactory(name="Old name", domain="initech.example")

    response = api.post(
        LEADS,
        {
            "email": "a@initech.example",
            "account": {"domain": "INITECH.example", "name": "Initech"},
        },
        format="json",
    )

    assert response.status_code == 201
    account.refresh_from_db()
    assert account.name == "Initech"
    assert Account.objects.count() == 1
    assert Lead.objects.get().account_id == account.id


DEEP: dict[str, Any] = {}
_level = DEEP
for _ in range(10):
    _level["a"] = {}
    _level = _level["a"]


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({}, {"email": ["This field is required."]}),
        ({"email": "not-an-address"}, {"email": ["Enter a valid e-mail address."]}),
        ({"email": ["a@b.example"]}, {"email": ["Not a valid string."]}),
        (
            {"email": "a\x00@b.example"},
            {"email": ["Remove the NUL character (\\u0000); it cannot be stored."]},
        ),
        (
            {"email": "a@b.example", "first_name": "Ad\x00a"},
            {
                "first_name": [
                    "Remove the NUL character (\\u0000); it cannot be stored."
                ]
            },
        ),
        (
            {"email": "a@b.example", "first_name": "x" * 101},
            {"first_name": ["Ensure this field has no more than 100 characters."]},
        ),
        (
            {"email": "a@b.example", "do_not_email": "maybe"},
            {"do_not_email": ["Must be a valid boolean."]},
        ),
        (
            {"email": "a@b.example", "country": "ZZ"},
            {
                "country": [
                    "ZZ is not a country Leadflow knows; send an ISO 3166 code "
                    "(e.g. US, DE) or the English name (e.g. Germany)."
                ]
            },
        ),
        (
            {"email": "a@b.example", "seniority_override": "emperor"},
            {"seniority_override": ['"emperor" is not a valid choice.']},
        ),
        (
            {"email": "a@b.example", "owner": "ada"},
            {
                "owner": [
                    "The owner is set when an SDR accepts the lead's handoff; "
                    "it cannot be written here."
                ]
            },
        ),
        (
            {"email": "a@b.example", "attributes": ["a", "list"]},
            {"attributes": ['Send a JSON object such as {"key": "value"}.']},
        ),
        (
            {"email": "a@b.example", "attributes": {"k": "v\x00"}},
            {
                "attributes": [
                    "Remove the NUL character (\\u0000); it cannot be stored."
                ]
            },
        ),
        (
            {"email": "a@b.example", "attributes": DEEP},
            {"attributes": ["Nest objects at most 10 levels deep."]},
        ),
        (
            {"email": "a@b.example", "attributes": {"blob": "x" * 20_000}},
            {
                "attributes": [
                    "Keep it under 16,384 bytes of JSON (this one has 20,011)."
                ]
            },
        ),
        (
            {"email": "a@b.example", "account": {}},
            {
                "account": {
                    "non_field_errors": ["Give the account's domain or its name."]
                }
            },
        ),
        (
            {"email": "a@b.example", "account": {"domain": "not a domain"}},
            {
                "account": {
                    "domain": [
                        "Enter a domain name such as example.com (letters, digits and "
                        "hyphens, at most 63 characters between dots)."
                    ]
                }
            },
        ),
        (
            {"email": "ada\uff20example.com"},
            {
                "email": [
                    "Type the address with plain characters: it contains look-alike "
                    "ones (such as a full-width \uff20 or \uff41) that stand for "
                    "ordinary letters or signs."
                ]
            },
        ),
        (
            {"email": "ada@[127.0.0.1]"},
            {
                "email": [
                    "Use an address at a domain name, such as ada@example.com; "
                    "addresses at an IP address are not accepted."
                ]
            },
        ),
        (
            {"email": "a@b.example", "account": {"domain": "WWW.Co.UK"}},
            {
                "account": {
                    "domain": [
                        "co.uk is a public suffix shared by many companies; give "
                        "the company's own domain, such as example.co.uk."
                    ]
                }
            },
        ),
        (
            {
                "email": "a@b.example",
                "account": {"domain": "b.example", "employee_count": -1},
            },
            {
                "account": {
                    "employee_count": [
                        "Ensure this value is greater than or equal to 0."
                    ]
                }
            },
        ),
        (
            {"email": "a@b.example", "account": "b.example"},
            {
                "account": {
                    "non_field_errors": [
                        "Invalid data. Expected a dictionary, but got str."
                    ]
                }
            },
        ),
    ],
)
def test_post_bad_lead_input_is_refused_with_field_errors_and_nothing_stored(
    api, body, errors
):
    response = api.post(LEADS, body, format="json")

    assert response.status_code == 400
    assert response.json() == errors
    assert nothing_stored() == (0, 0, 0)


@pytest.mark.parametrize(
    ("raw", "content_type", "status", "detail"),
    [
        (
            '{"email": ',
            "application/json",
            400,
            "JSON parse error - Expecting value: line 1 column 11 (char 10)",
        ),
        ("[1, 2]", "application/json", 400, None),
        (
            '{"email": "a@b.example"}',
            "text/plain",
            415,
            'Unsupported media type "text/plain" in request.',
        ),
        (
            "email=a%40b.example",
            "application/x-www-form-urlencoded",
            415,
            'Unsupported media type "application/x-www-form-urlencoded" in request.',
        ),
    ],
)
def test_post_that_is_not_a_json_object_is_refused(
    api, raw, content_type, status, detail
):
    response = api.generic("POST", LEADS, raw, content_type=content_type)

    assert response.status_code == status
    if detail is not None:
        assert response.json() == {"detail": detail}
    else:
        assert response.json() == {
            "non_field_errors": ["Invalid data. Expected a dictionary, but got list."]
        }
    assert nothing_stored() == (0, 0, 0)


@pytest.mark.parametrize("path", [LEADS, TOUCHPOINTS, BATCH])
def test_body_over_the_upload_limit_is_refused_with_413(api, path):
    blob = "x" * (10 * 1024 * 1024)
    raw = json.dumps({"email": "a@b.example", "attributes": {"blob": blob}})

    response = api.generic("POST", path, raw, content_type="application/json")

    assert response.status_code == 413
    assert response.json() == {
        "detail": "The request body is too large; send a smaller batch."
    }
    assert nothing_stored() == (0, 0, 0)


# Leads: read, list, change
# ------------------------------------------------------------------------------


def test_get_one_lead(api):
    owner = UserFactory(username="sam", roles=[SDR])
    lead = LeadFactory(email="one@acme.example", owner=owner, score=Decimal("12.5"))

    response = api.get(f"{LEADS}{lead.id}/")

    assert response.status_code == 200
    body = response.json()
    assert (body["id"], body["email"], body["owner"]) == (
        lead.id,
        "one@acme.example",
        "sam",
    )
    assert body["score"] == "12.50"


@pytest.mark.parametrize("path", ["999999/", "99999999999999999999999/", "abc/"])
def test_get_unknown_lead_is_404(api, path):
    assert api.get(f"{LEADS}{path}").status_code == 404


def test_erased_lead_is_not_served(api):
    lead = LeadFactory(erased_at=T0)
    assert api.get(f"{LEADS}{lead.id}/").status_code == 404
    assert api.get(LEADS).json()["results"] == []


def test_patch_changes_fields_and_derived_ones(
    api, changed, django_capture_on_commit_callbacks
):
    lead = LeadFactory(email="p@acme.example", job_title="Intern", country="US")

    with django_capture_on_commit_callbacks(execute=True):
        response = api.patch(
            f"{LEADS}{lead.id}/",
            {"job_title": "Chief Marketing Officer", "country": "fr"},
            format="json",
        )

    assert response.status_code == 200
    lead.refresh_from_db()
    assert (lead.job_title, lead.seniority, lead.department) == (
        "Chief Marketing Officer",
        "executive",
        "marketing",
    )
    assert (lead.country, lead.region) == ("FR", "europe")
    assert response.json()["job_title"] == "Chief Marketing Officer"
    assert changed == [[lead.id]]


def test_patch_of_an_account_rescores_every_lead_of_it(
    api, marketer, changed, django_capture_on_commit_callbacks, b2b_model
):
    acme = AccountFactory(domain="acme.example", industry="software")
    leads = LeadFactory.create_batch(3, account=acme)
    other = LeadFactory()
    ids = sorted(lead.id for lead in leads)

    with django_capture_on_commit_callbacks(execute=True):
        response = api.patch(
            f"{LEADS}{leads[0].id}/",
            {"account": {"domain": "acme.example", "industry": "retail"}},
            format="json",
        )

    assert response.status_code == 200
    assert Account.objects.get(id=acme.id).industry == "retail"
    assert changed == [ids, [leads[0].id]]
    # Rescored (eager Celery) under the demo's B2B model: the target-industry
    # points are gone, the marks cleared.
    stored = Lead.objects.filter(id__in=ids).values_list(
        "fit_score", "rescore_requested_at"
    )
    assert list(stored) == [(Decimal("40.00"), None)] * 3
    assert Lead.objects.get(id=other.id).scored_at is None
    event = AuditEvent.objects.get(action="account_edit")
    assert (event.actor, event.lead_id, event.details) == (
        marketer,
        None,
        {"account_id": acme.id, "fields": ["industry"], "leads_rescored": 3},
    )


def test_patch_cannot_change_the_email(api):
    lead = LeadFactory(email="keep@acme.example", first_name="Ada")

    response = api.patch(
        f"{LEADS}{lead.id}/",
        {"email": "other@acme.example", "first_name": "Eve"},
        format="json",
    )

    assert response.status_code == 400
    assert response.json() == {
        "email": ["The e-mail identifies the lead and cannot be changed."]
    }
    lead.refresh_from_db()
    assert (lead.email, lead.first_name) == ("keep@acme.example", "Ada")


def test_patch_refuses_each_read_only_field_by_name(api):
    lead = LeadFactory(first_name="Ada")
    before = Lead.objects.filter(id=lead.id).values().get()

    response = api.patch(
        f"{LEADS}{lead.id}/",
        {"first_name": "Eve", "stage": "customer", "score": "99.00", "grade": "A"},
        format="json",
    )

    assert response.status_code == 400
    assert response.json() == {
        "stage": [
            "stage is read-only; a lead's stage moves through its handoff (accept "
            "or reject, /api/v1/handoffs/), the sales pipeline, or the admin's "
            "move action."
        ],
        "score": ["score is read-only; the active scoring model computes it."],
        "grade": ["grade is read-only; the active scoring model computes it."],
    }
    assert Lead.objects.filter(id=lead.id).values().get() == before


def test_patch_names_a_refused_field_next_to_a_bad_value(api):
    lead = LeadFactory(country="US")

    response = api.patch(
        f"{LEADS}{lead.id}/", {"country": "XX", "region": "europe"}, format="json"
    )

    assert response.status_code == 400
    assert response.json() == {
        "country": [
            "XX is not a country Leadflow knows; send an ISO 3166 code "
            "(e.g. US, DE) or the English name (e.g. Germany)."
        ],
        "region": ["region is read-only; it follows country."],
    }


def test_create_refuses_an_unknown_field_and_stores_nothing(api):
    response = api.post(
        LEADS,
        {"email": "new@acme.example", "favourite_colour": "teal"},
        format="json",
    )

    assert response.status_code == 400
    (message,) = response.json()["favourite_colour"]
    assert message.startswith(
        "favourite_colour is not a field you can write here; send only account, "
        "attributes, country, department, do_not_call, do_not_email, email, "
    )
    assert nothing_stored() == (0, 0, 0)


def test_an_unknown_account_field_is_refused_by_name(api):
    lead = LeadFactory()

    response = api.patch(
        f"{LEADS}{lead.id}/",
        {"account": {"domain": "acme.example", "owner": "maya"}},
        format="json",
    )

    assert response.status_code == 400
    assert response.json() == {
        "account": {
            "owner": ["owner is read-only here; an Admin sets an account's owner."]
        }
    }
    assert not Account.objects.filter(domain="acme.example").exists()


def test_patch_bad_value_changes_nothing(api):
    lead = LeadFactory(country="US", first_name="Ada")

    response = api.patch(
        f"{LEADS}{lead.id}/", {"first_name": "Eve", "country": "XX"}, format="json"
    )

    assert response.status_code == 400
    assert response.json() == {
        "country": [
            "XX is not a country Leadflow knows; send an ISO 3166 code "
            "(e.g. US, DE) or the English name (e.g. Germany)."
        ]
    }
    lead.refresh_from_db()
    assert (lead.first_name, lead.country) == ("Ada", "US")


def test_patch_unknown_lead_is_404(api):
    assert api.patch(f"{LEADS}424242/", {}, format="json").status_code == 404


@pytest.mark.parametrize("method", ["put", "delete"])
def test_leads_cannot_be_replaced_or_deleted(method):
    client = token_client(UserFactory(roles=[ADMIN], is_superuser=True))
    lead = LeadFactory()

    response = getattr(client, method)(f"{LEADS}{lead.id}/", {}, format="json")

    assert response.status_code == 405
    assert Lead.objects.filter(id=lead.id).exists()


@pytest.fixture
def listed() -> dict[str, Lead]:
    """Five leads that differ in every filtered attribute."""
    sdr = UserFactory(username="sam", roles=[SDR])
    rep = UserFactory(username="rita", roles=[SALES])
    acme = AccountFactory(name="Acme Robotics", domain="acme.example")
    return {
        "ada": LeadFactory(
            email="ada@acme.example",
            first_name="Ada",
            last_name="Lovelace",
            account=acme,
            country="GB",
            stage="mql",
            owner=sdr,
            score=Decimal("80.00"),
            created_at=dt.datetime(2026, 1, 10, tzinfo=dt.UTC),
        ),
        "bob": LeadFactory(
            email="bob@builder.example",
            first_name="Bob",
            last_name="Builder",
            country="US",
            stage="sal",
            owner=rep,
            score=Decimal("55.50"),
            created_at=dt.datetime(2026, 1, 20, tzinfo=dt.UTC),
        ),
        "cy": LeadFactory(
            email="cy@gmail.com",
            first_name="Cy",
            last_name="Twombly",
            country="US",
            stage="lead",
            score=Decimal("10.00"),
            created_at=dt.datetime(2026, 2, 1, tzinfo=dt.UTC),
        ),
        "dee": LeadFactory(
            email="dee@acme.example",
            first_name="Dee",
            last_name="Dee",
            account=acme,
            country="DE",
            stage="mql",
            score=Decimal("55.50"),
            created_at=dt.datetime(2026, 2, 15, tzinfo=dt.UTC),
        ),
        "eve": LeadFactory(
            email="eve@evil.example",
            first_name="Eve",
            last_name="Smith",
            country="FR",
            stage="disqualified",
            score=Decimal("-5.00"),
            created_at=dt.datetime(2026, 3, 1, tzinfo=dt.UTC),
        ),
    }


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ["eve", "dee", "cy", "bob", "ada"]),
        ("stage=mql", ["dee", "ada"]),
        ("stage=mql&stage=sal", ["dee", "bob", "ada"]),
        ("owner=sam", ["ada"]),
        ("country=us", ["cy", "bob"]),
        ("country=United%20States", ["cy", "bob"]),
        ("country=Narnia", []),
        ("score_min=55.5", ["dee", "bob", "ada"]),
        ("score_max=10", ["eve", "cy"]),
        ("score_min=10&score_max=55.5", ["dee", "cy", "bob"]),
        ("created_after=2026-01-20T00:00:00Z", ["eve", "dee", "cy", "bob"]),
        ("created_before=2026-02-01T00:00:00%2B00:00", ["bob", "ada"]),
        (
            "created_after=2026-01-15T00:00:00Z&created_before=2026-02-15T00:00:00Z",
            ["cy", "bob"],
        ),
        ("q=acme", ["dee", "ada"]),
        ("q=ROBOTICS", ["dee", "ada"]),
        ("q=ada%20lovelace", ["ada"]),
        ("q=twombly", ["cy"]),
        ("q=builder.example", ["bob"]),
        ("stage=mql&country=GB&q=ada", ["ada"]),
    ],
)
def test_list_filters(api, listed, query, expected):
    response = api.get(f"{LEADS}?{query}")

    assert response.status_code == 200
    emails = [row["email"] for row in response.json()["results"]]
    assert emails == [listed[name].email for name in expected]


@pytest.mark.parametrize(
    ("query", "errors"),
    [
        (
            "stage=nope",
            {
                "stage": [
                    "Select a valid choice. nope is not one of the available choices."
                ]
            },
        ),
        ("score_min=abc", {"score_min": ["Enter a number."]}),
        (
            "score_min=1e-20000",
            {"score_min": ["Ensure that there are no more than 20 digits in total."]},
        ),
        (
            "score_max=12.1234567",
            {"score_max": ["Ensure that there are no more than 6 decimal places."]},
        ),
        ("created_after=yesterday", {"created_after": ["Enter a valid date/time."]}),
        (
            "created_after=0001-01-01T00:00:00%2B05:00",
            {
                "created_after": [
                    "Enter a date and time between the years 1 and 9999 (UTC)."
                ]
            },
        ),
        (
            "created_before=9999-12-31T23:59:59-05:00",
            {
                "created_before": [
                    "Enter a date and time between the years 1 and 9999 (UTC)."
                ]
            },
        ),
        ("q=%00", {"q": ["Null characters are not allowed."]}),
    ],
)
def test_list_bad_filter_is_400(api, query, errors):
    response = api.get(f"{LEADS}?{query}")

    assert response.status_code == 400
    assert response.json() == errors


def _walk(api: APIClient, url: str, key: str) -> list[list[int]]:
    pages = []
    while url:
        response = api.get(url)
        assert response.status_code == 200
        body = response.json()
        pages.append([row["id"] for row in body["results"]])
        url = body[key]
    return pages


@pytest.mark.parametrize(
    ("ordering", "key"),
    [
        ("", lambda lead: (-lead.created_at.timestamp(), -lead.id)),
        ("-score", lambda lead: (-lead.score, -lead.id)),
        ("score", lambda lead: (lead.score, lead.id)),
        ("last_name", lambda lead: (lead.last_name, lead.id)),
        (
            "-stage_changed_at",
            lambda lead: (
                lead.stage_changed_at is None,
                -(lead.stage_changed_at or T0).timestamp(),
                -lead.id,
            ),
        ),
    ],
)
def test_cursor_pages_visit_every_lead_once_in_order_both_ways(api, ordering, key):
    # Ties everywhere: equal scores, equal names, equal times, and NULLs.
    for i in range(11):
        LeadFactory(
            score=Decimal(i % 3),
            last_name=f"Name{i % 2}",
            created_at=T0 + dt.timedelta(days=i % 4),
            stage_changed_at=None if i % 5 == 0 else T0 + dt.timedelta(hours=i % 3),
        )
    expected = [lead.id for lead in sorted(Lead.objects.all(), key=key)]

    forward = _walk(api, f"{LEADS}?page_size=3&ordering={ordering}", "next")

    assert [len(page) for page in forward] == [3, 3, 3, 2]
    assert [i for page in forward for i in page] == expected
    last = api.get(f"{LEADS}?page_size=3&ordering={ordering}")
    for _ in range(3):
        last = api.get(last.json()["next"])
    backward = _walk(api, last.json()["previous"], "previous")
    assert backward == forward[-2::-1]


@pytest.mark.parametrize(
    ("ordering", "key"),
    [
        ("", lambda lead: (-lead.created_at.timestamp(), -lead.id)),
        ("last_name", lambda lead: (lead.last_name, lead.id)),
        (
            "-stage_changed_at",
            lambda lead: (
                lead.stage_changed_at is None,
                -(lead.stage_changed_at or T0).timestamp(),
                -lead.id,
            ),
        ),
    ],
)
def test_a_searchs_cursor_pages_visit_every_match_once_in_order_both_ways(
    api, ordering, key
):
    for i in range(14):
        LeadFactory(
            first_name="Quinn" if i % 4 else "Other",
            last_name=f"Name{i % 2}",
            created_at=T0 + dt.timedelta(days=i % 4),
            stage_changed_at=None if i % 5 == 0 else T0 + dt.timedelta(hours=i % 3),
        )
    matches = Lead.objects.filter(first_name="Quinn")
    expected = [lead.id for lead in sorted(matches, key=key)]

    url = f"{LEADS}?page_size=3&q=quinn&ordering={ordering}"
    forward = _walk(api, url, "next")

    assert [len(page) for page in forward] == [3, 3, 3, 1]
    assert [i for page in forward for i in page] == expected
    last = api.get(url)
    for _ in range(3):
        last = api.get(last.json()["next"])
    backward = _walk(api, last.json()["previous"], "previous")
    assert backward == forward[-2::-1]


def test_cursor_of_another_ordering_or_tampered_is_404(api):
    LeadFactory.create_batch(3)
    next_url = api.get(f"{LEADS}?page_size=1&ordering=-score").json()["next"]
    cursor = parse_qs(urlsplit(next_url).query)["cursor"][0]

    assert (
        api.get(f"{LEADS}?page_size=1&ordering=-score&cursor={cursor}").status_code
        == 200
    )
    assert (
        api.get(f"{LEADS}?page_size=1&ordering=score&cursor={cursor}").status_code
        == 404
    )
    for bad in ["abc", "eyJzIjoiLXNjb3JlIn0", "cD0yMDI2"]:
        response = api.get(f"{LEADS}?cursor={bad}")
        assert response.status_code == 404
        assert response.json() == {"detail": "Invalid cursor"}


def _cursor_token(payload: str) -> str:
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def test_cursor_nested_too_deeply_is_404(api):
    LeadFactory()
    token = _cursor_token("[" * 10_000 + "]" * 10_000)

    response = api.get(f"{LEADS}?ordering=-score&cursor={token}")

    assert response.status_code == 404
    assert response.json() == {"detail": "Invalid cursor"}


def test_cursor_with_a_key_given_twice_is_404(api):
    """Another reader of the token could take the other value; refuse it."""
    LeadFactory.create_batch(3)
    next_url = api.get(f"{LEADS}?page_size=1&ordering=-score").json()["next"]
    token = parse_qs(urlsplit(next_url).query)["cursor"][0]
    payload = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    doubled = _cursor_token('{"i": 1, ' + payload[1:])

    response = api.get(f"{LEADS}?page_size=1&ordering=-score&cursor={doubled}")

    assert response.status_code == 404
    assert response.json() == {"detail": "Invalid cursor"}


def test_list_page_costs_a_fixed_number_of_queries(api, django_assert_num_queries):
    owner = UserFactory(roles=[SDR])
    for i in range(30):
        LeadFactory(owner=owner, account=AccountFactory(), score=Decimal(i))
    api.get(LEADS)  # warm the token and permission lookups' code paths

    # token, permissions (user's, groups'; read with the token on
    # PostgreSQL), the page, and the active model's score breakdowns
    perms = 0 if connection.vendor == "postgresql" else 2
    with django_assert_num_queries(3 + perms):
        response = api.get(f"{LEADS}?ordering=-score&stage=lead")

    assert len(response.json()["results"]) == 30


# Touchpoints: one at a time
# ------------------------------------------------------------------------------


def test_post_touchpoint_stores_it_and_marks_the_lead(
    api, changed, django_capture_on_commit_callbacks
):
    lead = LeadFactory()
    campaign = CampaignFactory(
        utm_source="news", utm_medium="email", utm_campaign="spring"
    )
    before = timezone.now()

    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            TOUCHPOINTS,
            {
                "lead": lead.id,
                "kind": "page_view",
                "occurred_at": "2026-01-06T10:00:00+01:00",
                "campaign": campaign.id,
                "properties": {"url": "https://leadflow.test/pricing"},
                "external_id": "evt-1",
            },
            format="json",
        )

    assert response.status_code == 201
    touchpoint = Touchpoint.objects.get()
    assert response.json() == {
        "id": touchpoint.id,
        "lead": lead.id,
        "kind": "page_view",
        "occurred_at": "2026-01-06T09:00:00Z",
        "campaign": campaign.id,
        "properties": {"url": "https://leadflow.test/pricing"},
        "source": "api",
        "external_id": "evt-1",
        "received_at": response.json()["received_at"],
    }
    assert touchpoint.received_at >= before
    assert changed == [[lead.id]]


def test_repeated_external_id_answers_200_with_the_stored_touchpoint(api):
    lead = LeadFactory()
    first = api.post(
        TOUCHPOINTS,
        {
            "lead": lead.id,
            "kind": "email_open",
            "external_id": "evt-7",
            "properties": {"n": 1},
        },
        format="json",
    )
    lead.refresh_from_db()
    mark = lead.rescore_requested_at

    again = api.post(
        TOUCHPOINTS,
        {
            "lead": lead.id,
            "kind": "email_open",
            "external_id": "evt-7",
            "properties": {"n": 2},
        },
        format="json",
    )

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    stored = Touchpoint.objects.get()
    assert (stored.kind_id, stored.properties) == ("email_open", {"n": 1})
    lead.refresh_from_db()
    assert lead.rescore_requested_at == mark


EXTERNAL_ID_EVENT = {
    "kind": "email_open",
    "occurred_at": "2026-01-05T09:00:00Z",
    "external_id": "evt-8",
}


def _conflict_message(touchpoint_id: int) -> str:
    return (
        f"This external_id was stored before for touchpoint {touchpoint_id}, with "
        "another lead, kind or time. Give a new event a new external_id; a retry "
        "must send the same lead, kind and time."
    )


@pytest.mark.parametrize(
    "change",
    [
        {"lead": "other"},
        {"lead_email": "someone.new@globex.example"},
        {"kind": "demo_request"},
        {"occurred_at": "2026-01-05T09:00:01Z"},
    ],
    ids=["lead", "new lead by e-mail", "kind", "occurred_at"],
)
def test_an_external_id_reused_for_another_event_is_409(api, change):
    lead, other = LeadFactory(), LeadFactory()
    first = api.post(TOUCHPOINTS, {**EXTERNAL_ID_EVENT, "lead": lead.id}, format="json")
    body = {**EXTERNAL_ID_EVENT, "lead": lead.id, **change}
    if change.get("lead") == "other":
        body["lead"] = other.id
    if "lead_email" in change:
        del body["lead"]
    before = (Lead.objects.count(), Touchpoint.objects.count())

    again = api.post(TOUCHPOINTS, body, format="json")

    stored = Touchpoint.objects.get()
    assert (first.status_code, again.status_code) == (201, 409)
    assert again.json() == {"external_id": [_conflict_message(stored.id)]}
    assert (Lead.objects.count(), Touchpoint.objects.count()) == before
    assert (stored.lead_id, stored.kind_id) == (lead.id, "email_open")


@pytest.mark.parametrize(
    "retry",
    [{}, {"occurred_at": None}, {"lead_email": "case"}],
    ids=["same", "without the time", "by e-mail"],
)
def test_a_retry_of_the_same_event_is_200(api, retry):
    lead = LeadFactory(email="Ada@acme.example")
    first = api.post(TOUCHPOINTS, {**EXTERNAL_ID_EVENT, "lead": lead.id}, format="json")
    body = {**EXTERNAL_ID_EVENT, "lead": lead.id}
    if "occurred_at" in retry:
        del body["occurred_at"]
    if "lead_email" in retry:
        del body["lead"]
        body["lead_email"] = "ada@ACME.example"

    again = api.post(TOUCHPOINTS, body, format="json")

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()


def test_batch_answers_a_reused_external_id_as_a_conflict(api):
    lead, other = LeadFactory(), LeadFactory()
    api.post(TOUCHPOINTS, {**EXTERNAL_ID_EVENT, "lead": lead.id}, format="json")
    stored = Touchpoint.objects.get()
    items = [
        {**EXTERNAL_ID_EVENT, "lead": other.id},
        {**EXTERNAL_ID_EVENT, "lead": lead.id},
        {**EXTERNAL_ID_EVENT, "lead": lead.id, "external_id": "evt-9"},
        {**EXTERNAL_ID_EVENT, "lead": lead.id, "external_id": "evt-9"},
        {**EXTERNAL_ID_EVENT, "lead": other.id, "external_id": "evt-9"},
    ]

    response = api.post(BATCH, {"touchpoints": items}, format="json")

    assert response.status_code == 200
    new = Touchpoint.objects.get(external_id="evt-9")
    assert response.json() == {
        "created": 1,
        "duplicates": 2,
        "conflicts": 2,
        "invalid": 0,
        "results": [
            {
                "index": 0,
                "status": "conflict",
                "id": stored.id,
                "errors": {"external_id": [_conflict_message(stored.id)]},
            },
            {"index": 1, "status": "duplicate", "id": stored.id},
            {"index": 2, "status": "created", "id": new.id},
            {"index": 3, "status": "duplicate", "id": new.id},
            {
                "index": 4,
                "status": "conflict",
                "id": new.id,
                "errors": {"external_id": [_conflict_message(new.id)]},
            },
        ],
    }
    assert Touchpoint.objects.count() == 2


def test_post_touchpoint_by_unknown_email_creates_the_lead(api):
    AccountFactory(name="Globex", domain="globex.example")

    response = api.post(
        TOUCHPOINTS,
        {"lead_email": "Hank@GLOBEX.example", "kind": "form_submit"},
        format="json",
    )

    assert response.status_code == 201
    lead = Lead.objects.get()
    assert (lead.email, lead.stage, lead.account.name) == (
        "Hank@globex.example",
        "lead",
        "Globex",
    )
    assert response.json()["lead"] == lead.id
    assert lead.rescore_requested_at is not None


def test_post_touchpoint_by_known_email_in_other_case_uses_that_lead(api):
    lead = LeadFactory(email="Known@acme.example")

    response = api.post(
        TOUCHPOINTS, {"lead_email": "known@ACME.EXAMPLE", "kind": "chat"}, format="json"
    )

    assert response.status_code == 201
    assert response.json()["lead"] == lead.id
    assert Lead.objects.count() == 1


def test_campaign_by_utm_keys(api):
    lead = LeadFactory()
    campaign = CampaignFactory(
        utm_source="news", utm_medium="email", utm_campaign="spring"
    )
    utm = {"utm_source": "news", "utm_medium": "email", "utm_campaign": "spring"}

    known = api.post(
        TOUCHPOINTS,
        {"lead": lead.id, "kind": "email_click", "campaign": utm},
        format="json",
    )
    unknown = api.post(
        TOUCHPOINTS,
        {
            "lead": lead.id,
            "kind": "email_click",
            "campaign": {"utm_campaign": "autumn"},
        },
        format="json",
    )

    assert (known.status_code, known.json()["campaign"]) == (201, campaign.id)
    # A campaign may be set up after its first clicks: stored without one.
    assert (unknown.status_code, unknown.json()["campaign"]) == (201, None)


SIX_MINUTES_AHEAD = "six minutes ahead of the server"


def _future(minutes: int) -> str:
    return (timezone.now() + dt.timedelta(minutes=minutes)).isoformat()


UNKNOWN_FAX = (
    "Unknown touchpoint kind 'fax'; use one of: call, cart_add, chat, "
    "content_download, demo_request, email_bounce, email_click, email_open, "
    "form_submit, page_view, sms, trial_signup, unsubscribe, webinar_attended, "
    "webinar_registered."
)
NOT_A_TIME = "Not a valid date and time; use ISO 8601 such as 2026-03-01T09:30:00Z."
BEFORE_2000 = "This time is before the year 2000; check it."


@pytest.mark.parametrize(
    ("extra", "errors"),
    [
        (
            {"kind": "fax"},
            {"kind": [UNKNOWN_FAX]},
        ),
        ({"kind": ""}, {"kind": ["This field may not be blank."]}),
        (
            # Filled in when the test runs: a value computed at collection
            # would no longer be in the future in a long suite.
            {"occurred_at": SIX_MINUTES_AHEAD},
            {
                "occurred_at": [
                    "This time is in the future; send when it happened (at most 5 "
                    "minutes ahead of the server)."
                ]
            },
        ),
        (
            {"occurred_at": "2026-01-06T10:00:00"},
            {
                "occurred_at": [
                    "Give a time zone offset, e.g. 2026-03-01T09:30:00Z or +01:00."
                ]
            },
        ),
        ({"occurred_at": "0000-01-01T10:00:00Z"}, {"occurred_at": [NOT_A_TIME]}),
        ({"occurred_at": "2026-02-30T10:00:00Z"}, {"occurred_at": [NOT_A_TIME]}),
        ({"occurred_at": "2026-01-06T10:00:00+25:00"}, {"occurred_at": [NOT_A_TIME]}),
        ({"occurred_at": "0001-01-01T00:00:00+05:00"}, {"occurred_at": [BEFORE_2000]}),
        ({"occurred_at": "1999-12-31T23:59:59Z"}, {"occurred_at": [BEFORE_2000]}),
        (
            {"occurred_at": 1767690000},
            {"occurred_at": ["Send an ISO 8601 string such as 2026-03-01T09:30:00Z."]},
        ),
        ({"campaign": 424242}, {"campaign": ["There is no campaign with id 424242."]}),
        ({"campaign": 2**70}, {"campaign": [f"There is no campaign with id {2**70}."]}),
        (
            {"campaign": "spring"},
            {
                "campaign": [
                    "Give a campaign id or an object with utm_source, utm_medium "
                    "and utm_campaign."
                ]
            },
        ),
        (
            {"properties": {"blob": "x" * 17_000}},
            {
                "properties": [
                    "Keep it under 16,384 bytes of JSON (this one has 17,011)."
                ]
            },
        ),
        (
            {"properties": "url=x"},
            {"properties": ['Send a JSON object such as {"key": "value"}.']},
        ),
        (
            {"properties": {"url": "a\x00b"}},
            {
                "properties": [
                    "Remove the NUL character (\\u0000); it cannot be stored."
                ]
            },
        ),
        (
            {"external_id": "x" * 201},
            {"external_id": ["Ensure this field has no more than 200 characters."]},
        ),
        ({"external_id": "   "}, {"external_id": ["This field may not be blank."]}),
        (
            {"lead_email": "a@b.example"},
            {"lead": ["Give either lead (an id) or lead_email."]},
        ),
    ],
)
def test_bad_touchpoint_is_refused_and_nothing_stored(api, extra, errors):
    if extra.get("occurred_at") == SIX_MINUTES_AHEAD:
        extra = {**extra, "occurred_at": _future(6)}
    lead = LeadFactory()
    mark = lead.rescore_requested_at

    response = api.post(
        TOUCHPOINTS, {"lead": lead.id, "kind": "page_view", **extra}, format="json"
    )

    assert response.status_code == 400
    assert response.json() == errors
    assert (Lead.objects.count(), Touchpoint.objects.count()) == (1, 0)
    lead.refresh_from_db()
    assert lead.rescore_requested_at == mark


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"kind": "chat"}, {"lead": ["Give either lead (an id) or lead_email."]}),
        (
            {"lead": 424242, "kind": "chat"},
            {"lead": ["There is no lead with id 424242."]},
        ),
        (
            {"lead": 2**63, "kind": "chat"},
            {
                "lead": [
                    "Ensure this value is less than or equal to 9223372036854775807."
                ]
            },
        ),
        (
            {"lead": 0, "kind": "chat"},
            {"lead": ["Ensure this value is greater than or equal to 1."]},
        ),
        ({"lead": True, "kind": "chat"}, {"lead": ["A valid integer is required."]}),
        (
            {"lead_email": "nobody", "kind": "chat"},
            {"lead_email": ["Enter a valid e-mail address."]},
        ),
        ({"lead_email": "new@b.example", "kind": "fax"}, None),
    ],
)
def test_touchpoint_without_a_usable_lead_is_refused(api, body, errors):
    response = api.post(TOUCHPOINTS, body, format="json")

    assert response.status_code == 400
    if errors is not None:
        assert response.json() == errors
    # An invalid item stores nothing, not even the lead for its e-mail.
    assert nothing_stored() == (0, 0, 0)


def test_touchpoint_within_clock_skew_is_accepted(api):
    lead = LeadFactory()
    response = api.post(
        TOUCHPOINTS,
        {"lead": lead.id, "kind": "chat", "occurred_at": _future(4)},
        format="json",
    )
    assert response.status_code == 201


def test_offsets_beyond_postgresqls_range_are_taken_in_utc(api):
    # ISO 8601 allows -23:25; PostgreSQL refuses offsets beyond 15:59.
    lead = LeadFactory(created_at=dt.datetime(2026, 1, 7, 9, 0, tzinfo=dt.UTC))

    stored = api.post(
        TOUCHPOINTS,
        {"lead": lead.id, "kind": "chat", "occurred_at": "2026-01-06T10:00:00-23:25"},
        format="json",
    )
    before = api.get(f"{LEADS}?created_before=2026-01-06T10:00:00-23:25")
    after = api.get(f"{LEADS}?created_after=2026-01-06T10:00:00-23:25")

    assert stored.status_code == 201
    assert stored.json()["occurred_at"] == "2026-01-07T09:25:00Z"
    assert [row["id"] for row in before.json()["results"]] == [lead.id]
    assert after.json()["results"] == []


def test_touchpoint_for_an_erased_lead_is_refused(api):
    lead = LeadFactory(erased_at=T0)
    response = api.post(TOUCHPOINTS, {"lead": lead.id, "kind": "chat"}, format="json")
    assert response.status_code == 400
    assert response.json() == {"lead": [f"There is no lead with id {lead.id}."]}
    assert Touchpoint.objects.count() == 0


def test_list_and_get_touchpoints(api):
    lead = LeadFactory()
    other = TouchpointFactory()
    mine = [
        TouchpointFactory(lead=lead, kind_id=k) for k in ("page_view", "chat", "chat")
    ]

    listed = api.get(f"{TOUCHPOINTS}?lead={lead.id}&kind=chat")
    one = api.get(f"{TOUCHPOINTS}{other.id}/")

    assert [row["id"] for row in listed.json()["results"]] == [mine[2].id, mine[1].id]
    assert one.json()["lead"] == other.lead_id


@pytest.mark.parametrize(
    ("query", "errors"),
    [
        ("lead=abc", {"lead": ["Enter a whole number."]}),
        (
            "lead=99999999999999999999999",
            {
                "lead": [
                    "Ensure this value is less than or equal to 9223372036854775807."
                ]
            },
        ),
        (
            "occurred_after=0001-01-01T00:00:00%2B05:00",
            {
                "occurred_after": [
                    "Enter a date and time between the years 1 and 9999 (UTC)."
                ]
            },
        ),
    ],
)
def test_touchpoint_list_bad_filter_is_400(api, query, errors):
    response = api.get(f"{TOUCHPOINTS}?{query}")
    assert response.status_code == 400
    assert response.json() == errors


# Touchpoints: batches
# ------------------------------------------------------------------------------


def test_batch_over_the_limit_is_refused_whole(api):
    lead = LeadFactory()
    items = [{"lead": lead.id, "kind": "chat"} for _ in range(1001)]

    response = api.post(BATCH, {"touchpoints": items}, format="json")

    assert response.status_code == 400
    assert response.json() == {
        "touchpoints": ["Ensure this field has no more than 1000 elements."]
    }
    assert Touchpoint.objects.count() == 0


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"touchpoints": []}, {"touchpoints": ["This list may not be empty."]}),
        ({}, {"touchpoints": ["This field is required."]}),
        (
            {"touchpoints": "all"},
            {"touchpoints": ['Expected a list of items but got type "str".']},
        ),
    ],
)
def test_batch_envelope_must_be_a_list_of_items(api, body, errors):
    response = api.post(BATCH, body, format="json")
    assert response.status_code == 400
    assert response.json() == errors


def test_batch_answers_each_item_and_stores_the_valid_ones(
    api, changed, django_capture_on_commit_callbacks
):
    lead = LeadFactory()
    old = TouchpointFactory(lead=lead, source="api", external_id="old-1")

    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            BATCH,
            {
                "touchpoints": [
                    {"lead": lead.id, "kind": "page_view", "external_id": "b-1"},
                    {"lead": lead.id, "kind": "fax"},
                    {"lead": lead.id, "kind": "page_view", "external_id": "old-1"},
                    {"lead": lead.id, "kind": "page_view", "external_id": "b-1"},
                    {"lead": "x", "kind": "chat"},
                    {"lead_email": "new@initech.example", "kind": "form_submit"},
                ]
            },
            format="json",
        )

    assert response.status_code == 200
    body = response.json()
    b1 = Touchpoint.objects.get(external_id="b-1")
    new = Touchpoint.objects.get(lead__email="new@initech.example")
    assert (body["created"], body["duplicates"], body["invalid"]) == (2, 2, 2)
    assert body["results"] == [
        {"index": 0, "status": "created", "id": b1.id},
        {
            "index": 1,
            "status": "invalid",
            "errors": {"kind": [body["results"][1]["errors"]["kind"][0]]},
        },
        {"index": 2, "status": "duplicate", "id": old.id},
        {"index": 3, "status": "duplicate", "id": b1.id},
        {
            "index": 4,
            "status": "invalid",
            "errors": {"lead": ["A valid integer is required."]},
        },
        {"index": 5, "status": "created", "id": new.id},
    ]
    assert body["results"][1]["errors"]["kind"][0].startswith(
        "Unknown touchpoint kind 'fax'"
    )
    assert Touchpoint.objects.count() == 3
    assert b1.kind_id == "page_view"
    assert changed == [sorted([lead.id, new.lead_id])]


def test_batch_repeating_one_external_id_stores_it_once(api):
    lead = LeadFactory()
    items = [
        {
            "lead": lead.id,
            "kind": "page_view",
            "external_id": "same",
            "properties": {"n": n},
        }
        for n in range(3)
    ]

    response = api.post(BATCH, {"touchpoints": items}, format="json")

    stored = Touchpoint.objects.get()
    assert stored.properties == {"n": 0}
    assert [(r["status"], r["id"]) for r in response.json()["results"]] == [
        ("created", stored.id),
        ("duplicate", stored.id),
        ("duplicate", stored.id),
    ]


def _insert_statements(model: type[Any], rows: int) -> int:
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    return math.ceil(rows / connection.ops.bulk_batch_size(fields, [None] * rows))


def test_batch_for_1000_new_leads_is_set_based(api, django_assert_max_num_queries):
    items = [
        {
            "lead_email": f"person{i}@company{i % 250}.example",
            "kind": "page_view",
            "external_id": f"bulk-{i}",
            "properties": {"url": f"https://leadflow.test/p/{i}"},
        }
        for i in range(1000)
    ]
    # Token, 2 x permissions (read with the token on PostgreSQL), kinds, leads
    # by e-mail, accounts by domain and read back, leads read back, known
    # external ids, one UPDATE of the rescore marks (on PostgreSQL after
    # locking them in id order), one INSERT of the day's attribution mark, 2
    # savepoints and their releases: 15, plus the INSERTs, which the
    # database's bound-parameter limit splits (one each on PostgreSQL; SQLite
    # allows 999 parameters a statement).
    inserts = (
        _insert_statements(Account, 250)
        + _insert_statements(Lead, 1000)
        + _insert_statements(Touchpoint, 1000)
    )
    locks = 1 if connection.vendor == "postgresql" else 0
    perms = 0 if connection.vendor == "postgresql" else 2
    with django_assert_max_num_queries(13 + perms + inserts + locks):
        response = api.post(BATCH, {"touchpoints": items}, format="json")

    assert response.json()["created"] == 1000
    assert Lead.objects.count() == 1000
    assert Account.objects.count() == 250
    assert Touchpoint.objects.count() == 1000
    assert Lead.objects.filter(rescore_requested_at__isnull=True).count() == 0


# Rescore marks and the leads_changed signal
# ------------------------------------------------------------------------------


def test_rescore_marks_are_set_and_announced_once_after_commit(
    api, changed, django_capture_on_commit_callbacks
):
    leads = LeadFactory.create_batch(3)
    untouched = LeadFactory()
    ids = [lead.id for lead in leads]
    before = timezone.now()
    items = [{"lead": i, "kind": "chat"} for i in [ids[2], ids[0], ids[2], ids[1]]]

    with django_capture_on_commit_callbacks() as callbacks:
        response = api.post(BATCH, {"touchpoints": items}, format="json")
        assert changed == []  # not before the commit

    assert response.json()["created"] == 4
    marks = dict(Lead.objects.values_list("id", "rescore_requested_at"))
    assert all(before <= marks[i] <= timezone.now() for i in ids)
    assert marks[untouched.id] is None
    for callback in callbacks:
        callback()
    assert changed == [sorted(ids)]


def test_request_that_stores_nothing_announces_nothing(
    api, changed, django_capture_on_commit_callbacks
):
    lead = LeadFactory()
    TouchpointFactory(lead=lead, source="api", external_id="seen")

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = api.post(
            BATCH,
            {
                "touchpoints": [
                    {"lead": lead.id, "kind": "page_view", "external_id": "seen"},
                    {"lead": lead.id, "kind": "fax"},
                ]
            },
            format="json",
        )

    assert (response.json()["created"], response.json()["duplicates"]) == (0, 1)
    assert callbacks == []
    assert changed == []
    lead.refresh_from_db()
    assert lead.rescore_requested_at is None


def test_lead_upsert_marks_and_announces_the_lead(
    api, changed, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            LEADS, {"email": "fit@acme.example", "job_title": "CEO"}, format="json"
        )

    lead = Lead.objects.get()
    assert response.status_code == 201
    assert changed == [[lead.id]]


# Authentication and roles
# ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "write_status"),
    [(MARKETING, 201), (ADMIN, 201), (SDR, 403), (SALES, 403)],
)
def test_roles_may_read_and_only_marketing_and_admin_write(role, write_status):
    client = token_client(UserFactory(roles=[role]))
    lead = LeadFactory()

    reads = [
        client.get(LEADS).status_code,
        client.get(f"{LEADS}{lead.id}/").status_code,
        client.get(TOUCHPOINTS).status_code,
        client.get(f"{LEADS}csv/").status_code,
    ]
    created = client.post(LEADS, {"email": "new@acme.example"}, format="json")
    touched = client.post(TOUCHPOINTS, {"lead": lead.id, "kind": "chat"}, format="json")
    batch = client.post(
        BATCH, {"touchpoints": [{"lead": lead.id, "kind": "chat"}]}, format="json"
    )

    assert reads == [200, 200, 200, 200]
    assert (created.status_code, touched.status_code, batch.status_code) == (
        write_status,
        write_status,
        200 if write_status == 201 else 403,
    )
    if write_status == 403:
        assert created.json() == {
            "detail": "You do not have permission to perform this action."
        }
        assert (Lead.objects.count(), Touchpoint.objects.count()) == (1, 0)


def test_sdr_may_patch_their_leads_but_not_create_them():
    sdr = UserFactory(roles=[SDR])
    client = token_client(sdr)
    lead = LeadFactory(first_name="Ada", owner=sdr)

    response = client.patch(f"{LEADS}{lead.id}/", {"first_name": "Eve"}, format="json")

    assert response.status_code == 200
    lead.refresh_from_db()
    assert lead.first_name == "Eve"


def test_user_without_a_role_gets_403():
    client = token_client(UserFactory())
    assert client.get(LEADS).status_code == 403


@pytest.mark.parametrize("header", [None, "Token not-a-real-key", "Bearer abc"])
def test_anonymous_or_bad_token_gets_401(header):
    client = APIClient()
    if header:
        client.credentials(HTTP_AUTHORIZATION=header)

    response = client.post(LEADS, {"email": "a@b.example"}, format="json")

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert Lead.objects.count() == 0


def test_drf_create_token_issues_a_working_token(marketer):
    out = StringIO()

    call_command("drf_create_token", "maya", stdout=out)

    key = Token.objects.get(user=marketer).key
    assert out.getvalue() == f"Generated token {key} for user maya\n"
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get(LEADS).status_code == 200


# CSV export
# ------------------------------------------------------------------------------


def test_csv_export_streams_the_filtered_list(api, listed):
    response = api.get(f"{LEADS}csv/?stage=mql&stage=sal&ordering=-score")

    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == (
        f'attachment; filename="leads-{timezone.localdate():%Y%m%d}.csv"'
    )
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert lines[0] == (
        "email,first_name,last_name,job_title,seniority,department,country,region,"
        "company,domain,stage,highest_stage,score,grade,owner,source,utm_source,"
        "utm_medium,utm_campaign,utm_term,utm_content,created_at"
    )
    assert [line.split(",")[0] for line in lines[1:]] == [
        "ada@acme.example",
        "dee@acme.example",
        "bob@builder.example",
    ]
    assert lines[1] == (
        "ada@acme.example,Ada,Lovelace,Head of Marketing,director,marketing,GB,"
        "north_america,Acme Robotics,acme.example,mql,lead,80.00,,sam,,,,,,,"
        "2026-01-10T00:00:00Z"
    )


def test_csv_export_neutralises_formulas(api):
    LeadFactory(
        email="=cmd@evil.example",
        first_name="+SUM(A1)",
        last_name="-2+3",
        job_title="@import",
        utm_source="\tx",
        utm_medium="\rcr",
        score=Decimal("-4.00"),
    )

    response = api.get(f"{LEADS}csv/")

    row = b"".join(response.streaming_content).decode().split("\r\n")[1]
    assert row.startswith("'=cmd@evil.example,'+SUM(A1),'-2+3,'@import,")
    assert ",-4.00," in row  # numbers are not text: no quote
    assert "'\tx,\"'\rcr\"" in row


def test_csv_export_bad_filter_is_400(api):
    response = api.get(f"{LEADS}csv/?score_min=lots")
    assert response.status_code == 400
    assert response.json() == {"score_min": ["Enter a number."]}


def test_csv_export_to_a_client_that_accepts_only_csv(api):
    LeadFactory(email="only@acme.example")

    ok = api.get(f"{LEADS}csv/", HTTP_ACCEPT="text/csv")
    bad = api.get(f"{LEADS}csv/?stage=nope", HTTP_ACCEPT="text/csv")

    assert ok.status_code == 200
    assert b"only@acme.example" in b"".join(ok.streaming_content)
    assert bad.status_code == 400
    assert bad["Content-Type"] == "text/csv; charset=utf-8"
    assert bad.content.decode().splitlines()[0] == "field,message"


def test_csv_export_reads_in_chunks_with_few_queries(
    api, django_assert_max_num_queries
):
    owner = UserFactory(roles=[SDR])
    for _ in range(40):
        LeadFactory(owner=owner, account=AccountFactory())

    # 4 to read and stream, 2 for the audit row (the filter's count, the INSERT).
    with django_assert_max_num_queries(6):
        response = api.get(f"{LEADS}csv/")
        lines = b"".join(response.streaming_content).decode().splitlines()

    assert len(lines) == 41
