"""Tracking under concurrent requests on PostgreSQL (real threads, the
Segment-compatible endpoint).

- 10 identify calls of one visitor at once link it once: one lead, its
  history moved into touchpoints once, every answer 200;
- 10 devices of one new e-mail identified at once join one lead, each
  device's history moved;
- identify calls racing the events of the same visitors never deadlock, and
  every message ends stored exactly once, as a touchpoint or a tracked event;
- one batch delivered 10 times at once stores each message once.

SQLite serialises writers: PostgreSQL only.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client

from leads.models import Lead, Touchpoint, TrackedEvent, Visitor
from leads.tracking.services import tracking_source_create
from tests.threads import run_rounds, run_together

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

PARALLEL = 10


@pytest.fixture
def key() -> str:
    cache.clear()
    source = tracking_source_create(
        name="Backend", kind="server", origins=[], actor=None
    )
    return source.write_key


def _post(key: str, path: str, body: dict[str, Any]) -> Any:
    return Client().post(
        f"/segment/v1/{path}",
        json.dumps({**body, "writeKey": key}),
        content_type="application/json",
    )


def _ok(results: list[tuple[str, Any]]) -> None:
    assert [kind for kind, _ in results] == ["ok"] * len(results), results
    assert [r.status_code for _, r in results] == [200] * len(results), [
        r.content for _, r in results
    ]


def _history(key: str, anonymous_id: str, count: int) -> None:
    batch = [
        {
            "type": "track" if i % 2 else "page",
            "event": "Demo Requested",
            "anonymousId": anonymous_id,
            "messageId": f"{anonymous_id}-{i}",
        }
        for i in range(count)
    ]
    assert _post(key, "batch", {"batch": batch}).status_code == 200


def test_one_visitor_identified_ten_times_at_once_is_linked_once(key):
    _history(key, "device-1", 6)
    body = {"anonymousId": "device-1", "userId": "ada@example.com"}

    results = run_together(*[lambda: _post(key, "i", body)] * PARALLEL)

    _ok(results)
    lead = Lead.objects.get()
    assert Visitor.objects.get().lead == lead
    assert Touchpoint.objects.filter(lead=lead).count() == 6
    assert not TrackedEvent.objects.exists()


def test_ten_devices_of_one_new_email_join_one_lead(key):
    for n in range(PARALLEL):
        _history(key, f"device-{n}", 4)

    results = run_together(
        *[
            (
                lambda n=n: _post(
                    key,
                    "i",
                    {"anonymousId": f"device-{n}", "userId": "ADA@example.com"},
                )
            )
            for n in range(PARALLEL)
        ]
    )

    _ok(results)
    lead = Lead.objects.get()
    assert Visitor.objects.filter(lead=lead).count() == PARALLEL
    assert Touchpoint.objects.filter(lead=lead).count() == 4 * PARALLEL
    assert not TrackedEvent.objects.exists()


def test_identifications_racing_events_store_every_message_once(key):
    rounds = []
    for r in range(5):
        calls = []
        for n in range(4):
            calls.append(
                lambda n=n, r=r: _post(
                    key,
                    "batch",
                    {
                        "batch": [
                            {
                                "type": "track",
                                "event": "Demo Requested" if i % 2 else "Odd Thing",
                                "anonymousId": f"device-{n}",
                                "messageId": f"e-{n}-{r}-{i}",
                            }
                            for i in range(10)
                        ]
                    },
                )
            )
            calls.append(
                lambda n=n, r=r: _post(
                    key,
                    "i",
                    {"anonymousId": f"device-{n}", "userId": f"p{n % 2}@example.com"},
                )
            )
        rounds.append(calls)

    for results in run_rounds(rounds):
        _ok(results)

    stored = list(Touchpoint.objects.values_list("external_id", flat=True)) + list(
        TrackedEvent.objects.values_list("message_id", flat=True)
    )
    assert len(stored) == len(set(stored)) == 5 * 4 * 10
    assert Lead.objects.count() == 2
    assert not TrackedEvent.objects.filter(lead__isnull=True).exists()
    assert Touchpoint.objects.count() == 100


def test_one_batch_delivered_ten_times_at_once_is_stored_once(key):
    batch = [
        {
            "type": "track",
            "event": "Odd Thing",
            "anonymousId": f"d{i % 3}",
            "messageId": f"m{i}",
        }
        for i in range(50)
    ]

    results = run_together(*[lambda: _post(key, "batch", {"batch": batch})] * PARALLEL)

    _ok(results)
    assert TrackedEvent.objects.count() == 50
    assert sum(Visitor.objects.values_list("events_count", flat=True)) == 50 * PARALLEL


def test_events_arriving_while_their_visitor_is_identified_all_reach_the_lead(key):
    """Each round: a new visitor's first events and its identification at
    once. Whichever commits first, no event stays anonymous."""
    rounds = []
    for r in range(12):
        events = {
            "batch": [
                {
                    "type": "track",
                    "event": "Demo Requested",
                    "anonymousId": f"fresh-{r}",
                    "messageId": f"f-{r}-{i}",
                }
                for i in range(5)
            ]
        }
        identify = {"anonymousId": f"fresh-{r}", "userId": f"fresh{r}@example.com"}
        rounds.append(
            [
                lambda events=events: _post(key, "batch", events),
                lambda identify=identify: _post(key, "i", identify),
            ]
        )

    for results in run_rounds(rounds):
        _ok(results)

    assert not TrackedEvent.objects.exists()
    assert Touchpoint.objects.count() == 12 * 5
    for lead in Lead.objects.all():
        assert lead.touchpoints.count() == 5
