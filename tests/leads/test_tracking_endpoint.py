"""The Segment-compatible endpoint: each answer, idempotency by messageId,
anonymous history kept apart and stitched to the lead on identification."""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import json

import pytest
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from django.test import Client

from leads.models import (
    AuditEvent,
    Lead,
    Touchpoint,
    TrackedEvent,
    TrackingSource,
    Visitor,
)
from leads.tracking.services import tracking_source_create, tracking_source_rotate
from tests.factories import CampaignFactory, LeadFactory

pytestmark = pytest.mark.django_db

SITE = "https://www.example.com"
NOW = dt.datetime(2026, 5, 4, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _fresh_rate_counters():
    cache.clear()


@pytest.fixture
def site() -> TrackingSource:
    return tracking_source_create(
        name="Website", kind="site", origins=[SITE], actor=None
    )


@pytest.fixture
def server() -> TrackingSource:
    return tracking_source_create(name="Backend", kind="server", origins=[], actor=None)


def _basic(key: str) -> str:
    return "Basic " + base64.b64encode(f"{key}:".encode()).decode()


def post(
    path: str,
    body,
    *,
    key: str | None = None,
    origin: str | None = None,
    content_type: str = "application/json",
    **headers,
):
    client = Client()
    extra = dict(headers)
    if key is not None:
        extra["HTTP_AUTHORIZATION"] = _basic(key)
    if origin is not None:
        extra["HTTP_ORIGIN"] = origin
    data = body if isinstance(body, bytes | str) else json.dumps(body)
    return client.post(f"/segment/v1/{path}", data, content_type=content_type, **extra)


def page_msg(anon: str, message_id: str, **extra) -> dict:
    return {
        "anonymousId": anon,
        "messageId": message_id,
        "timestamp": "2026-05-01T10:00:00Z",
        "context": {
            "page": {
                "url": "https://www.example.com/pricing?utm_source=google",
                "path": "/pricing",
                "title": "Pricing",
                "referrer": "https://www.google.com/",
            },
            "campaign": {"source": "google", "medium": "cpc", "name": "spring"},
            "userAgent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/121.0",
        },
        **extra,
    }


def track_msg(anon: str | None, message_id: str, event: str, **extra) -> dict:
    msg = {
        "messageId": message_id,
        "event": event,
        "timestamp": "2026-05-01T10:05:00Z",
        "properties": {"plan": "pro"},
        **extra,
    }
    if anon is not None:
        msg["anonymousId"] = anon
    return msg


# Answers
# ------------------------------------------------------------------------------


def test_page_with_write_key_in_text_plain_body_from_allowed_origin(site):
    body = {**page_msg("a1", "m1"), "writeKey": site.write_key}

    response = post("p", body, origin=SITE, content_type="text/plain")

    assert response.status_code == 200
    assert response.json() == {"success": True}
    assert response["Access-Control-Allow-Origin"] == SITE
    assert "Origin" in response["Vary"]
    event = TrackedEvent.objects.get()
    assert (event.event, event.kind_id, event.lead, event.message_id) == (
        "page",
        "page_view",
        None,
        "m1",
    )
    assert event.occurred_at == dt.datetime(2026, 5, 1, 10, 0, tzinfo=dt.UTC)
    assert event.properties == {
        "url": "https://www.example.com/pricing?utm_source=google",
        "path": "/pricing",
        "title": "Pricing",
        "referrer": "https://www.google.com/",
        "utm_source": "google",
        "utm_medium": "cpc",
        "utm_campaign": "spring",
    }
    visitor = Visitor.objects.get()
    assert (visitor.anonymous_id, visitor.utm_source, visitor.utm_campaign) == (
        "a1",
        "google",
        "spring",
    )
    assert visitor.landing_url == "https://www.example.com/pricing?utm_source=google"
    assert visitor.referrer == "https://www.google.com/"
    assert visitor.events_count == 1
    assert not Touchpoint.objects.exists()
    assert not Lead.objects.exists()


def test_basic_auth_server_call_without_origin(server):
    response = post(
        "track", track_msg("a1", "m1", "Pricing Viewed"), key=server.write_key
    )

    assert response.status_code == 200
    assert "Access-Control-Allow-Origin" not in response
    assert TrackedEvent.objects.get().event_key == "pricing viewed"


@pytest.mark.parametrize(
    ("key", "error"),
    [
        (
            None,
            "Send the source's write key: as the user name of HTTP Basic auth "
            "(empty password), or as writeKey in the body.",
        ),
        ("lf_nope", "This write key is unknown or its source is inactive."),
    ],
)
def test_missing_or_unknown_key_is_401(site, key, error):
    response = post("t", track_msg("a1", "m1", "X"), key=key)

    assert response.status_code == 401
    assert response.json()["error"] == error
    assert not TrackedEvent.objects.exists()


def test_inactive_source_is_401(site):
    TrackingSource.objects.filter(pk=site.pk).update(is_active=False)

    response = post("t", track_msg("a1", "m1", "X"), key=site.write_key)

    assert response.status_code == 401


def test_rotated_key_works_24_hours(site):
    old = site.write_key
    tracking_source_rotate(source=site, actor=None)

    assert post("t", track_msg("a1", "m1", "X"), key=old).status_code == 200
    TrackingSource.objects.filter(pk=site.pk).update(
        previous_key_valid_until=dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    )
    assert post("t", track_msg("a1", "m2", "X"), key=old).status_code == 401
    assert post("t", track_msg("a1", "m3", "X"), key=site.write_key).status_code == 200


@pytest.mark.parametrize("origin", ["https://evil.example", "null"])
def test_browser_origin_not_allowed_is_403(site, origin):
    response = post("t", track_msg("a1", "m1", "X"), key=site.write_key, origin=origin)

    assert response.status_code == 403
    assert "Access-Control-Allow-Origin" not in response
    assert not TrackedEvent.objects.exists()


def test_server_source_refuses_browsers(server):
    response = post("t", track_msg("a1", "m1", "X"), key=server.write_key, origin=SITE)

    assert response.status_code == 403


def test_preflight_of_an_allowed_origin(site):
    response = Client().options("/segment/v1/t", HTTP_ORIGIN=SITE)

    assert response.status_code == 204
    assert response["Access-Control-Allow-Origin"] == SITE
    assert response["Access-Control-Allow-Methods"] == "POST, OPTIONS"
    assert response["Access-Control-Allow-Headers"] == (
        "Content-Type, Authorization, X-Retry-Count"
    )


def test_preflight_of_another_origin_is_403(site):
    response = Client().options("/segment/v1/t", HTTP_ORIGIN="https://evil.example")

    assert response.status_code == 403
    assert "Access-Control-Allow-Origin" not in response


@pytest.mark.parametrize(
    ("path", "body", "error"),
    [
        ("t", {"event": "X"}, "Give userId or anonymousId (or both)."),
        (
            "t",
            {"anonymousId": "a"},
            "A track call needs event, the name of what happened.",
        ),
        (
            "t",
            {"anonymousId": "a", "event": "X", "timestamp": "yesterday"},
            "timestamp must be an ISO 8601 time such as 2026-05-04T12:00:00Z.",
        ),
        (
            "t",
            {"anonymousId": "a", "event": "X", "timestamp": "2026-05-01T10:00:00"},
            "timestamp needs a time zone offset, such as 2026-05-04T12:00:00Z.",
        ),
        (
            "t",
            {"anonymousId": "a", "event": "X", "timestamp": "2099-01-01T00:00:00Z"},
            "timestamp is in the future; send when it happened (at most 5 minutes "
            "ahead), or send sentAt.",
        ),
        (
            "t",
            {"anonymousId": "a", "event": "X", "properties": [1]},
            'properties must be a JSON object such as {"key": "value"}.',
        ),
        ("i", {"anonymousId": "a", "traits": {"email": "not-an-email"}}, None),
        ("g", {"anonymousId": "a"}, "A group call needs groupId."),
        ("a", {"userId": "u"}, "An alias call needs previousId and userId."),
        ("b", {"batch": []}, "Send the messages as a non-empty list under batch."),
        ("t", "[1]", "Send a JSON object."),
    ],
)
def test_bad_messages_are_400_saying_what_to_fix(site, path, body, error):
    response = post(path, body, key=site.write_key)

    assert response.status_code == 400
    if error is not None:
        assert response.json()["error"] == error
    else:
        assert response.json()["error"].startswith("traits.email: ")
    assert not TrackedEvent.objects.exists()
    assert not Lead.objects.exists()


def test_not_json_is_400(site):
    response = post("t", b"{nope", key=site.write_key)

    assert response.status_code == 400
    assert response.json()["error"].startswith("The body is not JSON")


def test_unknown_path_is_404(site):
    response = post("nope", track_msg("a1", "m1", "X"), key=site.write_key)

    assert response.status_code == 404


def test_message_over_32_kb_is_413(site):
    body = track_msg("a1", "m1", "X", properties={"blob": "x" * 33_000})

    response = post("t", body, key=site.write_key)

    assert response.status_code == 413
    assert response.json() == {
        "error": "The body is too large; send at most 32 KB (per message).",
        "code": "too_large",
        "message": "The body is too large; send at most 32 KB (per message).",
    }


def test_batch_over_500_kb_is_413(site):
    batch = [
        track_msg("a1", f"m{i}", "X", properties={"b": "x" * 10_000}) for i in range(52)
    ]

    response = post("batch", {"batch": batch}, key=site.write_key)

    assert response.status_code == 413
    assert not TrackedEvent.objects.exists()


def test_gzip_body_is_read(server):
    raw = gzip.compress(
        json.dumps({"batch": [track_msg("a1", "m1", "X", type="track")]}).encode()
    )

    response = post("batch", raw, key=server.write_key, HTTP_CONTENT_ENCODING="gzip")

    assert response.status_code == 200
    assert TrackedEvent.objects.count() == 1


def test_over_the_rate_is_429_with_retry_after(site, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "tracking": "3/min",
        },
    }
    batch = [track_msg("a1", f"m{i}", "X", type="track") for i in range(3)]
    assert post("batch", {"batch": batch}, key=site.write_key).status_code == 200

    response = post("t", track_msg("a1", "m9", "X"), key=site.write_key, origin=SITE)

    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 60
    assert response["Access-Control-Allow-Origin"] == SITE
    assert TrackedEvent.objects.count() == 3


