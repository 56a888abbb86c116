"""Who may do what: every route and API operation against every role.

The operations come from the URL resolver (each HTML route, the Django admin
aside) and from the OpenAPI document (each path and method). Each has an
entry below saying which of anonymous, Marketing, SDR, Sales and Admin may
use it, decided from ARCHITECTURE.md ("Apps and layering") and the README's
Roles: Marketing captures leads and owns scoring; SDRs work the SAL queue;
Sales reps work their accepted leads; Admins (and SDR managers) may do
everything. A route or operation without an entry fails the suite, so a new
one cannot ship without that decision.

Every entry is then asked for real, with objects that exist and are the
caller's own where ownership matters (tests/security/world.py); whether
someone else's object is refused is test_object_access.py's job.

"Refused" is exact: 401 (API, anonymous), 403 (API and pages, a role), or a
redirect to the login page (pages, anonymous). "Allowed" means the request
got past every permission check: any answer below 500 other than 401, 403,
404, 405 and a redirect to the login page (a 400 for the empty form posted,
a 409 for a draft with nothing to publish are fine).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import cache
from django.http import HttpResponse
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from drf_spectacular.generators import SchemaGenerator

from crm.roles import ADMIN, MARKETING, SALES, SDR
from leads.models import AuditEvent, Lead
from leads.tracking.views import PATHS as SEGMENT_PATHS
from tests.security.world import ANONYMOUS, PASSWORD, World

pytestmark = pytest.mark.django_db

ANON = ANONYMOUS
ROLES = (ANON, MARKETING, SDR, SALES, ADMIN)
EVERYONE = frozenset(ROLES)
SIGNED_IN = frozenset({MARKETING, SDR, SALES, ADMIN})
MARKETERS = frozenset({MARKETING, ADMIN})
SDRS = frozenset({SDR, ADMIN})
REPS = frozenset({SALES, ADMIN})
WORKERS = frozenset({SDR, SALES, ADMIN})
ADMINS = frozenset({ADMIN})

#: Pages (URL patterns as the resolver spells them, without the leading /).
HTML_MATRIX: dict[tuple[str, str], frozenset[str]] = {
    # Django's auth pages: public, except changing one's password.
    ("GET", "accounts/login/"): EVERYONE,
    ("POST", "accounts/login/"): EVERYONE,
    ("POST", "accounts/logout/"): EVERYONE,
    ("GET", "accounts/password_change/"): SIGNED_IN,
    ("POST", "accounts/password_change/"): SIGNED_IN,
    ("GET", "accounts/password_change/done/"): SIGNED_IN,
    ("GET", "accounts/password_reset/"): EVERYONE,
    ("POST", "accounts/password_reset/"): EVERYONE,
    ("GET", "accounts/password_reset/done/"): EVERYONE,
    ("GET", "accounts/reset/<uidb64>/<token>/"): EVERYONE,
    ("POST", "accounts/reset/<uidb64>/<token>/"): EVERYONE,
    ("GET", "accounts/reset/done/"): EVERYONE,
    # The API's own document and its browser (public, as ARCHITECTURE.md says).
    ("GET", "api/v1/schema/"): EVERYONE,
    ("GET", "api/v1/docs/"): EVERYONE,
    ("GET", "favicon.ico"): EVERYONE,
    ("GET", "healthz/"): EVERYONE,
    # crm: start pages, the lead list and page (every role sees leads).
    ("GET", ""): SIGNED_IN,
    ("GET", "marketing/"): MARKETERS,
    ("GET", "leads/"): SIGNED_IN,
    ("GET", "leads/csv/"): SIGNED_IN,
    ("GET", "leads/<int:lead_id>/"): SIGNED_IN,
    # crm: campaigns and their spend are Marketing's (managers may read).
    ("GET", "campaigns/"): MARKETERS,
    ("GET", "campaigns/csv/"): MARKETERS,
    ("GET", "campaigns/new/"): MARKETERS,
    ("POST", "campaigns/new/"): MARKETERS,
    ("GET", "campaigns/<int:campaign_id>/"): MARKETERS,
    ("GET", "campaigns/<int:campaign_id>/edit/"): MARKETERS,
    ("POST", "campaigns/<int:campaign_id>/edit/"): MARKETERS,
    ("POST", "campaigns/<int:campaign_id>/spend/"): MARKETERS,
    ("GET", "campaigns/<int:campaign_id>/spend/<int:spend_id>/"): MARKETERS,
    ("POST", "campaigns/<int:campaign_id>/spend/<int:spend_id>/"): MARKETERS,
    ("POST", "campaigns/<int:campaign_id>/spend/<int:spend_id>/delete/"): MARKETERS,
    # crm: the MQL planner and saved plans are Marketing's (managers may read).
    ("GET", "planner/"): MARKETERS,
    ("POST", "planner/save/"): MARKETERS,
    ("GET", "planner/<int:plan_id>/"): MARKETERS,
    ("POST", "planner/<int:plan_id>/commit/"): MARKETERS,
    ("POST", "planner/<int:plan_id>/delete/"): MARKETERS,
    # crm: rule analytics are Marketing's (managers may read); adding a
    # candidate rule to a draft is Marketing's alone.
    ("GET", "scoring/analytics/"): MARKETERS,
    ("GET", "scoring/analytics/candidates/"): MARKETERS,
    ("POST", "scoring/analytics/candidates/add/"): MARKETERS,
    # leads: website tracking's sources and event table are Marketing's.
    ("GET", "leads/tracking/"): MARKETERS,
    ("GET", "leads/tracking/new/"): MARKETERS,
    ("POST", "leads/tracking/new/"): MARKETERS,
    ("GET", "leads/tracking/events/"): MARKETERS,
    ("POST", "leads/tracking/events/"): MARKETERS,
    ("POST", "leads/tracking/events/<int:mapping_id>/remove/"): MARKETERS,
    ("GET", "leads/tracking/<int:source_id>/"): MARKETERS,
    ("GET", "leads/tracking/<int:source_id>/edit/"): MARKETERS,
    ("POST", "leads/tracking/<int:source_id>/edit/"): MARKETERS,
    ("GET", "leads/tracking/<int:source_id>/rotate/"): MARKETERS,
    ("POST", "leads/tracking/<int:source_id>/rotate/"): MARKETERS,
    ("POST", "leads/tracking/<int:source_id>/active/"): MARKETERS,
    # leads: CSV import is Marketing's.
    ("GET", "leads/import/"): MARKETERS,
    ("POST", "leads/import/"): MARKETERS,
    ("GET", "leads/import/<int:job_id>/"): MARKETERS,
    ("GET", "leads/import/<int:job_id>/mapping/"): MARKETERS,
    ("POST", "leads/import/<int:job_id>/mapping/"): MARKETERS,
    ("GET", "leads/import/<int:job_id>/progress/"): MARKETERS,
    ("GET", "leads/import/<int:job_id>/rejected.csv"): MARKETERS,
    ("POST", "leads/import/<int:job_id>/rerun/"): MARKETERS,
    # scoring: the model editor is Marketing's (others read models by API).
    ("GET", "scoring/"): MARKETERS,
    ("GET", "scoring/<int:pk>/"): MARKETERS,
    ("POST", "scoring/suggest/"): MARKETERS,
    ("GET", "scoring/suggest/panel/"): MARKETERS,
    ("GET", "scoring/<int:pk>/progress/"): MARKETERS,
    ("POST", "scoring/<int:pk>/clone/"): MARKETERS,
    ("GET", "scoring/<int:pk>/settings/"): MARKETERS,
    ("POST", "scoring/<int:pk>/settings/"): MARKETERS,
    ("GET", "scoring/<int:pk>/publish/"): MARKETERS,
    ("POST", "scoring/<int:pk>/publish/"): MARKETERS,
    ("POST", "scoring/<int:pk>/publish/preview/"): MARKETERS,
    ("POST", "scoring/<int:pk>/publish/retry/"): MARKETERS,
    ("POST", "scoring/<int:pk>/replay/"): MARKETERS,
    ("GET", "scoring/<int:pk>/replay/panel/"): MARKETERS,
    ("GET", "scoring/<int:pk>/publish/preview/<int:preview_id>/"): MARKETERS,
    ("GET", "scoring/attribute-values/"): MARKETERS,
    ("GET", "scoring/<int:pk>/rules/add/"): MARKETERS,
    ("POST", "scoring/<int:pk>/rules/add/"): MARKETERS,
    ("POST", "scoring/<int:pk>/rules/reorder/"): MARKETERS,
    ("GET", "scoring/<int:pk>/rules/<int:rule_id>/"): MARKETERS,
    ("POST", "scoring/<int:pk>/rules/<int:rule_id>/"): MARKETERS,
    ("GET", "scoring/<int:pk>/rules/<int:rule_id>/delete/"): MARKETERS,
    ("POST", "scoring/<int:pk>/rules/<int:rule_id>/delete/"): MARKETERS,
    # handoff: the SAL queue and decisions are the SDRs'; a handoff's page is
    # for whoever may see it (Marketing all, SDRs their teams', reps theirs).
    ("GET", "queue/"): SDRS,
    ("GET", "queue/rows/"): SDRS,
    ("GET", "handoffs/<int:handoff_id>/"): SIGNED_IN,
    ("POST", "handoffs/<int:handoff_id>/accept/"): SDRS,
    ("POST", "handoffs/<int:handoff_id>/claim/"): SDRS,
    ("POST", "handoffs/<int:handoff_id>/reject/"): SDRS,
    ("POST", "handoffs/<int:handoff_id>/attempts/"): WORKERS,
    ("GET", "handoffs/<int:handoff_id>/accept/form/"): SDRS,
    ("GET", "handoffs/<int:handoff_id>/reject/form/"): SDRS,
    ("GET", "handoffs/<int:handoff_id>/attempts/form/"): SDRS,
    ("POST", "availability/"): SDRS,
    # handoff: the pipeline is the reps'; the SLA report managers' (Admin).
    ("GET", "pipeline/"): REPS,
    ("GET", "pipeline/stages/<str:stage>/"): REPS,
    ("POST", "pipeline/leads/<int:lead_id>/move/"): REPS,
    ("GET", "pipeline/leads/<int:lead_id>/forms/<str:form>/"): REPS,
    # The team pipeline and its reassignments: managers (Admin by role).
    ("GET", "pipeline/team/"): ADMINS,
    ("GET", "pipeline/team/stages/<str:stage>/"): ADMINS,
    ("POST", "pipeline/leads/<int:lead_id>/reassign/"): ADMINS,
    ("GET", "pipeline/leads/<int:lead_id>/reassign/form/"): ADMINS,
    ("GET", "reports/sla/"): ADMINS,
    # Segment's tracking API: the write key in the body or Basic auth is the
    # credential, never a session (an empty post is a 400 saying so).
    **{("POST", f"segment/v1/{name}"): EVERYONE for name in SEGMENT_PATHS},
}

#: API operations (paths and methods as in /api/v1/schema/).
API_MATRIX: dict[tuple[str, str], frozenset[str]] = {
    ("POST", "/api/v1/forms/{form_key}/submit/"): EVERYONE,
    # Trading a password for a token: anyone with a role's password.
    ("POST", "/api/v1/auth/token/"): EVERYONE,
    ("GET", "/api/v1/leads/"): SIGNED_IN,
    ("POST", "/api/v1/leads/"): MARKETERS,
    ("GET", "/api/v1/leads/csv/"): SIGNED_IN,
    ("GET", "/api/v1/leads/{id}/"): SIGNED_IN,
    # Marketing and Admin edit any lead; SDRs and reps only the contact
    # fields of leads they own (LEAD_EDITS below; someone else's lead is
    # test_object_access.py's).
    ("PATCH", "/api/v1/leads/{id}/"): SIGNED_IN,
    ("GET", "/api/v1/leads/{id}/export/"): SIGNED_IN,
    ("POST", "/api/v1/leads/{id}/erase/"): ADMINS,
    # Reps move their own leads in the pipeline; managers and Admin any.
    ("POST", "/api/v1/leads/{id}/sales-moves/"): REPS,
    ("GET", "/api/v1/reports/funnel/"): MARKETERS,
    ("GET", "/api/v1/reports/plan/"): MARKETERS,
    ("GET", "/api/v1/reports/campaigns/"): MARKETERS,
    ("GET", "/api/v1/reports/rules/"): MARKETERS,
    ("GET", "/api/v1/touchpoints/"): SIGNED_IN,
    ("POST", "/api/v1/touchpoints/"): MARKETERS,
    ("POST", "/api/v1/touchpoints/batch/"): MARKETERS,
    ("GET", "/api/v1/touchpoints/{id}/"): SIGNED_IN,
    ("GET", "/api/v1/scoring-models/"): SIGNED_IN,
    ("GET", "/api/v1/scoring-models/{id}/"): SIGNED_IN,
    ("POST", "/api/v1/scoring-models/{id}/publish/"): MARKETERS,
    ("GET", "/api/v1/scoring/attribute-keys/"): MARKETERS,
    ("GET", "/api/v1/scoring/attribute-keys/{key}/values/"): MARKETERS,
    ("POST", "/api/v1/scoring-models/suggest/"): MARKETERS,
    ("GET", "/api/v1/scoring-models/suggestions/{id}/"): MARKETERS,
    ("POST", "/api/v1/scoring-models/{id}/replay/"): MARKETERS,
    ("GET", "/api/v1/scoring-models/replays/{id}/"): MARKETERS,
    ("GET", "/api/v1/handoffs/"): SIGNED_IN,
    ("GET", "/api/v1/handoffs/{id}/"): SIGNED_IN,
    ("POST", "/api/v1/handoffs/{id}/accept/"): SDRS,
    ("POST", "/api/v1/handoffs/{id}/reject/"): SDRS,
    ("GET", "/api/v1/handoffs/{id}/attempts/"): SIGNED_IN,
    ("POST", "/api/v1/handoffs/{id}/attempts/"): WORKERS,
    ("GET", "/api/v1/rejection-reasons/"): SIGNED_IN,
}

#: What each POST sends: valid input, so "allowed" reaches the service.
HTML_POST_DATA: dict[str, dict[str, Any]] = {
    "accounts/password_reset/": {"email": "nobody@leadflow.test"},
    "handoffs/<int:handoff_id>/reject/": {"reason": "no_budget", "feedback": "Q3"},
    "handoffs/<int:handoff_id>/attempts/": {"channel": "call", "outcome": "no_answer"},
    "availability/": {"is_away": "on"},
    "pipeline/leads/<int:lead_id>/move/": {"to_stage": "sql"},
    "campaigns/new/": {"name": "Spring", "channel": "email", "budget": "10"},
    "campaigns/<int:campaign_id>/spend/": {"month": "2026-03", "amount": "5"},
    "planner/save/": {
        "date_from": "2026-04-01",
        "date_to": "2026-06-30",
        "target_kind": "customers",
        "target": "3",
        "name": "Q2",
    },
    "scoring/analytics/candidates/add/": {"period": "90d", "candidate": "touch:x"},
    "scoring/<int:pk>/replay/": {"start": "2026-01-05", "end": "2026-02-02"},
    "campaigns/<int:campaign_id>/spend/<int:spend_id>/": {
        "month": "2026-03",
        "amount": "5",
    },
}
API_BODIES: dict[tuple[str, str], Any] = {
    ("POST", "/api/v1/forms/{form_key}/submit/"): {"email": "visitor@acme.example"},
    ("POST", "/api/v1/leads/"): {"email": "new@acme.example", "first_name": "Nia"},
    ("PATCH", "/api/v1/leads/{id}/"): {"first_name": "Zed"},
    ("POST", "/api/v1/handoffs/{id}/accept/"): {},
    ("POST", "/api/v1/leads/{id}/sales-moves/"): {"to_stage": "sql"},
    ("POST", "/api/v1/handoffs/{id}/reject/"): {"reason": "no_budget"},
    ("POST", "/api/v1/handoffs/{id}/attempts/"): {
        "channel": "call",
        "outcome": "no_answer",
    },
}
#: What each role may change on a lead it may edit (for an SDR or a rep, one
#: it owns): Marketing and Admin everything, SDRs and reps the contact fields
#: (leads.edit_scope.LEAD_CONTACT_FIELDS) and no account.
LEAD_EDITS: dict[str, tuple[dict[str, Any], frozenset[str]]] = {
    "first_name": ({"first_name": "Zed"}, SIGNED_IN),
    "last_name": ({"last_name": "Zed"}, SIGNED_IN),
    "phone": ({"phone": "+1 555 0100"}, SIGNED_IN),
    "do_not_email": ({"do_not_email": True}, SIGNED_IN),
    "do_not_call": ({"do_not_call": True}, SIGNED_IN),
    "job_title": ({"job_title": "Chief Executive Officer"}, MARKETERS),
    "country": ({"country": "DE"}, MARKETERS),
    "seniority_override": ({"seniority_override": "vp"}, MARKETERS),
    "department": ({"department": "sales"}, MARKETERS),
    "source": ({"source": "referral"}, MARKETERS),
    "utm_source": ({"utm_source": "newsletter"}, MARKETERS),
    "utm_medium": ({"utm_medium": "email"}, MARKETERS),
    "utm_campaign": ({"utm_campaign": "spring"}, MARKETERS),
    "utm_term": ({"utm_term": "crm"}, MARKETERS),
    "utm_content": ({"utm_content": "banner"}, MARKETERS),
    "attributes": ({"attributes": {"plan": "team"}}, MARKETERS),
    "account": (
        {"account": {"domain": "acme.example", "employee_count": 9}},
        MARKETERS,
    ),
}
# Not pages: the Django admin (its own permission system) and every route the
# API document lists (the API matrix covers those).
ADMIN_SITE = "admin/"
LOGIN_URL = "/accounts/login/"
PARAM = re.compile(r"<(?:\w+:)?(\w+)>")


# Operations: the resolver and the schema
# ------------------------------------------------------------------------------


def _walk(patterns: list[Any], prefix: str = "") -> Iterator[str]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern)


def resolver_routes() -> set[str]:
    """Every URL pattern of the project, spelled as in its urls.py.

    DRF's format-suffix twins (``leads.json``) are left out: the same view
    with the same permissions as the route they copy.
    """
    return {r for r in _walk(get_resolver().url_patterns) if "(?P<format>" not in r}


def api_path(route: str) -> str:
    """A route as the API document spells it: ``/api/v1/leads/{id}/``.

    Router routes are regular expressions (``api/v1/^leads/(?P<pk>[^/.]+)/$``),
    the others path converters (``api/v1/leads/<int:pk>/export/``).
    """
    path = route.replace("^", "").replace("$", "")
    path = re.sub(r"\(\?P<pk>[^)]*\)", "{id}", path)
    path = re.sub(r"<(?:\w+:)?pk>", "{id}", path)
    return "/" + PARAM.sub(lambda m: "{" + m.group(1) + "}", path)


def page_routes() -> set[str]:
    documented = {path for _, path in schema_operations()}
    return {
        route
        for route in resolver_routes()
        if not route.startswith(ADMIN_SITE) and api_path(route) not in documented
    }


def schema_operations() -> set[tuple[str, str]]:
    """Every (METHOD, path) of the OpenAPI document, generated in-process."""
    document = SchemaGenerator().get_schema(request=None, public=True)
    return {
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in item
        if method in {"get", "post", "put", "patch", "delete"}
    }


def test_every_page_route_has_a_decision() -> None:
    declared = {route for _, route in HTML_MATRIX}

    assert sorted(page_routes() - declared) == [], "routes missing from HTML_MATRIX"
    assert sorted(declared - page_routes()) == [], "HTML_MATRIX names no route"


def test_every_api_operation_has_a_decision() -> None:
    operations = schema_operations()

    assert sorted(operations - set(API_MATRIX)) == [], "missing from API_MATRIX"
    assert sorted(set(API_MATRIX) - operations) == [], "API_MATRIX names no operation"


def test_every_api_route_is_in_the_schema() -> None:
    """No API route escapes both tables by being left out of the document.

    Only the document itself and its browser are API routes on the page list.
    """
    documented = {path for _, path in schema_operations()}
    undocumented = {
        route
        for route in resolver_routes()
        if route.startswith("api/") and api_path(route) not in documented
    }

    assert undocumented == {"api/v1/schema/", "api/v1/docs/"}


# Asking for real
# ------------------------------------------------------------------------------


def _page_url(route: str, world: World) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == "handoff_id":
            if route.endswith(("/accept/", "/reject/")):
                return str(world.pending.id)
            if route.endswith("/claim/"):
                return str(world.unassigned.id)
            return str(world.own_handoff().id)
        if name == "lead_id":
            lead_id = (
                world.accepted.lead_id
                if route.startswith("pipeline/")
                else world.lead.id
            )
            return str(lead_id)
        return str(
            {
                "job_id": lambda: world.job.id,
                "source_id": lambda: world.tracking_source.id,
                "mapping_id": lambda: world.event_mapping.id,
                "campaign_id": lambda: world.campaign.id,
                "spend_id": lambda: world.spend.id,
                "plan_id": lambda: world.plan.id,
                "pk": lambda: world.draft.id,
                "rule_id": lambda: world.rule.id,
                "preview_id": lambda: world.preview.id,
                "uidb64": lambda: world.reset_link[0],
                "token": lambda: world.reset_link[1],
                "stage": lambda: "sql",
                "form": lambda: "back",
            }[name]()
        )

    return "/" + PARAM.sub(value, route)


def _api_url(path: str, world: World) -> str:
    if "{form_key}" in path:
        return path.replace("{form_key}", world.web_form.key)
    if "{id}" not in path:
        return path
    if path.startswith("/api/v1/handoffs/"):
        handoff = (
            world.pending
            if path.endswith(("/accept/", "/reject/"))
            else world.own_handoff()
        )
        object_id = handoff.id
    elif path.endswith("/sales-moves/"):
        object_id = world.accepted.lead_id
    elif path.startswith("/api/v1/leads/"):
        object_id = world.lead.id
    elif path.startswith("/api/v1/touchpoints/"):
        object_id = world.touchpoint.id
    elif path.endswith(("/publish/", "/replay/")):
        object_id = world.draft.id
    elif path.startswith("/api/v1/scoring-models/replays/"):
        object_id = world.replay.id
    elif path.startswith("/api/v1/scoring-models/suggestions/"):
        object_id = world.suggestion.id
    else:
        object_id = world.active_model.id
    return path.replace("{id}", str(object_id))


def _api_body(method: str, path: str, world: World) -> Any:
    if path == "/api/v1/auth/token/":
        person = world.user or world.rep
        return {"username": person.username, "password": PASSWORD}
    if path == "/api/v1/touchpoints/":
        return {"lead": world.lead.id, "kind": "page_view"}
    if path == "/api/v1/touchpoints/batch/":
        return {"touchpoints": [{"lead": world.lead.id, "kind": "page_view"}]}
    return API_BODIES.get((method, path))


def _client(world: World) -> Client:
    client = Client()
    if world.user is not None:
        client.force_login(world.user)
    return client


def _is_login_redirect(response: HttpResponse) -> bool:
    return response.status_code == 302 and response["Location"].startswith(
        f"{LOGIN_URL}?next="
    )


def assert_allowed(response: HttpResponse) -> None:
    assert response.status_code < 500
    assert response.status_code not in (401, 403, 404, 405), response.content[:300]
    assert not _is_login_redirect(response)


@pytest.fixture(autouse=True)
def _no_rate_limit_left_over() -> None:
    # The public form's per-IP limit counts in the cache across tests.
    cache.clear()


def _cases(matrix: dict[tuple[str, str], frozenset[str]]) -> list[Any]:
    return [
        pytest.param(method, route, role, id=f"{method} /{route.lstrip('/')} {role}")
        for (method, route) in sorted(matrix)
        for role in ROLES
    ]


@pytest.mark.parametrize(("method", "route", "role"), _cases(HTML_MATRIX))
def test_page_answers_each_role_as_declared(method: str, route: str, role: str) -> None:
    world = World(role)
    url = _page_url(route, world)
    client = _client(world)

    if method == "GET":
        response = client.get(url)
    else:
        response = client.post(url, HTML_POST_DATA.get(route, {}))

    if role in HTML_MATRIX[(method, route)]:
        assert_allowed(response)
    elif role == ANON:
        assert _is_login_redirect(response), (
            response.status_code,
            response.get("Location"),
        )
    else:
        assert response.status_code == 403


@pytest.mark.parametrize(("method", "path", "role"), _cases(API_MATRIX))
def test_api_answers_each_role_as_declared(method: str, path: str, role: str) -> None:
    world = World(role)
    url = _api_url(path, world)
    headers = {"HTTP_AUTHORIZATION": f"Token {world.token}"} if world.token else {}
    body = _api_body(method, path, world)

    response = Client().generic(
        method,
        url,
        data=b"" if body is None else json.dumps(body),
        content_type="application/json",
        **headers,
    )

    if role in API_MATRIX[(method, path)]:
        assert_allowed(response)
    elif role == ANON:
        assert response.status_code == 401
    else:
        assert response.status_code == 403


def test_lead_edits_cover_every_editable_lead_field() -> None:
    """A field added to the services' editable set needs a decision here."""
    from leads.edit_scope import LEAD_PERSON_FIELDS

    assert set(LEAD_EDITS) == LEAD_PERSON_FIELDS


