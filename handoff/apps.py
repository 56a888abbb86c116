from django.apps import AppConfig


class HandoffConfig(AppConfig):
    """SLAs, handoffs and the SAL queue (built in the handoff issue)."""

    name = "handoff"
