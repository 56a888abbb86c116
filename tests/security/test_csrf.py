"""CSRF on every session-authenticated unsafe route; no stray ``csrf_exempt``.

Pages are protected by Django's CsrfViewMiddleware, the API by DRF's
SessionAuthentication (DRF marks its views ``csrf_exempt`` and enforces CSRF
itself for session users). Only views that no cookie can authenticate may go
without: the public web form and the token endpoint, listed below.
"""

from __future__ import annotations

import re
import secrets
import string
from pathlib import Path

import pytest
from django.test import Client
from rest_framework.authentication import SessionAuthentication
from rest_framework.views import APIView

from crm.api.auth import TokenObtainView
from crm.roles import SDR
from leads.api.forms import FormSubmitView
from leads.tracking.views import SegmentView
from tests.factories import UserFactory
from tests.security.routes import Route, all_routes

pytestmark = pytest.mark.django_db

BASE_DIR = Path(__file__).resolve().parents[2]
UNSAFE_METHODS = ("post", "put", "patch", "delete")

#: Views that need no CSRF protection because no cookie authenticates them:
#: the public web form (anonymous by design), the token endpoint (the
#: password in the body is the credential) and the Segment-compatible
#: tracking endpoint (a write key). Nothing else may be exempt.
NO_SESSION_VIEWS = {
    FormSubmitView: "public web form: no authentication, per-IP rate limit",
    TokenObtainView: "token endpoint: username and password in the body",
    SegmentView: "Segment tracking API: a write key, no session",
}
#: The only source files that may mention csrf_exempt (for the views above).
CSRF_EXEMPT_MAY_APPEAR_IN = {"leads/api/forms.py", "crm/api/auth.py"}


def view_class(route: Route) -> type | None:
    return getattr(route.callback, "cls", None) or getattr(
        route.callback, "view_class", None
    )


def is_no_session_view(route: Route) -> bool:
    return view_class(route) in NO_SESSION_VIEWS


def csrf_refused(response) -> bool:
    """Refused by Django's CSRF middleware or by DRF's session CSRF check
    (other 403s, such as a role's refusal, do not count)."""
    return response.status_code == 403 and (
        b"CSRF verification failed" in response.content
        or b"CSRF Failed" in response.content
    )


def new_csrf_secret() -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(32))


@pytest.fixture
def superuser():
    return UserFactory(username="admin-user", is_staff=True, is_superuser=True)


# (a) csrf_exempt only where listed
# ------------------------------------------------------------------------------


def test_csrf_exempt_appears_only_in_the_listed_files():
    found = {
        str(path.relative_to(BASE_DIR))
        for app in ("crm", "leads", "scoring", "handoff")
        for path in (BASE_DIR / app).rglob("*.py")
        if "csrf_exempt" in path.read_text(encoding="utf-8")
    }

    assert found <= CSRF_EXEMPT_MAY_APPEAR_IN


def test_every_exempt_view_is_drf_with_session_csrf_or_a_listed_no_session_view():
    exempt_without_session: set[type] = set()
    not_drf: list[str] = []

    for route in all_routes():
        if not getattr(route.callback, "csrf_exempt", False):
            continue
        cls = view_class(route)
        if cls is None or not issubclass(cls, APIView):
            not_drf.append(route.template)
            continue
        classes = route.callback.initkwargs.get(
            "authentication_classes", cls.authentication_classes
        )
        if not any(issubclass(c, SessionAuthentication) for c in classes):
            exempt_without_session.add(cls)

    assert not_drf == []
    assert exempt_without_session == set(NO_SESSION_VIEWS)


# (b) a logged-in client without the token is refused on every unsafe route
# ------------------------------------------------------------------------------


def session_routes() -> list[Route]:
    return [r for r in all_routes() if not is_no_session_view(r)]


def unsafe_requests(route: Route) -> list[tuple[str, dict[str, str]]]:
    """(method, request options) to try on a route.

    Django's middleware treats every unsafe method alike, so pages get a POST
    (the test below shows PUT, PATCH and DELETE on one page); DRF checks in
    each view's dispatch, so API routes get all four, as JSON (a body a
    cross-site form cannot send is refused 415 before anything runs).
    """
    if route.path.startswith("/api/"):
        return [(m, {"content_type": "application/json"}) for m in UNSAFE_METHODS]
    return [("post", {})]


