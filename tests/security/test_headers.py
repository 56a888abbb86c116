"""Security headers on every HTML answer, and no caching of personal data.

Every GET route without parameters that the URL resolver knows is opened as
an Admin; each HTML answer must carry the full set of headers. Pages with
parameters (a lead, a handoff, an import) are opened with real rows.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io

import pytest
from django.core.management import call_command
from django.test import Client
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from crm.roles import ADMIN, SDR
from handoff import services as handoff_services
from leads import lifecycle
from leads.models import ImportJob, Lead, Stage
from scoring.models import ScoringModel
from tests.factories import LeadFactory, SlaFactory, TeamMemberFactory, UserFactory
from tests.security.routes import plain_routes

pytestmark = pytest.mark.django_db

#: The Content-Security-Policy of every page: scripts, styles and everything
#: else only from this site, no plugins, no <base> tricks, no framing, forms
#: post only here.
STRICT_CSP = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self'",
    "font-src": "'self'",
    "connect-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'self'",
    "frame-ancestors": "'none'",
    "form-action": "'self'",
}
#: Swagger UI's page needs its inline <style> and data: icons; scripts stay
#: strict there too.
DOCS_CSP = {
    **STRICT_CSP,
    "style-src": "'self' 'unsafe-inline'",
    "img-src": "'self' data:",
}
EXPECTED_CSP = {"/api/v1/docs/": DOCS_CSP}

#: Pages every HTML walk must meet, so the walk cannot silently come back empty.
MAIN_PAGES = {
    "/accounts/login/",
    "/marketing/",
    "/leads/",
    "/leads/import/",
    "/queue/",
    "/pipeline/",
    "/scoring/",
    "/reports/sla/",
    "/admin/",
    "/admin/leads/lead/",
    "/api/v1/docs/",
}


def csp_directives(header: str) -> dict[str, str]:
    directives = {}
    for part in header.split(";"):
        name, _, value = part.strip().partition(" ")
        directives[name] = value
    return directives


def header_problems(response, path: str) -> list[str]:
    """What is missing or wrong in an HTML answer's security headers."""
    expected = {
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
        "Cross-Origin-Opener-Policy": "same-origin",
    }
    problems = [
        f"{name}: {response.headers.get(name)!r} != {value!r}"
        for name, value in expected.items()
        if response.headers.get(name) != value
    ]
    csp = csp_directives(response.headers.get("Content-Security-Policy", ""))
    if csp != EXPECTED_CSP.get(path, STRICT_CSP):
        problems.append(f"Content-Security-Policy: {csp}")
    return problems


def cache_directives(response) -> set[str]:
    return {
        part.strip()
        for part in response.headers.get("Cache-Control", "").split(",")
        if part.strip()
    }


@pytest.fixture
def superuser_admin_client(client: Client) -> Client:
    admin = UserFactory(
        username="admin-user", roles=[ADMIN], is_staff=True, is_superuser=True
    )
    client.force_login(admin)
    return client


def test_every_html_page_sends_the_security_headers_and_no_store(
    superuser_admin_client,
):
    LeadFactory.create_batch(2)
    html: dict[str, list[str]] = {}

    for route in plain_routes():
        response = superuser_admin_client.get(route.path)
        if response.headers.get("Content-Type", "").startswith("text/html"):
            problems = header_problems(response, route.path)
            if "no-store" not in cache_directives(response):
                problems.append(f"Cache-Control: {response.get('Cache-Control')!r}")
            html[route.path] = problems

    assert set(html) >= MAIN_PAGES
    assert {path: p for path, p in html.items() if p} == {}


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/accounts/login/", 200),
        ("/accounts/password_reset/", 200),
        ("/no-such-page/", 404),
    ],
)
def test_anonymous_html_answers_send_the_security_headers(client, path, status):
    response = client.get(path)

    assert response.status_code == status
    assert response.headers["Content-Type"].startswith("text/html")
    assert header_problems(response, path) == []


