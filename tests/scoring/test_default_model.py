"""A fresh install's neutral default model, and the demo's B2B model."""

from __future__ import annotations

import datetime as dt
import importlib
from decimal import Decimal

import pytest
from django.apps import apps

from crm.demo.scoring_model import DEMO_MODEL_NAME, demo_model_activate
from scoring.models import ScoringModel, ScoringRule
from scoring.selectors import model_active

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)
MIGRATION = importlib.import_module("scoring.migrations.0007_neutral_default_model")


def _models() -> list[tuple]:
    return list(
        ScoringModel.objects.order_by("id").values_list(
            "id", "name", "version", "status", "mql_threshold"
        )
    )


def _rules() -> list[tuple]:
    return list(
        ScoringRule.objects.order_by("id").values_list(
            "id", "model_id", "label", "operator", "value", "points"
        )
    )


def test_an_install_with_models_keeps_them_exactly_as_they_are():
    # An install from before: its models (here the demo's, and one archived).
    demo_model_activate(now=NOW)
    models, rules = _models(), _rules()

    MIGRATION.create_neutral_default(apps, None)

    assert _models() == models
    assert _rules() == rules


def test_an_install_with_no_model_gets_the_neutral_default_with_no_gates():
    ScoringModel.objects.all().delete()

    MIGRATION.create_neutral_default(apps, None)

    model = model_active()
    assert (model.name, model.version, model.mql_threshold) == (
        "Default",
        1,
        Decimal(60),
    )
    assert not model.rules.filter(kind="disqualifying").exists()
    assert not model.rules.filter(
        attribute__in=["region", "country", "account.industry"]
    ).exists()
    assert (model.grade_a_min, model.grade_b_min, model.grade_c_min) == (
        Decimal(20),
        Decimal(15),
        Decimal(8),
    )


def test_the_demo_model_replaces_the_active_one_once():
    default = model_active()

    demo = demo_model_activate(now=NOW)
    again = demo_model_activate(now=NOW)

    assert again.id == demo.id
    assert (demo.name, demo.version, demo.status, demo.replaced_id) == (
        DEMO_MODEL_NAME,
        1,
        "active",
        default.id,
    )
    assert ScoringModel.objects.get(id=default.id).status == "archived"
    assert list(
        demo.rules.filter(kind="disqualifying").values_list("label", flat=True)
    ) == ["Competitor", "Student", "Outside our market"]
    assert demo.rules.count() == 20


def test_after_another_model_was_published_the_demo_brings_its_next_version():
    first = demo_model_activate(now=NOW)
    ScoringModel.objects.filter(id=first.id).update(status="archived")
    other = ScoringModel.objects.create(name="Ours", version=1, status="active")

    second = demo_model_activate(now=NOW)

    assert (second.name, second.version, second.replaced_id) == (
        DEMO_MODEL_NAME,
        2,
        other.id,
    )
    assert ScoringModel.objects.get(id=other.id).status == "archived"
