"""Response headers that depend on who is asking, and checks of each request."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth.middleware import get_user
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import Resolver404, get_resolver, get_urlconf, resolve
from django.utils.cache import patch_cache_control
from django.utils.functional import SimpleLazyObject
from rest_framework.settings import api_settings

from crm.user_facts import user_facts_load

logger = logging.getLogger(__name__)

#: Every answer under the API carries or may carry personal data.
API_PREFIX = "/api/"


class NoStoreMiddleware:
    """``Cache-Control: no-store`` on every API answer and every logged-in page.

    Lead lists, lead pages, CSV exports, the SAL queue and the API carry
    personal data; no browser or shared cache may keep a copy, or the next
    person at the computer (or behind the proxy) could read it with the Back
    button. Marking all of them is simpler and safer than listing views that
    would need it. Static files never get here (WhiteNoise answers them first).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if request.path_info.startswith(API_PREFIX) or _is_logged_in(request):
            patch_cache_control(response, no_store=True, private=True)
        return response


class UserFactsMiddleware:
    """The signed-in user arrives with its permissions, groups and manager
    flag, read in one query (``crm.user_facts``) instead of four.

    Still lazy, as ``AuthenticationMiddleware`` leaves ``request.user``: a
    request that never asks about its user reads nothing. Place it right
    after ``AuthenticationMiddleware``.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # The same lazy user as AuthenticationMiddleware's, facts added.
        request.user = SimpleLazyObject(lambda: user_facts_load(get_user(request)))
        return self.get_response(request)


def _is_logged_in(request: HttpRequest) -> bool:
    # DRF replaces request.user with None for anonymous API calls
    # (UNAUTHENTICATED_USER), so read it defensively.
    user = getattr(request, "user", None)
    return bool(getattr(user, "is_authenticated", False))


class NulRefusedMiddleware:
    """A NUL byte in a page's path or query string is a 400 that says so.

    PostgreSQL refuses NUL in text, so a filter such as ``?stage=%00`` on the
    admin's lists would otherwise reach the database and end as a 500
    (refused at the boundary: reliability rule 6 in ARCHITECTURE.md). The API
    is left to its filters, which answer with the field that holds the NUL.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        query = request.GET
        if request.path.startswith(API_PREFIX):
            return self.get_response(request)
        if "\x00" in request.path or any(
            "\x00" in key or any("\x00" in value for value in query.getlist(key))
            for key in query
        ):
            message = "The address contains a NUL byte (%00); remove it and retry."
            return HttpResponse(message, status=400, content_type="text/plain")
        return self.get_response(request)


#: Logged once per process by ProxySettingMiddleware.
PROXY_NOT_CONFIGURED = (
    "Requests carry X-Forwarded-For but NUM_PROXIES is 0, so each client is "
    "known by the address it connects from: behind a proxy, that is the "
    "proxy's, and all clients share one login lockout and one rate limit. "
    "Set NUM_PROXIES to the number of proxies in front of Leadflow."
)


class ProxySettingMiddleware:
    """Warn once when requests look proxied but ``NUM_PROXIES`` is 0.

    The login lockout and the rate limits count by client address (DRF's
    ``get_ident``), which trusts ``X-Forwarded-For`` only for ``NUM_PROXIES``
    proxies. Behind an unannounced proxy every client has the proxy's address:
    one person's failed logins lock everyone out of that username, and all
    share one rate limit. Only a log line: a client with no proxy in between
    may send the header too, and nothing can tell the two cases apart here.
    Once per middleware instance, that is once per web process.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.warned = False

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if (
            not self.warned
            and "HTTP_X_FORWARDED_FOR" in request.META
            and api_settings.NUM_PROXIES == 0
        ):
            self.warned = True
            logger.warning("%s", PROXY_NOT_CONFIGURED)
        return self.get_response(request)


class NotFoundPageMiddleware:
    """The product's 404 page for a page not found, also with DEBUG on.

    With DEBUG on, Django answers ``Http404`` with its technical page (the
    URL patterns tried, the settings module); a demo behaves like production
    instead and shows ``404.html``, as ``handler404`` does with DEBUG off:
    for an address no URL pattern matches and for a view's ``Http404`` (a
    lead that does not exist or is not the user's to see). ``PermissionDenied``
    needs nothing here: Django answers it with ``403.html`` in both modes.
    The API is left alone: DRF turns both into its JSON errors.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # An unmatched address never reaches a view, so process_exception
        # would not see it; only DEBUG makes Django answer it differently.
        if settings.DEBUG and not request.path_info.startswith(API_PREFIX):
            try:
                resolve(request.path_info, getattr(request, "urlconf", None))
            except Resolver404 as exc:
                return _not_found_page(request, exc)
        return self.get_response(request)

    def process_exception(
        self, request: HttpRequest, exception: Exception
    ) -> HttpResponse | None:
        if isinstance(exception, Http404) and not request.path_info.startswith(
            API_PREFIX
        ):
            return _not_found_page(request, exception)
        return None


def _not_found_page(request: HttpRequest, exception: Http404) -> HttpResponse:
    """The answer of the project's ``handler404`` (Django logs it as any 404)."""
    handler = get_resolver(get_urlconf()).resolve_error_handler(404)
    return handler(request, exception=exception)
