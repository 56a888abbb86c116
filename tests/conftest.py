"""Shared fixtures and the service markers.

Tests marked ``postgres`` need the database to be PostgreSQL (DATABASE_URL);
tests marked ``redis`` need a reachable Redis (CELERY_BROKER_URL or
REDIS_URL); tests marked ``browser`` need Debian's Chromium. Without them
such tests are skipped with the reason, unless LEADFLOW_REQUIRE_SERVICES=1
(set by .ci/run), which turns the skip into a failure so CI can never pass
without the real services.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.core.cache import cache
from rest_framework.test import APIClient

from crm.celery import app as celery_app
from crm.marketing.today import CACHE_KEY as TODAY_CACHE_KEY
from crm.roles import ADMIN, MARKETING, SALES
from scoring.services import rescoring
from tests.clients import token_client
from tests.factories import CampaignFactory, SlaFactory, TeamMemberFactory, UserFactory


def _require_or_skip(reason: str) -> None:
    if os.environ.get("LEADFLOW_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{reason} (LEADFLOW_REQUIRE_SERVICES=1 forbids skipping)")
    pytest.skip(reason)


def _redis_url() -> str:
    return os.environ.get("REDIS_URL") or os.environ.get("CELERY_BROKER_URL") or ""


CHROMIUM = "/usr/bin/chromium"
#: As the machine's probe starts Chromium: no sandbox as root, and none of the
#: background connections a closed network would refuse.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("browser") and not os.path.exists(CHROMIUM):
        _require_or_skip(f"needs Chromium at {CHROMIUM}: apt-get install chromium")
    if item.get_closest_marker("postgres"):
        engine = settings.DATABASES["default"]["ENGINE"]
        if "postgresql" not in engine:
            _require_or_skip("needs PostgreSQL: set DATABASE_URL=postgres://...")
    if item.get_closest_marker("redis"):
        url = _redis_url()
        if not url:
            _require_or_skip("needs Redis: set REDIS_URL=redis://...")
        import redis

        try:
            redis.Redis.from_url(url, socket_connect_timeout=2).ping()
        except redis.RedisError as exc:
            _require_or_skip(f"needs Redis at {url}: {exc}")


@pytest.fixture(autouse=True)
def _reference_data(request: pytest.FixtureRequest) -> None:
    """Restore what data migrations create (roles, touchpoint kinds).

    A transactional test empties every table when it ends, so the tests after
    it would miss the rows the migrations made; put them back first.
    """
    marker = request.node.get_closest_marker("django_db")
    if marker is None or not marker.kwargs.get("transaction"):
        return
    request.getfixturevalue("transactional_db")
    from django.apps import apps

    from crm.roles import sync_role_permissions

    kinds = importlib.import_module("leads.migrations.0002_touchpoint_kinds")
    kinds.add_kinds(apps, None)
    more_kinds = importlib.import_module(
        "leads.migrations.0015_call_and_sms_touchpoint_kinds"
    )
    more_kinds.add_kinds(apps, None)
    default_model = importlib.import_module(
        "scoring.migrations.0007_neutral_default_model"
    )
    default_model.create_neutral_default(apps, None)
    handoff_lists = importlib.import_module("handoff.migrations.0002_standard_lists")
    handoff_lists.seed(apps, None)
    tracking = importlib.import_module("leads.migrations.0019_tracking")
    tracking.add_mappings(apps, None)
    sync_role_permissions(apps)


@pytest.fixture(autouse=True)
def _no_counted_figures() -> Iterator[None]:
    """The dashboard keeps its "Today" counts in the cache; each test's data
    is its own, so no test reads another's figures."""
    cache.delete(TODAY_CACHE_KEY)
    yield
    cache.delete(TODAY_CACHE_KEY)


@pytest.fixture(autouse=True)
def _no_unscorable_leads() -> Iterator[None]:
    """Rescoring remembers, per process, the leads it failed to score (left
    out of coalesced sets); no test inherits another's."""
    rescoring._UNSCORABLE.clear()
    yield
    rescoring._UNSCORABLE.clear()


@pytest.fixture(autouse=True)
def _fast_and_eager(settings):
    """Cheap password hashing; Celery tasks run in-process even with a broker."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = eager


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium driven by Playwright, one per test module."""
    # Playwright's sync API runs an event loop in this thread; the ORM calls
    # the tests make between browser steps are still plain synchronous calls.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
            )
            yield chromium
            chromium.close()
    finally:
        del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]