def test_batch_stores_valid_messages_and_names_refused_ones(site):
    batch = [
        track_msg("a1", "m1", "X", type="track"),
        {"type": "track", "anonymousId": "a1"},
        {"type": "teleport", "anonymousId": "a1"},
    ]

    response = post("batch", {"batch": batch}, key=site.write_key)

    assert response.status_code == 200
    assert response.json() == {
        "success": True,
        "rejected": [
            {
                "index": 1,
                "error": "A track call needs event, the name of what happened.",
            },
            {
                "index": 2,
                "error": "type must be one of: identify, track, page, screen, "
                "group, alias.",
            },
        ],
    }
    assert TrackedEvent.objects.count() == 1
    site.refresh_from_db()
    assert site.rejected_count == 2


def test_batch_of_only_invalid_messages_is_400(site):
    response = post("batch", {"batch": [{"type": "track"}]}, key=site.write_key)

    assert response.status_code == 400
    assert response.json()["error"] == (
        "message 0: Give userId or anonymousId (or both)."
    )


# Idempotency and time
# ------------------------------------------------------------------------------


def test_repeated_message_id_changes_nothing(site):
    body = track_msg("a1", "m1", "Pricing Viewed")
    post("t", body, key=site.write_key)

    response = post("t", body, key=site.write_key)

    assert response.status_code == 200
    assert TrackedEvent.objects.count() == 1