def test_every_unsafe_route_refuses_a_session_request_without_the_token(superuser):
    client = Client(enforce_csrf_checks=True)
    client.force_login(superuser)
    routes = session_routes()
    not_refused: list[str] = []

    for route in routes:
        for method, options in unsafe_requests(route):
            response = getattr(client, method)(route.path, **options)
            if not csrf_refused(response):
                not_refused.append(
                    f"{method.upper()} {route.path} {response.status_code}"
                )

    assert any(r.path.startswith("/api/v1/handoffs/") for r in routes)
    assert any(r.path.startswith("/handoffs/") for r in routes)
    assert any(r.path.startswith("/admin/") for r in routes)
    assert not_refused == []


@pytest.mark.parametrize("method", UNSAFE_METHODS)
def test_pages_refuse_every_unsafe_method_without_the_token(superuser, method):
    client = Client(enforce_csrf_checks=True)
    client.force_login(superuser)

    response = getattr(client, method)("/availability/")

    assert csrf_refused(response)


def test_every_unsafe_route_accepts_the_token_in_the_htmx_header(superuser):
    """The same requests with the cookie and ``X-CSRFToken`` (as htmx sends
    it) get past the check; ids that do not exist keep them from changing
    anything."""
    client = Client(enforce_csrf_checks=True)
    secret = new_csrf_secret()
    refused: list[str] = []

    for route in session_routes():
        for method, options in unsafe_requests(route):
            if "_auth_user_id" not in client.session:  # a logout route ran
                client.force_login(superuser)
                client.cookies["csrftoken"] = secret
            response = getattr(client, method)(
                route.path, HTTP_X_CSRFTOKEN=secret, **options
            )
            if csrf_refused(response):
                refused.append(f"{method.upper()} {route.path}")

    assert refused == []


def test_api_writes_by_session_need_the_token_and_work_with_it(superuser):
    client = Client(enforce_csrf_checks=True)
    client.force_login(superuser)
    client.get("/leads/")  # a page sets the CSRF cookie, as in a browser
    secret = client.cookies["csrftoken"].value
    body = {"email": "ada@northwind.example"}

    refused = client.post("/api/v1/leads/", body, content_type="application/json")
    allowed = client.post(
        "/api/v1/leads/",
        body,
        content_type="application/json",
        HTTP_X_CSRFTOKEN=secret,
    )

    assert refused.status_code == 403
    assert refused.json() == {"detail": "CSRF Failed: CSRF token missing."}
    assert allowed.status_code == 201
    assert allowed.json()["email"] == "ada@northwind.example"


def test_the_public_form_and_the_token_endpoint_ignore_the_session(superuser):
    """Exempt, but a session cookie gives them nothing: the form acts for
    nobody and the token endpoint wants the password."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(superuser)

    token = client.post(
        "/api/v1/auth/token/", {"username": "admin-user", "password": "wrong"}
    )

    assert token.status_code == 400
    assert "token" not in token.json()


# (c) htmx pages send the header
# ------------------------------------------------------------------------------

HX_HEADERS = re.compile(r"""<body[^>]* hx-headers='\{"X-CSRFToken": "(\w+)"\}'""")


@pytest.mark.parametrize("path", ["/queue/", "/pipeline/", "/leads/"])
def test_logged_in_pages_give_htmx_the_csrf_header(superuser, path):
    client = Client(enforce_csrf_checks=True)
    client.force_login(superuser)

    page = client.get(path)

    assert page.status_code == 200
    assert HX_HEADERS.search(page.content.decode())


def test_the_header_htmx_sends_is_accepted(client):
    """Take the token from the page exactly as htmx does and post with it."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(UserFactory(username="ada", roles=[SDR]))
    token = HX_HEADERS.search(client.get("/queue/").content.decode()).group(1)

    without = client.post("/availability/", {"is_away": "on"}, HTTP_HX_REQUEST="true")
    with_header = client.post(
        "/availability/",
        {"is_away": "on"},
        HTTP_HX_REQUEST="true",
        HTTP_X_CSRFTOKEN=token,
    )

    assert csrf_refused(without)
    assert with_header.status_code == 200
    assert b"You are away" in with_header.content
