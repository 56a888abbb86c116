"""The snippet (static/leadflow/track.js) on its own in Chromium: the messages
it sends, read where they leave the browser. The marketer's site and the
collector are made up (Playwright answers their requests), so no database
or server takes part; tests/leads/test_tracking_browser.py runs it against
Leadflow itself."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from leads.tracking.install import QUEUE_STUB
from tests.browser import page_watch

pytestmark = pytest.mark.browser
SITE = "http://www.acme.test"
COLLECTOR = "http://leadflow.test"
SNIPPET = Path(__file__).resolve().parents[2] / "static/leadflow/track.js"
KEY = "lf_test-key"
TAG = (
    f'{QUEUE_STUB}<script async src="{COLLECTOR}/static/leadflow/track.js" '
    f'data-key="{KEY}"></script>'
)
CONSENT_TAG = TAG.replace("></script>", ' data-consent="required"></script>')
UUID = re.compile(
    r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"
)


@pytest.fixture
def pages() -> dict[str, str]:
    """The made-up site's pages by path (the query string is ignored)."""
    return {}


@pytest.fixture
def sent(browser, pages) -> Iterator[tuple[Any, list[dict[str, Any]]]]:
    """A page on the made-up site, and what reaches the collector: each
    request's path, content type and JSON body."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    messages: list[dict[str, Any]] = []

    def site(route: Any) -> None:
        path = route.request.url.removeprefix(SITE).split("?")[0]
        route.fulfill(status=200, body=pages[path], content_type="text/html")

    def collector(route: Any) -> None:
        request = route.request
        path = request.url.removeprefix(COLLECTOR)
        if path == "/static/leadflow/track.js":
            route.fulfill(body=SNIPPET.read_text(), content_type="text/javascript")
            return
        messages.append(
            {
                "path": path,
                "type": request.headers.get("content-type"),
                "body": json.loads(request.post_data),
            }
        )
        route.fulfill(
            status=200,
            body='{"success": true}',
            content_type="application/json",
            headers={"Access-Control-Allow-Origin": SITE},
        )

    page.route(f"{SITE}/**", site)
    page.route(f"{COLLECTOR}/**", collector)
    yield page, messages
    context.close()


def _wait_for(page: Any, messages: list, count: int) -> None:
    page.wait_for_function("() => true")
    for _ in range(50):
        if len(messages) >= count:
            return
        page.wait_for_timeout(50)
    raise AssertionError(f"{len(messages)} messages sent, {count} expected")


def test_a_page_load_sends_one_page_view_with_the_page_and_the_utm_keys(sent, pages):
    page, messages = sent
    pages["/pricing"] = f"<html><head><title>Pricing</title>{TAG}</head></html>"

    with page_watch(page):
        page.goto(
            f"{SITE}/pricing?utm_source=linkedin&utm_medium=paid_social"
            "&utm_campaign=spring&utm_term=crm&utm_content=video&plan=pro",
            referer="https://www.google.com/",
        )
        _wait_for(page, messages, 1)
        cookie = page.evaluate("document.cookie")

    [message] = messages
    assert message["path"] == "/segment/v1/p"
    assert message["type"] == "text/plain"
    body = message["body"]
    url = (
        f"{SITE}/pricing?utm_source=linkedin&utm_medium=paid_social"
        "&utm_campaign=spring&utm_term=crm&utm_content=video&plan=pro"
    )
    assert body["type"] == "page"
    assert body["writeKey"] == KEY
    assert body["name"] == "Pricing"
    assert body["properties"] == {
        "url": url,
        "path": "/pricing",
        "title": "Pricing",
        "referrer": "https://www.google.com/",
        "search": url[url.index("?") :],
    }
    assert body["context"]["page"] == body["properties"]
    assert body["context"]["campaign"] == {
        "source": "linkedin",
        "medium": "paid_social",
        "name": "spring",
        "term": "crm",
        "content": "video",
    }
    assert body["context"]["library"] == {"name": "leadflow.js", "version": "1.0.0"}
    assert UUID.match(body["anonymousId"])
    assert cookie == f"lf_aid={body['anonymousId']}"
    assert body["messageId"].startswith("lf-")
    assert body["timestamp"] == body["sentAt"]


def test_identify_and_track_send_under_the_same_anonymous_id(sent, pages):
    page, messages = sent
    pages["/"] = f"<html><head>{TAG}</head></html>"

    with page_watch(page):
        page.goto(f"{SITE}/")
        _wait_for(page, messages, 1)
        page.evaluate("leadflow.identify('ada@example.com', {first_name: 'Ada'})")
        page.evaluate("leadflow.track('Demo Requested', {plan: 'team'})")
        page.evaluate("leadflow.track('')")
        _wait_for(page, messages, 3)

    page_view, identify, track = (m["body"] for m in messages)
    assert [m["path"] for m in messages] == [
        "/segment/v1/p",
        "/segment/v1/i",
        "/segment/v1/t",
    ]
    assert identify["type"] == "identify"
    assert identify["traits"] == {"first_name": "Ada", "email": "ada@example.com"}
    assert "userId" not in identify
    assert (track["type"], track["event"], track["properties"]) == (
        "track",
        "Demo Requested",
        {"plan": "team"},
    )
    ids = {m["body"]["anonymousId"] for m in messages}
    assert ids == {page_view["anonymousId"]}
    assert len({m["body"]["messageId"] for m in messages}) == 3


def test_the_anonymous_id_is_kept_from_page_to_page(sent, pages):
    page, messages = sent
    pages["/a"] = pages["/b"] = f"<html><head>{TAG}</head></html>"

    page.goto(f"{SITE}/a")
    _wait_for(page, messages, 1)
    page.goto(f"{SITE}/b")
    _wait_for(page, messages, 2)

    first, second = (m["body"] for m in messages)
    assert first["anonymousId"] == second["anonymousId"]
    assert second["properties"]["path"] == "/b"
    [cookie] = page.context.cookies()
    assert (cookie["name"], cookie["sameSite"], cookie["path"]) == (
        "lf_aid",
        "Lax",
        "/",
    )
    # A year, renewed on every page.
    assert (
        364 * 86400
        < cookie["expires"] - page.evaluate("Date.now() / 1000")
        <= (365 * 86400)
    )


def test_an_email_link_token_identifies_and_leaves_the_address_bar(sent, pages):
    page, messages = sent
    pages["/offer"] = f"<html><head>{TAG}</head></html>"

    with page_watch(page):
        page.goto(f"{SITE}/offer?utm_source=newsletter&lf_t=signed.token&x=1")
        _wait_for(page, messages, 2)

    identify, page_view = (m["body"] for m in messages)
    assert identify["type"] == "identify"
    assert identify["context"]["leadflow_token"] == "signed.token"
    assert page_view["properties"]["url"] == f"{SITE}/offer?utm_source=newsletter&x=1"
    assert "signed.token" not in json.dumps(page_view)
    assert page.url == f"{SITE}/offer?utm_source=newsletter&x=1"


def test_calls_queued_before_the_script_loads_are_sent_after_the_page_view(sent, pages):
    page, messages = sent
    early = "<script>leadflow.track('Webinar Registered', {webinar: 'May'});</script>"
    pages["/"] = f"<html><head>{TAG}{early}</head></html>"

    page.goto(f"{SITE}/")
    _wait_for(page, messages, 2)

    assert [m["body"]["type"] for m in messages] == ["page", "track"]
    assert messages[1]["body"]["properties"] == {"webinar": "May"}


def test_consent_given_later_sends_the_page_view_then_and_revoking_stops_it(
    sent, pages
):
    page, messages = sent
    pages["/"] = f"<html><head>{CONSENT_TAG}</head></html>"

    page.goto(f"{SITE}/?lf_t=tok")
    page.wait_for_load_state("networkidle")
    page.evaluate("leadflow.track('Ignored before consent')")
    page.wait_for_timeout(200)
    assert messages == []
    assert page.context.cookies() == []

    page.evaluate("leadflow.consent(true)")
    _wait_for(page, messages, 2)
    assert [m["body"]["type"] for m in messages] == ["identify", "page"]
    assert messages[0]["body"]["context"]["leadflow_token"] == "tok"

    # The cookie stands for the consent on the next page.
    page.goto(f"{SITE}/")
    _wait_for(page, messages, 3)

    page.evaluate("leadflow.consent(false)")
    page.evaluate("leadflow.track('After revoking')")
    page.wait_for_timeout(200)
    assert len(messages) == 3
    assert page.context.cookies() == []


def test_leadflow_forms_get_the_anonymous_id_even_when_added_later(sent, pages):
    page, messages = sent
    pages["/"] = f"<html><head>{TAG}</head><body></body></html>"

    page.goto(f"{SITE}/")
    _wait_for(page, messages, 1)
    page.evaluate(
        """(collector) => {
          const form = document.createElement('form');
          form.id = 'late';
          form.method = 'post';
          form.action = collector + '/api/v1/forms/contact/submit/';
          form.addEventListener('submit', (event) => {
            window.sentId = new FormData(form).get('anonymous_id');
            event.preventDefault();
          });
          document.body.appendChild(form);
          form.requestSubmit();
        }""",
        COLLECTOR,
    )

    assert page.evaluate("window.sentId") == messages[0]["body"]["anonymousId"]


def test_a_refusal_queued_before_the_script_loads_sends_nothing(sent, pages):
    page, messages = sent
    refusal = "<script>leadflow.consent(false);</script>"
    pages["/"] = f"<html><head>{TAG}{refusal}</head></html>"

    page.goto(f"{SITE}/")
    page.wait_for_load_state("networkidle")
    page.evaluate("leadflow.track('Demo Requested')")
    page.wait_for_timeout(200)

    assert messages == []
    assert page.context.cookies() == []
