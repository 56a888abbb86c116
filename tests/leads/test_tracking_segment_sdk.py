"""Segment's own Python SDK (segment-analytics-python, unchanged) sends to a
running Leadflow: what it stores, and how the SDK sees a refused key."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.cache import cache
from segment.analytics import Client
from segment.analytics.request import APIError

from leads.models import Lead, Touchpoint, TrackedEvent, Visitor
from leads.tracking.services import tracking_source_create

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def server_source():
    cache.clear()
    return tracking_source_create(name="Backend", kind="server", origins=[], actor=None)


def _sdk(live_server, write_key: str, errors: list, **options) -> Client:
    return Client(
        write_key,
        host=f"{live_server.url}/segment",
        sync_mode=True,
        max_retries=0,
        on_error=lambda error, batch: errors.append((error, batch)),
        **options,
    )


@pytest.mark.parametrize("gzip", [False, True])
def test_the_python_sdk_tracks_identifies_and_stitches(
    live_server, server_source, gzip
):
    errors: list = []
    sdk = _sdk(live_server, server_source.write_key, errors, gzip=gzip)
    viewed = dt.datetime(2026, 5, 1, 10, 0, tzinfo=dt.UTC)

    sdk.page(
        anonymous_id="device-1",
        name="Pricing",
        properties={"url": "https://www.example.com/pricing", "path": "/pricing"},
        timestamp=viewed,
        message_id="p-1",
    )
    sdk.track(anonymous_id="device-1", event="Demo Requested", message_id="t-1")
    sdk.track(anonymous_id="device-1", event="Pricing Compared", message_id="t-2")
    assert not Touchpoint.objects.exists()
    sdk.identify(
        user_id="ada@example.com",
        anonymous_id="device-1",
        traits={"firstName": "Ada", "lastName": "Lovelace", "title": "CTO"},
    )
    sdk.track(user_id="ada@example.com", event="Trial Started", message_id="t-3")
    sdk.flush()

    assert errors == []
    lead = Lead.objects.get()
    assert (lead.email, lead.first_name, lead.last_name, lead.job_title) == (
        "ada@example.com",
        "Ada",
        "Lovelace",
        "CTO",
    )
    touchpoints = {t.external_id: t for t in Touchpoint.objects.all()}
    assert {k: t.kind_id for k, t in touchpoints.items()} == {
        "p-1": "page_view",
        "t-1": "demo_request",
        "t-3": "trial_signup",
    }
    assert {t.lead_id for t in touchpoints.values()} == {lead.id}
    page = touchpoints["p-1"]
    assert page.properties["url"] == "https://www.example.com/pricing"
    assert page.properties["name"] == "Pricing"
    assert page.properties["before_identification"] is True
    # The SDK sends sentAt: the time is corrected for its clock, to the second.
    assert abs(page.occurred_at - viewed) < dt.timedelta(seconds=5)
    assert "before_identification" not in touchpoints["t-3"].properties
    kept = TrackedEvent.objects.get()
    assert (kept.event, kept.lead, kept.kind_id) == ("Pricing Compared", lead, None)
    assert Visitor.objects.get(anonymous_id="device-1").lead == lead


def test_the_python_sdk_sees_an_unknown_key_refused(live_server, server_source):
    sdk = _sdk(live_server, "lf_wrong", [])

    with pytest.raises(APIError) as caught:
        sdk.track(anonymous_id="device-1", event="Demo Requested")

    assert (caught.value.status, caught.value.code, caught.value.message) == (
        401,
        "unauthorized",
        "This write key is unknown or its source is inactive.",
    )
    assert not TrackedEvent.objects.exists()
