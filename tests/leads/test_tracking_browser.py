"""Website tracking end to end in Chromium: the marketer's site is another
origin (a threaded ``http.server`` on its own port) carrying the snippet, or
Segment's own analytics-next, and the Leadflow live server collects.

The snippet: anonymous page views stay apart from leads until identify, which
turns them into the lead's touchpoints (original times, the campaign of the
UTM keys, marked as before identification) and rescores the lead once; later
events become touchpoints directly. Consent required: no cookie and no request
until consent; Do Not Track or Global Privacy Control: nothing at all.

analytics-next 1.84.3 (vendored under tracking_site/, MIT) with inline CDN
settings, so it never calls Segment, sends to ``<leadflow>/segment/v1/<p|t|i>``
as text/plain with the write key in the body and as Basic auth.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from playwright.sync_api import expect

from crm.roles import MARKETING
from leads.models import (
    Lead,
    Touchpoint,
    TrackedEvent,
    TrackingSource,
    Visitor,
    WebForm,
)
from leads.models.tracking import BEFORE_IDENTIFICATION
from leads.tracking import install
from leads.tracking.links import lead_token
from leads.tracking.services import tracking_source_create
from tests.browser import SCREENSHOTS, log_in, page_watch
from tests.factories import CampaignFactory, LeadFactory, UserFactory

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]
VIEWPORT = {"width": 1280, "height": 800}
#: A person's browser: headless Chromium names itself HeadlessChrome, which
#: the collector rightly counts as a bot and does not store.
DESKTOP_CHROME = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/130.0.0.0 Safari/537.36"
)
SITE_FILES = Path(__file__).resolve().parent / "tracking_site"
ANALYTICS_NEXT = SITE_FILES / "analytics-next-1.84.3.umd.js"
UTM = "utm_source=linkedin&utm_medium=paid_social&utm_campaign=spring"
#: Reads a document's cookie by name from the page.
READ_COOKIE = (
    "name => (document.cookie.split('; ').find(c => c.startsWith(name + '='))"
    " || '').slice(name.length + 1)"
)


@dataclass
class Site:
    """The marketer's website: pages by path, served on its own origin."""

    origin: str
    pages: dict[str, str] = field(default_factory=dict)

    def url(self, path: str) -> str:
        return self.origin + path


@pytest.fixture
def site() -> Iterator[Site]:
    """A threaded HTTP server on 127.0.0.1 (the live server is localhost: a
    different origin), answering ``pages``; the query string is ignored."""
    pages: dict[str, str] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = urlsplit(self.path).path
            if path == "/analytics-next.js":
                body, kind = ANALYTICS_NEXT.read_bytes(), "text/javascript"
            elif path in pages:
                body, kind = pages[path].encode(), "text/html; charset=utf-8"
            else:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Site(origin=f"http://127.0.0.1:{server.server_port}", pages=pages)
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def browser_page(browser) -> Iterator[Any]:
    """A page of a person's browser that may reach only this machine: a
    request to any other host is refused and reported."""
    context = browser.new_context(viewport=VIEWPORT, user_agent=DESKTOP_CHROME)
    page = context.new_page()
    page.outside = []

    def local_only(route: Any) -> None:
        host = urlsplit(route.request.url).hostname
        if host in {"127.0.0.1", "localhost"}:
            route.continue_()
        else:
            page.outside.append(route.request.url)
            route.abort()

    context.route("**/*", local_only)
    yield page
    context.close()


def _marketer() -> Any:
    return UserFactory(username="maya", roles=[MARKETING])


def _site_source(site: Site) -> Any:
    return tracking_source_create(
        name="Marketing site",
        kind="site",
        origins=[site.origin],
        actor=_marketer(),
    )


def _page_html(body: str, head: str = "", title: str = "Acme") -> str:
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{title}</title>"
        f"{head}</head><body>{body}</body></html>"
    )


def _collector_requests(page: Any) -> list[Any]:
    """Every request the page makes to the collector, as they happen."""
    sent: list[Any] = []
    page.on(
        "request",
        lambda request: sent.append(request) if "/segment/" in request.url else None,
    )
    return sent


def _send(page: Any, path: str, action: Callable[[], Any]) -> Any:
    """Do ``action`` on the page and wait until the collector has answered
    ``path`` with 200 (body and all: a navigation right after would abort
    the reading of it)."""
    with page.expect_response(
        lambda response: urlsplit(response.url).path == path
    ) as answer:
        action()
    response = answer.value
    assert response.finished() is None
    assert response.status == 200, response.text()
    return response


