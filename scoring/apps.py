from django.apps import AppConfig


class ScoringConfig(AppConfig):
    """Scoring models, rules and the engine (built in the scoring issue)."""

    name = "scoring"