def test_a_refused_page_sends_the_security_headers(client):
    client.force_login(UserFactory(username="sdr-only", roles=[SDR]))

    response = client.get("/scoring/")

    assert response.status_code == 403
    assert header_problems(response, "/scoring/") == []


# Cache-Control: no-store on personal data
# ------------------------------------------------------------------------------


@pytest.fixture
def handoff():
    sla = SlaFactory()
    TeamMemberFactory(team=sla.team, user__username="sdr-a")
    lead = LeadFactory(email="ada@northwind.example")
    opened = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)
    lifecycle.lead_move(
        lead_id=lead.id, to_stage=Stage.MQL, system_actor="scoring", now=opened
    )
    return handoff_services.handoff_open(lead_id=lead.id, now=opened)


def test_personal_data_pages_and_exports_are_not_stored(
    superuser_admin_client, handoff
):
    job = ImportJob.objects.create(
        created_by=UserFactory(username="importer"),
        kind=ImportJob.Kind.LEADS,
        filename="leads.csv",
        content=b"email\n",
        status=ImportJob.Status.DONE,
    )
    paths = [
        "/leads/",
        f"/leads/{handoff.lead_id}/",
        "/leads/csv/",
        "/queue/",
        "/queue/rows/",
        f"/handoffs/{handoff.id}/",
        "/pipeline/",
        f"/leads/import/{job.id}/",
        f"/leads/import/{job.id}/rejected.csv",
    ]

    answers = {path: superuser_admin_client.get(path) for path in paths}

    assert {path: r.status_code for path, r in answers.items()} == dict.fromkeys(
        paths, 200
    )
    assert {
        path: "no-store" in cache_directives(r) for path, r in answers.items()
    } == dict.fromkeys(paths, True)


def test_api_answers_with_lead_data_are_not_stored(handoff):
    admin = UserFactory(username="api-admin", roles=[ADMIN], is_superuser=True)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=admin)}")
    lead_id = handoff.lead_id
    paths = [
        "/api/v1/leads/",
        f"/api/v1/leads/{lead_id}/",
        "/api/v1/leads/csv/",
        f"/api/v1/leads/{lead_id}/export/",
        "/api/v1/handoffs/",
        f"/api/v1/handoffs/{handoff.id}/",
        "/api/v1/touchpoints/",
    ]

    answers = {path: api.get(path) for path in paths}

    assert {path: r.status_code for path, r in answers.items()} == dict.fromkeys(
        paths, 200
    )
    assert {
        path: "no-store" in cache_directives(r) for path, r in answers.items()
    } == dict.fromkeys(paths, True)


def test_an_anonymous_api_refusal_is_not_stored_either(client):
    response = client.get("/api/v1/leads/")

    assert response.status_code == 401
    assert "no-store" in cache_directives(response)


# Content-Security-Policy in a real browser
# ------------------------------------------------------------------------------

DEMO_PASSWORD = "leadflow-demo"


def _demo_world() -> dict[str, object]:
    """Seed a small demo world; return the rows the pages below need."""
    call_command(
        "seed_demo",
        leads=80,
        seed=7,
        today=dt.date(2026, 3, 2),
        allow_production=True,
        stdout=io.StringIO(),
        stderr=io.StringIO(),
    )
    # A pending handoff of the SDR's own, opened now, whatever the seed left.
    fresh = Lead.objects.filter(stage=Stage.LEAD).order_by("id").first()
    lifecycle.lead_move(lead_id=fresh.id, to_stage=Stage.MQL, system_actor="scoring")
    pending = handoff_services.handoff_open(lead_id=fresh.id)
    assert pending is not None
    return {
        "lead": Lead.objects.order_by("id").first(),
        "handoff": pending,
        "sdr": pending.assigned_to.username,
        "model": ScoringModel.objects.get(status=ScoringModel.Status.ACTIVE),
        "job": ImportJob.objects.create(
            kind=ImportJob.Kind.LEADS,
            filename="leads.csv",
            content=b"email\n",
            status=ImportJob.Status.DONE,
        ),
    }


