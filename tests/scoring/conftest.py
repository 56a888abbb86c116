"""Fixtures the scoring tests share."""

from __future__ import annotations

import pytest

from scoring import services
from scoring.models import ScoringModel


@pytest.fixture
def directors_draft() -> ScoringModel:
    """Qualifies every director not in Latin America (threshold 20)."""
    draft = ScoringModel.objects.create(name="Directors", version=1, mql_threshold=20)
    services.rule_create(
        model=draft,
        kind="fit",
        label="Director",
        points=20,
        attribute="seniority",
        operator="equals",
        value="director",
    )
    services.rule_create(
        model=draft,
        kind="disqualifying",
        label="Latin America",
        attribute="region",
        operator="one_of",
        value="latam",
    )
    return draft
