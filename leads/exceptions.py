"""Domain errors raised by the leads services and the lifecycle."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied


class LeadsError(Exception):
    """Base class: a request the leads domain refuses, with a message for people."""


class InvalidStageTransition(LeadsError):
    """The requested lifecycle move is not allowed from the lead's current stage."""

    def __init__(self, *, lead_id: int, from_stage: str, to_stage: str, message: str):
        self.lead_id = lead_id
        self.from_stage = from_stage
        self.to_stage = to_stage
        super().__init__(message)


class StageChangedConcurrently(InvalidStageTransition):
    """The lead is no longer in the stage the caller saw (someone moved it first)."""


class LeadAlreadyExists(LeadsError):
    """Another lead already has this e-mail address (compared case-insensitively)."""


class ImportFileError(LeadsError):
    """A CSV file or its column mapping cannot be imported at all; nothing stored.

    The message says what to fix (encoding, header row, a missing e-mail
    column ...). Problems of single rows are rejections, not this error.
    """


class LeadEditDenied(PermissionDenied):
    """The person may not make this change to this lead or account: 403.

    A PermissionDenied, so the API and the admin answer 403 with the message.
    """
