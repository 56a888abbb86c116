"""Full-page screenshots of every page of every demo role: ``make screenshots``.

Run as ``python -m tests.screenshots``. Builds a fresh SQLite database in a
temporary folder (``seed_demo --leads 500 --seed 1``, plus a draft scoring
model so the rule editor has something to show), serves it with the dev
server on a free port (its timers off, so the data holds still), logs in as
each demo role with Debian's Chromium and saves
``var/screenshots/<role>/<page>.png``, and the login page under
``anonymous/``.

Every role visits every page of ``PAGES``: the pages of the URL confs that
answer GET with HTML, with ids taken from the demo data or from the first
matching link on the page the role was shown before. A page the role may not
open (403, or sent to a login page) is listed, not shot, except the first
403, saved as ``forbidden.png``; ``not-found.png`` is a lead that does not
exist. The run fails (exit status 1) when a page answers with a server error
or another unexpected status, or the browser logs a console error or an
uncaught exception.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "var" / "screenshots"
#: As in the demo of the README, small enough to seed in seconds.
SEED_ARGS = {"leads": 500, "seed": 1}
#: The screen the product targets.
VIEWPORT = {"width": 1440, "height": 900}
#: Seconds the dev server may take to answer its health check.
SERVER_START_SECONDS = 60
#: What a 403 or 404 answer makes Chromium log about the page itself.
DOCUMENT_STATUS_LOG = re.compile(r"^Failed to load resource: .* status of (403|404)")

#: A server error in the dev server's log: Django's message, or an access line.
SERVER_ERROR_LOG = re.compile(r'^Internal Server Error: |" 5\d\d \d+$')

#: Role folder and the demo login that shows it.
ROLES = (
    ("marketing", "marketer"),
    ("sdr", "sdr1"),
    ("sdr-manager", "manager"),
    ("sales", "rep1"),
    ("sales-manager", "salesmanager"),
    ("admin", "admin"),
)

logger = logging.getLogger("screenshots")


@dataclass(frozen=True)
class Page:
    """One page to shoot: a path, or the first link matching ``link`` on ``parent``.

    ``{name}`` in a path is filled from the demo ids (``demo_database``).
    ``ready`` is a selector to wait for, on a page its scripts draw after load.
    """

    slug: str
    path: str = ""
    link: str = ""
    parent: str = ""
    status: int = 200
    ready: str = ""


PAGES = (
    Page("start", "/"),
    Page("marketing", "/marketing/"),
    Page("lead-list", "/leads/"),
    Page("lead", link=r"^/leads/\d+/$", parent="lead-list"),
    Page("campaigns", "/campaigns/"),
    Page("campaign", link=r"^/campaigns/\d+/$", parent="campaigns"),
    Page("campaign-new", "/campaigns/new/"),
    Page("campaigns-w-shaped", "/campaigns/?period=90d&model=w_shaped"),
    Page("planner", "/planner/"),
    Page(
        "plan",
        "/planner/?date_from={next_quarter}&date_to={next_quarter_end}"
        "&target_kind=customers&target=40&reference=default",
    ),
    Page("rule-analytics", "/scoring/analytics/?period=90d"),
    Page("queue", "/queue/"),
    Page("handoff", link=r"^/handoffs/\d+/$", parent="queue"),
    Page("pipeline", "/pipeline/"),
    Page("team-pipeline", "/pipeline/team/"),
    Page("sla-report", "/reports/sla/"),
    Page("scoring-models", "/scoring/"),
    Page("scoring-model", "/scoring/{active_model}/"),
    Page("scoring-draft", "/scoring/{draft_model}/"),
    Page("scoring-settings", "/scoring/{draft_model}/settings/"),
    Page("scoring-rule-add", "/scoring/{draft_model}/rules/add/?kind=fit"),
    Page("scoring-rule-edit", "/scoring/{draft_model}/rules/{draft_rule}/"),
    Page("scoring-rule-delete", "/scoring/{draft_model}/rules/{draft_rule}/delete/"),
    Page("scoring-publish", "/scoring/{draft_model}/publish/"),
    Page("imports", "/leads/import/"),
    Page("tracking", "/leads/tracking/"),
    Page("tracking-new", "/leads/tracking/new/"),
    Page("tracking-source", "/leads/tracking/{tracking_source}/"),
    Page("tracking-source-edit", "/leads/tracking/{tracking_source}/edit/"),
    Page("tracking-source-rotate", "/leads/tracking/{tracking_source}/rotate/"),
    Page("tracking-server-source", "/leads/tracking/{tracking_server}/"),
    Page("tracking-events", "/leads/tracking/events/"),
    Page("admin", "/admin/"),
    Page("admin-leads", "/admin/leads/lead/"),
    Page("admin-lead", "/admin/leads/lead/{lead}/change/"),
    Page("admin-users", "/admin/auth/user/"),
    Page("admin-failed-tasks", "/admin/crm/failedtask/"),
    Page("api-docs", "/api/v1/docs/", ready=".swagger-ui .info"),
    Page("not-found", "/leads/999999999/", status=404),
)


@dataclass
class Visit:
    """What one role saw: links per page, the pages shot, skipped and failed."""

    role: str
    links: dict[str, list[str]] = field(default_factory=dict)
    shot: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    forbidden_shot: bool = False


def demo_database(folder: Path) -> dict[str, int]:
    """Seed a fresh database in ``folder``; return the ids the pages need.

    Django is set up here, in this process, on that database: the
    environment must be set before Django reads its settings.
    """
    os.environ.update(
        DATABASE_URL=f"sqlite:///{folder / 'demo.sqlite3'}",
        DEBUG="true",
        EMBEDDED_TIMERS="false",
        DJANGO_SETTINGS_MODULE="crm.settings",
        DJANGO_RUNSERVER_HIDE_WARNING="true",
    )
    for name in ("REDIS_URL", "CELERY_BROKER_URL"):
        os.environ.pop(name, None)
    # Imported only now: the settings are read from the environment just set.
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connections

    from leads.models import Lead
    from leads.tracking.services import tracking_source_create
    from scoring.models import ScoringModel
    from scoring.services import drafts

    call_command("migrate", verbosity=0)
    call_command("seed_demo", verbosity=0, **SEED_ARGS)
    admin = get_user_model().objects.get(username="admin")
    active = ScoringModel.objects.get(status=ScoringModel.Status.ACTIVE)
    draft = drafts.model_clone(model=active, actor=admin)
    site = tracking_source_create(
        name="Marketing site",
        kind="site",
        origins=["https://www.example.com"],
        actor=admin,
    )
    server = tracking_source_create(
        name="Product backend", kind="server", origins=[], actor=admin
    )
    ids = {
        "active_model": active.id,
        "draft_model": draft.id,
        "draft_rule": draft.rules.order_by("id").values_list("id", flat=True)[0],
        "lead": Lead.objects.order_by("id").values_list("id", flat=True)[0],
        "tracking_source": site.id,
        "tracking_server": server.id,
        **_next_quarter(),
    }
    connections.close_all()
    return ids


def _next_quarter() -> dict[str, str]:
    """The first and last day of next quarter, for a plan to shoot."""
    today = dt.datetime.now(dt.UTC).date()
    start = today.replace(month=3 * ((today.month - 1) // 3) + 1, day=1)
    first = (start + dt.timedelta(days=95)).replace(day=1)
    following = (first + dt.timedelta(days=95)).replace(day=1)
    return {
        "next_quarter": first.isoformat(),
        "next_quarter_end": (following - dt.timedelta(days=1)).isoformat(),
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_start(port: int, log_path: Path) -> subprocess.Popen[bytes]:
    """The dev server on ``port``, answering its health check; its output in a file."""
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [
                sys.executable,
                "manage.py",
                "runserver",
                "--noreload",
                f"127.0.0.1:{port}",
            ],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            break
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz/", timeout=5):
                return server
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.5)
    server.kill()
    raise SystemExit(f"the dev server did not start:\n{log_path.read_text()}")


def page_path(page: Page, visit: Visit, ids: dict[str, int]) -> str | None:
    """The path of ``page`` for this role, or None when no link leads to it."""
    if page.path:
        return page.path.format(**ids)
    pattern = re.compile(page.link)
    return next((h for h in visit.links.get(page.parent, []) if pattern.match(h)), None)


def page_shoot(context: Any, base: str, page: Page, path: str, visit: Visit) -> None:
    """Open ``path``, check what it answered and logged, save the screenshot."""
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(f"uncaught {exc}"))
    tab.on(
        "console",
        lambda msg: (
            errors.append(f"console: {msg.text}") if msg.type == "error" else None
        ),
    )
    response = tab.goto(base + path, wait_until="networkidle")
    status = response.status if response else 0
    if page.ready and status == page.status:
        tab.wait_for_selector(page.ready)
    final = tab.url.removeprefix(base)
    errors = [e for e in errors if not DOCUMENT_STATUS_LOG.match(e.split(": ", 1)[1])]
    name = page.slug
    sent_away = final.split("?")[0] != path.split("?")[0]
    if sent_away and final.startswith(("/accounts/login/", "/admin/login/")):
        visit.skipped.append(f"{page.slug} (sent to {final.split('?')[0]})")
        name = ""
    elif status == 403 and page.status != 403:
        visit.skipped.append(f"{page.slug} (403)")
        name = "" if visit.forbidden_shot else "forbidden"
        visit.forbidden_shot = True
    elif status != page.status:
        visit.failures.append(f"{page.slug} {path}: answered {status}")
    for error in errors:
        visit.failures.append(f"{page.slug} {path}: {error}")
    if name:
        shot = OUTPUT / visit.role / f"{name}.png"
        tab.screenshot(path=str(shot), full_page=True)
        visit.shot.append(f"{name} ({path})")
    visit.links[page.slug] = tab.eval_on_selector_all(
        "a[href]", "links => links.map(a => a.getAttribute('href'))"
    )
    tab.close()


def role_visit(
    browser: Any, base: str, role: str, username: str, ids: dict[str, int]
) -> Visit:
    """Log in as ``username`` and shoot every page of PAGES it can open."""
    from crm.demo import DEMO_PASSWORD

    visit = Visit(role)
    (OUTPUT / role).mkdir(parents=True)
    context = browser.new_context(viewport=VIEWPORT)
    login = context.new_page()
    login.goto(f"{base}/accounts/login/")
    login.fill("#id_username", username)
    login.fill("#id_password", DEMO_PASSWORD)
    with login.expect_navigation():
        login.click("button[type=submit]")
    login.close()
    for page in PAGES:
        path = page_path(page, visit, ids)
        if path is None:
            visit.skipped.append(f"{page.slug} (no link on {page.parent})")
            continue
        page_shoot(context, base, page, path, visit)
    context.close()
    return visit


def anonymous_visit(browser: Any, base: str) -> Visit:
    visit = Visit("anonymous")
    (OUTPUT / "anonymous").mkdir(parents=True)
    context = browser.new_context(viewport=VIEWPORT)
    page_shoot(
        context, base, Page("login", "/accounts/login/"), "/accounts/login/", visit
    )
    context.close()
    return visit


def main() -> int:
    # Playwright's sync API runs an event loop in this thread; the ORM is done
    # by then, but Django would refuse it anyway.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    shutil.rmtree(OUTPUT, ignore_errors=True)
    with tempfile.TemporaryDirectory(prefix="leadflow-screenshots-") as folder:
        logger.info("seeding a fresh demo database in %s", folder)
        ids = demo_database(Path(folder))
        # The browser the browser tests use, once Django is set up.
        from tests.conftest import CHROMIUM, CHROMIUM_ARGS

        port = free_port()
        server = server_start(port, Path(folder) / "server.log")
        base = f"http://127.0.0.1:{port}"
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
                )
                visits = [anonymous_visit(browser, base)]
                for role, username in ROLES:
                    logger.info("shooting the pages of %s as %s", role, username)
                    visits.append(role_visit(browser, base, role, username, ids))
                browser.close()
        finally:
            server.terminate()
            server.wait(timeout=30)
        server_log = (Path(folder) / "server.log").read_text()
    return report(visits, server_log)


def report(visits: list[Visit], server_log: str) -> int:
    """Log what each role saw; 1 when anything failed."""
    failures = []
    for visit in visits:
        logger.info("%s: %d pages shot", visit.role, len(visit.shot))
        for line in visit.shot:
            logger.info("  %s", line)
        if visit.skipped:
            logger.info("  not for this role: %s", ", ".join(visit.skipped))
        failures += [f"{visit.role}: {failure}" for failure in visit.failures]
    # Requests the browser made on its own (htmx, scripts) count too.
    failures += [
        f"the server answered with an error: {line}"
        for line in server_log.splitlines()
        if SERVER_ERROR_LOG.search(line)
    ]
    for failure in failures:
        logger.error("%s", failure)
    logger.info("screenshots in %s", OUTPUT)
    return 1 if failures else 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    sys.exit(main())
