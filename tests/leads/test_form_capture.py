"""Public web-form capture: POST /api/v1/forms/<key>/submit/ and its service."""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal
from urllib.parse import urlencode

import pytest
import redis
from django.core.cache import caches
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from leads.api.throttling import FormSubmitThrottle
from leads.capture import (
    FormSubmission,
    form_submission_capture,
    normalize_origin,
    origin_allowed,
)
from leads.models import Lead, Stage, Touchpoint, TouchpointKind, WebForm
from tests.factories import CampaignFactory, LeadFactory, UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("empty_rate_limits")]

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
SITE = "https://www.example.com"
URL = "/api/v1/forms/contact/submit/"
RECEIVED = b'{"status":"received"}'


def _nothing_stored() -> bool:
    return not Lead.objects.exists() and not Touchpoint.objects.exists()


# Happy paths
# ------------------------------------------------------------------------------


def test_url_is_the_public_contract(web_form):
    assert reverse("form-submit", kwargs={"form_key": "contact"}) == URL


def test_a_form_reads_the_country_as_the_visitor_wrote_its_name(api_client, web_form):
    response = api_client.post(
        URL, {"email": "ada@northwind.example", "country": "Türkiye"}, format="json"
    )

    assert response.status_code == 202
    lead = Lead.objects.get()
    assert (lead.country, lead.region) == ("TR", "mea")


def test_json_submission_creates_the_lead_and_a_touchpoint(api_client, web_form):
    response = api_client.post(
        URL,
        {
            "email": " Grace@Northwind.EXAMPLE ",
            "first_name": "Grace",
            "last_name": "Hopper",
            "job_title": "VP of Engineering",
            "company": "Northwind Labs",
            "phone": "+1 555 0100",
            "country": "us",
            "utm_source": "google",
            "utm_medium": "cpc",
            "utm_campaign": "spring",
            "page_url": "https://www.example.com/contact",
            "interest": "pricing",
            "seats": 25,
            "website": "",
        },
        format="json",
    )

    assert response.status_code == 202
    assert response.content == RECEIVED
    lead = Lead.objects.get()
    assert lead.email == "Grace@northwind.example"
    assert (lead.first_name, lead.last_name, lead.job_title) == (
        "Grace",
        "Hopper",
        "VP of Engineering",
    )
    assert (lead.seniority, lead.phone, lead.country, lead.region) == (
        "vp",
        "+1 555 0100",
        "US",
        "north_america",
    )
    assert (lead.utm_source, lead.utm_medium, lead.utm_campaign) == (
        "google",
        "cpc",
        "spring",
    )
    assert lead.attributes == {"company": "Northwind Labs"}
    assert lead.account.domain == "northwind.example"
    assert lead.rescore_requested_at is not None
    touchpoint = Touchpoint.objects.get()
    assert touchpoint.lead_id == lead.id
    assert touchpoint.kind_id == "form_submit"
    assert touchpoint.campaign == web_form.campaign
    assert touchpoint.source == "form:contact"
    assert touchpoint.external_id is None
    assert touchpoint.properties == {
        "interest": "pricing",
        "seats": 25,
        "utm_source": "google",
        "utm_medium": "cpc",
        "utm_campaign": "spring",
        "page_url": "https://www.example.com/contact",
        "ip": "127.0.0.1",
    }


def test_form_encoded_submission_takes_the_page_from_the_referer(api_client, web_form):
    body = urlencode(
        [
            ("email", "ada@northwind.example"),
            ("first_name", "Ada"),
            ("topics", "scoring"),
            ("topics", "sla"),
            ("newsletter", "yes"),
        ]
    )

    response = api_client.post(
        URL,
        body,
        content_type="application/x-www-form-urlencoded",
        HTTP_REFERER="https://www.example.com/pricing?plan=team",
    )

    assert response.status_code == 202
    assert response.content == RECEIVED
    lead = Lead.objects.get()
    assert (lead.email, lead.first_name) == ("ada@northwind.example", "Ada")
    assert Touchpoint.objects.get().properties == {
        "topics": ["scoring", "sla"],
        "newsletter": "yes",
        "page_url": "https://www.example.com/pricing?plan=team",
        "ip": "127.0.0.1",
    }