def test_message_without_id_gets_a_stable_one(site):
    body = track_msg("a1", "m1", "Pricing Viewed")
    del body["messageId"]
    post("t", {**body, "sentAt": "2026-05-01T10:05:01Z"}, key=site.write_key)
    post("t", {**body, "sentAt": "2026-05-01T10:05:09Z"}, key=site.write_key)

    event = TrackedEvent.objects.get()
    assert event.message_id.startswith("derived-")


def test_sender_clock_skew_is_corrected_with_sent_at(site):
    body = track_msg(
        "a1", "m1", "X", timestamp="2030-01-01T10:00:00Z", sentAt="2030-01-01T10:00:30Z"
    )

    post("t", body, key=site.write_key)

    event = TrackedEvent.objects.get()
    delta = event.received_at - event.occurred_at
    assert dt.timedelta(seconds=29) < delta < dt.timedelta(seconds=32)


# Stitching
# ------------------------------------------------------------------------------


def test_identify_moves_anonymous_history_into_touchpoints(
    site, django_capture_on_commit_callbacks
):
    campaign = CampaignFactory(
        utm_source="google", utm_medium="cpc", utm_campaign="spring"
    )
    post("p", page_msg("a1", "m1"), key=site.write_key)
    post("t", track_msg("a1", "m2", "Demo Requested"), key=site.write_key)
    post("t", track_msg("a1", "m3", "Pricing Viewed"), key=site.write_key)
    assert not Touchpoint.objects.exists()
    from leads.signals import leads_changed

    announced = []

    def receiver(sender, lead_ids, **kwargs):
        announced.append(lead_ids)

    leads_changed.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            response = post(
                "i",
                {
                    "anonymousId": "a1",
                    "userId": "Ada@Example.com",
                    "messageId": "m4",
                    "traits": {
                        "firstName": "Ada",
                        "title": "CTO",
                        "company": "Example",
                    },
                },
                key=site.write_key,
            )
    finally:
        leads_changed.disconnect(receiver)

    assert response.status_code == 200
    lead = Lead.objects.get()
    assert (lead.email, lead.first_name, lead.job_title) == (
        "Ada@example.com",
        "Ada",
        "CTO",
    )
    assert lead.attributes["company"] == "Example"
    assert (lead.utm_source, lead.utm_medium, lead.utm_campaign) == (
        "google",
        "cpc",
        "spring",
    )
    assert announced == [[lead.id]]
    visitor = Visitor.objects.get()
    assert visitor.lead == lead
    touchpoints = {t.external_id: t for t in Touchpoint.objects.all()}
    assert set(touchpoints) == {"m1", "m2"}
    page = touchpoints["m1"]
    assert (page.kind_id, page.lead, page.source) == (
        "page_view",
        lead,
        f"tracking:{site.id}",
    )
    assert page.occurred_at == dt.datetime(2026, 5, 1, 10, 0, tzinfo=dt.UTC)
    assert page.campaign == campaign
    assert page.properties["before_identification"] is True
    assert page.properties["anonymous_id"] == "a1"
    assert touchpoints["m2"].kind_id == "demo_request"
    kept = TrackedEvent.objects.get()
    assert (kept.message_id, kept.lead, kept.kind_id) == ("m3", lead, None)


