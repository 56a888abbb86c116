"""Website tracking's settings pages (sources, keys, install instructions, the
event table) and the lead page's website visitor panel."""

from __future__ import annotations

import datetime as dt
import html
import re

import pytest
from django.utils import timezone

from crm.roles import ADMIN, MARKETING, SALES, SDR
from leads.models import (
    EventMapping,
    Touchpoint,
    TrackedEvent,
    TrackingSource,
    Visitor,
)
from leads.models.tracking import BEFORE_IDENTIFICATION
from leads.templatetags.leads_tags import device
from leads.tracking.install import QUEUE_STUB
from leads.tracking.services import event_mapping_set, tracking_source_create
from tests.factories import CampaignFactory, LeadFactory, TouchpointFactory, UserFactory

pytestmark = pytest.mark.django_db

SITE = "https://www.example.com"


def _site(name: str = "Marketing site") -> TrackingSource:
    return tracking_source_create(name=name, kind="site", origins=[SITE], actor=None)


def _server() -> TrackingSource:
    return tracking_source_create(
        name="Product backend", kind="server", origins=[], actor=None
    )


def _kept(source: TrackingSource, message_id: str, event: str, **fields) -> None:
    TrackedEvent.objects.create(
        source=source,
        event=event,
        event_key=event.lower().replace("_", " "),
        occurred_at=timezone.now() - dt.timedelta(hours=1),
        message_id=message_id,
        **fields,
    )


def _textarea(page: str, element_id: str) -> str:
    found = re.search(rf'<textarea id="{element_id}"[^>]*>(.*?)</textarea>', page, re.S)
    return html.unescape(found.group(1))


def _page_urls(source: TrackingSource) -> list[str]:
    return [
        "/leads/tracking/",
        "/leads/tracking/new/",
        "/leads/tracking/events/",
        f"/leads/tracking/{source.id}/",
        f"/leads/tracking/{source.id}/edit/",
        f"/leads/tracking/{source.id}/rotate/",
    ]


@pytest.mark.parametrize("role", [SDR, SALES])
def test_sdr_and_sales_may_not_open_the_tracking_pages(client, role):
    source = _site()
    client.force_login(UserFactory(roles=[role]))

    for url in _page_urls(source):
        assert client.get(url).status_code == 403, url
    response = client.post(f"/leads/tracking/{source.id}/rotate/")
    assert response.status_code == 403
    assert client.get("/").status_code in {200, 302}

    source.refresh_from_db()
    assert source.previous_write_key == ""


@pytest.mark.parametrize("role", [MARKETING, ADMIN])
def test_marketing_and_admin_open_every_tracking_page(client, role):
    source = _site()
    client.force_login(UserFactory(roles=[role]))

    for url in _page_urls(source):
        assert client.get(url).status_code == 200, url


def test_a_visitor_not_logged_in_is_sent_to_log_in(client):
    response = client.get("/leads/tracking/")

    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/")


def test_the_navigation_shows_tracking_to_marketing_only(client):
    client.force_login(UserFactory(roles=[MARKETING]))
    assert 'id="nav-tracking"' in client.get("/leads/").content.decode()

    client.force_login(UserFactory(roles=[SDR]))
    assert 'id="nav-tracking"' not in client.get("/leads/").content.decode()


def test_the_list_shows_each_source_with_its_counts(marketer_client):
    source = _site()
    lead = LeadFactory()
    now = timezone.now()
    for number, known in enumerate([lead, None, None]):
        Visitor.objects.create(
            source=source,
            anonymous_id=f"a{number}",
            lead=known,
            first_seen_at=now,
            last_seen_at=now,
        )
    for number in range(4):
        _kept(source, f"m{number}", "Pricing Viewed")

    page = marketer_client.get("/leads/tracking/").content.decode()

    row = re.search(
        r"<tr>\s*<td><a href=\"/leads/tracking/\d+/\">.*?</tr>", page, re.S
    ).group(0)
    cells = re.findall(r'<td class="num">(\d+)</td>', row)
    assert cells == ["3", "1", "4"]
    assert "Marketing site" in row
    assert SITE in row


def test_creating_a_site_source_shows_its_install_tag(marketer_client, settings):
    settings.SITE_URL = "https://crm.example.org"

    response = marketer_client.post(
        "/leads/tracking/new/",
        {
            "name": "Marketing site",
            "kind": "site",
            "origins": "https://www.example.com/\nhttps://Landing.Example.com",
            "retention_days": "90",
        },
        follow=True,
    )

    source = TrackingSource.objects.get()
    assert response.redirect_chain == [(f"/leads/tracking/{source.id}/", 302)]
    assert (source.kind, source.retention_days) == ("site", 90)
    assert source.origins == ["https://www.example.com", "https://landing.example.com"]
    page = response.content.decode()
    tag = (
        '<script async src="https://crm.example.org/static/leadflow/track.js" '
        f'data-key="{source.write_key}"'
    )
    assert _textarea(page, "install-tag") == f"{QUEUE_STUB}\n{tag}></script>"
    assert '<code>apiHost: "crm.example.org/segment/v1"</code>' in page
    assert _textarea(page, "consent-tag") == (
        f'{QUEUE_STUB}\n{tag} data-consent="required"></script>'
    )