def test_multipart_submission_is_accepted(api_client, web_form):
    response = api_client.post(
        URL,
        {"email": "ada@northwind.example", "last_name": "Lovelace", "note": "hi"},
        format="multipart",
    )

    assert response.status_code == 202
    assert response.content == RECEIVED
    assert Lead.objects.get().last_name == "Lovelace"
    assert Touchpoint.objects.get().properties == {"note": "hi", "ip": "127.0.0.1"}


def test_new_and_known_email_get_byte_identical_answers(api_client, web_form):
    first = api_client.post(URL, {"email": "ada@northwind.example"}, format="json")
    second = api_client.post(URL, {"email": "ADA@northwind.example"}, format="json")

    assert (first.status_code, second.status_code) == (202, 202)
    assert first.content == second.content == RECEIVED
    assert dict(first.headers) == dict(second.headers)
    assert Lead.objects.count() == 1
    assert Touchpoint.objects.filter(lead=Lead.objects.get()).count() == 2


def test_known_lead_keeps_stored_values_the_submission_leaves_blank(
    api_client, web_form
):
    lead = LeadFactory(
        email="ada@northwind.example",
        first_name="Ada",
        last_name="Lovelace",
        phone="+44 20 7946 0000",
        utm_source="newsletter",
        attributes={"plan": "team", "company": "Analytical Engines"},
    )

    response = api_client.post(
        URL,
        {
            "email": "ada@northwind.example",
            "first_name": "",
            "last_name": "Lovelace",
            "phone": "   ",
            "company": "Analytical Engines",
            "utm_source": "google",
        },
        format="json",
    )

    assert response.status_code == 202
    lead.refresh_from_db()
    assert (lead.first_name, lead.last_name, lead.phone) == (
        "Ada",
        "Lovelace",
        "+44 20 7946 0000",
    )
    # The lead's UTM keys are its first touch; the touchpoint keeps this one's.
    assert lead.utm_source == "newsletter"
    assert lead.attributes == {"plan": "team", "company": "Analytical Engines"}
    assert Touchpoint.objects.get().properties == {
        "utm_source": "google",
        "ip": "127.0.0.1",
    }


def test_known_lead_in_another_letter_case_keeps_every_stored_value(
    api_client, web_form
):
    """A public form is no proof of who types the address: what differs from
    the lead is kept on the touchpoint for a person to review, never applied."""
    lead = LeadFactory(
        email="ada@northwind.example",
        first_name="Ada",
        last_name="Lovelace",
        job_title="VP of Engineering",
        seniority="vp",
        department="engineering",
        phone="+44 20 7946 0000",
        country="GB",
        region="europe",
        stage=Stage.SAL,
        score=Decimal("61.00"),
        fit_score=Decimal("40.00"),
        attributes={"company": "Analytical Engines"},
    )

    response = api_client.post(
        URL,
        {
            "email": "ADA@Northwind.EXAMPLE",
            "first_name": "Mallory",
            "last_name": "Lovelace",
            "job_title": "Student",
            "phone": "+1 555 0199",
            "country": "br",
            "company": "Evil Corp",
            "interest": "pricing",
        },
        format="json",
    )

    assert response.status_code == 202
    assert response.content == RECEIVED
    lead.refresh_from_db()
    assert (lead.email, lead.first_name, lead.last_name, lead.job_title) == (
        "ada@northwind.example",
        "Ada",
        "Lovelace",
        "VP of Engineering",
    )
    assert (lead.seniority, lead.department, lead.phone) == (
        "vp",
        "engineering",
        "+44 20 7946 0000",
    )
    assert (lead.country, lead.region, lead.stage) == ("GB", "europe", Stage.SAL)
    assert (lead.score, lead.fit_score) == (Decimal("61.00"), Decimal("40.00"))
    assert lead.attributes == {"company": "Analytical Engines"}
    assert Lead.objects.count() == 1
    touchpoint = Touchpoint.objects.get()
    assert touchpoint.lead_id == lead.id
    assert touchpoint.properties == {
        "interest": "pricing",
        "ip": "127.0.0.1",
        "differs": {
            "first_name": "Mallory",
            "job_title": "Student",
            "phone": "+1 555 0199",
            "country": "BR",
            "company": "Evil Corp",
        },
    }