def test_identify_never_overwrites_a_known_lead(site):
    lead = LeadFactory(
        email="ada@example.com",
        first_name="Ada",
        job_title="CFO",
        utm_source="newsletter",
    )
    post("p", page_msg("a1", "m1"), key=site.write_key)

    post(
        "i",
        {
            "anonymousId": "a1",
            "traits": {
                "email": "ada@example.com",
                "firstName": "Mallory",
                "title": "Intern",
                "phone": "+1 555 0100",
            },
        },
        key=site.write_key,
    )

    lead.refresh_from_db()
    assert (lead.first_name, lead.job_title, lead.utm_source) == (
        "Ada",
        "CFO",
        "newsletter",
    )
    assert lead.phone == "+1 555 0100"
    assert Touchpoint.objects.get().lead == lead


def test_later_events_of_an_identified_visitor_become_touchpoints(site):
    post("i", {"anonymousId": "a1", "userId": "ada@example.com"}, key=site.write_key)

    post("t", track_msg("a1", "m2", "demo_request"), key=site.write_key)
    post("t", track_msg("a1", "m3", "Pricing Viewed"), key=site.write_key)

    touchpoint = Touchpoint.objects.get()
    assert (touchpoint.kind_id, touchpoint.external_id) == ("demo_request", "m2")
    assert "before_identification" not in touchpoint.properties
    assert TrackedEvent.objects.get().lead == Lead.objects.get()


def test_a_batch_marks_what_came_before_its_identify(site):
    identify = {
        "type": "identify",
        "anonymousId": "a1",
        "messageId": "m2",
        "timestamp": "2026-05-01T10:02:00Z",
        "traits": {"email": "ada@example.com"},
    }
    batch = [
        {"type": "page", **page_msg("a1", "m1")},
        identify,
        {"type": "track", **track_msg("a1", "m3", "demo_request")},
    ]

    response = post("b", {"batch": batch}, key=site.write_key)

    assert response.status_code == 200
    lead = Lead.objects.get()
    marked = {
        t.external_id: t.properties.get("before_identification")
        for t in lead.touchpoints.all()
    }
    assert marked == {"m1": True, "m3": None}
    assert lead.touchpoints.get(external_id="m1").properties["anonymous_id"] == "a1"


def test_second_device_joins_the_same_lead(site):
    post("p", page_msg("a1", "m1"), key=site.write_key)
    post("p", page_msg("a2", "m2"), key=site.write_key)

    post("i", {"anonymousId": "a1", "userId": "ada@example.com"}, key=site.write_key)
    post(
        "i",
        {"anonymousId": "a2", "traits": {"email": "ADA@example.com"}},
        key=site.write_key,
    )

    lead = Lead.objects.get()
    assert set(Visitor.objects.values_list("anonymous_id", "lead")) == {
        ("a1", lead.id),
        ("a2", lead.id),
    }
    assert set(Touchpoint.objects.values_list("external_id", flat=True)) == {"m1", "m2"}