def _call(page: Any, path: str, script: str) -> Any:
    """Run ``script`` on the page and wait for the collector to answer ``path``."""
    return _send(page, path, lambda: page.evaluate(script))


def test_the_snippet_keeps_a_visit_anonymous_until_identify_then_moves_it_to_the_lead(
    browser_page, site, live_server, changed
):
    source = _site_source(site)
    spring = CampaignFactory(
        name="Spring launch",
        utm_source="linkedin",
        utm_medium="paid_social",
        utm_campaign="spring",
    )
    tag = install.snippet_tag(source, live_server.url)
    site.pages["/pricing"] = _page_html("<h1>Pricing</h1>", tag, title="Pricing")
    site.pages["/features"] = _page_html("<h1>Features</h1>", tag, title="Features")
    page = browser_page

    with page_watch(page):
        # Given a visit from a campaign link, then a second page.
        first = _send(
            page, "/segment/v1/p", lambda: page.goto(site.url(f"/pricing?{UTM}"))
        )
        assert first.headers["access-control-allow-origin"] == site.origin
        _send(page, "/segment/v1/p", lambda: page.goto(site.url("/features")))
        anonymous_id = page.evaluate(f"({READ_COOKIE})('lf_aid')")

        # Then both page views are kept for an anonymous visitor, no lead.
        visitor = Visitor.objects.get()
        assert visitor.anonymous_id == anonymous_id
        assert visitor.lead is None
        assert (visitor.utm_source, visitor.utm_medium, visitor.utm_campaign) == (
            "linkedin",
            "paid_social",
            "spring",
        )
        assert visitor.landing_url == site.url(f"/pricing?{UTM}")
        assert visitor.campaign == spring
        events = list(TrackedEvent.objects.order_by("occurred_at"))
        assert [(e.event, e.kind_id, e.lead_id) for e in events] == [
            ("page", "page_view", None),
            ("page", "page_view", None),
        ]
        assert [e.properties["path"] for e in events] == ["/pricing", "/features"]
        assert [e.campaign for e in events] == [spring, None]
        assert not Lead.objects.exists()
        assert not Touchpoint.objects.exists()
        times = [e.occurred_at for e in events]

        # When the visitor gives their e-mail.
        changed.clear()
        _call(
            page,
            "/segment/v1/i",
            "leadflow.identify('ada@example.com', {first_name: 'Ada'})",
        )

        # Then the lead exists and holds the visit as touchpoints at the
        # original times, with the campaign, marked as before identification.
        lead = Lead.objects.get()
        assert (lead.email, lead.first_name) == ("ada@example.com", "Ada")
        assert (lead.utm_source, lead.utm_campaign) == ("linkedin", "spring")
        touches = list(lead.touchpoints.order_by("occurred_at"))
        assert [(t.kind_id, t.occurred_at, t.campaign) for t in touches] == [
            ("page_view", times[0], spring),
            ("page_view", times[1], None),
        ]
        assert [t.properties[BEFORE_IDENTIFICATION] for t in touches] == [True, True]
        assert [t.properties["anonymous_id"] for t in touches] == [anonymous_id] * 2
        assert Visitor.objects.get().lead == lead
        # ... and the lead was marked for one rescore, which ran.
        assert [ids for ids in changed if lead.id in ids] == [[lead.id]]
        lead.refresh_from_db()
        assert lead.scored_at is not None

        # When the identified visitor requests a demo.
        _call(page, "/segment/v1/t", "leadflow.track('Demo Requested', {plan: 'team'})")

        # Then it is a touchpoint at once, not history.
        demo = lead.touchpoints.get(kind_id="demo_request")
        assert demo.properties["plan"] == "team"
        assert BEFORE_IDENTIFICATION not in demo.properties
        assert demo.source == f"tracking:{source.id}"
        assert not TrackedEvent.objects.filter(kind__isnull=False).exists()
    assert page.outside == []


