"""What the debug page (and an error report) shows: no credentials, no personal data.

DEBUG is for a developer's own machine, but a page that reaches someone else
must still not hand out the broker's password or the e-mail of the person
whose request failed.
"""

from __future__ import annotations

import sys

import pytest
from django.test import RequestFactory
from django.views.debug import ExceptionReporter

from crm.error_reports import mask_url_passwords

BROKER = "redis://:broker-pw-1@redis.internal:6379/0"
CACHE = "redis://leadflow:cache-pw-2@cache.internal:6379/1"
IN_META = "postgres://leadflow:meta-pw-3@db.internal:5432/leadflow"
IN_FRAME = "smtp+tls://mailer:frame-pw-4@smtp.internal:587"
EMAIL = "ann@acme.example"
PHONE = "+49 30 1234567"
SECRETS = ["broker-pw-1", "cache-pw-2", "meta-pw-3", "frame-pw-4", "hunter2"]
PERSONAL = [EMAIL, PHONE, "Schmidt"]
#: The form post; names only in the code, so the page's source lines hold no value.
FORM = {
    "email": EMAIL,
    "phone": PHONE,
    "last_name": PERSONAL[2],
    "password": SECRETS[4],
    "company": "Acme Widgets",
}


@pytest.fixture
def urls_with_passwords(settings):
    settings.DEBUG = True
    settings.CELERY_BROKER_URL = BROKER
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": CACHE,
        }
    }


def debug_page() -> str:
    """The debug page of an error raised while handling a form post."""
    request = RequestFactory().post(
        "/api/v1/forms/contact/submit/", FORM, HTTP_X_DATABASE=IN_META
    )
    submission = {"email": EMAIL, "fields": {"phone": PHONE}}
    mail_url = IN_FRAME
    try:
        raise ValueError(f"refused ({len(submission)}, {len(mail_url)})")
    except ValueError:
        return ExceptionReporter(request, *sys.exc_info()).get_traceback_html()


def test_debug_page_masks_the_passwords_in_urls(urls_with_passwords):
    page = debug_page()

    assert [s for s in SECRETS if s in page] == []
    # The rest of each URL stays, so the page still says where things are.
    assert "redis://:********************@redis.internal:6379/0" in page
    assert "redis://leadflow:********************@cache.internal:6379/1" in page
    assert "postgres://leadflow:********************@db.internal:5432" in page


def test_debug_page_masks_personal_fields_of_the_request(urls_with_passwords):
    page = debug_page()

    assert [p for p in PERSONAL if p in page] == []
    assert "Acme Widgets" in page


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        (BROKER, "redis://:********************@redis.internal:6379/0"),
        (
            f"broker {BROKER}, cache {CACHE}",
            "broker redis://:********************@redis.internal:6379/0, cache "
            "redis://leadflow:********************@cache.internal:6379/1",
        ),
        ("redis://redis.internal:6379/0", "redis://redis.internal:6379/0"),
        ("https://acme.example/a@b", "https://acme.example/a@b"),
        ("mailto:ann@acme.example", "mailto:ann@acme.example"),
    ],
)
def test_mask_url_passwords(text, masked):
    assert mask_url_passwords(text) == masked
