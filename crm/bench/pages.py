"""``manage.py bench_pages``: server time and queries of the busiest pages.

Signs the demo users in (``sdr1``, ``manager``, ``rep1``, ``marketer``) and
requests each page with Django's test ``Client`` against the configured
database: the SAL queue and its polled fragment (for an SDR and for the
manager), the sales pipeline (a rep), the team pipeline (the manager, when
the demo's manager may open it) and the marketing dashboard for this quarter,
unfiltered and by source and by region (the marketer). Each page is
requested ``warmup`` times unmeasured, then ``runs`` times; the figures are
the milliseconds the request took inside the process (no network), the part
of it this process spent on the CPU (Python: views, templates; not the
database's time, and steady when other processes load the machine) and the
queries it made.

The requests run as production serves them, whatever the environment says:
with ``settings.DEBUG`` off (templates without their debug information,
secure requests) and plain static file storage, so no collected manifest
is needed. The first line of output says so.

Nothing is written but the sessions: each user's session is stored directly
(no login, so no ``last_login`` update and no login audit row) and deleted
at the end. The last line of output is one JSON object for scripts.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module
from typing import Any

from django.conf import settings
from django.contrib.auth import (
    BACKEND_SESSION_KEY,
    HASH_SESSION_KEY,
    SESSION_KEY,
    get_user_model,
    load_backend,
)
from django.core.management.base import CommandError
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext, override_settings

from crm.bench.stats import percentile
from handoff.selectors import is_manager

Say = Callable[[str], None]

#: The demo's logins the pages are requested as.
SDR_USER, MANAGER_USER, REP_USER = "sdr1", "manager", "rep1"
MARKETING_USER = "marketer"
HTMX = {"HTTP_HX_REQUEST": "true"}


def _production_like() -> dict[str, Any]:
    """The settings the requests run under: production's DEBUG off, with
    static files named by plain storage (a manifest needs ``collectstatic``
    first)."""
    return {
        "DEBUG": False,
        "STORAGES": {
            **settings.STORAGES,
            "staticfiles": {
                "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
            },
        },
    }


@dataclass(frozen=True)
class Page:
    """A page to time: what it is, who asks, where, and whether htmx asks."""

    name: str
    username: str
    path: str
    htmx: bool = False
    managers_only: bool = False

    @property
    def label(self) -> str:
        return f"{self.name} ({self.username})"


PAGES = (
    Page("SAL queue", SDR_USER, "/queue/"),
    Page("SAL queue", MANAGER_USER, "/queue/"),
    Page("SAL queue, polled fragment", SDR_USER, "/queue/rows/", htmx=True),
    Page("SAL queue, polled fragment", MANAGER_USER, "/queue/rows/", htmx=True),
    Page("Sales pipeline", REP_USER, "/pipeline/"),
    Page("Team pipeline", MANAGER_USER, "/pipeline/team/", managers_only=True),
    Page("Dashboard, quarter", MARKETING_USER, "/marketing/?period=quarter"),
    Page(
        "Dashboard, quarter by source",
        MARKETING_USER,
        "/marketing/?period=quarter&source=paid_search",
    ),
    Page(
        "Dashboard, quarter by region",
        MARKETING_USER,
        "/marketing/?period=quarter&region=europe",
    ),
)


@dataclass(frozen=True)
class Figures:
    """One page's measurement."""

    page: Page
    milliseconds: list[float]
    cpu_milliseconds: list[float]
    queries: list[int]

    def as_dict(self) -> dict[str, Any]:
        ms = self.milliseconds
        return {
            "page": self.page.label,
            "path": self.page.path,
            "p50_ms": round(percentile(ms, 50), 1),
            "p95_ms": round(percentile(ms, 95), 1),
            "max_ms": round(max(ms), 1),
            "cpu_p50_ms": round(percentile(self.cpu_milliseconds, 50), 1),
            "queries_min": min(self.queries),
            "queries_max": max(self.queries),
        }

    def line(self) -> str:
        f = self.as_dict()
        queries = (
            str(f["queries_min"])
            if f["queries_min"] == f["queries_max"]
            else f"{f['queries_min']}-{f['queries_max']}"
        )
        return (
            f"{f['page']:<42} p50 {f['p50_ms']:7.1f} ms  p95 {f['p95_ms']:7.1f} ms"
            f"  max {f['max_ms']:7.1f} ms  cpu p50 {f['cpu_p50_ms']:6.1f} ms"
            f"  queries {queries}"
        )


