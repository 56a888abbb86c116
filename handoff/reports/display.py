"""Small values the report shows as they are: durations, shares, names."""

from __future__ import annotations

from dataclasses import dataclass


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


@dataclass(frozen=True)
class Duration:
    """A wall-clock span in seconds, written the short way people read it."""

    seconds: float

    @property
    def minutes(self) -> float:
        return self.seconds / 60

    def __str__(self) -> str:
        # Round first, then pick the unit, so 9.97 min reads "10 min", not "10.0".
        if abs(round(self.seconds)) < 60:
            return f"{self.seconds:.0f} s"
        minutes = self.seconds / 60
        if abs(round(minutes, 1)) < 10:
            return f"{minutes:.1f} min"
        if abs(round(minutes)) < 90:
            return f"{minutes:.0f} min"
        hours = minutes / 60
        if abs(round(hours, 1)) < 48:
            return f"{hours:.1f} h"
        return f"{hours / 24:.1f} d"


def _duration(seconds: float | None) -> Duration | None:
    return None if seconds is None else Duration(float(seconds))


def _person_name(first: str | None, last: str | None, username: str | None) -> str:
    full = f"{first or ''} {last or ''}".strip()
    return full or username or "Unassigned"
