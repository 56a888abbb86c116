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
        "rules",
    }
    assert (sql["train_leads"], sql["test_leads"]) == (320, 80)
    for key in ("auc_suggested", "auc_active", "auc_plain"):
        assert 0.5 < sql[key] <= 1.0
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
