"""The other ways a visitor is identified (the public form carrying the
snippet's anonymous id, a signed e-mail-link token), the lead API's token,
retention, and the ``tracking_source`` command."""

from __future__ import annotations

import datetime as dt
import io
import json

import pytest
from django.core import signing
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.test import Client

from leads.models import (
    AuditEvent,
    Lead,
    Touchpoint,
    TrackedEvent,
    TrackingSource,
    Visitor,
)
from leads.tasks import tracking_retention_task
from leads.tracking.links import LINK_TOKEN_SALT, lead_from_token, lead_token
from leads.tracking.services import tracking_retention_apply, tracking_source_create
from tests.factories import LeadFactory

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


def _page(site: TrackingSource, anonymous_id: str, message_id: str) -> None:
    body = {
        "writeKey": site.write_key,
        "anonymousId": anonymous_id,
        "messageId": message_id,
        "context": {"page": {"url": f"{SITE}/pricing", "path": "/pricing"}},
    }
    response = Client().post(
        "/segment/v1/p", json.dumps(body), content_type="text/plain", HTTP_ORIGIN=SITE
    )
    assert response.status_code == 200


# The public form
# ------------------------------------------------------------------------------


def test_form_with_the_snippets_anonymous_id_identifies_the_visitor(
    api_client, web_form, site
):
    _page(site, "anon-1", "m1")

    response = api_client.post(
        "/api/v1/forms/contact/submit/",
        {"email": "ada@northwind.example", "anonymous_id": "anon-1"},
        format="json",
        HTTP_ORIGIN=SITE,
    )

    assert response.status_code == 202
    lead = Lead.objects.get()
    assert Visitor.objects.get().lead == lead
    kinds = sorted(lead.touchpoints.values_list("kind_id", "external_id"))
    assert kinds == [("form_submit", None), ("page_view", "m1")]
    form_touch = lead.touchpoints.get(kind_id="form_submit")
    assert form_touch.properties["anonymous_id"] == "anon-1"
    page = lead.touchpoints.get(kind_id="page_view")
    assert page.properties["before_identification"] is True


def test_form_from_another_origin_does_not_identify(api_client, web_form, site):
    _page(site, "anon-1", "m1")
    web_form.allowed_origins = f"{SITE}\nhttps://landing.example.com"
    web_form.save()

    response = api_client.post(
        "/api/v1/forms/contact/submit/",
        {"email": "ada@northwind.example", "anonymous_id": "anon-1"},
        format="json",
        HTTP_ORIGIN="https://landing.example.com",
    )

    assert response.status_code == 202
    assert Visitor.objects.get().lead is None
    assert TrackedEvent.objects.count() == 1


def test_form_with_an_unknown_anonymous_id_only_records_the_form(
    api_client, web_form, site
):
    response = api_client.post(
        "/api/v1/forms/contact/submit/",
        {"email": "ada@northwind.example", "anonymous_id": "never-seen"},
        format="json",
        HTTP_ORIGIN=SITE,
    )

    assert response.status_code == 202
    assert not Visitor.objects.exists()
    assert Touchpoint.objects.get().kind_id == "form_submit"


# E-mail-link tokens
# ------------------------------------------------------------------------------


def test_token_names_its_lead():
    lead = LeadFactory()

    assert lead_from_token(lead_token(lead)) == lead


def test_token_of_a_merged_lead_names_the_survivor():
    survivor = LeadFactory()
    merged = LeadFactory(merged_into=survivor)

    assert lead_from_token(lead_token(merged)) == survivor


@pytest.mark.parametrize(
    "token",
    [
        "",
        "garbage",
        signing.dumps(1, salt="another-feature"),
        signing.dumps("1", salt=LINK_TOKEN_SALT),
    ],
)
def test_forged_or_foreign_tokens_name_nobody(token):
    LeadFactory(id=1)

    assert lead_from_token(token) is None


