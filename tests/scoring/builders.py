"""Scoring models the scoring tests build the same way."""

from __future__ import annotations

from scoring import services
from scoring.models import ScoringModel
from scoring.selectors import model_active


def published_with_account_rule() -> ScoringModel:
    """A published clone of the default model that also tests ``account.score``."""
    draft = services.model_clone(model=model_active())
    services.rule_create(
        model=draft,
        kind="fit",
        label="Engaged account",
        points=10,
        attribute="account.score",
        operator="at_least",
        value=50,
    )
    return services.model_publish(model_id=draft.id)


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
