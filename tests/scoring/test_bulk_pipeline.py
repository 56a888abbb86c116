"""A full rescore on PostgreSQL scores each chunk while the one before is stored.

``scoring.bulk.model_rescore_all`` outside a transaction hands each scored
chunk to a thread with its own connection that stores it; the chunks must
end exactly as the per-lead path scores their leads, and an error while
storing must stop the run.
"""

from __future__ import annotations

import datetime as dt
import threading

import pytest

from leads.models import Lead
from scoring import bulk
from scoring.models import LeadScore
from scoring.selectors import model_active
from scoring.services import lead_rescore
from tests.factories import AccountFactory, LeadFactory, TouchpointFactory

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("b2b_model"),
]

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)
KINDS = ("demo_request", "page_view", "email_click", "webinar_attended")


def _leads(count: int) -> list[int]:
    account = AccountFactory(employee_count=800, industry="software")
    ids = []
    for n in range(count):
        lead = LeadFactory(
            account=account if n % 2 else None,
            seniority=("director", "vp", "manager")[n % 3],
            country=("US", "DE", "BR")[n % 3],
        )
        for k in range(n % 4):
            TouchpointFactory(
                lead=lead,
                kind_id=KINDS[(n + k) % len(KINDS)],
                occurred_at=NOW - dt.timedelta(days=3 * k + n),
            )
        ids.append(lead.id)
    return ids


def _stored(ids: list[int]) -> list[tuple]:
    return [
        (
            lead.id,
            lead.score,
            lead.fit_score,
            lead.engagement_score,
            lead.grade,
            lead.stage,
        )
        for lead in Lead.objects.filter(id__in=ids).order_by("id")
    ] + sorted(
        LeadScore.objects.filter(lead_id__in=ids).values_list(
            "lead_id", "total", "breakdown", "gated_by"
        )
    )


def test_each_chunk_is_stored_by_the_thread_as_the_per_lead_path_scores_it(
    monkeypatch,
):
    # Given nine leads, some with touchpoints, over five chunks of two
    ids = _leads(9)
    stored_by: list[str] = []
    store = bulk._chunk_store

    def recorded(**kwargs):
        stored_by.append(threading.current_thread().name)
        return store(**kwargs)

    monkeypatch.setattr(bulk, "_chunk_store", recorded)

    # When every lead is rescored
    scored = bulk.model_rescore_all(model=model_active(), now=NOW, chunk_size=2)

    # Then the thread stored every chunk, as the per-lead path scores them
    assert scored == 9
    assert stored_by == ["chunk-store"] * 5
    by_chunks = _stored(ids)
    for lead_id in ids:
        lead_rescore(lead_id=lead_id, model=model_active(), now=NOW)
    assert _stored(ids) == by_chunks
    assert any(row[1] > 0 for row in by_chunks[: len(ids)])


def test_an_error_while_storing_a_chunk_stops_the_run(monkeypatch):
    # Given leads over three chunks, the second of which fails to store
    ids = _leads(6)
    store = bulk._chunk_store
    calls = []

    def failing(**kwargs):
        calls.append(kwargs["scored"].low)
        if len(calls) == 2:
            raise RuntimeError("disk full")
        return store(**kwargs)

    monkeypatch.setattr(bulk, "_chunk_store", failing)

    # When every lead is rescored
    with pytest.raises(RuntimeError, match="disk full"):
        bulk.model_rescore_all(model=model_active(), now=NOW, chunk_size=2)

    # Then the first chunk was stored, nothing after it, and no thread is left
    assert calls == [ids[0], ids[0] + 2]
    assert (
        sorted(
            LeadScore.objects.filter(lead_id__in=ids).values_list("lead_id", flat=True)
        )
        == ids[:2]
    )
    assert not [t for t in threading.enumerate() if t.name == "chunk-store"]