def test_token_older_than_90_days_names_nobody(monkeypatch):
    lead = LeadFactory()
    token = lead_token(lead)
    later = signing.time.time() + 91 * 86400
    monkeypatch.setattr(signing.time, "time", lambda: later)

    assert lead_from_token(token) is None


def test_identify_with_the_links_token_identifies_the_visitor(site):
    lead = LeadFactory(email="ada@northwind.example", first_name="Ada")
    _page(site, "anon-1", "m1")
    body = {
        "writeKey": site.write_key,
        "anonymousId": "anon-1",
        "context": {"leadflow_token": lead_token(lead)},
    }

    response = Client().post(
        "/segment/v1/i", json.dumps(body), content_type="text/plain", HTTP_ORIGIN=SITE
    )

    assert response.json() == {"success": True}
    assert Visitor.objects.get().lead == lead
    assert Touchpoint.objects.get().lead == lead


def test_identify_with_a_bad_token_leaves_the_visitor_anonymous(site):
    body = {
        "writeKey": site.write_key,
        "anonymousId": "anon-1",
        "context": {"leadflow_token": "forged"},
    }

    response = Client().post(
        "/segment/v1/i", json.dumps(body), content_type="text/plain", HTTP_ORIGIN=SITE
    )

    assert response.status_code == 200
    assert response.json()["notes"] == [
        {
            "index": 0,
            "note": "context.leadflow_token is not valid or has expired; the "
            "visitor stays anonymous.",
        }
    ]
    assert Visitor.objects.get().lead is None
    assert not Lead.objects.exists()


def test_lead_detail_carries_its_tracking_token(api):
    lead = LeadFactory()

    detail = api.get(f"/api/v1/leads/{lead.id}/").json()
    listed = api.get("/api/v1/leads/").json()

    assert lead_from_token(detail["tracking_token"]) == lead
    assert "tracking_token" not in listed["results"][0]


# Retention
# ------------------------------------------------------------------------------


def _visitor(source, anonymous_id, *, last_seen, lead=None) -> Visitor:
    return Visitor.objects.create(
        source=source,
        anonymous_id=anonymous_id,
        lead=lead,
        first_seen_at=last_seen,
        last_seen_at=last_seen,
    )


def _event(source, visitor, message_id, *, occurred, kind="page_view", lead=None):
    return TrackedEvent.objects.create(
        source=source,
        visitor=visitor,
        lead=lead,
        event="page" if kind else "Odd Thing",
        event_key="page" if kind else "odd thing",
        kind_id=kind,
        occurred_at=occurred,
        message_id=message_id,
    )


def test_retention_deletes_old_anonymous_visitors_and_old_unmapped_events(site):
    old = NOW - dt.timedelta(days=181)
    recent = NOW - dt.timedelta(days=179)
    lead = LeadFactory()
    gone = _visitor(site, "gone", last_seen=old)
    _event(site, gone, "g1", occurred=old)
    kept = _visitor(site, "kept", last_seen=recent)
    _event(site, kept, "k1", occurred=old)
    known = _visitor(site, "known", last_seen=old, lead=lead)
    _event(site, known, "u1", occurred=old, kind=None, lead=lead)
    _event(site, known, "u2", occurred=recent, kind=None, lead=lead)

    deleted = tracking_retention_apply(now=NOW)

    assert deleted == {"visitors": 1, "events": 1}
    assert set(Visitor.objects.values_list("anonymous_id", flat=True)) == {
        "kept",
        "known",
    }
    assert set(TrackedEvent.objects.values_list("message_id", flat=True)) == {
        "k1",
        "u2",
    }
    assert tracking_retention_apply(now=NOW) == {"visitors": 0, "events": 0}


def test_retention_follows_each_sources_days(site):
    TrackingSource.objects.filter(pk=site.pk).update(retention_days=7)
    _visitor(site, "a", last_seen=NOW - dt.timedelta(days=8))

    assert tracking_retention_apply(now=NOW)["visitors"] == 1