def test_replay_after_stitching_is_still_a_duplicate(site):
    post("p", page_msg("a1", "m1"), key=site.write_key)
    post("i", {"anonymousId": "a1", "userId": "ada@example.com"}, key=site.write_key)

    response = post("p", page_msg("a1", "m1"), key=site.write_key)

    assert response.status_code == 200
    assert Touchpoint.objects.count() == 1
    assert not TrackedEvent.objects.exists()


def test_repeated_identify_changes_nothing(site):
    body = {"anonymousId": "a1", "userId": "ada@example.com", "messageId": "i1"}
    post("i", body, key=site.write_key)
    lead = Lead.objects.get()
    marked = lead.rescore_requested_at

    post("i", body, key=site.write_key)

    lead.refresh_from_db()
    assert lead.rescore_requested_at == marked
    assert Visitor.objects.get().lead == lead


def test_server_messages_with_only_a_user_id_email_reach_the_lead(server):
    lead = LeadFactory(email="ada@example.com")

    post(
        "batch",
        {
            "batch": [
                {
                    "type": "track",
                    "userId": "ada@example.com",
                    "event": "Signed Up",
                    "messageId": "s1",
                },
            ]
        },
        key=server.write_key,
    )

    touchpoint = Touchpoint.objects.get()
    assert (touchpoint.lead, touchpoint.kind_id) == (lead, "trial_signup")


def test_opaque_user_id_identified_once_reaches_the_lead_later(server):
    post(
        "batch",
        {
            "batch": [
                {
                    "type": "identify",
                    "userId": "42",
                    "anonymousId": "a1",
                    "traits": {"email": "ada@example.com"},
                },
            ]
        },
        key=server.write_key,
    )

    post(
        "batch",
        {
            "batch": [
                {
                    "type": "track",
                    "userId": "42",
                    "event": "Demo Requested",
                    "messageId": "x1",
                },
            ]
        },
        key=server.write_key,
    )

    assert Touchpoint.objects.get().lead == Lead.objects.get(email="ada@example.com")


def test_bot_user_agent_is_counted_not_stored(site):
    body = page_msg("bot1", "m1")
    body["context"]["userAgent"] = (
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
    )

    response = post("p", body, key=site.write_key)

    assert response.status_code == 200
    assert not TrackedEvent.objects.exists()
    visitor = Visitor.objects.get()
    assert (visitor.is_bot, visitor.events_count) == (True, 1)
    site.refresh_from_db()
    assert site.dropped_count == 1


def test_anonymous_events_beyond_the_cap_are_counted_only(site, monkeypatch):
    monkeypatch.setattr("leads.tracking.ingest.ANONYMOUS_EVENTS_CAP", 2)
    batch = [track_msg("a1", f"m{i}", "X", type="track") for i in range(3)]

    post("batch", {"batch": batch}, key=site.write_key)

    assert TrackedEvent.objects.count() == 2
    assert Visitor.objects.get().events_count == 3


def test_absurd_rate_marks_the_visitor_a_bot(site, monkeypatch):
    monkeypatch.setattr("leads.tracking.ingest.BURST_LIMIT", 3)
    batch = [track_msg("a1", f"m{i}", "X", type="track") for i in range(4)]
    post("batch", {"batch": batch}, key=site.write_key)
    assert Visitor.objects.get().is_bot is True

    post("t", track_msg("a1", "m9", "X"), key=site.write_key)

    assert TrackedEvent.objects.count() == 4
    assert not AuditEvent.objects.filter(action="tracking_edit").exists()


def test_screen_calls_are_page_views(server):
    post(
        "s",
        {"anonymousId": "a1", "name": "Settings", "messageId": "s1"},
        key=server.write_key,
    )

    event = TrackedEvent.objects.get()
    assert (event.event, event.kind_id, event.properties) == (
        "page",
        "page_view",
        {"name": "Settings"},
    )


def test_alias_identifies_the_previous_id_with_the_user_ids_email(site):
    post("p", page_msg("a1", "m1"), key=site.write_key)

    response = post(
        "a", {"previousId": "a1", "userId": "ada@example.com"}, key=site.write_key
    )

    assert response.status_code == 200
    lead = Lead.objects.get()
    assert Visitor.objects.get(anonymous_id="a1").lead == lead
    assert Touchpoint.objects.get().lead == lead


