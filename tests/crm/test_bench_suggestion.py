"""``manage.py bench_suggestion``: a small export, imported, fitted, undone."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command

from leads.models import ImportJob, Lead, Touchpoint
from scoring.models import ScoringModel

pytestmark = pytest.mark.django_db


def test_small_export_reports_the_three_aucs_and_leaves_nothing():
    models_before = ScoringModel.objects.count()
    out = io.StringIO()

    call_command("bench_suggestion", "--contacts", "400", "--seed", "3", stdout=out)

    report = json.loads(out.getvalue().strip().splitlines()[-1])
    assert report["leads_created"] == 400
    assert report["leads_rejected"] == report["touchpoints_rejected"] == 0
    sql = report["sql"]
    assert set(sql) == {
        "train_leads",
        "test_leads",
        "auc_suggested",
        "auc_active",
        "auc_plain",
        "suggested_minus_plain_95",
        "rules",
    }
    assert (sql["train_leads"], sql["test_leads"]) == (320, 80)
    for key in ("auc_suggested", "auc_active", "auc_plain"):
        assert 0.5 < sql[key] <= 1.0
    # The bootstrap interval of the difference holds the difference itself.
    low, high = sql["suggested_minus_plain_95"]
    assert low <= round(sql["auc_suggested"] - sql["auc_plain"], 4) <= high
    # Pricing page views are the export's strongest page effect on SQL.
    pricing = [rule for rule in sql["rules"] if "/pricing" in rule["label"]]
    assert pricing
    assert all(rule["points"] > 0 for rule in pricing)
    # Too few customers in 400 contacts: refused with the reason, not a crash.
    assert "needs at least 50" in report["customer"]["refused"]
    # Everything ran in a transaction rolled back at the end.
    assert not Lead.objects.exists()
    assert not Touchpoint.objects.exists()
    assert not ImportJob.objects.exists()
    assert ScoringModel.objects.count() == models_before


def test_the_difference_interval_is_zero_wide_for_the_same_scores_and_seeded():
    from crm.bench.suggestion import difference_interval

    outcomes = [0, 1] * 50
    first = [float(i % 7) for i in range(100)]
    second = [float(i % 5) for i in range(100)]

    assert difference_interval(outcomes, first, first, seed=1) == (0.0, 0.0)
    interval = difference_interval(outcomes, first, second, seed=1)
    assert interval == difference_interval(outcomes, first, second, seed=1)
    assert interval[0] < interval[1]
