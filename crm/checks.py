"""Start-up checks of the runtime around Leadflow (Django system checks).

Redis holds Celery's messages and the rate-limit counters. With an eviction
policy other than ``noeviction`` a full Redis silently drops queued tasks;
nothing is lost (PostgreSQL holds every fact and the reconcilers re-enqueue),
but work is delayed and nobody is told. So warn at start-up, from
``manage.py check``/``migrate``/``runserver`` and from the Celery worker.

DEBUG on a server others can reach shows them the debug page, with settings
and the data of the request that failed; the web process (``crm.wsgi``) and
the Celery worker and beat say so in their log as they start.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core import checks

logger = logging.getLogger(__name__)

#: Seconds to wait for Redis: a check must never hang start-up.
REDIS_TIMEOUT = 2


def redis_urls() -> list[str]:
    """The Redis URLs in use (broker and cache), without duplicates."""
    urls = [settings.CELERY_BROKER_URL, settings.CACHES["default"].get("LOCATION")]
    return sorted({u for u in urls if isinstance(u, str) and u.startswith("redis")})


def redis_eviction_problem(url: str) -> str:
    """Why the Redis at ``url`` may drop data, or "" when it is safe or unknown.

    An unreachable Redis, or one that refuses CONFIG (managed services often
    do), is not reported here: the broker's own errors say that.
    """
    import redis

    try:
        client = redis.Redis.from_url(
            url,
            socket_connect_timeout=REDIS_TIMEOUT,
            socket_timeout=REDIS_TIMEOUT,
        )
        policy = client.config_get("maxmemory-policy").get("maxmemory-policy", "")
    except redis.RedisError:
        return ""
    if policy and policy != "noeviction":
        return (
            f"Redis at {client.connection_pool.connection_kwargs.get('host')} has "
            f"maxmemory-policy {policy}: when it fills up it evicts keys, including "
            "queued Celery tasks. Set maxmemory-policy noeviction."
        )
    return ""


@checks.register(checks.Tags.caches)
def redis_eviction_check(**kwargs: Any) -> list[checks.CheckMessage]:
    return [
        checks.Warning(problem, id="crm.W001")
        for problem in map(redis_eviction_problem, redis_urls())
        if problem
    ]


def warn_on_worker_start(**kwargs: Any) -> None:
    """Log the same warning when a Celery worker starts (it runs no Django checks)."""
    for problem in map(redis_eviction_problem, redis_urls()):
        if problem:
            logger.warning("%s", problem)


#: Logged by the web and Celery processes as they start with DEBUG on.
DEBUG_ON = (
    "DEBUG is on: an error answers with Django's debug page, which shows the "
    "settings and the request's data to whoever caused it. Fine for `make run` "
    "on your own machine; on a server others can reach, unset DEBUG."
)


def warn_if_debug(**kwargs: Any) -> None:
    """Log ``DEBUG_ON`` when DEBUG is on (a receiver of Celery's start signals)."""
    if settings.DEBUG:
        logger.warning("%s", DEBUG_ON)
