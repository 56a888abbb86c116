"""The public web form as an attacker sees it.

tests/leads/test_form_capture.py covers the endpoint's behaviour (rate limit
with Retry-After, honeypot, identical answers for a new and a repeated e-mail,
CORS for allowed and foreign origins, the 64 KB limit on JSON). This adds what
an attacker would try next: bots filling the honeypot to get round the rate
limit, reading any answer from a foreign origin, telling a lead sales already
works from a stranger, and oversize bodies in the other encodings.
"""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode

import pytest

from crm.roles import SALES
from leads.models import Lead, Stage, Touchpoint
from scoring.selectors import model_active
from scoring.services import lead_rescore
from tests.factories import LeadFactory, UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("empty_rate_limits")]

SITE = "https://www.example.com"
FOREIGN = "https://evil.example"
URL = "/api/v1/forms/contact/submit/"
NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
RECEIVED = b'{"status":"received"}'


def test_honeypot_submissions_use_up_the_rate_limit_too(api_client, web_form, low_rate):
    """A bot that fills the honeypot still meets the limit (and learns nothing
    from the answers before it)."""
    bot = {"email": "bot@spam.example", "website": "https://spam.example"}
    answers = [api_client.post(URL, bot, format="json") for _ in range(3)]

    assert [a.status_code for a in answers] == [202, 202, 429]
    assert answers[0].content == answers[1].content == RECEIVED
    assert int(answers[2].headers["Retry-After"]) > 0
    assert not Lead.objects.exists()
    assert not Touchpoint.objects.exists()


def test_over_the_limit_a_real_submission_is_not_stored(api_client, web_form, low_rate):
    for n in range(2):
        api_client.post(URL, {"email": f"p{n}@northwind.example"}, format="json")

    limited = api_client.post(URL, {"email": "late@northwind.example"}, format="json")

    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "60"
    assert not Lead.objects.filter(email="late@northwind.example").exists()


@pytest.mark.parametrize(
    ("case", "status"),
    [
        ("submission", 403),
        ("invalid", 403),
        ("oversize", 403),
        ("unknown_form", 404),
        ("over_the_limit", 403),
    ],
)
def test_no_answer_to_a_foreign_origin_carries_cors_headers(
    api_client, web_form, low_rate, case, status
):
    """Whatever the request, the page on a foreign origin cannot read the
    answer, so it cannot probe the form or the CRM behind it."""
    url, body = URL, {"email": "ada@northwind.example"}
    if case == "invalid":
        body = {"email": "not-an-address"}
    elif case == "oversize":
        body = {"email": "ada@northwind.example", "message": "x" * 70_000}
    elif case == "unknown_form":
        url = "/api/v1/forms/nope/submit/"
    elif case == "over_the_limit":
        for n in range(2):
            api_client.post(
                URL, {"email": f"p{n}@x.example"}, format="json", HTTP_ORIGIN=SITE
            )

    response = api_client.post(url, body, format="json", HTTP_ORIGIN=FOREIGN)

    assert response.status_code == status
    assert not [h for h in response.headers if h.startswith("Access-Control-")]
    assert not Lead.objects.filter(email="ada@northwind.example").exists()


def test_an_allowed_origin_gets_its_own_origin_and_never_credentials(
    api_client, web_form
):
    response = api_client.post(
        URL, {"email": "ada@northwind.example"}, format="json", HTTP_ORIGIN=SITE
    )

    assert response.status_code == 202
    assert response.headers["Access-Control-Allow-Origin"] == SITE
    assert "Access-Control-Allow-Credentials" not in response.headers


@pytest.mark.parametrize("encoding", ["json", "form"])
def test_a_lead_sales_already_works_gets_the_answer_a_stranger_gets(
    api_client, web_form, encoding
):
    rep = UserFactory(username="rep", roles=[SALES])
    LeadFactory(email="known@northwind.example", stage=Stage.SAL, owner=rep)

    def submit(email: str):
        if encoding == "json":
            return api_client.post(URL, {"email": email}, format="json")
        return api_client.post(
            URL,
            urlencode({"email": email}),
            content_type="application/x-www-form-urlencoded",
        )

    known = submit("Known@Northwind.example")
    stranger = submit("stranger@northwind.example")

    assert (known.status_code, stranger.status_code) == (202, 202)
    assert known.content == stranger.content == RECEIVED
    assert dict(known.headers) == dict(stranger.headers)
    assert Lead.objects.get(email="known@northwind.example").stage == Stage.SAL


