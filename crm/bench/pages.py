"""``manage.py bench_pages``: server time and queries of the busiest pages.

Signs the demo users in (``sdr1``, ``manager``, ``rep1``, ``marketer``) and
requests each page with Django's test ``Client`` against the configured
database: the SAL queue and its polled fragment (for an SDR and for the
manager), the sales pipeline (a rep) and the team pipeline (the manager, when
the demo's manager may open it); the lead list (first page, a page 1,000
pages deep by cursor, filtered by stage and country, sorted by score, a name
search), the page of the lead with the most touchpoints among the newest, the
SLA report, the marketer's pages for this quarter (the dashboard also by
source and by region) and a plan for the next.
A page the data cannot give (a list too short for the deep page) is skipped
with the reason. Each page is requested ``warmup`` times unmeasured, then
``runs`` times; the figures are the milliseconds the request took inside
the process (no network), the part of it this process spent on the CPU
(Python: views, templates; not the database's time, and steady when other
processes load the machine) and the queries it made. Like a web worker once
started (``crm/wsgi.py``), the process imports the URLconf and freezes its
loaded objects out of the garbage collector's full collections first.

The requests run as production serves them, whatever the environment says:
with ``settings.DEBUG`` off (templates without their debug information,
secure requests) and plain static file storage, so no collected manifest
is needed. The first line of output says so.

Nothing is written but the sessions: each user's session is stored directly
(no login, so no ``last_login`` update and no login audit row) and deleted
at the end. The last line of output is one JSON object for scripts.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module
from typing import Any
from urllib.parse import urlencode

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
from django.db.models import Count
from django.test import Client
from django.test.utils import CaptureQueriesContext, override_settings
from django.urls import get_resolver
from django.utils import timezone

from crm.bench.stats import percentile
from crm.common.heap import long_lived_objects_freeze
from crm.common.keyset import Cursor, encode_cursor, ordering_for
from crm.marketing.periods import preset_period
from crm.views import LEAD_PAGE_SIZE
from handoff.selectors import is_manager
from leads.models import Lead, Touchpoint
from leads.selectors import LEAD_SORT_DEFAULT, lead_list_filtered

Say = Callable[[str], None]

#: The demo's logins the pages are requested as.
SDR_USER, MANAGER_USER, REP_USER = "sdr1", "manager", "rep1"
MARKETER_USER = "marketer"
#: How deep the deep lead-list page is, in pages of the list.
DEEP_PAGE = 1_000
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
    #: Works out the path at run time from the data (``{}`` in ``path``).
    fill: Callable[[], str] | None = None

    def url(self) -> str:
        return self.path.format(self.fill()) if self.fill is not None else self.path

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
    Page("Lead list", MARKETER_USER, "/leads/"),
    Page(
        f"Lead list, page {DEEP_PAGE:,} by cursor",
        MARKETER_USER,
        "/leads/?cursor={}",
        fill=lambda: _deep_cursor(),
    ),
    Page("Lead list, stage and country", MARKETER_USER, "/leads/?stage=mql&country=DE"),
    Page("Lead list, by score", MARKETER_USER, "/leads/?sort=-score"),
    Page("Lead list, name search", MARKETER_USER, "/leads/?q={}", fill=lambda: _name()),
    Page("Lead page", MARKETER_USER, "/leads/{}/", fill=lambda: str(_busy_lead())),
    Page("SLA report", MANAGER_USER, "/reports/sla/", managers_only=True),
    Page("Marketing dashboard, quarter", MARKETER_USER, "/marketing/?period=quarter"),
    Page(
        "Marketing dashboard, quarter by source",
        MARKETER_USER,
        "/marketing/?period=quarter&source=paid_search",
    ),
    Page(
        "Marketing dashboard, quarter by region",
        MARKETER_USER,
        "/marketing/?period=quarter&region=europe",
    ),
    Page("Campaigns", MARKETER_USER, "/campaigns/"),
    Page("Rule analytics, 90 days", MARKETER_USER, "/scoring/analytics/?period=90d"),
    Page(
        "MQL planner, next quarter", MARKETER_USER, "/planner/?{}", fill=lambda: _plan()
    ),
)


def _plan() -> str:
    """A plan for 50 customers next quarter, against the default reference
    (this quarter)."""
    today = timezone.now().date()
    start = preset_period("quarter", today).start
    first = (start + dt.timedelta(days=95)).replace(day=1)
    reference = Lead.objects.filter(
        entered_customer_at__gte=dt.datetime.combine(start, dt.time.min, dt.UTC),
        entered_customer_at__lt=dt.datetime.combine(first, dt.time.min, dt.UTC),
    )
    if not reference.exists():
        raise PageUnavailable("no lead became a customer this quarter to plan from")
    last = (first + dt.timedelta(days=95)).replace(day=1) - dt.timedelta(days=1)
    return urlencode(
        {
            "date_from": first.isoformat(),
            "date_to": last.isoformat(),
            "target_kind": "customers",
            "target": "50",
            "reference": "default",
        }
    )


class PageUnavailable(Exception):
    """The data has no such page to time (the reason is the message)."""


def _deep_cursor() -> str:
    """The list's cursor after ``DEEP_PAGE`` pages of the default order."""
    sort = LEAD_SORT_DEFAULT
    rows = (
        lead_list_filtered()
        .order_by(*ordering_for(sort, Lead))
        .values_list("created_at", "id")[DEEP_PAGE * LEAD_PAGE_SIZE - 1 :][:1]
    )
    if not rows:
        raise PageUnavailable(
            f"the lead list has fewer than {DEEP_PAGE * LEAD_PAGE_SIZE + 1:,} leads"
        )
    row = rows[0]
    return encode_cursor(Cursor(row[0], row[1]), sort=sort, model=Lead)


