"""A batch's quick item checks accept exactly what the serializer accepts, with
the same data, and leave every other item to the serializer's errors."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework import serializers

from leads.api.serializers import TouchpointBatchSerializer, TouchpointInSerializer

pytestmark = pytest.mark.django_db

VALID: list[dict[str, Any]] = [
    {"lead": 7, "kind": "page_view"},
    {"lead": 7, "kind": "  page_view ", "external_id": " e-1 "},
    {"lead_email": "Ann@Example.com", "kind": "page_view", "unknown": 1},
    {
        "lead": 7,
        "kind": "email_open",
        "occurred_at": "2026-03-01T09:30:00+02:00",
        "campaign": 12,
        "properties": {"url": "https://example.com/p", "n": [1, 2]},
        "external_id": "x" * 200,
    },
    {"lead": 7, "kind": "chat", "campaign": {"utm_campaign": "spring"}},
]


def _nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(depth - 1):
        value = {"a": value}
    return value


INVALID: list[Any] = [
    [],
    "page_view",
    {},
    {"kind": "page_view"},
    {"lead": 7, "lead_email": "a@example.com", "kind": "page_view"},
    {"lead": True, "kind": "page_view"},
    {"lead": 0, "kind": "page_view"},
    {"lead": 2**63, "kind": "page_view"},
    {"lead": None, "kind": "page_view"},
    {"lead": 7},
    {"lead": 7, "kind": ""},
    {"lead": 7, "kind": "   "},
    {"lead": 7, "kind": "k" * 41},
    {"lead": 7, "kind": "page\x00view"},
    {"lead": 7, "kind": "page_view", "external_id": "\ud800"},
    {"lead": 7, "kind": "page_view", "external_id": None},
    {"lead": 7, "kind": "page_view", "occurred_at": "2026-03-01T09:30:00"},
    {"lead": 7, "kind": "page_view", "occurred_at": None},
    {"lead": 7, "kind": "page_view", "campaign": True},
    {"lead": 7, "kind": "page_view", "properties": []},
    {"lead": 7, "kind": "page_view", "properties": {"a": "\x00"}},
    {"lead": 7, "kind": "page_view", "properties": None},
    {"lead": 7, "kind": "page_view", "properties": {"a": "x" * 20_000}},
    {"lead": 7, "kind": "page_view", "properties": _nested(11)},
]


#: Valid, in a shape the quick checks leave to the serializer.
UNUSUAL: list[tuple[dict[str, Any], dict[str, Any]]] = [
    ({"lead": "7", "kind": "page_view"}, {"lead": 7, "kind": "page_view"}),
    ({"lead": 7, "kind": 5}, {"lead": 7, "kind": "5"}),
]


def _full(item: Any) -> Any:
    try:
        return dict(TouchpointInSerializer().run_validation(item))
    except serializers.ValidationError as exc:
        return exc.detail


@pytest.mark.parametrize("item", VALID)
def test_a_valid_item_gets_the_serializers_data(item):
    quick = TouchpointInSerializer().quick_validation(item)

    assert quick == _full(item)


# What JSON cannot hold reaches the serializer only from a caller in Python.
NOT_JSON = [{"lead": 7, "kind": "page_view", "properties": {"a": {1, 2}}}]


@pytest.mark.parametrize("item", INVALID + NOT_JSON)
def test_an_item_with_a_problem_is_left_to_the_serializer(item):
    with pytest.raises(serializers.ValidationError):
        TouchpointInSerializer().run_validation(item)

    assert TouchpointInSerializer().quick_validation(item) is None


@pytest.mark.parametrize(("item", "data"), UNUSUAL)
def test_an_unusual_valid_item_is_left_to_the_serializer(item, data):
    assert TouchpointInSerializer().quick_validation(item) is None
    assert _full(item) == data


def test_a_batch_answers_each_bad_item_with_the_serializers_errors(api):
    # Objects only (the envelope refuses the rest), and none with a lone
    # surrogate, which a JSON body cannot carry.
    bad = [i for i in INVALID[2:] if "\ud800" not in i.values()]
    items = [{"lead": 999_999, "kind": "page_view"}, *bad]

    response = api.post(
        "/api/v1/touchpoints/batch/", {"touchpoints": items}, format="json"
    )

    results = response.json()["results"]
    assert response.status_code == 200
    assert results[0] == {
        "index": 0,
        "status": "invalid",
        "errors": {"lead": ["There is no lead with id 999999."]},
    }
    assert [r["errors"] for r in results[1:]] == [_full(i) for i in bad]


ENVELOPES: list[Any] = [
    {"touchpoints": [{"lead": 7}]},
    {"touchpoints": [{"lead": 7}, {}], "unknown": 1},
    {"touchpoints": [{}] * 1000},
]
BAD_ENVELOPES: list[Any] = [
    [],
    {},
    {"touchpoints": []},
    {"touchpoints": [{}] * 1001},
    {"touchpoints": {"lead": 7}},
    {"touchpoints": "x"},
    {"touchpoints": [{"lead": 7}, [1]]},
    {"touchpoints": [None]},
]


@pytest.mark.parametrize("envelope", ENVELOPES)
def test_a_plain_envelope_gets_the_serializers_items(envelope):
    serializer = TouchpointBatchSerializer(data=envelope)
    assert serializer.is_valid()

    quick = TouchpointBatchSerializer.quick_items(envelope)

    assert quick == serializer.validated_data["touchpoints"]


@pytest.mark.parametrize("envelope", BAD_ENVELOPES)
def test_a_bad_envelope_is_left_to_the_serializer(envelope):
    assert not TouchpointBatchSerializer(data=envelope).is_valid()

    assert TouchpointBatchSerializer.quick_items(envelope) is None
