"""Start-up warnings: a Redis that may evict queued tasks, and DEBUG left on."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import redis
from celery.signals import beat_init, worker_ready
from django.core import checks

from crm.checks import DEBUG_ON, redis_eviction_check


@pytest.fixture
def redis_url(settings) -> Iterator[str]:
    url = os.environ.get("CELERY_BROKER_URL") or os.environ["REDIS_URL"]
    settings.CELERY_BROKER_URL = url
    client = redis.Redis.from_url(url)
    policy = client.config_get("maxmemory-policy")["maxmemory-policy"]
    yield url
    client.config_set("maxmemory-policy", policy)


@pytest.mark.redis
def test_an_evicting_redis_is_warned_about(redis_url):
    redis.Redis.from_url(redis_url).config_set("maxmemory-policy", "allkeys-lru")

    messages = redis_eviction_check()

    assert [m.id for m in messages] == ["crm.W001"]
    assert isinstance(messages[0], checks.Warning)
    assert "maxmemory-policy allkeys-lru" in messages[0].msg
    assert "Set maxmemory-policy noeviction." in messages[0].msg


@pytest.mark.redis
def test_a_noeviction_redis_passes(redis_url):
    redis.Redis.from_url(redis_url).config_set("maxmemory-policy", "noeviction")

    assert redis_eviction_check() == []


def test_an_unreachable_redis_is_left_to_the_broker_errors(settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    }

    assert redis_eviction_check() == []


@pytest.mark.parametrize("started", [worker_ready, beat_init], ids=["worker", "beat"])
def test_celery_processes_warn_at_start_when_debug_is_on(settings, caplog, started):
    settings.DEBUG = True
    settings.CELERY_BROKER_URL = "memory://"
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    }

    started.send(sender=None)

    assert [(r.name, r.levelname, r.getMessage()) for r in caplog.records] == [
        ("crm.checks", "WARNING", DEBUG_ON)
    ]


@pytest.mark.parametrize("started", [worker_ready, beat_init], ids=["worker", "beat"])
def test_celery_processes_start_quietly_with_debug_off(settings, caplog, started):
    settings.DEBUG = False
    settings.CELERY_BROKER_URL = "memory://"
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    }

    started.send(sender=None)

    assert DEBUG_ON not in caplog.text