def _pages(world: dict[str, object]) -> dict[str, list[str]]:
    """Username -> the pages that role works with."""
    lead, handoff, model, job = (
        world["lead"],
        world["handoff"],
        world["model"],
        world["job"],
    )
    lead_pages = ["/leads/", f"/leads/{lead.id}/"]
    return {
        "marketer": [
            "/marketing/",
            *lead_pages,
            "/leads/import/",
            f"/leads/import/{job.id}/",
            "/scoring/",
            f"/scoring/{model.id}/",
        ],
        world["sdr"]: ["/queue/", f"/handoffs/{handoff.id}/", *lead_pages],
        "manager": ["/reports/sla/", "/queue/"],
        "rep1": ["/pipeline/", *lead_pages],
        "admin": [
            "/",
            "/admin/",
            "/admin/leads/lead/",
            f"/admin/leads/lead/{lead.id}/change/",
            "/admin/auth/user/",
            "/admin/handoff/handoff/",
            "/api/v1/docs/",
        ],
    }


def _open(page, live_server, path: str) -> int:
    """Open a page and let its scripts settle; return the HTTP status."""
    response = page.goto(f"{live_server.url}{path}")
    # A page that polls (a running rescore, an import) never goes idle.
    with contextlib.suppress(PlaywrightTimeoutError):
        page.wait_for_load_state("networkidle", timeout=5_000)
    return response.status


def _record_csp_violations(page, who: str, violations: list[str]) -> None:
    """Chromium reports each blocked script, style or image on the console."""

    def on_console(msg) -> None:
        if "Content Security Policy" in msg.text:
            violations.append(f"{who} {page.url}: {msg.text}")

    page.on("console", on_console)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_no_page_breaks_the_content_security_policy_in_chromium(browser, live_server):
    world = _demo_world()
    model = world["model"]
    violations: list[str] = []
    visited: list[str] = []

    for username, paths in _pages(world).items():
        context = browser.new_context()
        page = context.new_page()
        _record_csp_violations(page, username, violations)
        page.goto(f"{live_server.url}/accounts/login/")
        page.fill("#id_username", username)
        page.fill("#id_password", DEMO_PASSWORD)
        with page.expect_navigation():
            page.click("button[type=submit]")
        assert "/accounts/login/" not in page.url, f"{username} could not log in"
        for path in paths:
            visited.append(f"{username} {path} {_open(page, live_server, path)}")
        if username == "marketer":
            # A draft's rule editor and publish page run their own scripts.
            page.goto(f"{live_server.url}/scoring/{model.id}/")
            with page.expect_navigation():
                page.click("form[action$='/clone/'] button[type=submit]")
            draft = ScoringModel.objects.get(status=ScoringModel.Status.DRAFT)
            for path in (
                f"/scoring/{draft.id}/",
                f"/scoring/{draft.id}/rules/add/",
                f"/scoring/{draft.id}/publish/",
            ):
                visited.append(f"{username} {path} {_open(page, live_server, path)}")
        if username == world["sdr"]:
            # htmx at work under the policy: opening the accept form fetches
            # it, accepting swaps the row, the refresh swaps all rows in place.
            _open(page, live_server, "/queue/")
            row = page.locator(f"#handoff-{world['handoff'].id}")
            with page.expect_response(lambda r: "/accept/form/" in r.url):
                row.get_by_text("Accept…").click()
            with page.expect_response(lambda r: r.url.endswith("/accept/")):
                row.get_by_role("button", name="Accept", exact=True).click()
            with page.expect_response(lambda r: "/queue/rows/" in r.url):
                page.evaluate(
                    "htmx.ajax('GET', '/queue/rows/', "
                    "{source: '#queue-sections', target: '#queue-sections'})"
                )
            page.wait_for_load_state("networkidle", timeout=5_000)
        if username == "admin":
            # Swagger UI really renders (its script ran under the policy).
            page.goto(f"{live_server.url}/api/v1/docs/")
            page.wait_for_selector(".swagger-ui .info .title", timeout=15_000)
            assert "Leadflow API" in page.inner_text(".swagger-ui .info .title")
        context.close()

    assert [v for v in visited if not v.endswith(" 200")] == []
    assert violations == []
