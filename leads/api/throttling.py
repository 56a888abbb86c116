"""Rate limits of the public endpoints, kept in the cache (Redis in production)."""

from __future__ import annotations

import logging
from typing import Any

from redis.exceptions import RedisError
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

logger = logging.getLogger(__name__)

#: What a cache that cannot be reached raises: redis-py's errors (connection
#: refused, timeouts) and plain socket errors of other backends.
CACHE_ERRORS: tuple[type[Exception], ...] = (RedisError, OSError)


class FailOpenScopedThrottle(SimpleRateThrottle):
    """A per-client-IP rate limit that lets requests through when the cache is down.

    Redis holds only hints (reliability rule 1 in ARCHITECTURE.md): losing it
    must not turn public traffic into errors, so a cache error allows the
    request and is logged.
    The client IP is DRF's ``get_ident``, which trusts ``X-Forwarded-For``
    only for ``NUM_PROXIES`` proxies. The rate is read from
    ``DEFAULT_THROTTLE_RATES[scope]`` per request, so a changed setting applies
    without a restart (and in tests).
    """

    def get_rate(self) -> str | None:
        try:
            return api_settings.DEFAULT_THROTTLE_RATES[self.scope]
        except KeyError:
            return super().get_rate()

    def get_cache_key(self, request: Request, view: Any) -> str:
        return self.cache_format % {
            "scope": self.scope,
            "ident": self.get_ident(request),
        }

    def allow_request(self, request: Request, view: Any) -> bool:
        try:
            return super().allow_request(request, view)
        except CACHE_ERRORS as exc:
            # No client IP in the message: logs are not erased on request.
            logger.warning(
                "rate limit %s not checked, cache unavailable: %r", self.scope, exc
            )
            return True


class FormSubmitThrottle(FailOpenScopedThrottle):
    """Submissions of public web forms per client IP (``form_submit`` rate)."""

    scope = "form_submit"
