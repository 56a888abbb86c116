"""Constraint builders shared by the handoff models."""

from __future__ import annotations

from django.db import models
from django.db.models import Q


def unique(
    *fields: str, name: str, message: str, condition: Q | None = None
) -> models.UniqueConstraint:
    """A unique constraint on ``fields`` (where ``condition`` holds, if given);
    forms and the admin show ``message`` when a row would break it."""
    return models.UniqueConstraint(
        fields=list(fields),
        condition=condition,
        name=name,
        violation_error_message=message,
    )
