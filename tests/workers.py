"""Celery worker subprocesses for the tests that run a real worker.

Each worker runs ``celery -A crm worker`` on the test database pytest-django
created (test_<name>) and the broker from the environment, listening on
queues named for the run so parallel runs never share messages. Each test
keeps the Popen of the worker it started and stops exactly that one, by PID.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.db import connection

from crm.celery import app as celery_app

#: ``celery -A crm``, run by this interpreter.
CELERY = [sys.executable, "-m", "celery", "-A", "crm"]


def database_url() -> str:
    """The URL of the test database pytest-django created (test_<name>)."""
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    return f"postgres://{db['USER']}{password}@{host}:{port}/{db['NAME']}"


def broker_url() -> str:
    return os.environ.get("CELERY_BROKER_URL") or os.environ["REDIS_URL"]


def environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment, pointed at the test database and broker."""
    return {
        **os.environ,
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": broker_url(),
        "DJANGO_SETTINGS_MODULE": "crm.settings",
        **(extra or {}),
    }


def start_worker(queues: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    env = environment()
    command = [
        *CELERY,
        "worker",
        "--pool",
        "solo",
        "--queues",
        ",".join(queues.values()),
        "--hostname",
        f"{queues['realtime']}@%h",
        "--loglevel",
        "INFO",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
    ]
    with log.open("wb") as out:
        return subprocess.Popen(
            command,
            cwd=settings.BASE_DIR,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def stop(process: subprocess.Popen[bytes], *, grace: float = 10) -> None:
    """Warm shutdown (SIGTERM), then SIGKILL if it has not ended within
    ``grace`` seconds; only this PID."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def forget_queues(queues: dict[str, str]) -> None:
    """Delete this run's queues from the broker (messages and bindings)."""
    import redis

    client = redis.Redis.from_url(broker_url())
    for name in queues.values():
        bindings = (f"_kombu.binding.{name}", f"_kombu.binding_permanent.{name}")
        client.delete(name, *bindings)


@contextmanager
def sending_to(queues: dict[str, str]) -> Iterator[None]:
    """Route this process's tasks to ``queues`` (name -> this run's queue)."""
    conf = celery_app.conf
    saved = (conf.task_routes, conf.task_default_queue, celery_app.amqp.router)
    conf.task_routes = {
        task: {**route, "queue": queues.get(route["queue"], route["queue"])}
        for task, route in saved[0].items()
    }
    conf.task_default_queue = queues["default"]
    celery_app.amqp.flush_routes()  # the route table is cached
    celery_app.amqp.router = celery_app.amqp.Router()
    try:
        yield
    finally:
        conf.task_routes, conf.task_default_queue, celery_app.amqp.router = saved
        celery_app.amqp.flush_routes()
