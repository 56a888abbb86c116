"""Domain errors of the handoff app; views turn them into messages or HTTP codes."""

from __future__ import annotations


class HandoffError(Exception):
    """Base class: ``message`` says what happened and what to do."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class HandoffAlreadyDecided(HandoffError):
    """The handoff was decided (or expired) before this decision: HTTP 409."""


class HandoffNotYours(HandoffError):
    """Only the assigned SDR (or the lead's owner) or a manager may do this: 403."""


class DecisionInvalid(HandoffError):
    """The decision is incomplete or wrong; ``errors`` maps fields to messages: 400."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(" ".join(errors.values()))
        self.errors = errors


class NoServiceLevelAgreement(HandoffError):
    """No active SLA covers the lead and there is no default SLA."""


class LeadOwnerChanged(HandoffError):
    """Someone reassigned the lead after the page showed its owner: HTTP 409."""
