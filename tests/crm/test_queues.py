"""A bulk chunk gives way to queued real-time work (crm.common.queues).

``queue_waiting`` reads how many messages wait in a queue on the Redis
broker; ``queue_give_way`` waits while there are any, up to a cap; a full
rescore's chunk task calls it for the realtime queue before it runs.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from crm.celery import app as celery_app
from crm.common import queues
from scoring import tasks


@pytest.fixture
def redis_queue() -> Iterator[tuple[str, object]]:
    """A queue of its own on the test's Redis broker, with tasks not eager."""
    eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = False
    name = f"test-{uuid.uuid4().hex}"
    try:
        with celery_app.connection_for_write() as connection:
            assert connection.transport.driver_type == "redis"
            client = connection.default_channel.client
            yield name, client
            client.delete(name)
    finally:
        celery_app.conf.task_always_eager = eager


@pytest.mark.redis
def test_the_messages_waiting_in_a_redis_queue_are_counted(redis_queue):
    name, client = redis_queue
    assert queues.queue_waiting(name) == 0

    client.rpush(name, "first", "second")

    assert queues.queue_waiting(name) == 2


@pytest.mark.redis
def test_an_app_running_tasks_eagerly_has_no_queue_to_wait_for(redis_queue):
    name, client = redis_queue
    client.rpush(name, "first")
    celery_app.conf.task_always_eager = True

    assert queues.queue_waiting(name) == 0


def test_giving_way_waits_until_the_queue_is_empty(monkeypatch):
    # Given a queue that empties after two looks
    lengths = iter([3, 1, 0])
    monkeypatch.setattr(queues, "queue_waiting", lambda name: next(lengths))

    # When work gives way to it
    waited = queues.queue_give_way("realtime", max_seconds=5, poll_seconds=0.01)

    # Then it looked three times and waited two polls
    assert next(lengths, None) is None
    assert 0.02 <= waited < 1


def test_giving_way_stops_waiting_at_the_cap(monkeypatch):
    monkeypatch.setattr(queues, "queue_waiting", lambda name: 1)

    waited = queues.queue_give_way("realtime", max_seconds=0.05, poll_seconds=0.01)

    assert 0.05 <= waited < 1


def test_a_rescore_chunk_gives_way_to_the_realtime_queue_before_it_runs(
    monkeypatch,
):
    calls = []
    monkeypatch.setattr(
        tasks,
        "queue_give_way",
        lambda name, **limits: calls.append(("give way", name, limits)),
    )
    monkeypatch.setattr(
        tasks.chunks,
        "rescore_chunk_run",
        lambda chunk_id: calls.append(("run", chunk_id)) or 7,
    )

    assert tasks.rescore_chunk_task.delay(12).get() == 7

    assert calls == [
        ("give way", "realtime", {"max_seconds": 5.0, "poll_seconds": 0.2}),
        ("run", 12),
    ]
