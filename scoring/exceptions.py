"""Domain errors of scoring."""


class ScoringError(Exception):
    """A request the scoring domain refuses, with a message for people."""


class ModelNotPublishable(ScoringError):
    """The model is not a publishable draft (already active, archived, empty)."""


class ModelNotEditable(ScoringError):
    """Only drafts can be edited; clone an active or archived model first."""


class SuggestionRefused(ScoringError):
    """The outcomes asked for cannot support a suggestion; the message says why."""


class SuggestionRunning(ScoringError):
    """A suggestion is already queued or running: one at a time."""

    def __init__(self, running: object | None = None) -> None:
        self.running = running
        super().__init__(
            "A suggestion is already being fitted: wait for it to finish, then "
            "start another."
        )