def _host() -> str:
    """A host name the settings allow, so the requests are not refused."""
    for host in settings.ALLOWED_HOSTS:
        if host == "*":
            return "localhost"
        return host.lstrip(".")
    return "localhost"


def _session_backend() -> str:
    """The first authentication backend that can load a session's user."""
    for path in settings.AUTHENTICATION_BACKENDS:
        if hasattr(load_backend(path), "get_user"):
            return path
    raise CommandError("No authentication backend can load a signed-in user.")


def _signed_in_client(user: Any) -> tuple[Client, Any]:
    """A client carrying a session for ``user``, stored without a login."""
    session = import_module(settings.SESSION_ENGINE).SessionStore()
    session[SESSION_KEY] = user._meta.pk.value_to_string(user)
    session[BACKEND_SESSION_KEY] = _session_backend()
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.save()
    client = Client(HTTP_HOST=_host())
    client.cookies[settings.SESSION_COOKIE_NAME] = session.session_key
    return client, session


def _users(usernames: set[str]) -> dict[str, Any]:
    found = {
        u.get_username(): u
        for u in get_user_model().objects.filter(username__in=usernames)
    }
    missing = sorted(usernames - found.keys())
    if missing:
        raise CommandError(
            f"The database has no user {', '.join(missing)}: load the demo data "
            "(manage.py seed_demo) before measuring its pages."
        )
    return found


def _request(client: Client, page: Page) -> tuple[float, float, int]:
    """One request's milliseconds (wall, CPU) and queries; anything but 200
    stops the run."""
    extra = HTMX if page.htmx else {}
    with CaptureQueriesContext(connection) as captured:
        start, cpu = time.perf_counter(), time.process_time()
        response = client.get(page.path, secure=True, **extra)
        elapsed = (time.perf_counter() - start) * 1000
        cpu = (time.process_time() - cpu) * 1000
    if response.status_code != 200:
        raise CommandError(
            f"{page.label} answered {response.status_code} at {page.path}; "
            "nothing was measured for it."
        )
    return elapsed, cpu, len(captured)


def measure(page: Page, client: Client, *, runs: int, warmup: int) -> Figures:
    """``page`` requested ``warmup`` times, then ``runs`` times measured."""
    for _ in range(warmup):
        _request(client, page)
    results = [_request(client, page) for _ in range(runs)]
    return Figures(
        page,
        [ms for ms, _, _ in results],
        [cpu for _, cpu, _ in results],
        [n for _, _, n in results],
    )


def run(options: dict[str, Any], *, say: Say) -> dict[str, Any]:
    """Measure every page with DEBUG off; print a line each and the JSON
    figures last."""
    with override_settings(**_production_like()):
        return _run(options, say=say)


def _run(options: dict[str, Any], *, say: Say) -> dict[str, Any]:
    runs, warmup = options["runs"], options["warmup"]
    if runs < 1:
        raise CommandError("--runs must be 1 or more: how often each page is timed.")
    if warmup < 0:
        raise CommandError("--warmup must be 0 or more.")
    users = _users({page.username for page in PAGES})
    clients = {name: _signed_in_client(user) for name, user in users.items()}
    say(
        f"{runs} runs per page after {warmup} warm-up, on "
        f"{connection.vendor}:{connection.settings_dict['NAME']}, "
        "with DEBUG off as in production"
    )
    figures, skipped = [], []
    try:
        for page in PAGES:
            if page.managers_only and not is_manager(users[page.username]):
                reason = f"{page.username} has no manager flag, so may not open it"
                skipped.append({"page": page.label, "reason": reason})
                say(f"{page.label:<42} skipped: {reason}")
                continue
            result = measure(page, clients[page.username][0], runs=runs, warmup=warmup)
            figures.append(result.as_dict())
            say(result.line())
    finally:
        for _, session in clients.values():
            session.delete()
    report = {
        "database": f"{connection.vendor}:{connection.settings_dict['NAME']}",
        "runs": runs,
        "warmup": warmup,
        "debug": False,
        "pages": figures,
        "skipped": skipped,
    }
    say(json.dumps(report))
    return report
