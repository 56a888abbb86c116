"""The bulk path's PostgreSQL writes store exactly what its portable writes store.

``scoring.store`` writes a chunk's scores with ``jsonb_to_recordset``
statements on PostgreSQL and with the ORM elsewhere. The property test
(test_paths_agree) compares scores and lead columns; this one also compares
the history rows, the breakdown documents and the rescore marks.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection, transaction

from leads.models import Lead
from scoring.engine import ScoreResult
from scoring.models import LeadScore, LeadScoreHistory
from scoring.selectors import model_active
from scoring.store import scores_write
from tests.factories import LeadFactory

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)
READ_AT = NOW + dt.timedelta(minutes=1)


def _result(total: str, fit: str, grade: str, **extra) -> ScoreResult:
    engagement = Decimal(total) - Decimal(fit)
    return ScoreResult(
        total=Decimal(total),
        fit_score=Decimal(fit),
        engagement_score=engagement,
        grade=grade,
        **extra,
    )


def _snapshot(ids: list[int]) -> dict[str, list[tuple]]:
    return {
        "scores": sorted(
            LeadScore.objects.filter(lead_id__in=ids).values_list(
                "lead_id",
                "model_id",
                "total",
                "fit_score",
                "engagement_score",
                "grade",
                "breakdown",
                "gated_by",
                "computed_at",
            )
        ),
        "history": sorted(
            LeadScoreHistory.objects.filter(lead_id__in=ids).values_list(
                "lead_id", "model_id", "total", "fit_score", "engagement_score", "at"
            )
        ),
        "leads": list(
            Lead.objects.filter(id__in=ids)
            .order_by("id")
            .values_list(
                "id",
                "score",
                "fit_score",
                "engagement_score",
                "grade",
                "scored_at",
                "rescore_requested_at",
                "updated_at",
            )
        ),
    }


@pytest.mark.postgres
@pytest.mark.django_db
def test_postgresql_writes_store_the_same_rows_as_the_portable_writes(monkeypatch):
    # Given leads scored before (unchanged, changed) and never, with rescore
    # marks older than, equal to and newer than the moment the chunk was read
    model = model_active()
    leads = LeadFactory.create_batch(4)
    ids = [lead.id for lead in leads]
    before = NOW - dt.timedelta(days=1)
    for lead, (total, fit) in zip(
        leads[:2], [("30.50", "20"), ("1", "1")], strict=True
    ):
        LeadScore.objects.create(
            lead=lead,
            model=model,
            total=Decimal(total),
            fit_score=Decimal(fit),
            engagement_score=Decimal(total) - Decimal(fit),
            grade="C",
            breakdown=[{"old": True}],
            computed_at=before,
        )
    marks = [
        READ_AT - dt.timedelta(seconds=1),
        READ_AT,
        READ_AT + dt.timedelta(1),
        None,
    ]
    for lead, mark in zip(leads, marks, strict=True):
        Lead.objects.filter(id=lead.id).update(rescore_requested_at=mark)
    items = [
        {
            "rule": 7,
            "label": 'Quotes " and \\ backslashes, ünïcode',
            "kind": "fit",
            "points": "20.00",
            "occurrences": 1,
            "attribute": "attributes.seats",
            "value": 2.5,
            "touchpoints": [],
        },
        {"rule": 9, "kind": "engagement", "points": "10.50", "touchpoints": [3, 1]},
    ]
    gated = [{"rule": 4, "label": "Student", "attribute": "seniority", "value": None}]
    results = {
        ids[0]: _result("30.50", "20", "C", items=items),
        ids[1]: _result("-4.25", "0", "D", gated_by=gated),
        ids[2]: _result("0", "0", "D"),
        ids[3]: _result("112.00", "45.00", "A", items=items[:1], gated_by=gated),
    }

    def store(vendor: str) -> dict[str, list[tuple]]:
        with transaction.atomic():
            with monkeypatch.context() as patch:
                patch.setattr(connection, "vendor", vendor)
                scores_write(model=model, results=results, now=NOW, read_at=READ_AT)
            snapshot = _snapshot(ids)
            transaction.set_rollback(True)
        return snapshot

    # When the chunk is stored by each path
    portable = store("portable")
    postgresql = store("postgresql")

    # Then both wrote the same rows, down to the JSON documents
    assert postgresql == portable
    assert [row[6] for row in portable["leads"]] == [None, None, marks[2], None]
    assert [row[0] for row in portable["history"]] == ids[1:]


@pytest.mark.postgres
@pytest.mark.django_db
@pytest.mark.parametrize("vendor", ["portable", "postgresql"])
def test_a_lead_already_showing_its_score_is_not_written_again(monkeypatch, vendor):
    # Given leads whose score columns already hold the result: one not
    # marked, one marked; and one whose engagement moved
    model = model_active()
    before = NOW - dt.timedelta(days=1)
    leads = LeadFactory.create_batch(3)
    ids = [lead.id for lead in leads]
    Lead.objects.filter(id__in=ids).update(
        score=Decimal("30.50"),
        fit_score=Decimal("20"),
        engagement_score=Decimal("10.50"),
        grade="C",
        scored_at=before,
    )
    Lead.objects.filter(id=ids[1]).update(rescore_requested_at=before)
    results = {
        ids[0]: _result("30.50", "20", "C"),
        ids[1]: _result("30.50", "20", "C"),
        ids[2]: _result("31.00", "20", "C"),
    }

    # When the chunk is stored
    with monkeypatch.context() as patch:
        patch.setattr(connection, "vendor", vendor)
        scores_write(model=model, results=results, now=NOW, read_at=READ_AT)

    # Then only the unchanged lead that was not marked keeps its row as it was
    rows = _snapshot(ids)["leads"]
    assert [(row[1], row[3], row[5], row[6]) for row in rows] == [
        (Decimal("30.50"), Decimal("10.50"), before, None),
        (Decimal("30.50"), Decimal("10.50"), NOW, None),
        (Decimal("31.00"), Decimal("11.00"), NOW, None),
    ]
    assert LeadScore.objects.filter(lead_id__in=ids).count() == 3