def test_the_snippet_waits_for_consent_when_the_site_requires_it(
    browser_page, site, live_server
):
    source = _site_source(site)
    tag = install.snippet_tag(source, live_server.url, consent_required=True)
    site.pages["/"] = _page_html("<h1>Welcome</h1>", tag)
    page = browser_page
    sent = _collector_requests(page)

    with page_watch(page):
        # Given a visit before the banner was answered.
        page.goto(site.url(f"/?{UTM}"))
        page.wait_for_load_state("networkidle")
        page.evaluate("leadflow.track('Demo Requested')")
        page.evaluate("leadflow.identify('ada@example.com')")
        page.wait_for_timeout(300)

        # Then nothing was stored in the browser or sent.
        assert page.context.cookies() == []
        assert sent == []
        assert not Visitor.objects.exists()

        # When the visitor consents, this page's view goes.
        _call(page, "/segment/v1/p", "leadflow.consent(true)")
        cookie = page.evaluate(f"({READ_COOKIE})('lf_aid')")
        assert Visitor.objects.get().anonymous_id == cookie
        assert [urlsplit(r.url).path for r in sent] == ["/segment/v1/p"]

        # When they take it back, the cookie goes and nothing more is sent.
        page.evaluate("leadflow.consent(false)")
        page.evaluate("leadflow.track('Pricing Viewed')")
        page.wait_for_timeout(300)
        assert page.context.cookies() == []
        assert len(sent) == 1
    assert TrackedEvent.objects.count() == 1


@pytest.mark.parametrize(
    "signal",
    [
        "Object.defineProperty(Navigator.prototype, 'doNotTrack', {get: () => '1'})",
        "Object.defineProperty(Navigator.prototype, 'globalPrivacyControl',"
        " {get: () => true})",
    ],
    ids=["do-not-track", "global-privacy-control"],
)
def test_the_snippet_does_nothing_for_a_browser_that_asks_not_to_be_tracked(
    browser_page, site, live_server, signal
):
    source = _site_source(site)
    site.pages["/"] = _page_html(
        "<h1>Welcome</h1>", install.snippet_tag(source, live_server.url)
    )
    page = browser_page
    page.add_init_script(signal)
    sent = _collector_requests(page)

    with page_watch(page):
        page.goto(site.url(f"/?{UTM}"))
        page.wait_for_load_state("networkidle")
        page.evaluate("leadflow.consent(true)")
        page.evaluate("leadflow.identify('ada@example.com')")
        page.evaluate("leadflow.track('Demo Requested')")
        page.wait_for_timeout(300)

    assert page.context.cookies() == []
    assert sent == []
    assert not Visitor.objects.exists()
    assert not Lead.objects.exists()


def test_the_snippet_gives_leadflow_forms_the_visitors_anonymous_id(
    browser_page, site, live_server
):
    source = _site_source(site)
    form = (
        f"<form id='contact' method='post' "
        f"action='{live_server.url}/api/v1/forms/contact/submit/'>"
        "<input name='email'></form>"
        "<form id='other' method='post' action='/newsletter'>"
        "<input name='email'></form>"
    )
    site.pages["/"] = _page_html(form, install.snippet_tag(source, live_server.url))
    page = browser_page

    with page_watch(page):
        _send(page, "/segment/v1/p", lambda: page.goto(site.url("/")))
        cookie = page.evaluate(f"({READ_COOKIE})('lf_aid')")
        given = page.locator("#contact input[name=anonymous_id]")

        assert given.get_attribute("type") == "hidden"
        assert given.input_value() == cookie
        assert page.locator("#other input[name=anonymous_id]").count() == 0


@pytest.mark.postgres
def test_an_email_link_identifies_the_visitor_it_brings(
    browser_page, site, live_server
):
    # PostgreSQL: the identify and the page view arrive at once, which the
    # tests' in-memory SQLite cannot take in parallel.
    source = _site_source(site)
    lead = LeadFactory(email="ada@example.com")
    site.pages["/offer"] = _page_html(
        "<h1>Offer</h1>", install.snippet_tag(source, live_server.url)
    )
    page = browser_page
    sent = _collector_requests(page)

    with page_watch(page):
        page.goto(site.url(f"/offer?x=1&lf_t={lead_token(lead)}"))
        page.wait_for_load_state("networkidle")
        for request in sent:
            assert request.response().finished() is None

    assert page.url == site.url("/offer?x=1")
    visitor = Visitor.objects.get()
    assert visitor.lead == lead
    touch = lead.touchpoints.get()
    assert (touch.kind_id, touch.properties["url"]) == (
        "page_view",
        site.url("/offer?x=1"),
    )


