"""How much work waits in a Celery queue, for work that should give way to it.

The bulk worker's chunks let real-time rescoring go first
(``scoring.tasks.rescore_chunk_task``): before a chunk starts, it waits
while messages wait in the ``realtime`` queue.
"""

from __future__ import annotations

import logging
import time

from celery import current_app
from kombu.exceptions import OperationalError as BrokerError
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)


def queue_waiting(name: str) -> int:
    """The messages waiting in queue ``name`` and not yet taken by a worker.

    Read on a Redis broker (the length of the queue's list; Leadflow's tasks
    are sent without a priority, so they all wait in that one list). Any
    other broker (the in-memory one of the embedded default) answers 0, as
    does an app that runs its tasks eagerly (no worker takes them) and a
    broker that cannot be asked: the caller only gives way to the queue, and
    must not stop because Redis is down.
    """
    if current_app.conf.task_always_eager:
        return 0
    try:
        with current_app.connection_for_read() as connection:
            if connection.transport.driver_type != "redis":
                return 0
            return int(connection.default_channel.client.llen(name))
    except (BrokerError, RedisError, OSError):
        logger.warning("could not read the length of queue %s", name, exc_info=True)
        return 0


def queue_give_way(name: str, *, max_seconds: float, poll_seconds: float) -> float:
    """Wait while messages wait in queue ``name``, at most ``max_seconds``,
    looking again every ``poll_seconds``; return the seconds waited.

    For work that holds no lock and no transaction while it waits; the cap
    keeps a steady stream on the other queue from stopping it.
    """
    began = time.monotonic()
    deadline = began + max_seconds
    while queue_waiting(name) and time.monotonic() < deadline:
        time.sleep(poll_seconds)
    return time.monotonic() - began
