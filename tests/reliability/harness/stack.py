"""A private Leadflow stack on 127.0.0.1 for the reliability scenarios.

``Stack`` starts, each on a free port and in one temporary work directory:
its own ``redis-server`` (no persistence, ``noeviction``), its own PostgreSQL
cluster (``initdb`` + ``postgres``, run as the ``postgres`` OS user when this
process is root), gunicorn, named Celery workers and Celery beat, all with
DATABASE_URL and REDIS_URL pointing at those services. Every process is
recorded by the PID ``Popen`` returned; ``kill`` and ``stop`` signal only
recorded PIDs and their descendants (gunicorn workers, Celery pool children,
PostgreSQL backends), never processes found by name. Each process logs to
``<work dir>/<name>.log``; when the ``with`` block fails, the tails of those
logs are printed.

The services are the scenario's own, so a fault scenario may kill Redis or
restart PostgreSQL without touching anything else on the machine.
"""

from __future__ import annotations

import concurrent.futures
import functools
import shutil
import signal
import sys
import time
from collections.abc import Callable, Iterable, Sequence

import psycopg

from crm.bench.procs import free_port, gunicorn_command, healthy
from tests.reliability.harness.base import DATABASE_NAME, StackBase
from tests.reliability.harness.processes import (
    Process,
    StackError,
    logged,
    postgres_bin_dir,
    postgres_dsn,
    postgres_ready,
    redis_ping,
)

#: The bulk worker's scheduling priority (nice), as in the Procfile: on a
#: server with few cores a publish's rescore yields the CPU to real-time
#: rescoring and the web instead of sharing it evenly.
BULK_NICENESS = 10
#: Seconds a migrate of the empty database may take on a slow machine.
MIGRATE_TIMEOUT = 600
#: PostgreSQL settings of a throw-away cluster. fsync off only loses data on
#: an operating-system crash; a killed or restarted server still recovers
#: every commit (synchronous_commit stays on, so no acknowledged commit is lost).
_PG_SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "fsync": "off",
    "full_page_writes": "off",
    "max_connections": "200",
    "shared_buffers": "256MB",
    "log_min_messages": "warning",
    "log_min_error_statement": "panic",
}