def _name() -> str:
    """The most common last name among the newest leads: a search with hits."""
    names = Counter(
        Lead.objects.exclude(last_name="")
        .order_by("-created_at")
        .values_list("last_name", flat=True)[:500]
    )
    if not names:
        raise PageUnavailable("no lead has a last name to search for")
    return names.most_common(1)[0][0]


def _busy_lead() -> int:
    """The lead with the most touchpoints among the newest 500."""
    newest = Lead.objects.order_by("-created_at").values("id")[:500]
    busiest = (
        Touchpoint.objects.filter(lead_id__in=newest)
        .values("lead_id")
        .annotate(n=Count("id"))
        .order_by("-n", "lead_id")
        .first()
    )
    if busiest is None:
        raise PageUnavailable("no lead has touchpoints")
    return busiest["lead_id"]


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


def _request(client: Client, page: Page, path: str) -> tuple[float, float, int]:
    """One request's milliseconds (wall, CPU) and queries; anything but 200
    stops the run."""
    extra = HTMX if page.htmx else {}
    with CaptureQueriesContext(connection) as captured:
        start, cpu = time.perf_counter(), time.process_time()
        response = client.get(path, secure=True, **extra)
        elapsed = (time.perf_counter() - start) * 1000
        cpu = (time.process_time() - cpu) * 1000
    if response.status_code != 200:
        raise CommandError(
            f"{page.label} answered {response.status_code} at {path}; "
            "nothing was measured for it."
        )
    return elapsed, cpu, len(captured)


def measure(
    page: Page, client: Client, *, path: str, runs: int, warmup: int
) -> Figures:
    """``page`` at ``path`` requested ``warmup`` times, then ``runs`` times
    measured."""
    for _ in range(warmup):
        _request(client, page, path)
    results = [_request(client, page, path) for _ in range(runs)]
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
    # As a web worker after start-up (crm/wsgi.py): the URLconf imported and
    # the loaded objects out of the garbage collector's full collections.
    _url_patterns = get_resolver().url_patterns
    long_lived_objects_freeze()
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
            try:
                path = page.url()
            except PageUnavailable as exc:
                skipped.append({"page": page.label, "reason": str(exc)})
                say(f"{page.label:<42} skipped: {exc}")
                continue
            result = measure(
                page, clients[page.username][0], path=path, runs=runs, warmup=warmup
            )
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
