"""Two marketers adding candidate rules at the same moment when the active
model has no draft.

The advisory lock per active model queues them: the first clones the draft,
the second finds it and adds to it, so one draft ends with both rules.
Without the lock each would clone a draft of its own. PostgreSQL only:
SQLite serialises writers.
"""

from __future__ import annotations

import pytest
from django.core.cache import cache

from crm.marketing.rule_candidates import candidate_add_to_draft
from scoring.models import ScoringModel
from tests.crm.rule_candidates_data import FEB, JAN, build
from tests.threads import run_rounds

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

TRIALS = 5
KEYS = ("attribute:plan:pro", "field:country:DE")


def test_two_adds_at_once_make_one_draft_with_both_rules():
    cache.clear()
    world = build()

    def add(key: str):
        return candidate_add_to_draft(
            key=key, model=world.model, start=JAN, end=FEB, min_support=3
        )

    for _ in range(TRIALS):
        ScoringModel.objects.filter(status=ScoringModel.Status.DRAFT).delete()

        [results] = run_rounds([[lambda k=key: add(k) for key in KEYS]])

        assert [kind for kind, _ in results] == ["ok", "ok"]
        draft = ScoringModel.objects.get(status=ScoringModel.Status.DRAFT)
        assert sorted(added.created_draft for _, added in results) == [False, True]
        assert sorted(draft.rules.values_list("label", flat=True)) == [
            "Country is DE",
            "Demo",
            "Many seats",
            "Mid-size",
            "VP",
            "attributes.plan is “pro”",
        ]
    cache.clear()
