from django.apps import AppConfig


class ScoringConfig(AppConfig):
    """Scoring models, rules, the engine and rescoring."""

    name = "scoring"

    def ready(self) -> None:
        from leads.signals import leads_changed
        from scoring import receivers

        leads_changed.connect(
            receivers.on_leads_changed, dispatch_uid="scoring.rescore"
        )
