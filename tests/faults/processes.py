"""Celery worker and beat subprocesses for the fault tests.

As tests/workers.py does: each process runs ``celery -A crm`` on
the test database (pytest-django's test_<name>) and the broker from the
environment, with extra environment for the case. Each test keeps the Popen
of every process it started and stops exactly those, by PID: SIGTERM (warm
shutdown, the running task finishes), then SIGKILL if it hangs.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterable
from pathlib import Path

import pytest
from django.conf import settings

from tests import workers
from tests.workers import broker_url

#: The queues of the Procfile's worker: realtime rescoring, timers, the rest.
WORKER_QUEUES = ("realtime", "timers", "default")
PRIORITY_SUFFIXES = ("", "\x06\x163", "\x06\x166", "\x06\x169")
#: How long a worker may take to start on a busy two-core machine.
READY_TIMEOUT_S = 60


def _start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    with log.open("wb") as out:
        return subprocess.Popen(
            [*workers.CELERY, *command],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def start_worker(
    name: str,
    log: Path,
    *,
    env: dict[str, str],
    include: Iterable[str] = (),
    queues: Iterable[str] = WORKER_QUEUES,
) -> subprocess.Popen:
    """One worker process (solo pool: one task at a time, like one pool child)."""
    command = [
        "worker",
        "--pool",
        "solo",
        "--queues",
        ",".join(queues),
        "--hostname",
        f"{name}@%h",
        "--loglevel",
        "INFO",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
    ]
    for module in include:
        command += ["--include", module]
    return _start(command, env, log)


def start_beat(schedule: Path, log: Path, *, env: dict[str, str]) -> subprocess.Popen:
    """One beat process with its own schedule file (two beats share nothing)."""
    command = ["beat", "--schedule", str(schedule), "--loglevel", "INFO"]
    return _start(command, env, log)


def wait_ready(worker: subprocess.Popen, log: Path) -> None:
    """Wait until the worker logs that it consumes, or fail with its log."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if worker.poll() is not None:
            break
        if b" ready." in log.read_bytes():
            return
        time.sleep(0.2)
    pytest.fail(f"worker not ready (exit code {worker.poll()}):\n{log.read_text()}")


def stop(process: subprocess.Popen) -> None:
    """Stop a worker or beat, giving a running task 20 s to finish."""
    workers.stop(process, grace=20)


def purge_queues(names: Iterable[str] = WORKER_QUEUES) -> None:
    """Empty the queues (and Redis' unacked store) of earlier runs' messages."""
    import redis

    client = redis.Redis.from_url(broker_url())
    # kombu keeps a queue's higher priorities in sibling lists (name\x06\x16N).
    keys = [f"{name}{suffix}" for name in names for suffix in PRIORITY_SUFFIXES]
    client.delete(*keys, "unacked", "unacked_index", "unacked_mutex")


def queued(names: Iterable[str] = WORKER_QUEUES) -> int:
    """Messages waiting in the queues or delivered and not acknowledged yet."""
    import redis

    client = redis.Redis.from_url(broker_url())
    keys = [f"{name}{suffix}" for name in names for suffix in PRIORITY_SUFFIXES]
    return sum(client.llen(key) for key in keys) + client.hlen("unacked")
