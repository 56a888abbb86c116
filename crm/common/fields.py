"""Django REST framework fields any app's API uses to read input strictly.

Text PostgreSQL cannot store and times without a zone are refused with a
400 that says what to send, never stored or guessed.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from typing import Any

from django.utils.dateparse import parse_datetime
from rest_framework import serializers

from crm.common.text import text_problem


class SafeCharField(serializers.CharField):
    """A CharField that refuses what PostgreSQL cannot store (NUL, lone surrogates)."""

    def to_internal_value(self, data: Any) -> str:
        value = super().to_internal_value(data)
        if problem := text_problem(value):
            raise serializers.ValidationError(problem)
        return value


class SafeSlugRelatedField(serializers.SlugRelatedField):
    """A SlugRelatedField that refuses NUL before it queries (PostgreSQL would fail)."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, str) and (problem := text_problem(data)):
            raise serializers.ValidationError(problem)
        return super().to_internal_value(data)


class StrictDateTimeField(serializers.DateTimeField):
    """ISO 8601 with a time zone offset; a naive time is refused, not guessed."""

    def to_internal_value(self, value: Any) -> dt.datetime:
        if not isinstance(value, str):
            raise serializers.ValidationError(
                "Send an ISO 8601 string such as 2026-03-01T09:30:00Z."
            )
        try:
            parsed = parse_datetime(value.strip())
        except ValueError:
            parsed = None
        if parsed is None:
            raise serializers.ValidationError(
                "Not a valid date and time; use ISO 8601 such as 2026-03-01T09:30:00Z."
            )
        if parsed.tzinfo is None:
            raise serializers.ValidationError(
                "Give a time zone offset, e.g. 2026-03-01T09:30:00Z or +01:00."
            )
        # In UTC: PostgreSQL refuses offsets beyond +-15:59 that ISO 8601 allows.
        # A time UTC cannot hold is left as it is for the range checks to refuse.
        with contextlib.suppress(OverflowError):
            parsed = parsed.astimezone(dt.UTC)
        return parsed