def test_a_server_source_says_where_the_sdk_sends(marketer_client, settings):
    settings.SITE_URL = "https://crm.example.org"
    source = _server()

    page = marketer_client.get(f"/leads/tracking/{source.id}/").content.decode()

    assert '<code id="segment-host">https://crm.example.org/segment</code>' in page
    assert f'<code id="server-key">{source.write_key}</code>' in page
    assert "track.js" not in page


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        (
            {"name": "", "origins": SITE},
            "name",
            "This field is required.",
        ),
        (
            {"name": "Site", "origins": ""},
            "origins",
            "A website source needs the origin of the site",
        ),
        (
            {"name": "Site", "origins": "https://www.example.com/pricing"},
            "origins",
            "",
        ),
        (
            {"name": "Site", "origins": SITE, "retention_days": "0"},
            "retention_days",
            "Ensure this value is greater than or equal to 1.",
        ),
    ],
    ids=["no-name", "site-without-origin", "origin-with-a-path", "no-retention"],
)
def test_creating_with_bad_input_says_what_to_fix_and_stores_nothing(
    marketer_client, fields, field, message
):
    data = {"kind": "site", "retention_days": "180"} | fields

    response = marketer_client.post("/leads/tracking/new/", data)

    assert response.status_code == 200
    errors = response.context["form"].errors
    assert list(errors) == [field]
    assert message in errors[field][0]
    assert 'class="field-error"' in response.content.decode()
    assert not TrackingSource.objects.exists()


def test_a_taken_name_is_refused_on_the_form(marketer_client):
    _site("Website")

    response = marketer_client.post(
        "/leads/tracking/new/",
        {"name": "website", "kind": "site", "origins": SITE, "retention_days": "180"},
    )

    assert response.context["form"].errors == {
        "name": ["Another tracking source has this name."]
    }
    assert TrackingSource.objects.count() == 1


def test_editing_changes_origins_and_retention_but_not_the_kind(marketer_client):
    source = _site()

    response = marketer_client.post(
        f"/leads/tracking/{source.id}/edit/",
        {
            "name": "Main site",
            "kind": "server",
            "origins": "https://shop.example.com",
            "retention_days": "30",
        },
    )

    assert response.status_code == 302
    source.refresh_from_db()
    assert (source.name, source.kind, source.retention_days) == (
        "Main site",
        "site",
        30,
    )
    assert source.origins == ["https://shop.example.com"]


def test_rotating_asks_first_then_keeps_the_old_key_for_a_day(marketer_client):
    source = _site()
    old_key = source.write_key

    confirm = marketer_client.get(f"/leads/tracking/{source.id}/rotate/")
    source.refresh_from_db()
    assert "keeps working for 24 hours" in confirm.content.decode()
    assert source.write_key == old_key

    response = marketer_client.post(f"/leads/tracking/{source.id}/rotate/", follow=True)

    source.refresh_from_db()
    assert source.write_key != old_key
    assert source.previous_write_key == old_key
    page = response.content.decode()
    assert "The old one keeps working until" in page
    assert f"<code>{old_key}</code>" in page
    assert f"<code>{source.write_key}</code>" in page


def test_deactivating_and_activating_a_source(marketer_client):
    source = _site()

    page = marketer_client.post(
        f"/leads/tracking/{source.id}/active/", {"active": "false"}, follow=True
    ).content.decode()
    source.refresh_from_db()
    assert source.is_active is False
    assert "everything sent with its keys is refused" in page

    marketer_client.post(f"/leads/tracking/{source.id}/active/", {"active": "true"})
    source.refresh_from_db()
    assert source.is_active is True


def test_an_unknown_source_is_404(marketer_client):
    assert marketer_client.get("/leads/tracking/999999/").status_code == 404


def test_the_event_table_lists_unmapped_events_first_with_their_kept_counts(
    marketer_client,
):
    source = _site()
    _kept(source, "m1", "Pricing Viewed")
    _kept(source, "m2", "Pricing Viewed")
    _kept(source, "m3", "Whitepaper Read")

    page = marketer_client.get("/leads/tracking/events/").content.decode()

    events = re.findall(r'<strong class="cell-event">([^<]+)</strong>', page)
    assert events[:2] == ["Pricing Viewed", "Whitepaper Read"]
    # The migration's default mappings follow, with their kinds.
    assert "Demo Requested" in events[2:]
    first_row = page[page.index("Pricing Viewed") :]
    assert re.search(r'<td class="num">2</td>', first_row[:600])
    assert "Not mapped" in first_row[:600]


