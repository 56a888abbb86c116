"""Which touchpoint kind an event name means.

An EventMapping row decides when there is one (its kind null: ignored on
purpose); else a name equal to a kind's code or label once normalised
(``leads.models.event_key``: "demo_request", "Demo request"); else a page
call is a page view; else the event is unmapped.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from leads.models import EventMapping, TouchpointKind, event_key

#: The kind of Segment ``page`` and ``screen`` calls.
PAGE_VIEW_KIND = "page_view"
#: The stored event name of page and screen calls.
PAGE_EVENT = "page"


@dataclass
class EventKinds:
    """The mappings and active kinds, read once per request (two queries)."""

    mapped: dict[str, str | None]
    by_name: dict[str, str]
    active: set[str] = field(init=False)

    def __post_init__(self) -> None:
        self.active = set(self.by_name.values())

    def kind_for(self, key: str, *, page: bool = False) -> str | None:
        """The kind code for the normalised event name ``key``, or None
        (unmapped, or ignored on purpose)."""
        if key in self.mapped:
            kind = self.mapped[key]
            return kind if kind is None or kind in self.active else None
        if page:
            return PAGE_VIEW_KIND if PAGE_VIEW_KIND in self.active else None
        return self.by_name.get(key)


def event_kinds_load() -> EventKinds:
    """Read the event mappings and the active touchpoint kinds."""
    return event_kinds_build(
        EventMapping.objects.values_list("event_key", "kind_id"),
        TouchpointKind.objects.filter(is_active=True).values_list("code", "label"),
    )


def event_kinds_build(
    mapped: Iterable[tuple[str, str | None]], active: Iterable[Sequence[str]]
) -> EventKinds:
    """EventKinds from the mappings' (event key, kind) pairs and the active
    kinds' (code, label) pairs in label order (the first label wins)."""
    by_name: dict[str, str] = {}
    for code, label in active:
        by_name.setdefault(event_key(label), code)
        by_name[event_key(code)] = code  # a code wins over another kind's label
    return EventKinds(mapped=dict(mapped), by_name=by_name)