def test_a_stranger_cannot_rewrite_a_known_lead_or_lower_its_score(
    api_client, web_form
):
    """Anyone can type a lead's address into the form, in any letter case; what
    they claim about the person must not change the lead nor, once the worker
    rescores it, its fit."""
    rep = UserFactory(username="rep", roles=[SALES])
    lead = LeadFactory(
        email="known@northwind.example",
        first_name="Grace",
        last_name="Hopper",
        job_title="VP of Engineering",
        seniority="vp",
        department="engineering",
        phone="+1 555 0100",
        country="US",
        region="north_america",
        stage=Stage.SAL,
        owner=rep,
    )
    model = model_active()
    lead_rescore(lead_id=lead.id, model=model, now=NOW)
    lead.refresh_from_db()
    fit_before = lead.fit_score

    response = api_client.post(
        URL,
        {
            "email": "KNOWN@northwind.EXAMPLE",
            "first_name": "Mallory",
            "last_name": "Mallory",
            "job_title": "Student",
            "phone": "+55 11 5555 0000",
            "country": "BR",
        },
        format="json",
    )
    lead_rescore(lead_id=lead.id, model=model, now=NOW)

    assert response.status_code == 202
    lead.refresh_from_db()
    assert (lead.first_name, lead.last_name, lead.job_title, lead.phone) == (
        "Grace",
        "Hopper",
        "VP of Engineering",
        "+1 555 0100",
    )
    assert (lead.seniority, lead.country, lead.region) == ("vp", "US", "north_america")
    assert (lead.stage, lead.owner_id) == (Stage.SAL, rep.id)
    assert lead.fit_score == fit_before > 0
    assert Touchpoint.objects.get(lead=lead).properties["differs"] == {
        "first_name": "Mallory",
        "last_name": "Mallory",
        "job_title": "Student",
        "phone": "+55 11 5555 0000",
        "country": "BR",
    }


def test_claims_about_a_known_lead_get_the_answer_claims_about_a_stranger_get(
    api_client, web_form
):
    LeadFactory(email="known@northwind.example", first_name="Grace", phone="1")
    claims = {"first_name": "Mallory", "job_title": "Student", "phone": "2"}

    known = api_client.post(
        URL, {"email": "Known@northwind.example", **claims}, format="json"
    )
    stranger = api_client.post(
        URL, {"email": "stranger@northwind.example", **claims}, format="json"
    )

    assert (known.status_code, stranger.status_code) == (202, 202)
    assert known.content == stranger.content == RECEIVED
    assert dict(known.headers) == dict(stranger.headers)
    assert Lead.objects.get(email="known@northwind.example").first_name == "Grace"
    assert Lead.objects.get(email="stranger@northwind.example").first_name == (
        "Mallory"
    )


def test_long_claims_about_a_known_lead_cannot_tell_it_from_a_stranger(
    api_client, web_form
):
    """The values kept for review make a known lead's touchpoint larger; the
    size limit must count them for every e-mail, or a stranger's answer would
    differ from a known lead's."""
    LeadFactory(
        email="known@northwind.example", attributes={"company": "Northwind Labs"}
    )
    claims = {
        "first_name": "\U0001f600" * 100,
        "last_name": "\U0001f600" * 100,
        "job_title": "\U0001f600" * 200,
        "company": "\U0001f600" * 200,
        "page_url": "https://www.example.com/" + "a" * 1_900,
        "note": "n" * 12_180,
    }

    known = api_client.post(
        URL, {"email": "known@northwind.example", **claims}, format="json"
    )
    stranger = api_client.post(
        URL, {"email": "stranger@northwind.example", **claims}, format="json"
    )

    assert (known.status_code, stranger.status_code) == (400, 400)
    assert known.content == stranger.content
    assert known.json() == {
        "non_field_errors": [
            "The form's other fields together: Keep it under 12,288 bytes of JSON "
            "(this one has 14,662)."
        ]
    }
    assert not Touchpoint.objects.exists()
    assert Lead.objects.count() == 1


@pytest.mark.parametrize("encoding", ["form", "multipart"])
def test_oversize_bodies_in_every_encoding_are_413(api_client, web_form, encoding):
    fields = {"email": "ada@northwind.example", "message": "x" * 70_000}
    if encoding == "form":
        response = api_client.post(
            URL, urlencode(fields), content_type="application/x-www-form-urlencoded"
        )
    else:
        response = api_client.post(URL, fields, format="multipart")

    assert response.status_code == 413
    assert response.json() == {
        "detail": "The form data is too large; send at most 64 KB."
    }
    assert not Lead.objects.exists()


def test_answers_are_not_cached_or_sniffed(api_client, web_form):
    response = api_client.post(URL, {"email": "ada@northwind.example"}, format="json")

    assert response.status_code == 202
    assert "no-store" in response.headers["Cache-Control"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Type"] == "application/json"