def test_group_calls_are_answered_and_store_nothing(server):
    response = post(
        "g",
        {"anonymousId": "a1", "groupId": "acme", "traits": {"name": "Acme"}},
        key=server.write_key,
    )

    assert response.json() == {"success": True}
    assert not TrackedEvent.objects.exists()
    assert not Lead.objects.exists()


def test_a_shared_device_identified_as_another_lead_sends_for_it_from_then_on(site):
    post("i", {"anonymousId": "a1", "userId": "ada@example.com"}, key=site.write_key)
    post("t", track_msg("a1", "m1", "Demo Requested"), key=site.write_key)

    post("i", {"anonymousId": "a1", "userId": "bob@example.com"}, key=site.write_key)
    post("t", track_msg("a1", "m2", "Demo Requested"), key=site.write_key)

    ada = Lead.objects.get(email="ada@example.com")
    bob = Lead.objects.get(email="bob@example.com")
    assert list(ada.touchpoints.values_list("external_id", flat=True)) == ["m1"]
    assert list(bob.touchpoints.values_list("external_id", flat=True)) == ["m2"]
    assert Visitor.objects.get().lead == bob


def test_a_batch_of_over_a_thousand_events_of_a_known_lead_is_stored(server):
    LeadFactory(email="ada@example.com")
    batch = [
        {
            "type": "track",
            "userId": "ada@example.com",
            "event": "Signed Up",
            "messageId": f"m{i}",
        }
        for i in range(1_200)
    ]

    response = post("batch", {"batch": batch}, key=server.write_key)

    assert response.status_code == 200
    assert Touchpoint.objects.count() == 1_200


def test_any_accept_header_gets_the_json_answer(site):
    response = post(
        "t", track_msg("a1", "m1", "X"), key=site.write_key, HTTP_ACCEPT="text/html"
    )

    assert response.status_code == 200
    assert response.json() == {"success": True}


# Cost
# ------------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.parametrize("known", [False, True], ids=["new-visitor", "known-visitor"])
def test_an_anonymous_event_is_three_statements(site, known, django_assert_num_queries):
    if known:
        post("p", page_msg("a1", "m0"), key=site.write_key)

    # The source with the event mappings; then in a transaction (here a
    # savepoint of the test's) the visitor created or locked with the stored
    # messageIds, and the event stored with the visitor's counters.
    with django_assert_num_queries(1 + 1 + 2 + 1):
        response = post(
            "t", track_msg("a1", "m1", "Pricing Viewed"), key=site.write_key
        )

    assert response.status_code == 200
    event = TrackedEvent.objects.get(message_id="m1")
    assert (event.visitor.anonymous_id, event.lead, event.event) == (
        "a1",
        None,
        "Pricing Viewed",
    )
    assert Visitor.objects.get().events_count == (2 if known else 1)


@pytest.mark.postgres
def test_an_identified_visitors_mapped_event_is_eight_statements(
    site, django_assert_num_queries
):
    post("i", {"anonymousId": "a1", "userId": "ada@example.com"}, key=site.write_key)

    # The source; in the transaction the visitor locked with the stored
    # messageIds, the lead read with its stored external ids, the
    # touchpoint, the lead's rescore mark (locked and set in one statement),
    # the visitor's counters.
    with django_assert_num_queries(1 + 1 + 5 + 1):
        response = post("t", track_msg("a1", "m2", "demo_request"), key=site.write_key)

    assert response.status_code == 200
    touchpoint = Touchpoint.objects.get()
    assert (touchpoint.lead, touchpoint.kind_id, touchpoint.external_id) == (
        Lead.objects.get(email="ada@example.com"),
        "demo_request",
        "m2",
    )
    assert Visitor.objects.get().events_count == 1


@pytest.mark.redis
def test_the_rate_counter_lives_one_window(site, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "tracking": "5/min",
        },
    }
    batch = [track_msg("a1", f"m{i}", "X", type="track") for i in range(3)]

    post("batch", {"batch": batch}, key=site.write_key)
    post("t", track_msg("a1", "m9", "X"), key=site.write_key)

    backend = caches["default"]
    assert isinstance(backend, RedisCache)
    client = backend._cache.get_client(write=True)
    (name,) = client.keys(backend.make_key(f"tracking-rate:{site.pk}:*"))
    assert int(client.get(name)) == 4
    assert 0 < client.ttl(name) <= 61