@pytest.mark.parametrize("field", sorted(LEAD_EDITS))
@pytest.mark.parametrize("role", sorted(SIGNED_IN))
def test_each_role_changes_only_its_lead_fields(role: str, field: str) -> None:
    world = World(role)
    body, allowed = LEAD_EDITS[field]
    before = Lead.objects.filter(id=world.lead.id).values().get()

    response = Client().patch(
        f"/api/v1/leads/{world.lead.id}/",
        data=json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Token {world.token}",
    )

    if role in allowed:
        assert response.status_code == 200, response.content[:300]
        assert AuditEvent.objects.filter(action="lead_edit").count() == 1
    else:
        assert response.status_code == 403
        assert response.json()["detail"]
        assert Lead.objects.filter(id=world.lead.id).values().get() == before
        assert not AuditEvent.objects.filter(
            action__in=["lead_edit", "account_edit"]
        ).exists()


@pytest.mark.parametrize(
    ("method", "route"),
    sorted(
        (method, route)
        for route in {route for _, route in HTML_MATRIX}
        for method in ("GET", "POST")
        if (method, route) not in HTML_MATRIX
    ),
    ids=lambda value: value or "/",
)
def test_a_method_no_entry_names_is_405_even_for_an_admin(
    method: str, route: str
) -> None:
    """The table lists every method a page takes: the others are turned away."""
    world = World(ADMIN)
    url = _page_url(route, world)

    response = _client(world).generic(method, url)

    assert response.status_code == 405
