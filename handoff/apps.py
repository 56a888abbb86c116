from django.apps import AppConfig


class HandoffConfig(AppConfig):
    """SLAs, SDR teams, handoffs, the SAL queue and the escalation ladder."""

    name = "handoff"

    def ready(self) -> None:
        from handoff import receivers
        from leads.signals import lead_stage_changed

        lead_stage_changed.connect(
            receivers.on_lead_stage_changed, dispatch_uid="handoff.open_for_mql"
        )