def test_known_lead_gets_its_blank_fields_filled(api_client, web_form):
    lead = LeadFactory(
        email="ada@northwind.example",
        first_name="Ada",
        last_name="",
        job_title="",
        seniority="",
        department="",
        phone="",
        country="",
        region="",
        attributes={"plan": "team"},
    )

    response = api_client.post(
        URL,
        {
            "email": "Ada@northwind.example",
            "first_name": "Ada",
            "last_name": "Lovelace",
            "job_title": "VP of Engineering",
            "phone": "+44 20 7946 0000",
            "country": "gb",
            "company": "Analytical Engines",
            "utm_source": "google",
        },
        format="json",
    )

    assert response.status_code == 202
    lead.refresh_from_db()
    assert (lead.first_name, lead.last_name, lead.job_title, lead.phone) == (
        "Ada",
        "Lovelace",
        "VP of Engineering",
        "+44 20 7946 0000",
    )
    assert (lead.seniority, lead.department) == ("vp", "engineering")
    assert (lead.country, lead.region) == ("GB", "europe")
    assert lead.utm_source == "google"
    assert lead.attributes == {"plan": "team", "company": "Analytical Engines"}
    assert lead.rescore_requested_at is not None
    assert Touchpoint.objects.get().properties == {
        "utm_source": "google",
        "ip": "127.0.0.1",
    }


def test_filling_a_title_keeps_a_department_a_person_set(api_client, web_form):
    lead = LeadFactory(
        email="ada@northwind.example", job_title="", seniority="", department="sales"
    )

    api_client.post(
        URL,
        {"email": "ada@northwind.example", "job_title": "VP of Engineering"},
        format="json",
    )

    lead.refresh_from_db()
    assert (lead.job_title, lead.seniority, lead.department) == (
        "VP of Engineering",
        "vp",
        "sales",
    )


def test_a_form_field_named_like_the_review_key_cannot_forge_it(api_client, web_form):
    LeadFactory(email="ada@northwind.example", first_name="Ada")

    api_client.post(
        URL,
        {"email": "ada@northwind.example", "differs": {"first_name": "Eve"}},
        format="json",
    )

    assert Touchpoint.objects.get().properties == {"ip": "127.0.0.1"}


def test_capture_service_records_at_now_and_names_the_campaign_by_utm():
    campaign = CampaignFactory(
        utm_source="google", utm_medium="cpc", utm_campaign="spring"
    )
    form = WebForm.objects.create(key="demo", name="Demo", kind_id="demo_request")

    touchpoint = form_submission_capture(
        form=form,
        data=FormSubmission(
            email="ada@northwind.example",
            utm_source="google",
            utm_medium="cpc",
            utm_campaign="spring",
        ),
        ip="203.0.113.9",
        now=T0,
    )

    touchpoint.refresh_from_db()
    assert (touchpoint.kind_id, touchpoint.occurred_at, touchpoint.received_at) == (
        "demo_request",
        T0,
        T0,
    )
    assert touchpoint.campaign == campaign
    assert touchpoint.source == "form:demo"
    assert touchpoint.properties == {
        "utm_source": "google",
        "utm_medium": "cpc",
        "utm_campaign": "spring",
        "ip": "203.0.113.9",
    }
    assert Lead.objects.get().entered_lead_at == T0


# Honeypot and rate limit
# ------------------------------------------------------------------------------


def test_honeypot_stores_nothing_and_answers_like_a_success(api_client, web_form):
    real = api_client.post(URL, {"email": "ada@northwind.example"}, format="json")
    Lead.objects.all().delete()

    bot = api_client.post(
        URL,
        {"email": "bot@spam.example", "website": "https://spam.example"},
        format="json",
    )

    assert bot.status_code == 202
    assert bot.content == real.content == RECEIVED
    assert dict(bot.headers) == dict(real.headers)
    assert _nothing_stored()


