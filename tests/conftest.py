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

from crm.celery import app as celery_app


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
    default_model = importlib.import_module("scoring.migrations.0002_default_model")
    default_model.create_default_model(apps, None)
    handoff_lists = importlib.import_module("handoff.migrations.0002_standard_lists")
    handoff_lists.seed(apps, None)
    sync_role_permissions(apps)


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
