"""Fixtures the scoring tests share."""

from __future__ import annotations

import pytest

from scoring.models import ScoringModel
from tests.scoring import builders


@pytest.fixture
def directors_draft() -> ScoringModel:
    """Qualifies every director not in Latin America (threshold 20)."""
    return builders.directors_draft()