class Stack(StackBase):
    """Context manager for a private Leadflow stack; see the module docstring.

    Nothing starts on ``__enter__`` except the work directory: call the
    ``start_*`` methods (or ``up``) in the order a scenario needs. ``stop``
    (called on exit) kills every recorded process and removes the directory.
    """

    def up(
        self,
        *,
        web_workers: int = 2,
        workers: Sequence[tuple[str, str, int]] = (
            ("realtime", "realtime,timers,default", 2),
            ("bulk", "bulk", 1),
        ),
        beat: bool = True,
    ) -> Stack:
        """Start everything the Procfile runs: Redis, PostgreSQL (migrated),
        gunicorn, the named workers ``(name, queues, concurrency)`` and beat."""
        self.start_redis()
        self.start_postgres()
        # The Django processes start side by side: each takes seconds to import.
        starts: list[Callable[[], Process]] = [lambda: self.start_web(web_workers)]
        starts += [
            functools.partial(self.start_worker, name, queues, concurrency)
            for name, queues, concurrency in workers
        ]
        if beat:
            starts.append(self.start_beat)
        with concurrent.futures.ThreadPoolExecutor(len(starts)) as pool:
            for future in [pool.submit(start) for start in starts]:
                future.result()
        return self

    # Redis
    # --------------------------------------------------------------------------

    def start_redis(self, *, policy: str = "noeviction") -> Process:
        """Start the stack's redis-server (empty: no RDB, no AOF) on its port.

        A second call after ``kill_redis`` starts an empty Redis on the same
        port, as a restarted Redis without persistence comes back.
        """
        with self._lock:
            if self.redis is not None and self.redis.alive():
                raise StackError("Redis is already running")
            self.redis_port = self.redis_port or free_port()
            process = self._spawn(
                "redis",
                "redis",
                [
                    shutil.which("redis-server") or "redis-server",
                    "--port",
                    str(self.redis_port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--maxmemory-policy",
                    policy,
                    "--dir",
                    str(self._dir()),
                ],
                port=self.redis_port,
            )
            self.redis = process
        self._wait(process, lambda: redis_ping(self.redis_port), "Redis PING")
        return process

    def kill_redis(self, sig: int = signal.SIGKILL) -> None:
        """Kill the stack's Redis (SIGKILL by default): every key is gone."""
        if self.redis is None:
            raise StackError("Redis was not started")
        self.kill(self.redis, sig)

    # PostgreSQL
    # --------------------------------------------------------------------------

    def start_postgres(self, *, migrate: bool = True) -> Process:
        """Start the stack's PostgreSQL cluster, creating it on the first call.

        The first call runs initdb, creates the ``leadflow`` database and runs
        ``manage.py migrate`` against it (unless ``migrate=False``); later
        calls (after ``stop_postgres``) restart the same cluster on the same
        port.
        """
        bin_dir = postgres_bin_dir()
        data = self._dir() / "pgdata"
        if not self._initialised:
            self._run_as_postgres(
                [
                    str(bin_dir / "initdb"),
                    "-D",
                    str(data),
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "-E",
                    "UTF8",
                    "--locale=C",
                    "--no-sync",
                ],
                log=self._dir() / "initdb.log",
            )
        with self._lock:
            if self.postgres is not None and self.postgres.alive():
                raise StackError("PostgreSQL is already running")
            self.postgres_port = self.postgres_port or free_port()
            options: list[str] = []
            for name, value in _PG_SETTINGS.items():
                options += ["-c", f"{name}={value}"]
            process = self._spawn(
                "postgres",
                "postgres",
                [
                    str(bin_dir / "postgres"),
                    "-D",
                    str(data),
                    "-p",
                    str(self.postgres_port),
                    "-k",
                    str(self._dir()),
                    *options,
                ],
                port=self.postgres_port,
                as_postgres=True,
            )
            self.postgres = process
        self._wait(
            process,
            lambda: postgres_ready(self.postgres_port, "postgres"),
            "PostgreSQL connection",
        )
        if not self._initialised:
            with psycopg.connect(
                postgres_dsn(self.postgres_port, "postgres"), autocommit=True
            ) as conn:
                conn.execute(f"CREATE DATABASE {DATABASE_NAME}")
            self._initialised = True
            if migrate:
                began = time.monotonic()
                self.manage("migrate", "--noinput", timeout=MIGRATE_TIMEOUT)
                self.say(f"stack: migrated in {time.monotonic() - began:.1f} s")
        return process

    # Web, workers, beat
    # --------------------------------------------------------------------------

    def start_web(self, workers: int = 2, *, timeout: int = 30) -> Process:
        """Start gunicorn (``crm.wsgi``) with ``workers`` sync workers; return
        when /healthz/ answers 200. The port stays the same across restarts.
        ``timeout`` is gunicorn's worker timeout, as in the Procfile."""
        with self._lock:
            if self.web is not None and self.web.alive():
                raise StackError("gunicorn is already running")
            self.web_port = self.web_port or free_port()
            process = self._spawn(
                "web",
                "web",
                gunicorn_command(self.web_port, workers=workers, timeout=timeout),
                port=self.web_port,
            )
            self.web = process
        self._wait(process, lambda: healthy(self.web_port), "GET /healthz/ = 200")
        return process

    def start_worker(
        self,
        name: str,
        queues: str | Iterable[str],
        concurrency: int = 1,
        *,
        args: Sequence[str] = (),
    ) -> Process:
        """Start a Celery worker ``<name>@<host>`` consuming ``queues`` with a
        prefork pool of ``concurrency``; return when it logged "ready". A
        worker of the bulk queue alone runs at BULK_NICENESS, as the
        Procfile's: real-time work gets the cores first."""
        if not isinstance(queues, str):
            queues = ",".join(queues)
        niced = ["nice", "-n", str(BULK_NICENESS)] if queues == "bulk" else []
        process = self._spawn(
            f"worker-{name}",
            "worker",
            [
                *niced,
                sys.executable,
                "-m",
                "celery",
                "-A",
                "crm",
                "worker",
                "--loglevel",
                "INFO",
                "--queues",
                queues,
                "--concurrency",
                str(concurrency),
                "--prefetch-multiplier",
                "1",
                "--hostname",
                f"{name}@%h",
                *args,
            ],
            extra={"queues": queues, "concurrency": concurrency},
        )
        self._wait(process, lambda: logged(process, " ready."), "worker ready")
        return process

    def start_beat(self, name: str = "beat") -> Process:
        """Start ``celery beat`` with its schedule and pidfile in the work dir
        (so two beats with different names can run side by side)."""
        process = self._spawn(
            name,
            "beat",
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "crm",
                "beat",
                "--loglevel",
                "INFO",
                "--schedule",
                str(self._dir() / f"{name}-schedule"),
                "--pidfile",
                str(self._dir() / f"{name}.pid"),
            ],
        )
        self._wait(process, lambda: logged(process, "beat: Starting"), "beat started")
        return process