def test_a_leadflow_form_on_the_site_identifies_the_visitor(
    browser_page, site, live_server
):
    source = _site_source(site)
    WebForm.objects.create(
        key="contact",
        name="Contact us",
        kind_id="form_submit",
        allowed_origins=site.origin,
    )
    form = (
        f"<form method='post' action='{live_server.url}/api/v1/forms/contact/submit/'>"
        "<input name='email' id='email'><button type='submit'>Send</button></form>"
    )
    site.pages["/contact"] = _page_html(
        form, install.snippet_tag(source, live_server.url)
    )
    page = browser_page

    with page_watch(page):
        _send(page, "/segment/v1/p", lambda: page.goto(site.url(f"/contact?{UTM}")))
        anonymous_id = page.evaluate(f"({READ_COOKIE})('lf_aid')")
        page.fill("#email", "ada@example.com")
        with page.expect_navigation():
            page.click("text=Send")

    lead = Lead.objects.get(email="ada@example.com")
    assert Visitor.objects.get().lead == lead
    assert sorted(lead.touchpoints.values_list("kind_id", flat=True)) == [
        "form_submit",
        "page_view",
    ]
    view = lead.touchpoints.get(kind_id="page_view")
    assert view.properties[BEFORE_IDENTIFICATION] is True
    assert view.properties["anonymous_id"] == anonymous_id


# Segment's own browser SDK
# ------------------------------------------------------------------------------

#: Loads analytics-next with its settings inline (no CDN request) and the
#: Segment.io destination sending to Leadflow.
ANALYTICS_NEXT_PAGE = """
<script src="/analytics-next.js"></script>
<script>
  window.analyticsReady = AnalyticsNext.AnalyticsBrowser.load({
    writeKey: "%(key)s",
    cdnURL: location.origin,
    cdnSettings: {
      integrations: {
        "Segment.io": {
          apiKey: "%(key)s",
          apiHost: "%(api_host)s",
          protocol: "http",
          deliveryStrategy: %(delivery)s
        }
      }
    }
  }).then(function (loaded) { window.analytics = loaded[0]; return true; });
</script>
"""


def test_segments_analytics_next_sends_unchanged_to_leadflow(
    browser_page, site, live_server
):
    source = _site_source(site)
    api_host = urlsplit(live_server.url).netloc + "/segment/v1"
    site.pages["/"] = _page_html(
        "<h1>Demo</h1>",
        ANALYTICS_NEXT_PAGE
        % {"key": source.write_key, "api_host": api_host, "delivery": "null"},
    )
    page = browser_page
    sent = _collector_requests(page)

    with page_watch(page):
        page.goto(site.url(f"/?{UTM}"))
        assert page.evaluate("window.analyticsReady") is True
        _call(page, "/segment/v1/p", "analytics.page()")
        _call(page, "/segment/v1/t", "analytics.track('Demo Requested', {plan: 'x'})")
        assert not Lead.objects.exists()
        _call(
            page,
            "/segment/v1/i",
            "analytics.identify('ada@example.com', {email: 'ada@example.com'})",
        )

    # What it sent: one-letter paths, text/plain JSON with the key in the body
    # and as the Basic-auth user name.
    basic = "Basic " + base64.b64encode(f"{source.write_key}:".encode()).decode()
    assert [urlsplit(r.url).path for r in sent] == [
        "/segment/v1/p",
        "/segment/v1/t",
        "/segment/v1/i",
    ]
    for request in sent:
        assert request.method == "POST"
        assert request.headers["content-type"] == "text/plain"
        assert request.headers["authorization"] == basic
        body = json.loads(request.post_data)
        assert body["writeKey"] == source.write_key
        assert body["messageId"].startswith("ajs-next-")
    # Then the demo request is the lead's touchpoint.
    lead = Lead.objects.get(email="ada@example.com")
    demo = lead.touchpoints.get(kind_id="demo_request")
    assert demo.properties["plan"] == "x"
    assert demo.properties[BEFORE_IDENTIFICATION] is True
    assert lead.touchpoints.filter(kind_id="page_view").count() == 1
    assert page.outside == []


