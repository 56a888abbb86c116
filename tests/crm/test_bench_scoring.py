"""The bench_scoring command: seeds, measures, reports JSON last, cleans up."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command

from leads.models import Account, Lead, Touchpoint
from scoring.models import LeadScore
from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db


def bench(**options) -> list[str]:
    out = io.StringIO()
    call_command("bench_scoring", stdout=out, **options)
    return out.getvalue().splitlines()


def test_reports_the_figures_as_json_on_the_last_line_and_deletes_its_data():
    lines = bench(leads=40, per_lead=5, naive_sample=10, chunk_size=16)

    figures = json.loads(lines[-1])
    assert (figures["leads"], figures["touchpoints"]) == (40, 200)
    assert figures["chunk_size"] == 16
    assert figures["naive_sample"] == 10
    assert figures["database"].startswith(("sqlite:", "postgresql:"))
    for key in (
        "bulk_seconds",
        "bulk_leads_per_s",
        "naive_leads_per_s",
        "speedup",
        "per_lead_p50_ms",
        "per_lead_p95_ms",
        "set_of_100_p50_ms",
        "set_of_100_p95_ms",
        "set_leads_per_s",
        "peak_rss_mb",
    ):
        assert figures[key] > 0, key
    assert "Deleted the bench data (--keep keeps it)." in lines
    assert (Lead.objects.count(), Touchpoint.objects.count()) == (0, 0)
    assert Account.objects.filter(domain__endswith="bench.example").count() == 0


def test_keep_leaves_every_lead_scored():
    bench(leads=30, per_lead=4, naive_sample=0, keep=True)

    assert Lead.objects.count() == 30
    assert Touchpoint.objects.count() == 120
    assert LeadScore.objects.count() == 30
    assert Lead.objects.filter(scored_at__isnull=True).count() == 0


def test_a_database_with_leads_is_refused_unless_reset():
    LeadFactory()

    with pytest.raises(CommandError, match="already holds 1 leads; nothing was"):
        bench(leads=10, per_lead=2)
    assert Lead.objects.count() == 1

    figures = json.loads(bench(leads=10, per_lead=2, naive_sample=0, reset=True)[-1])
    assert figures["leads"] == 10
    assert Lead.objects.count() == 0


def test_reuse_measures_a_first_pass_again():
    bench(leads=30, per_lead=4, naive_sample=0, keep=True, seed=3)
    first = set(Lead.objects.values_list("id", "stage", "score"))

    figures = json.loads(bench(reuse=True, keep=True, naive_sample=0)[-1])

    assert set(Lead.objects.values_list("id", "stage", "score")) == first
    assert figures["mql_promoted"] == Lead.objects.filter(stage="mql").count()
    assert "seed_seconds" not in figures
