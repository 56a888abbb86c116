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
NOT_FOR_YOUR_ROLE = "This page is not for your role"
#: What Django's technical 404 and 500 pages say, never shown to a user.
TECHNICAL = ("Django tried these URL patterns", "Using the URLconf", "Traceback")


def _assert_product_page(response, status: int, text: str, template: str) -> None:
    content = response.content.decode()
    assert response.status_code == status
    assert response["Content-Type"] == "text/html; charset=utf-8"
    assert text in content
    assert template in [t.name for t in response.templates]
    assert not any(phrase in content for phrase in TECHNICAL)


@pytest.mark.parametrize("debug", [True, False])
def test_a_lead_that_does_not_exist_is_the_product_404_page(client, debug):
    client.force_login(UserFactory(roles=[SALES]))

    with override_settings(DEBUG=debug):
        response = client.get("/leads/999999/")

    _assert_product_page(response, 404, NOT_FOUND, "404.html")
    # The page has the user's navigation, as every page of the product.
    assert 'aria-label="Main"' in response.content.decode()


@pytest.mark.parametrize("debug", [True, False])
def test_an_address_nothing_answers_is_the_product_404_page(client, debug):
    client.force_login(UserFactory(roles=[SDR]))

    with override_settings(DEBUG=debug):
        response = client.get("/no-such-page/")

    _assert_product_page(response, 404, NOT_FOUND, "404.html")


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


@pytest.mark.parametrize("debug", [True, False])
def test_a_page_the_role_may_not_open_is_the_product_403_page(client, debug):
    """An SDR who is not a manager opens the SLA report."""
    client.force_login(UserFactory(roles=[SDR]))

    with override_settings(DEBUG=debug):
        response = client.get("/reports/sla/")

    _assert_product_page(response, 403, NOT_FOR_YOUR_ROLE, "403.html")
    assert "The SLA report is for managers." in response.content.decode()


@override_settings(DEBUG=True)
def test_a_missing_lead_in_the_api_is_still_a_json_404(client):
    client.force_login(UserFactory(roles=[SALES]))

    response = client.get("/api/v1/leads/999999/")

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "No Lead matches the given query."}


@override_settings(DEBUG=True)
def test_a_forbidden_api_call_is_still_a_json_403(client):
    client.force_login(UserFactory(roles=[SDR]))

    response = client.delete("/api/v1/leads/1/")

    assert response.status_code == 403
    assert response["Content-Type"] == "application/json"
    assert "detail" in response.json()


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