def test_retention_task_is_retried_on_transient_errors_and_scheduled(settings):
    from django.db import OperationalError

    assert OperationalError in tracking_retention_task.autoretry_for
    entry = settings.CELERY_BEAT_SCHEDULE["nightly-apply-tracking-retention"]
    assert entry["task"] == "leads.apply_tracking_retention"
    assert tracking_retention_task.delay().get() == {"visitors": 0, "events": 0}


# The command
# ------------------------------------------------------------------------------


def _command(*args: str) -> list[str]:
    out = io.StringIO()
    call_command("tracking_source", *args, stdout=out)
    return out.getvalue().splitlines()


def test_command_creates_a_site_source_and_prints_its_key_last():
    lines = _command("Marketing site", "--origin", "https://www.example.com/")

    source = TrackingSource.objects.get()
    assert lines[-1] == source.write_key
    assert (source.name, source.kind, source.origins) == (
        "Marketing site",
        "site",
        ["https://www.example.com"],
    )


def test_command_creates_a_server_source():
    lines = _command("Backend", "--kind", "server")

    assert TrackingSource.objects.get(kind="server").write_key == lines[-1]


def test_command_rotates_an_existing_key():
    old = _command("Backend", "--kind", "server")[-1]

    lines = _command("backend", "--rotate")

    source = TrackingSource.objects.get()
    assert lines[-1] == source.write_key != old
    assert source.previous_write_key == old
    assert AuditEvent.objects.filter(action="tracking_rotate").count() == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["Site"],
            "--origin: A website source needs the origin of the site, such as "
            "https://www.example.com: browsers elsewhere cannot send with its key.",
        ),
        (
            ["Site", "--origin", "https://x.example/path"],
            "--origin: https://x.example/path is not an origin; use "
            "scheme://host[:port] with no path, such as https://www.example.com.",
        ),
        (
            ["Nobody", "--rotate"],
            "There is no tracking source named 'Nobody'; leave out --rotate to "
            "create it.",
        ),
    ],
)
def test_command_refuses_bad_options_clearly(args, message):
    with pytest.raises(CommandError) as caught:
        _command(*args)

    assert str(caught.value) == message
    assert not TrackingSource.objects.exists()


def test_command_refuses_an_existing_name_without_rotate():
    _command("Backend", "--kind", "server")

    with pytest.raises(CommandError) as caught:
        _command("Backend", "--kind", "server")

    assert str(caught.value) == (
        "A tracking source named 'Backend' exists; add --rotate to give it a new "
        "write key."
    )


# Erasure
# ------------------------------------------------------------------------------


def test_erasing_a_lead_deletes_its_visitors_and_kept_events(site):
    from crm.privacy.erasure import lead_erase

    _page(site, "anon-1", "m1")
    body = {
        "writeKey": site.write_key,
        "anonymousId": "anon-1",
        "userId": "ada@northwind.example",
    }
    Client().post("/segment/v1/i", json.dumps(body), content_type="application/json")
    body = {"writeKey": site.write_key, "anonymousId": "anon-1", "event": "Odd Thing"}
    Client().post("/segment/v1/t", json.dumps(body), content_type="application/json")
    _page(site, "anon-2", "m2")  # someone else
    lead = Lead.objects.get()
    assert TrackedEvent.objects.filter(lead=lead).count() == 1

    lead_erase(lead=lead, actor=None)

    assert list(Visitor.objects.values_list("anonymous_id", flat=True)) == ["anon-2"]
    assert list(TrackedEvent.objects.values_list("message_id", flat=True)) == ["m2"]
    assert Touchpoint.objects.get(lead=lead).properties == {}
    details = AuditEvent.objects.get(action="erase").details
    assert (details["visitors_deleted"], details["tracked_events_deleted"]) == (1, 1)