def test_honeypot_answers_success_even_for_invalid_input(api_client, web_form):
    response = api_client.post(
        URL,
        urlencode({"email": "not-an-address", "website": "x"}),
        content_type="application/x-www-form-urlencoded",
    )

    assert response.status_code == 202
    assert response.content == RECEIVED
    assert _nothing_stored()


def test_rate_limit_answers_429_with_retry_after(
    api_client, web_form, low_rate, monkeypatch
):
    monkeypatch.setattr(FormSubmitThrottle, "timer", staticmethod(lambda: 1_000.0))
    for n in range(2):
        response = api_client.post(
            URL, {"email": f"p{n}@northwind.example"}, format="json"
        )
        assert response.status_code == 202

    limited = api_client.post(URL, {"email": "p9@northwind.example"}, format="json")

    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "60"
    assert limited.json() == {
        "detail": "Request was throttled. Expected available in 60 seconds."
    }
    assert Lead.objects.filter(email="p9@northwind.example").exists() is False
    assert Touchpoint.objects.count() == 2


def test_rate_limit_is_per_client_address_and_ignores_forged_forwarding(
    api_client, web_form, low_rate
):
    for n in range(2):
        api_client.post(URL, {"email": f"p{n}@northwind.example"}, format="json")

    forged = api_client.post(
        URL,
        {"email": "p8@northwind.example"},
        format="json",
        HTTP_X_FORWARDED_FOR="198.51.100.7",
    )
    other = api_client.post(
        URL, {"email": "p9@northwind.example"}, format="json", REMOTE_ADDR="10.0.0.2"
    )

    assert forged.status_code == 429
    assert other.status_code == 202
    assert Touchpoint.objects.get(lead__email="p9@northwind.example").properties == {
        "ip": "10.0.0.2"
    }


def test_cache_errors_fail_open_and_are_logged(
    api_client, web_form, low_rate, monkeypatch, caplog
):
    refused = redis.exceptions.ConnectionError("Connection refused")

    def unreachable(*args, **kwargs):
        raise refused

    monkeypatch.setattr(caches["default"], "get", unreachable)
    monkeypatch.setattr(caches["default"], "set", unreachable)

    with caplog.at_level(logging.WARNING, logger="leads.api.throttling"):
        statuses = [
            api_client.post(
                URL, {"email": f"p{n}@northwind.example"}, format="json"
            ).status_code
            for n in range(3)
        ]

    assert statuses == [202, 202, 202]
    assert Touchpoint.objects.count() == 3
    assert [r.getMessage() for r in caplog.records] == [
        f"rate limit form_submit not checked, cache unavailable: {refused!r}"
    ] * 3


# CORS
# ------------------------------------------------------------------------------


def test_preflight_from_an_allowed_origin_is_answered(api_client, web_form, low_rate):
    response = api_client.options(
        URL,
        HTTP_ORIGIN="https://landing.example.com",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="content-type",
    )

    assert response.status_code == 204
    assert response.content == b""
    assert response.headers["Access-Control-Allow-Origin"] == (
        "https://landing.example.com"
    )
    assert response.headers["Access-Control-Allow-Methods"] == "POST, OPTIONS"
    assert response.headers["Access-Control-Allow-Headers"] == "Content-Type"
    assert response.headers["Access-Control-Max-Age"] == "7200"
    assert response.headers["Vary"] == "Origin"


def test_preflights_do_not_use_up_the_rate_limit(api_client, web_form, low_rate):
    for _ in range(3):
        api_client.options(
            URL, HTTP_ORIGIN=SITE, HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST"
        )

    response = api_client.post(
        URL, {"email": "ada@northwind.example"}, format="json", HTTP_ORIGIN=SITE
    )

    assert response.status_code == 202


@pytest.mark.parametrize(
    "origin",
    ["https://evil.example", "http://www.example.com", "null", SITE + ":8443"],
)
def test_preflight_from_another_origin_is_refused(api_client, web_form, origin):
    response = api_client.options(
        URL, HTTP_ORIGIN=origin, HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST"
    )

    assert response.status_code == 403
    assert "Access-Control-Allow-Origin" not in response.headers
    assert "Access-Control-Allow-Methods" not in response.headers
    assert response.headers["Vary"] == "Origin"