def test_segments_analytics_next_batching_sends_one_batch_to_leadflow(
    browser_page, site, live_server
):
    source = _site_source(site)
    api_host = urlsplit(live_server.url).netloc + "/segment/v1"
    batching = '{strategy: "batching", config: {size: 3, timeout: 5000}}'
    site.pages["/"] = _page_html(
        "<h1>Demo</h1>",
        ANALYTICS_NEXT_PAGE
        % {"key": source.write_key, "api_host": api_host, "delivery": batching},
    )
    page = browser_page
    sent = _collector_requests(page)

    with page_watch(page):
        page.goto(site.url(f"/?{UTM}"))
        assert page.evaluate("window.analyticsReady") is True
        _call(
            page,
            "/segment/v1/b",
            """() => {
              analytics.page();
              analytics.track('Demo Requested', {plan: 'x'});
              analytics.identify('ada@example.com', {email: 'ada@example.com'});
            }""",
        )

    # One batch of the three, in order, with the key in the body.
    [request] = sent
    body = json.loads(request.post_data)
    assert body["writeKey"] == source.write_key
    assert [m["type"] for m in body["batch"]] == ["page", "track", "identify"]
    lead = Lead.objects.get(email="ada@example.com")
    assert sorted(lead.touchpoints.values_list("kind_id", flat=True)) == [
        "demo_request",
        "page_view",
    ]
    assert page.outside == []


def _shot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"tracking-{name}.png"), full_page=True)


def test_the_marketer_installs_a_site_maps_an_event_and_reads_the_lead(
    browser_page, live_server, site
):
    """The settings pages in Chromium under ``page_watch``: a refused form,
    a source made and its tag, a new key, the event table with a mapping made
    in one step, and the lead page's history from before identification.
    Screenshots land in var/screenshots/tracking-*.png."""
    UserFactory(username="mkt.mia", first_name="Mia", roles=[MARKETING])
    page = browser_page
    with page_watch(page):
        log_in(page, live_server, "mkt.mia")
        page.click("#nav-tracking")
        expect(page.locator("h1")).to_have_text("Website tracking")
        _shot(page, "empty-list")
        page.click("text=New source")
        # A website without its origin is refused, saying what to add.
        page.fill("#id_name", "Marketing site")
        page.click("text=Create source")
        expect(page.locator(".field-error")).to_contain_text(
            "A website source needs the origin of the site"
        )
        _shot(page, "new-refused")
        page.fill("#id_origins", site.origin)
        page.click("text=Create source")
        expect(page.locator("h1")).to_contain_text("Marketing site")
        source = TrackingSource.objects.get()
        tag = page.locator("#install-tag").input_value()
        assert tag == install.snippet_tag(source, settings.SITE_URL)
        _shot(page, "site-source")

        # A new key: asked first, the old one shown with its last day.
        old_key = source.write_key
        page.click("text=New write key")
        _shot(page, "rotate-confirm")
        page.click("button:has-text('Make a new key')")
        expect(page.locator(".message")).to_contain_text(
            "The old one keeps working until"
        )
        expect(page.locator("dl.facts")).to_contain_text(old_key)
        _shot(page, "site-source-rotated")

        # The site's visitor does things no kind is named after.
        source.refresh_from_db()
        site.pages["/"] = _page_html(
            "<h1>Acme</h1>", install.snippet_tag(source, live_server.url)
        )
        visit = page.context.new_page()
        _send(visit, "/segment/v1/p", lambda: visit.goto(site.url(f"/?{UTM}")))
        for event in ("Pricing Calculator Used", "Pricing Calculator Used", "Video"):
            _call(visit, "/segment/v1/t", f"leadflow.track({json.dumps(event)})")
        _call(visit, "/segment/v1/i", "leadflow.identify('ada@example.com')")
        visit.close()

        page.goto(f"{live_server.url}/leads/tracking/events/")
        first = page.locator("table.tracking-events tbody tr").first
        expect(first.locator(".cell-event")).to_have_text("Pricing Calculator Used")
        expect(first.locator("td.num")).to_have_text("2")
        _shot(page, "events")
        first.locator("select").select_option("demo_request")
        first.locator("button:has-text('Save')").click()
        expect(page.locator(".message")).to_contain_text(
            "“Pricing Calculator Used” now counts as Demo request. 2 kept events"
        )
        _shot(page, "events-mapped")

        lead = Lead.objects.get(email="ada@example.com")
        assert lead.touchpoints.filter(kind_id="demo_request").count() == 2
        page.goto(f"{live_server.url}/leads/{lead.id}/")
        expect(page.locator("#visitor-title")).to_have_text("Website visitor")
        expect(page.locator(".badge-history").first).to_have_text(
            "Before identification"
        )
        _shot(page, "lead")

        page.goto(f"{live_server.url}/leads/tracking/")
        row = page.locator("table.tracking-sources tbody tr")
        # The page view and the two mapped events are touchpoints, "Video" kept.
        expect(row.locator("td.num")).to_have_text(["1", "1", "4"])
        _shot(page, "list")
    assert page.outside == []