def test_mapping_an_event_converts_the_kept_events_of_leads_in_one_step(
    marketer_client,
):
    source = _site()
    lead = LeadFactory()
    now = timezone.now()
    visitor = Visitor.objects.create(
        source=source,
        anonymous_id="a1",
        lead=lead,
        identified_at=now,
        first_seen_at=now,
        last_seen_at=now,
    )
    _kept(source, "m1", "Pricing Viewed", lead=lead, visitor=visitor)
    _kept(source, "m2", "Pricing Viewed", lead=lead, visitor=visitor)

    response = marketer_client.post(
        "/leads/tracking/events/",
        {"event": "Pricing Viewed", "kind": "content_download"},
        follow=True,
    )

    assert response.redirect_chain == [("/leads/tracking/events/#events", 302)]
    assert Touchpoint.objects.filter(lead=lead, kind_id="content_download").count() == 2
    assert not TrackedEvent.objects.exists()
    page = response.content.decode()
    assert "“Pricing Viewed” now counts as Content download. 2 kept events" in page


def test_ignoring_an_event_and_removing_the_mapping(marketer_client):
    source = _site()
    _kept(source, "m1", "Cursor Moved")

    page = marketer_client.post(
        "/leads/tracking/events/",
        {"event": "Cursor Moved", "kind": "__ignore__"},
        follow=True,
    ).content.decode()

    mapping = EventMapping.objects.get(event_key="cursor moved")
    assert mapping.kind_id is None
    assert "is ignored from now on" in page
    assert '<span class="badge">Ignored</span>' in page

    marketer_client.post(f"/leads/tracking/events/{mapping.id}/remove/")
    assert not EventMapping.objects.filter(event_key="cursor moved").exists()


def test_mapping_without_a_kind_says_what_to_do_and_changes_nothing(marketer_client):
    source = _site()
    _kept(source, "m1", "Pricing Viewed")

    page = marketer_client.post(
        "/leads/tracking/events/",
        {"event": "Pricing Viewed", "kind": ""},
        follow=True,
    ).content.decode()

    assert "Choose what the event counts as, then save." in page
    assert not EventMapping.objects.filter(event_key="pricing viewed").exists()
    assert TrackedEvent.objects.get().kind_id is None


def test_the_lead_page_marks_history_from_before_identification_and_shows_the_visitor(
    marketer_client,
):
    source = _site()
    spring = CampaignFactory(name="Spring launch")
    lead = LeadFactory()
    now = timezone.now()
    Visitor.objects.create(
        source=source,
        anonymous_id="a1",
        lead=lead,
        identified_at=now,
        first_seen_at=now - dt.timedelta(days=3),
        last_seen_at=now,
        utm_source="linkedin",
        utm_medium="paid_social",
        utm_campaign="spring",
        campaign=spring,
        referrer="https://www.linkedin.com/",
        landing_url=f"{SITE}/pricing?utm_campaign=spring",
        user_agent=(
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 "
            "(KHTML, like Gecko) Chrome/126.0 Safari/537.36"
        ),
    )
    TouchpointFactory(
        lead=lead,
        kind_id="page_view",
        properties={BEFORE_IDENTIFICATION: True, "url": f"{SITE}/pricing"},
    )
    TouchpointFactory(lead=lead, kind_id="demo_request", properties={})

    page = marketer_client.get(f"/leads/{lead.id}/").content.decode()

    assert page.count("Before identification</span>") == 1
    panel = page[page.index('id="visitor-title"') :]
    assert "Chrome on macOS" in panel
    assert "linkedin / paid_social · spring" in panel
    assert "Campaign: Spring launch" in panel
    assert "https://www.linkedin.com/" in panel
    assert f"{SITE}/pricing?utm_campaign=spring" in panel


def test_the_lead_page_has_no_visitor_panel_without_tracking(marketer_client):
    lead = LeadFactory()

    page = marketer_client.get(f"/leads/{lead.id}/").content.decode()

    assert "Website visitor" not in page


def test_event_mapping_set_is_what_the_event_table_reads(marketer_client):
    event_mapping_set(event="Quote Asked", kind="demo_request", actor=None)

    page = marketer_client.get("/leads/tracking/events/").content.decode()

    row = page[page.index("Quote Asked") :][:1500]
    assert "Demo request" in row
    assert '<option value="demo_request" selected>' in row


@pytest.mark.parametrize(
    ("user_agent", "shown"),
    [
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, "
            "like Gecko) Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0",
            "Edge on Windows",
        ),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1"
            ".15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1",
            "Safari on iPhone",
        ),
        (
            "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
            "Firefox on Linux",
        ),
        (
            "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/126.0 Mobile Safari/537.36",
            "Chrome on Android",
        ),
        ("curl/8.5.0", "Unknown browser"),
        ("", "Unknown browser"),
    ],
)
def test_a_visitors_device_reads_as_browser_and_system(user_agent, shown):
    assert device(user_agent) == shown
