"""LeadRank: the database keeps each lead's stage and score copied for the
lists sorted by score, whatever writes the lead."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from crm.common.keyset import SortKey
from leads import lifecycle, selectors
from leads.models import Lead, LeadRank
from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db

TRIGGERS = {
    "leads_lead_rank_delete",
    "leads_lead_rank_insert",
    "leads_lead_rank_update",
}


def ranks() -> dict[int, tuple[str, Decimal]]:
    return {
        row.lead_id: (row.stage, row.score)
        for row in LeadRank.objects.order_by("lead_id")
    }


def leads() -> dict[int, tuple[str, Decimal]]:
    return {lead.id: (lead.stage, lead.score) for lead in Lead.objects.order_by("id")}


def test_the_triggers_exist_after_the_migrations():
    # A migration that rebuilds leads_lead on SQLite drops its triggers: it
    # must create them again, or every later write would leave the copy stale.
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT tgname FROM pg_trigger"
                " WHERE tgrelid = 'leads_lead'::regclass AND NOT tgisinternal"
            )
        else:
            cursor.execute(
                "SELECT name FROM sqlite_master"
                " WHERE type = 'trigger' AND tbl_name = 'leads_lead'"
            )
        expected = TRIGGERS | (
            {"leads_lead_rank_truncate"} if connection.vendor == "postgresql" else set()
        )
        assert {name for (name,) in cursor.fetchall()} == expected


def test_a_created_lead_gets_its_stage_and_score_copied():
    one = LeadFactory(score=Decimal("12.50"))
    two, three = Lead.objects.bulk_create(
        [
            Lead(email="a@b.example", stage=Lead.Stage.NURTURE, score=Decimal("3")),
            Lead(email="c@d.example", stage=Lead.Stage.MQL, score=Decimal("88.25")),
        ]
    )

    assert ranks() == {
        one.id: ("lead", Decimal("12.50")),
        two.id: ("nurture", Decimal("3.00")),
        three.id: ("mql", Decimal("88.25")),
    }


def test_a_stage_move_and_a_score_write_reach_the_copy():
    lead = LeadFactory(score=Decimal("10"))
    other = LeadFactory(score=Decimal("20"))

    lifecycle.lead_move(lead_id=lead.id, to_stage=Lead.Stage.MQL, system_actor="test")
    Lead.objects.filter(id__in=[lead.id, other.id]).update(score=Decimal("70.10"))
    Lead.objects.filter(id=other.id).update(job_title="CTO")

    assert (
        ranks()
        == leads()
        == {
            lead.id: ("mql", Decimal("70.10")),
            other.id: ("lead", Decimal("70.10")),
        }
    )


def test_deleting_a_lead_deletes_its_copy():
    gone, kept = LeadFactory.create_batch(2)

    Lead.objects.filter(id=gone.id).delete()

    assert list(LeadRank.objects.values_list("lead_id", flat=True)) == [kept.id]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_truncating_the_leads_empties_the_copy():
    LeadFactory.create_batch(3)

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE leads_lead CASCADE")

    assert LeadRank.objects.count() == 0


def test_the_list_by_score_pages_through_every_lead_in_score_order():
    scores = ["5", "90", "42.5", "42.5", "0", "77", "42.5", "13"]
    made = [LeadFactory(score=Decimal(s)) for s in scores]
    lifecycle.lead_move(lead_id=made[2].id, to_stage=Lead.Stage.MQL, system_actor="t")
    lifecycle.lead_move(lead_id=made[5].id, to_stage=Lead.Stage.MQL, system_actor="t")
    sort = SortKey("score", descending=True)
    expected = sorted(made, key=lambda lead: (lead.score, lead.id), reverse=True)

    seen: list[int] = []
    token = None
    while True:
        page, token, _ = selectors.lead_page(sort=sort, cursor=token, size=3)
        seen += [lead.id for lead in page.items]
        if token is None:
            break
    mqls, _, _ = selectors.lead_page(sort=sort, size=10, stages=["mql"])

    assert seen == [lead.id for lead in expected]
    assert [lead.id for lead in mqls.items] == [made[5].id, made[2].id]


@pytest.mark.postgres
def test_a_stage_filtered_list_by_score_reads_the_narrow_index():
    LeadFactory.create_batch(20)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE leads_lead")
        cursor.execute("ANALYZE leads_leadrank")
    sort = SortKey("score", descending=True)
    with CaptureQueriesContext(connection) as queries:
        selectors.lead_page(sort=sort, size=50, stages=["mql"])
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute(f"EXPLAIN {queries[-1]['sql']}")  # nosec B608: the ORM's SQL
        explained = "\n".join(row[0] for row in cursor.fetchall())

    assert "lead_rank_stage_score_idx" in explained
    assert "Index Only Scan using lead_rank_stage_score_idx" in explained
    assert "Index Cond: ((stage = 'mql'::text) AND (lead_id IS NOT NULL))" in explained
    assert "Sort" not in explained


@pytest.mark.postgres
def test_a_rescore_of_a_lead_is_a_heap_only_update():
    # The point of the narrow table: no index on the lead row holds a column
    # the score write changes, and the table leaves room on each page.
    lead = LeadFactory()
    counters = (
        "SELECT pg_stat_get_xact_tuples_hot_updated('leads_lead'::regclass),"
        " pg_stat_get_xact_tuples_updated('leads_lead'::regclass)"
    )
    with connection.cursor() as cursor:
        cursor.execute(counters)
        hot_before, updated_before = cursor.fetchone()
        cursor.execute(
            "UPDATE leads_lead SET score = 55, fit_score = 20, engagement_score = 35,"
            " grade = 'B', scored_at = now() WHERE id = %s",
            [lead.id],
        )
        cursor.execute(counters)
        hot, updated = cursor.fetchone()
        assert (hot - hot_before, updated - updated_before) == (1, 1)
        cursor.execute("SELECT reloptions FROM pg_class WHERE relname = 'leads_lead'")
        assert cursor.fetchone() == (["fillfactor=50"],)
    assert ranks() == {lead.id: ("lead", Decimal("55.00"))}


def test_the_api_pages_a_stage_by_score_through_the_copy(api):
    made = [LeadFactory(score=Decimal(s)) for s in ("30", "70", "50", "70", "10")]
    for lead in made[:4]:
        lifecycle.lead_move(lead_id=lead.id, to_stage=Lead.Stage.MQL, system_actor="t")
    url = "/api/v1/leads/?stage=mql&ordering=-score&page_size=2"

    first = api.get(url).json()
    second = api.get(first["next"]).json()

    assert [row["id"] for row in first["results"] + second["results"]] == [
        made[3].id,
        made[1].id,
        made[2].id,
        made[0].id,
    ]
    assert second["next"] is None