def test_post_from_an_allowed_origin_carries_cors_headers(api_client, web_form):
    response = api_client.post(
        URL, {"email": "ada@northwind.example"}, format="json", HTTP_ORIGIN=SITE
    )

    assert response.status_code == 202
    assert response.headers["Access-Control-Allow-Origin"] == SITE
    assert response.headers["Access-Control-Expose-Headers"] == "Retry-After"
    assert response.headers["Vary"] == "Origin"
    assert Touchpoint.objects.count() == 1


def test_errors_to_an_allowed_origin_are_readable_by_the_page(
    api_client, web_form, low_rate
):
    for n in range(2):
        api_client.post(
            URL, {"email": f"p{n}@x.example"}, format="json", HTTP_ORIGIN=SITE
        )

    limited = api_client.post(
        URL, {"email": "p9@x.example"}, format="json", HTTP_ORIGIN=SITE
    )

    assert limited.status_code == 429
    assert limited.headers["Access-Control-Allow-Origin"] == SITE


def test_post_from_another_origin_is_refused_and_stores_nothing(api_client, web_form):
    response = api_client.post(
        URL,
        {"email": "ada@northwind.example"},
        format="json",
        HTTP_ORIGIN="https://evil.example",
    )

    assert response.status_code == 403
    assert response.json() == {
        "detail": "This form does not accept submissions from here."
    }
    assert "Access-Control-Allow-Origin" not in response.headers
    assert _nothing_stored()


def test_request_without_origin_gets_no_cors_headers(api_client, web_form):
    response = api_client.post(URL, {"email": "ada@northwind.example"}, format="json")

    assert response.status_code == 202
    assert "Access-Control-Allow-Origin" not in response.headers


# Refusals
# ------------------------------------------------------------------------------


@pytest.mark.parametrize("case", ["unknown", "inactive", "retired_kind"])
def test_unknown_or_inactive_form_is_404(api_client, web_form, case):
    url = URL
    if case == "unknown":
        url = "/api/v1/forms/nope/submit/"
    elif case == "inactive":
        WebForm.objects.filter(id=web_form.id).update(is_active=False)
    else:
        TouchpointKind.objects.filter(code="form_submit").update(is_active=False)

    response = api_client.post(url, {"email": "ada@northwind.example"}, format="json")

    assert response.status_code == 404
    assert response.json() == {"detail": "There is no active form with this key."}
    assert _nothing_stored()


def test_body_over_64_kb_is_413_and_stores_nothing(api_client, web_form):
    response = api_client.post(
        URL,
        {"email": "ada@northwind.example", "message": "x" * 70_000},
        format="json",
        HTTP_ORIGIN=SITE,
    )

    assert response.status_code == 413
    assert response.json() == {
        "detail": "The form data is too large; send at most 64 KB."
    }
    assert response.headers["Access-Control-Allow-Origin"] == SITE
    assert _nothing_stored()


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({}, {"email": ["This field is required."]}),
        ({"email": "ada@"}, {"email": ["Enter a valid e-mail address."]}),
        (
            {"email": "erased-7@erased.invalid"},
            {"email": ["Addresses at erased.invalid are reserved for erased leads."]},
        ),
        (
            {"email": "ada@ex\u0430mple.com"},
            {
                "email": [
                    "ex\u0430mple.com mixes Cyrillic and Latin letters in one name, "
                    "as look-alike (homoglyph) domains do; type the domain in one "
                    "alphabet."
                ]
            },
        ),
        (
            {"email": "ada@x.example", "first_name": "A" * 101},
            {"first_name": ["Ensure this field has no more than 100 characters."]},
        ),
        (
            {"email": "ada@x.example", "country": "XX"},
            {
                "country": [
                    "XX is not a country Leadflow knows; send an ISO 3166 code "
                    "(e.g. US, DE) or the English name (e.g. Germany)."
                ]
            },
        ),
        (
            {"email": "ada@x.example", "last_name": "Love\x00lace"},
            {"last_name": ["Remove the NUL character (\\u0000); it cannot be stored."]},
        ),
        (
            {"email": "ada@x.example", "message": "hello\x00"},
            {"message": ["Remove the NUL character (\\u0000); it cannot be stored."]},
        ),
        (
            {"email": "ada@x.example", "a": "x" * 7_000, "b": "y" * 7_000},
            {
                "non_field_errors": [
                    "The form's other fields together: Keep it under 12,288 bytes "
                    "of JSON (this one has 14,015)."
                ]
            },
        ),
    ],
    ids=[
        "missing-email",
        "bad-email",
        "reserved-email",
        "homoglyph-domain",
        "too-long",
        "bad-country",
        "nul-known-field",
        "nul-other-field",
        "other-fields-too-big",
    ],
)
def test_invalid_submission_is_400_with_field_errors(
    api_client, web_form, body, errors
):
    response = api_client.post(URL, body, format="json")

    assert response.status_code == 400
    assert response.json() == errors
    assert _nothing_stored()


