"""The product's own 403, 404 and 500 pages, also with DEBUG on."""

from __future__ import annotations

import logging

import pytest
from django.test import RequestFactory, override_settings
from django.views.defaults import server_error

from crm.roles import SALES, SDR
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

NOT_FOUND = "The address may be mistyped, or the record was removed."
#: What Django's technical 404 and 500 pages say, never shown to a user.
TECHNICAL = ("Django tried these URL patterns", "Using the URLconf", "Traceback")


@pytest.mark.parametrize("debug", [True, False])
@pytest.mark.parametrize(
    ("role", "path", "status", "template", "text"),
    [
        pytest.param(SALES, "/leads/999999/", 404, "404.html", NOT_FOUND, id="lead"),
        pytest.param(SDR, "/no-such-page/", 404, "404.html", NOT_FOUND, id="address"),
        pytest.param(
            SDR,
            "/reports/sla/",
            403,
            "403.html",
            "The SLA report is for managers.",
            id="not-a-manager",
        ),
    ],
)
def test_a_missing_or_forbidden_page_is_the_product_page(
    client, debug, role, path, status, template, text
):
    """A lead that does not exist, an address nothing answers, and the SLA
    report for an SDR who is not a manager: the product's page, DEBUG or not."""
    client.force_login(UserFactory(roles=[role]))

    with override_settings(DEBUG=debug):
        response = client.get(path)

    content = response.content.decode()
    assert response.status_code == status
    assert response["Content-Type"] == "text/html; charset=utf-8"
    assert text in content
    assert template in [t.name for t in response.templates]
    assert not any(phrase in content for phrase in TECHNICAL)
    # The page has the user's navigation, as every page of the product.
    assert 'aria-label="Main"' in content


@override_settings(DEBUG=True)
def test_a_missing_page_is_logged_as_django_logs_it(client, caplog):
    client.force_login(UserFactory(roles=[SALES]))

    with caplog.at_level(logging.WARNING, logger="django.request"):
        client.get("/leads/999999/")

    logged = [r for r in caplog.records if r.name == "django.request"]
    assert [(r.levelname, r.getMessage()) for r in logged] == [
        ("WARNING", "Not Found: /leads/999999/")
    ]


@override_settings(DEBUG=True)
def test_the_append_slash_redirect_still_happens(client):
    client.force_login(UserFactory(roles=[SALES]))

    response = client.get("/pipeline")

    assert response.status_code == 301
    assert response.url == "/pipeline/"


@override_settings(DEBUG=True)
@pytest.mark.parametrize(
    ("role", "method", "status", "detail"),
    [
        (SALES, "get", 404, "No Lead matches the given query."),
        (SDR, "delete", 403, "You do not have permission to perform this action."),
    ],
)
def test_the_api_still_answers_json_errors(client, role, method, status, detail):
    client.force_login(UserFactory(roles=[role]))

    response = getattr(client, method)("/api/v1/leads/999999/")

    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": detail}


def test_the_500_page_needs_no_request_context_and_no_database(
    django_assert_num_queries,
):
    request = RequestFactory().get("/leads/")

    with django_assert_num_queries(0):
        response = server_error(request)

    content = response.content.decode()
    assert response.status_code == 500
    assert "Something went wrong on our side" in content
    assert '<link rel="stylesheet" href="/static/css/leadflow.css">' in content