# People and their clients
# ------------------------------------------------------------------------------


@pytest.fixture
def marketer() -> Any:
    """Maya, of the Marketing role."""
    return UserFactory(username="maya", roles=[MARKETING])


@pytest.fixture
def logged_in_marketer(client: Any, marketer: Any) -> Any:
    """The marketer, logged in on the test's ``client``."""
    client.force_login(marketer)
    return marketer


@pytest.fixture
def marketer_client(client: Any, logged_in_marketer: Any) -> Any:
    """The test's ``client``, logged in as the marketer."""
    return client


@pytest.fixture
def staff_marketer_client(client: Any) -> Any:
    """The test's ``client``, logged in as a Marketing member with admin access."""
    client.force_login(UserFactory(is_staff=True, roles=[MARKETING]))
    return client


@pytest.fixture
def api(marketer: Any) -> APIClient:
    """The API as the marketer (token auth)."""
    return token_client(marketer)


@pytest.fixture
def api_client() -> APIClient:
    """The API as an anonymous visitor."""
    return APIClient()


@pytest.fixture
def admin() -> Any:
    """Boss, of the Admin role (no admin-site access)."""
    return UserFactory(username="boss", roles=[ADMIN])


@pytest.fixture
def admin_role_client(client: Any) -> Any:
    """The test's ``client``, logged in as a member of the Admin role (staff,
    not a superuser)."""
    client.force_login(UserFactory(username="boss", is_staff=True, roles=[ADMIN]))
    return client


@pytest.fixture
def sla() -> Any:
    """An 8-business-hour SLA whose handoffs are at risk at 75%."""
    return SlaFactory(accept_within_hours=8, at_risk_percent=75)


@pytest.fixture
def sdr(sla: Any) -> Any:
    """Ada, an SDR in the SLA's team."""
    return TeamMemberFactory(
        team=sla.team, user__username="ada", user__first_name="Ada"
    ).user


@pytest.fixture
def rita() -> Any:
    """Rita Alvarez, a sales rep (username ``rita``)."""
    return UserFactory(
        username="rita", first_name="Rita", last_name="Alvarez", roles=[SALES]
    )


@pytest.fixture
def sam() -> Any:
    """Sam Okafor, a sales rep (username ``sam``)."""
    return UserFactory(
        username="sam", first_name="Sam", last_name="Okafor", roles=[SALES]
    )


@pytest.fixture
def mona() -> Any:
    """Mona Berg, a sales manager: the Sales role and the manager flag."""
    from handoff.models import SalesProfile

    user = UserFactory(
        username="mona", first_name="Mona", last_name="Berg", roles=[SALES]
    )
    SalesProfile.objects.create(user=user, is_manager=True)
    return user


# Domain data
# ------------------------------------------------------------------------------


@pytest.fixture
def b2b_model() -> Any:
    """The demo's B2B scoring model as the active one, in place of the neutral
    default: fit points for seniority, size and industry, and gates for
    competitors, students and leads outside North America and Europe."""
    from django.utils import timezone

    from crm.demo.scoring_model import demo_model_activate

    return demo_model_activate(now=timezone.now())


@pytest.fixture
def draft() -> Any:
    """A draft cloned from the active scoring model."""
    from scoring import services
    from scoring.selectors import model_active

    return services.model_clone(model=model_active())


@pytest.fixture
def changed() -> Iterator[list[list[int]]]:
    """Every ``leads_changed`` the code sends, as the list of its lead_ids."""
    from leads.signals import leads_changed

    calls: list[list[int]] = []

    def receiver(sender: Any, *, lead_ids: list[int], **kwargs: Any) -> None:
        calls.append(lead_ids)

    leads_changed.connect(receiver, dispatch_uid="tests.changed")
    yield calls
    leads_changed.disconnect(dispatch_uid="tests.changed")


#: The public web form's site.
FORM_SITE = "https://www.example.com"


@pytest.fixture
def web_form() -> Any:
    """The public "contact" form, open to the site and its landing pages."""
    from leads.models import WebForm

    return WebForm.objects.create(
        key="contact",
        name="Contact us",
        kind_id="form_submit",
        campaign=CampaignFactory(name="Website"),
        allowed_origins=f"{FORM_SITE}\nhttps://landing.example.com",
    )


@pytest.fixture
def empty_rate_limits() -> Iterator[None]:
    """Throttle histories live in the cache; the test starts with none."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def low_rate(settings) -> None:
    """Two public form submissions a minute."""
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"form_submit": "2/min"},
    }