def test_nul_byte_in_a_form_encoded_field_is_400(api_client, web_form):
    response = api_client.post(
        URL,
        "email=ada%40x.example&first_name=A%00da",
        content_type="application/x-www-form-urlencoded",
    )

    assert response.status_code == 400
    assert response.json() == {
        "first_name": ["Remove the NUL character (\\u0000); it cannot be stored."]
    }
    assert _nothing_stored()


def test_file_upload_is_refused(api_client, web_form):
    response = api_client.post(
        URL,
        {
            "email": "ada@x.example",
            "cv": SimpleUploadedFile("cv.txt", b"hello", content_type="text/plain"),
        },
        format="multipart",
    )

    assert response.status_code == 400
    assert response.json() == {"cv": ["Files are not accepted; send text fields only."]}
    assert _nothing_stored()


def test_malformed_json_is_400(api_client, web_form):
    response = api_client.post(URL, '{"email": ', content_type="application/json")

    assert response.status_code == 400
    assert _nothing_stored()


# Origins and the admin
# ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("https://WWW.Example.com/", "https://www.example.com"),
        ("https://www.example.com:443", "https://www.example.com"),
        ("http://localhost:8080", "http://localhost:8080"),
        ("http://[::1]:8000", "http://[::1]:8000"),
    ],
)
def test_normalize_origin(raw, expected):
    assert normalize_origin(raw) == expected


def test_origin_allowed_matches_exactly(web_form):
    assert origin_allowed(web_form, "https://www.example.com") is True
    assert origin_allowed(web_form, "https://WWW.EXAMPLE.COM") is True
    assert origin_allowed(web_form, "https://example.com") is False
    assert origin_allowed(web_form, "https://www.example.com.evil.example") is False
    assert origin_allowed(web_form, "null") is False


def test_admin_refuses_origins_with_a_path(api_client):
    admin_user = UserFactory(username="root", is_staff=True, is_superuser=True)
    api_client.force_login(admin_user)

    response = api_client.post(
        "/admin/leads/webform/add/",
        {
            "name": "Contact us",
            "key": "contact",
            "kind": "form_submit",
            "allowed_origins": "https://www.example.com/contact\nftp://files.example",
            "is_active": "on",
        },
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "allowed_origins": [
            "https://www.example.com/contact is not an origin; use "
            "scheme://host[:port] with no path, such as https://www.example.com.",
            "ftp://files.example is not an origin; use scheme://host[:port] with no "
            "path, such as https://www.example.com.",
        ]
    }
    assert WebForm.objects.exists() is False


def test_admin_stores_origins_normalised(api_client):
    admin_user = UserFactory(username="root", is_staff=True, is_superuser=True)
    api_client.force_login(admin_user)

    response = api_client.post(
        "/admin/leads/webform/add/",
        {
            "name": "Contact us",
            "key": "contact",
            "kind": "form_submit",
            "allowed_origins": " https://WWW.example.com/ \n\nhttps://www.example.com",
            "is_active": "on",
        },
    )

    assert response.status_code == 302
    form = WebForm.objects.get()
    assert form.allowed_origins == "https://www.example.com"
    changelist = api_client.get("/admin/leads/webform/")
    assert changelist.status_code == 200
    assert b"Contact us" in changelist.content
