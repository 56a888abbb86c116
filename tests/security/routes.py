"""Every route the URL resolver knows, as concrete paths a test can request."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RegexPattern, RoutePattern

#: A value for each path converter: ids no fixture creates, so a request that
#: gets past CSRF meets a 404 instead of changing data.
MISSING_ID = "987654"
_CONVERTER_VALUES = {
    "int": MISSING_ID,
    "slug": "no-such-key",
    "str": "no-such-thing",
    "path": MISSING_ID,
}
#: Regex groups as DRF's router and the admin write them.
_GROUP = re.compile(r"\(\?P<(?P<name>\w+)>[^)]*\)")


@dataclass(frozen=True)
class Route:
    path: str  # "/leads/987654/"
    template: str  # "leads/<int:lead_id>/"
    parameterised: bool
    callback: Callable[..., Any]

    @property
    def view_name(self) -> str:
        """The view's dotted name, as ``manage.py show_urls`` would print it."""
        view_class = getattr(self.callback, "cls", None) or getattr(
            self.callback, "view_class", None
        )
        target = view_class or self.callback
        return f"{target.__module__}.{target.__qualname__}"


def _route_part(pattern: RoutePattern | RegexPattern) -> tuple[str, str, bool] | None:
    """(concrete part, template part, has parameters); None for optional
    suffixes such as DRF's ``.json`` format routes (duplicates of the plain
    route)."""
    text = str(pattern)
    if isinstance(pattern, RoutePattern):
        concrete = re.sub(
            r"<(?:(\w+):)?\w+>",
            lambda m: _CONVERTER_VALUES[m.group(1) or "str"],
            text,
        )
        return concrete, text, bool(pattern.converters)
    if "(?P<format>" in text or "(?P<url>" in text:
        return None
    if "(?P<app_label>" in text:
        return "leads/", text, True
    body = text.removeprefix("^").removesuffix("$")
    concrete = _GROUP.sub(MISSING_ID, body)
    if re.search(r"[\\()\[\]*+?|]", concrete):
        raise AssertionError(f"Cannot build a path for the route {text!r}")
    return concrete, text, concrete != body


def _walk(
    patterns: list[URLPattern | URLResolver],
    prefix: str,
    template: str,
    parameterised: bool,
) -> Iterator[Route]:
    for entry in patterns:
        part = _route_part(entry.pattern)
        if part is None:
            continue
        concrete, text, has_params = part
        if isinstance(entry, URLResolver):
            yield from _walk(
                entry.url_patterns,
                prefix + concrete,
                template + text,
                parameterised or has_params,
            )
        else:
            yield Route(
                path=prefix + concrete,
                template=template + text,
                parameterised=parameterised or has_params,
                callback=entry.callback,
            )


def all_routes() -> list[Route]:
    """Every route, with parameters filled by ids that do not exist."""
    return list(_walk(get_resolver().url_patterns, "/", "", False))


def plain_routes() -> list[Route]:
    """Routes without parameters, which a GET can open as they are."""
    return [route for route in all_routes() if not route.parameterised]
