"""Tracking sources and event mappings: checks, one audit row each, keys
rotated with a grace period, kept events following their mapping; and the
reads the settings pages show."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from leads.models import (
    AuditEvent,
    EventMapping,
    Touchpoint,
    TrackedEvent,
    TrackingSource,
    Visitor,
    event_key,
)
from leads.tracking import selectors
from leads.tracking.services import (
    event_mapping_delete,
    event_mapping_set,
    tracking_source_create,
    tracking_source_rotate,
    tracking_source_update,
)
from tests.factories import LeadFactory, UserFactory

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 5, 4, 12, 0, tzinfo=dt.UTC)


def _site(**overrides) -> TrackingSource:
    fields = {
        "name": "Website",
        "kind": "site",
        "origins": ["https://www.Example.com/"],
        "actor": None,
    } | overrides
    return tracking_source_create(**fields)


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("Demo Requested", "demo requested"),
        ("demo_requested", "demo requested"),
        ("  Demo--Requested. ", "demo requested"),
        ("Trial.Started", "trial started"),
    ],
)
def test_event_key_normalises_case_and_separators(name, key):
    assert event_key(name) == key


def test_create_stores_source_with_normalised_origins_and_audit_row():
    marketer = UserFactory()

    source = _site(
        origins=["https://www.Example.com/", "http://localhost:8000", ""],
        actor=marketer,
    )

    stored = TrackingSource.objects.get()
    assert stored.origins == ["https://www.example.com", "http://localhost:8000"]
    assert stored.write_key.startswith("lf_")
    assert len(stored.write_key) == 35
    assert (stored.kind, stored.retention_days, stored.is_active) == ("site", 180, True)
    assert stored.created_by == marketer
    event = AuditEvent.objects.get()
    assert (event.action, event.actor, event.details) == (
        "tracking_create",
        marketer,
        {"tracking_source_id": source.id, "kind": "site"},
    )


def test_two_sources_get_different_keys():
    assert _site().write_key != _site(name="Other").write_key


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"name": " "}, "name", "Give the source a name."),
        ({"kind": "mobile"}, "kind", "Choose one of: site, server."),
        (
            {"origins": ["https://example.com/path"]},
            "origins",
            "https://example.com/path is not an origin; use scheme://host[:port] "
            "with no path, such as https://www.example.com.",
        ),
        (
            {"origins": []},
            "origins",
            "A website source needs the origin of the site, such as "
            "https://www.example.com: browsers elsewhere cannot send with its key.",
        ),
        (
            {"retention_days": 0},
            "retention_days",
            "Keep anonymous history between 1 and 3,650 days.",
        ),
    ],
)
def test_create_refuses_bad_input_and_stores_nothing(fields, field, message):
    with pytest.raises(ValidationError) as caught:
        _site(**fields)

    assert caught.value.message_dict[field] == [message]
    assert not TrackingSource.objects.exists()
    assert not AuditEvent.objects.exists()


def test_create_refuses_a_taken_name_in_any_case():
    _site()

    with pytest.raises(ValidationError) as caught:
        _site(name="WEBSITE")

    assert caught.value.message_dict == {
        "name": ["Another tracking source has this name."]
    }
    assert TrackingSource.objects.count() == 1


def test_server_source_needs_no_origin():
    source = tracking_source_create(
        name="Backend", kind="server", origins=[], actor=None
    )

    assert source.origins == []


def test_update_changes_given_fields_and_audits_their_names():
    source = _site()
    marketer = UserFactory()

    tracking_source_update(
        source=source,
        actor=marketer,
        name="Main site",
        origins=["https://www.example.com", "https://shop.example.com"],
        retention_days=30,
        is_active=False,
    )

    stored = TrackingSource.objects.get()
    assert (stored.name, stored.retention_days, stored.is_active) == (
        "Main site",
        30,
        False,
    )
    assert stored.origins == ["https://www.example.com", "https://shop.example.com"]
    assert source.name == "Main site"
    event = AuditEvent.objects.get(action="tracking_edit")
    assert event.details == {
        "tracking_source_id": source.id,
        "fields": ["allowed_origins", "is_active", "name", "retention_days"],
    }


def test_update_without_change_writes_no_audit_row():
    source = _site()

    tracking_source_update(source=source, actor=None, name="Website")

    assert not AuditEvent.objects.filter(action="tracking_edit").exists()


def test_update_refuses_removing_the_last_origin_of_a_site():
    source = _site()

    with pytest.raises(ValidationError) as caught:
        tracking_source_update(source=source, actor=None, origins=[])

    assert list(caught.value.message_dict) == ["origins"]
    assert TrackingSource.objects.get().origins == ["https://www.example.com"]


def test_rotate_keeps_the_old_key_for_24_hours():
    source = _site()
    old = source.write_key

    tracking_source_rotate(source=source, actor=None, now=NOW)

    stored = TrackingSource.objects.get()
    assert stored.write_key != old
    assert stored.previous_write_key == old
    assert stored.previous_key_valid_until == NOW + dt.timedelta(hours=24)
    assert source.write_key == stored.write_key
    assert selectors.source_for_write_key(old, now=NOW).id == source.id
    assert selectors.source_for_write_key(stored.write_key, now=NOW).id == source.id
    later = NOW + dt.timedelta(hours=24, seconds=1)
    assert selectors.source_for_write_key(old, now=later) is None
    assert AuditEvent.objects.get(action="tracking_rotate").details == {
        "tracking_source_id": source.id
    }


def test_migration_seeds_default_mappings():
    mapped = dict(EventMapping.objects.values_list("event_key", "kind_id"))

    assert mapped["demo requested"] == "demo_request"
    assert mapped["signed up"] == "trial_signup"
    assert mapped["product added"] == "cart_add"
    assert mapped["call logged"] == "call"


def _kept(source, *, message_id, event="Pricing Viewed", lead=None, visitor=None):
    return TrackedEvent.objects.create(
        source=source,
        visitor=visitor,
        lead=lead,
        event=event,
        event_key=event_key(event),
        occurred_at=NOW - dt.timedelta(days=1),
        properties={"plan": "pro"},
        message_id=message_id,
    )


def test_mapping_set_converts_kept_events_of_leads_and_kinds_anonymous_ones():
    source = _site()
    lead = LeadFactory()
    visitor = Visitor.objects.create(
        source=source,
        anonymous_id="anon-1",
        lead=lead,
        identified_at=NOW,
        first_seen_at=NOW - dt.timedelta(days=2),
        last_seen_at=NOW,
    )
    _kept(source, message_id="m1", lead=lead, visitor=visitor)
    anonymous = _kept(source, message_id="m2")
    _kept(source, message_id="m3", event="Other Thing")

    converted = event_mapping_set(
        event="pricing_viewed", kind="demo_request", actor=None, now=NOW
    )

    assert converted == 2
    touchpoint = Touchpoint.objects.get()
    assert (touchpoint.lead, touchpoint.kind_id, touchpoint.external_id) == (
        lead,
        "demo_request",
        "m1",
    )
    assert touchpoint.source == f"tracking:{source.id}"
    assert touchpoint.occurred_at == NOW - dt.timedelta(days=1)
    assert touchpoint.properties == {
        "plan": "pro",
        "before_identification": True,
        "anonymous_id": "anon-1",
    }
    anonymous.refresh_from_db()
    assert anonymous.kind_id == "demo_request"
    assert set(TrackedEvent.objects.values_list("message_id", flat=True)) == {
        "m2",
        "m3",
    }
    mapping = EventMapping.objects.get(event_key="pricing viewed")
    assert (mapping.event, mapping.kind_id) == ("pricing_viewed", "demo_request")
    lead.refresh_from_db()
    assert lead.rescore_requested_at == NOW
    assert AuditEvent.objects.get(action="event_mapping_set").details == {
        "event_mapping_id": mapping.id,
        "kind": "demo_request",
        "converted": 2,
    }

    assert (
        event_mapping_set(event="Pricing Viewed", kind="demo_request", actor=None) == 0
    )
    assert Touchpoint.objects.count() == 1


def test_mapping_set_to_none_ignores_the_name_on_purpose():
    source = _site()
    anonymous = _kept(source, message_id="m2")
    event_mapping_set(event="Pricing Viewed", kind="demo_request", actor=None)

    converted = event_mapping_set(event="Pricing Viewed", kind=None, actor=None)

    assert converted == 0
    anonymous.refresh_from_db()
    assert anonymous.kind_id is None
    assert EventMapping.objects.get(event_key="pricing viewed").kind_id is None


@pytest.mark.parametrize(
    ("event", "kind", "errors"),
    [
        (" ", None, {"event": ["Give the event name as it is sent."]}),
        ("x" * 201, None, {"event": ["Use at most 200 characters."]}),
        (
            "Thing",
            "teleport",
            {"kind": ["There is no active touchpoint kind 'teleport'."]},
        ),
    ],
)
def test_mapping_set_refuses_bad_input(event, kind, errors):
    before = EventMapping.objects.count()

    with pytest.raises(ValidationError) as caught:
        event_mapping_set(event=event, kind=kind, actor=None)

    assert caught.value.message_dict == errors
    assert EventMapping.objects.count() == before


def test_mapping_delete_falls_back_to_the_default_rules():
    source = _site()
    kept = _kept(source, message_id="m1", event="Demo request")
    event_mapping_set(event="Demo request", kind="chat", actor=None)
    kept.refresh_from_db()
    assert kept.kind_id == "chat"

    event_mapping_delete(
        mapping=EventMapping.objects.get(event_key="demo request"), actor=None
    )

    kept.refresh_from_db()
    assert kept.kind_id == "demo_request"  # the kind's label
    assert AuditEvent.objects.filter(action="event_mapping_delete").count() == 1


def test_sources_with_counts():
    source = _site()
    lead = LeadFactory()
    Visitor.objects.create(
        source=source, anonymous_id="a", first_seen_at=NOW, last_seen_at=NOW
    )
    Visitor.objects.create(
        source=source, anonymous_id="b", lead=lead, first_seen_at=NOW, last_seen_at=NOW
    )
    event = _kept(source, message_id="m1")
    TrackedEvent.objects.filter(id=event.id).update(received_at=NOW)
    Touchpoint.objects.create(
        lead=lead,
        kind_id="page_view",
        occurred_at=NOW,
        source=f"tracking:{source.id}",
        external_id="m9",
        received_at=NOW,
    )
    _site(name="Empty")

    rows = list(selectors.sources_with_counts(now=NOW))

    assert [
        (s.name, s.visitors_count, s.identified_count, s.events_7d) for s in rows
    ] == [
        ("Empty", 0, 0, 0),
        ("Website", 2, 1, 2),
    ]


def test_event_table_lists_unmapped_names_first():
    source = _site()
    _kept(source, message_id="m1", event="Pricing Viewed")
    _kept(source, message_id="m2", event="pricing viewed")

    rows = selectors.event_table()

    first = rows[0]
    assert (first["event_key"], first["kind"], first["mapping"], first["kept"]) == (
        "pricing viewed",
        None,
        None,
        2,
    )
    demo = next(r for r in rows if r["event_key"] == "demo requested")
    assert (demo["kind"].code, demo["kept"]) == ("demo_request", 0)


@pytest.mark.parametrize(
    ("role", "allowed"),
    [("Marketing", True), ("Admin", True), ("SDR", False), ("Sales", False)],
)
def test_only_marketing_and_admin_manage_tracking(role, allowed):
    user = UserFactory(roles=[role])

    assert user.has_perm("leads.manage_tracking") is allowed
