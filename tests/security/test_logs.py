"""No password, API token or session id in the logs or in error reports.

Everything that logs is captured at DEBUG while a user gets a token, calls
the API with it, fails to log in, is locked out, logs in, meets server
errors, and a visitor submits the public form. The error reports are
rendered as Django's AdminEmailHandler would mail them.
"""

from __future__ import annotations

import logging

import pytest
from django.core.cache import cache
from django.test import Client
from django.views.debug import ExceptionReporter
from rest_framework.test import APIClient

import crm.api.auth
import crm.api.leads
import crm.views
from crm.roles import ADMIN
from leads.models import WebForm
from tests.factories import CampaignFactory, LeadFactory, UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "Correct-Horse-7f3a9c"
WRONG_PASSWORD = "Wrong-Guess-51d2e8"
FORGED_TOKEN = "f0rg3df0rg3df0rg3df0rg3df0rg3df0rg3df0rg"
LOGGERS = ("", "django", "django.request", "django.security", "axes", "crm", "leads")


class Boom(RuntimeError):
    pass


def boom(*args, **kwargs):
    raise Boom("a bug")


def error_reports(caplog) -> list[str]:
    """The text Django's AdminEmailHandler would mail for each logged error."""
    return [
        ExceptionReporter(
            record.request, *record.exc_info, is_email=True
        ).get_traceback_text()
        for record in caplog.records
        if record.exc_info and hasattr(record, "request")
    ]


@pytest.fixture
def captured(caplog, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    cache.clear()
    yield caplog
    cache.clear()


def test_no_secret_reaches_the_logs_or_the_error_reports(captured, monkeypatch):
    user = UserFactory(username="ada", roles=[ADMIN], is_superuser=True)
    user.set_password(PASSWORD)
    user.save()
    lead = LeadFactory()
    WebForm.objects.create(
        key="contact", name="Contact", kind_id="form_submit", campaign=CampaignFactory()
    )
    api = APIClient()

    # A token, and API calls with it (and with a forged one).
    token = api.post(
        "/api/v1/auth/token/", {"username": "ada", "password": PASSWORD}
    ).json()["token"]
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert api.get("/api/v1/leads/").status_code == 200
    assert api.get(f"/api/v1/leads/{lead.id}/").status_code == 200
    assert (
        api.post("/api/v1/leads/", {"email": "bad"}, format="json").status_code == 400
    )
    forged = APIClient()
    forged.credentials(HTTP_AUTHORIZATION=f"Token {FORGED_TOKEN}")
    assert forged.get("/api/v1/leads/").status_code == 401

    # Failed logins on both entry points, up to a lockout.
    for _ in range(2):
        assert (
            Client()
            .post("/accounts/login/", {"username": "ada", "password": WRONG_PASSWORD})
            .status_code
            == 200
        )
    for _ in range(3):
        APIClient().post(
            "/api/v1/auth/token/",
            {"username": "ada", "password": WRONG_PASSWORD},
            format="json",
        )
    locked = APIClient().post(
        "/api/v1/auth/token/", {"username": "ada", "password": PASSWORD}
    )
    assert locked.status_code == 429

    # A session from another address, and a page that fails.
    browser = Client(REMOTE_ADDR="198.51.100.4")
    assert (
        browser.post(
            "/accounts/login/", {"username": "ada", "password": PASSWORD}
        ).status_code
        == 302
    )
    session_id = browser.cookies["sessionid"].value
    assert browser.get("/leads/").status_code == 200
    browser.raise_request_exception = False
    monkeypatch.setattr(crm.views.crm_selectors, "lead_get_for_page", boom)
    assert browser.get(f"/leads/{lead.id}/").status_code == 500

    # Server errors on the API with the token, and on the token endpoint
    # with a password in a form body.
    api.raise_request_exception = False
    monkeypatch.setattr(crm.api.leads.ScoredLeadViewSet, "get_queryset", boom)
    assert api.get("/api/v1/leads/").status_code == 500
    failing = APIClient(REMOTE_ADDR="198.51.100.5")
    failing.raise_request_exception = False
    monkeypatch.setattr(crm.api.auth, "api_token_get_or_create", boom)
    assert (
        failing.post(
            "/api/v1/auth/token/", {"username": "ada", "password": PASSWORD}
        ).status_code
        == 500
    )

    # The public form.
    assert (
        APIClient()
        .post(
            "/api/v1/forms/contact/submit/",
            {"email": "grace@northwind.example"},
            format="json",
        )
        .status_code
        == 202
    )

    secrets = {
        "password": PASSWORD,
        "wrong password": WRONG_PASSWORD,
        "token": token,
        "forged token": FORGED_TOKEN,
        "session id": session_id,
    }
    logged = captured.text
    reports = error_reports(captured)
    assert len(reports) == 3
    assert all("Exception Value: a bug" in report for report in reports)
    # The capture works: the failures and errors were logged.
    assert "Internal Server Error: /api/v1/auth/token/" in logged
    assert "AXES: Locking out" in logged
    leaks = {
        name: place
        for name, secret in secrets.items()
        for place, text in [("log", logged), *[("report", r) for r in reports]]
        if secret in text
    }
    assert leaks == {}


def test_the_token_endpoint_marks_the_password_sensitive(rf):
    request = rf.post("/api/v1/auth/token/", {"username": "ada", "password": "x"})
    view = crm.api.auth.TokenObtainView.as_view()

    view(request)

    assert request.sensitive_post_parameters == ("password",)
