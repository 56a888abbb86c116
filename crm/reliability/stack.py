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
import contextlib
import functools
import http.client
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import psycopg

#: The bulk worker's scheduling priority (nice), as in the Procfile: on a
#: server with few cores a publish's rescore yields the CPU to real-time
#: rescoring and the web instead of sharing it evenly.
BULK_NICENESS = 10
#: The Django project root (where manage.py lives).
BASE_DIR = Path(__file__).resolve().parent.parent.parent
DATABASE_NAME = "leadflow"
#: Seconds a service gets to answer after it was started.
STARTUP_TIMEOUT = 90
#: Seconds a migrate of the empty database may take on a slow machine.
MIGRATE_TIMEOUT = 600
#: Lines of each log printed when a scenario fails.
TAIL_LINES = 40
#: Variables the parent may have that must not leak into the stack.
_INHERITED_SERVICE_VARS = (
    "DATABASE_URL",
    "REDIS_URL",
    "CELERY_BROKER_URL",
    "LEADFLOW_REQUIRE_SERVICES",
)
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


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def postgres_bin_dir() -> Path:
    """The newest /usr/lib/postgresql/<version>/bin with initdb (Debian layout),
    else the directory of ``initdb`` on PATH."""
    root = Path("/usr/lib/postgresql")
    if root.is_dir():
        versions = sorted(
            (p for p in root.iterdir() if (p / "bin" / "initdb").exists()),
            key=lambda p: [int(x) for x in p.name.split(".") if x.isdigit()],
        )
        if versions:
            return versions[-1] / "bin"
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    raise RuntimeError("PostgreSQL's initdb was not found (apt-get install postgresql)")


def child_pids(pid: int) -> list[int]:
    """Direct children of ``pid`` (Linux /proc), empty when it is gone."""
    pids: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(OSError):
            pids.extend(int(p) for p in task.read_text().split())
    return pids


def descendant_pids(pid: int) -> list[int]:
    """Every process below ``pid``, children first then theirs."""
    found: list[int] = []
    queue = child_pids(pid)
    while queue:
        current = queue.pop(0)
        if current not in found:
            found.append(current)
            queue.extend(child_pids(current))
    return found


def peak_rss_kib(pid: int) -> int:
    """The peak resident set (VmHWM) of ``pid`` in KiB, 0 when it is gone."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


@dataclass
class Process:
    """One process the stack started: a handle for ``kill`` and the logs."""

    name: str
    kind: str  # redis, postgres, web, worker, beat
    popen: subprocess.Popen[bytes]
    log: Path
    port: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    #: Where this run's output starts in ``log`` (a restart appends to it).
    log_offset: int = 0

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None


class StackError(RuntimeError):
    """A service of the stack did not start or stop as it should."""


class Stack:
    """Context manager for a private Leadflow stack; see the module docstring.

    Nothing starts on ``__enter__`` except the work directory: call the
    ``start_*`` methods (or ``up``) in the order a scenario needs. ``stop``
    (called on exit) kills every recorded process and removes the directory.
    """

    def __init__(
        self,
        *,
        debug: bool = False,
        timer_interval_seconds: int | None = None,
        visibility_timeout: int | None = None,
        reconcile_after_seconds: int | None = None,
        log_level: str = "WARNING",
        env: dict[str, str] | None = None,
        keep: bool = False,
        say: Callable[[str], None] | None = None,
    ) -> None:
        self.debug = debug
        self.timer_interval_seconds = timer_interval_seconds
        self.visibility_timeout = visibility_timeout
        self.reconcile_after_seconds = reconcile_after_seconds
        self.log_level = log_level
        self.extra_env = dict(env or {})
        self.keep = keep
        self.say = say or _say
        self.work_dir: Path | None = None
        self.processes: list[Process] = []
        self.redis: Process | None = None
        self.postgres: Process | None = None
        self.web: Process | None = None
        self.redis_port: int | None = None
        self.postgres_port: int | None = None
        self.web_port: int | None = None
        self._initialised = False
        self._lock = threading.RLock()
        self._secret = secrets.token_urlsafe(50)
        self._previous_sigterm: Any = None
        self._as_postgres = os.geteuid() == 0
        #: (pid, start time) of descendants of processes ``kill`` signalled.
        self._orphans: set[tuple[int, str]] = set()

    # Context manager
    # --------------------------------------------------------------------------

    def __enter__(self) -> Stack:
        self.work_dir = Path(tempfile.mkdtemp(prefix="leadflow-reliability-"))
        if self._as_postgres:
            # PostgreSQL refuses to run as root; its data lives in here.
            shutil.chown(self.work_dir, user="postgres", group="postgres")
        if threading.current_thread() is threading.main_thread():
            # A SIGTERM to the harness must still stop what it started.
            self._previous_sigterm = signal.signal(signal.SIGTERM, _raise_exit)
        self.say(f"stack: work dir {self.work_dir}")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if exc_type is not None:
                self.say(self.tails())
            self.stop()
        finally:
            if self._previous_sigterm is not None:
                signal.signal(signal.SIGTERM, self._previous_sigterm)
                self._previous_sigterm = None

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

    # Addresses and environment
    # --------------------------------------------------------------------------

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.redis_port}/0"

    @property
    def database_url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.postgres_port}/{DATABASE_NAME}"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    def env(self) -> dict[str, str]:
        """The environment of every Django process of the stack."""
        env = {k: v for k, v in os.environ.items() if k not in _INHERITED_SERVICE_VARS}
        env.update(
            {
                "DJANGO_SETTINGS_MODULE": "crm.settings",
                "PYTHONUNBUFFERED": "1",
                "DEBUG": "true" if self.debug else "false",
                "SECRET_KEY": self._secret,
                "ALLOWED_HOSTS": "127.0.0.1,localhost",
                # Plain HTTP on the loopback: no redirect to https.
                "SECURE_SSL_REDIRECT": "false",
                "LOG_LEVEL": self.log_level,
            }
        )
        if self.postgres_port:
            env["DATABASE_URL"] = self.database_url
        if self.redis_port:
            env["REDIS_URL"] = self.redis_url
            env["CELERY_BROKER_URL"] = self.redis_url
        for name, value in (
            ("TIMER_INTERVAL_SECONDS", self.timer_interval_seconds),
            ("CELERY_VISIBILITY_TIMEOUT", self.visibility_timeout),
            ("RESCORE_RECONCILE_AFTER_SECONDS", self.reconcile_after_seconds),
        ):
            if value is not None:
                env[name] = str(value)
        env.update(self.extra_env)
        return env

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
        self._wait(process, lambda: _redis_ping(self.redis_port), "Redis PING")
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
            lambda: _postgres_ready(self.postgres_port, "postgres"),
            "PostgreSQL connection",
        )
        if not self._initialised:
            with psycopg.connect(
                _postgres_dsn(self.postgres_port, "postgres"), autocommit=True
            ) as conn:
                conn.execute(f"CREATE DATABASE {DATABASE_NAME}")
            self._initialised = True
            if migrate:
                began = time.monotonic()
                self.manage("migrate", "--noinput", timeout=MIGRATE_TIMEOUT)
                self.say(f"stack: migrated in {time.monotonic() - began:.1f} s")
        return process

    def stop_postgres(self, *, mode: str = "fast", timeout: float = 60) -> None:
        """Stop the cluster: ``fast`` (SIGINT: sessions are ended, a clean
        shutdown), ``immediate`` (SIGQUIT: as a crash, recovery at the next
        start) or ``kill`` (SIGKILL of the postmaster)."""
        if self.postgres is None or not self.postgres.alive():
            return
        sig = {
            "fast": signal.SIGINT,
            "immediate": signal.SIGQUIT,
            "kill": signal.SIGKILL,
        }[mode]
        process = self.postgres
        backends = descendant_pids(process.pid) if mode == "kill" else []
        os.kill(process.pid, sig)
        try:
            process.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            backends = descendant_pids(process.pid)
            os.kill(process.pid, signal.SIGKILL)
            process.popen.wait()
        # Orphaned backends of a killed postmaster exit by themselves soon;
        # end them now so the next start does not find them.
        for pid in backends:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def db(self) -> psycopg.Connection[Any]:
        """A new autocommit psycopg connection to the stack's database.

        The caller closes it (``with stack.db() as conn: ...``).
        """
        if not self.postgres_port:
            raise StackError("PostgreSQL was not started")
        return psycopg.connect(
            _postgres_dsn(self.postgres_port, DATABASE_NAME),
            autocommit=True,
            connect_timeout=5,
        )

    def manage(self, *args: str, timeout: float = 600) -> str:
        """Run ``manage.py <args>`` against the stack; return its stdout.

        Its stderr goes to ``manage.log`` in the work dir; a non-zero exit
        raises StackError with the tail of both.
        """
        log = self._dir() / "manage.log"
        with log.open("ab") as err:
            err.write(f"\n$ manage.py {' '.join(args)}\n".encode())
            err.flush()
            completed = subprocess.run(
                [sys.executable, str(BASE_DIR / "manage.py"), *args],
                cwd=BASE_DIR,
                env=self.env(),
                stdout=subprocess.PIPE,
                stderr=err,
                timeout=timeout,
                check=False,
            )
        out = completed.stdout.decode(errors="replace")
        if completed.returncode != 0:
            raise StackError(
                f"manage.py {' '.join(args)} exited {completed.returncode}:\n"
                f"{out[-2000:]}\n{_tail(log, TAIL_LINES)}"
            )
        return out

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
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "crm.wsgi:application",
                    "--workers",
                    str(workers),
                    "--bind",
                    f"127.0.0.1:{self.web_port}",
                    "--timeout",
                    str(timeout),
                    "--log-level",
                    "warning",
                ],
                port=self.web_port,
            )
            self.web = process
        self._wait(process, lambda: _healthy(self.web_port), "GET /healthz/ = 200")
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
        self._wait(process, lambda: _logged(process, " ready."), "worker ready")
        return process

    def worker_pool_children(self, handle: Process) -> list[int]:
        """PIDs of the pool processes of a worker started by ``start_worker``."""
        return child_pids(handle.pid)

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
        self._wait(process, lambda: _logged(process, "beat: Starting"), "beat started")
        return process

    # Signals and shutdown
    # --------------------------------------------------------------------------

    def kill(self, handle_or_pid: Process | int, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` to a recorded process or to a descendant of one.

        Refuses any other PID. A recorded process is waited for after
        SIGKILL/SIGTERM, so it leaves no zombie. What it had started (pool
        children, gunicorn workers) is left as the signal leaves it, as in
        production, but their PIDs are recorded first, so ``stop`` ends any
        that outlive their parent.
        """
        if isinstance(handle_or_pid, Process):
            process: Process | None = handle_or_pid
            pid = handle_or_pid.pid
        else:
            pid = handle_or_pid
            process = next((p for p in self.processes if p.pid == pid), None)
        if process is None and not any(
            pid in descendant_pids(p.pid) for p in self.processes if p.alive()
        ):
            raise StackError(f"PID {pid} was not started by this stack")
        if process is not None and not process.alive():
            return
        with self._lock:
            self._orphans.update(
                (child, _start_time(child)) for child in descendant_pids(pid)
            )
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        if process is not None and sig in (signal.SIGKILL, signal.SIGTERM):
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.popen.wait(timeout=60)

    def peak_rss_mb(self, handles: Iterable[Process]) -> dict[str, float]:
        """VmHWM in MB of each handle and of each of its children now alive,
        keyed ``<name>`` and ``<name>/<pid>``."""
        peaks: dict[str, float] = {}
        for handle in handles:
            peaks[handle.name] = round(peak_rss_kib(handle.pid) / 1024, 1)
            for pid in child_pids(handle.pid):
                peaks[f"{handle.name}/{pid}"] = round(peak_rss_kib(pid) / 1024, 1)
        return peaks

    def stop(self) -> None:
        """Kill every recorded process (and its descendants), the PostgreSQL
        cluster included, and remove the work dir unless ``keep``."""
        for process in reversed(self.processes):
            if not process.alive():
                continue
            if process.kind == "postgres":
                # Immediate shutdown ends every backend with the postmaster.
                self.stop_postgres(mode="immediate", timeout=20)
                continue
            below = descendant_pids(process.pid)
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, signal.SIGKILL)
            for pid in below:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            process.popen.wait()
            _wait_gone(below)
        for process in self.processes:
            with contextlib.suppress(OSError, ValueError, subprocess.TimeoutExpired):
                process.popen.wait(timeout=5)
        # Children of processes killed earlier, if still there (and still the
        # same process: the start time guards against a reused PID).
        orphans = [pid for pid, began in self._orphans if _start_time(pid) == began]
        for pid in orphans:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        _wait_gone(orphans)
        if self.work_dir is not None and not self.keep:
            shutil.rmtree(self.work_dir, ignore_errors=True)
        elif self.work_dir is not None:
            self.say(f"stack: kept {self.work_dir}")

    def tails(self, lines: int = TAIL_LINES) -> str:
        """The last ``lines`` of every log in the work dir, for a failure report."""
        if self.work_dir is None:
            return ""
        parts = []
        for log in sorted(self.work_dir.glob("*.log")):
            parts.append(f"----- {log.name} -----\n{_tail(log, lines)}")
        return "\n".join(parts)

    # Internals
    # --------------------------------------------------------------------------

    def _dir(self) -> Path:
        if self.work_dir is None:
            raise StackError("Use the stack as a context manager: with Stack() as s:")
        return self.work_dir

    def _spawn(
        self,
        name: str,
        kind: str,
        command: list[str],
        *,
        port: int | None = None,
        as_postgres: bool = False,
        extra: dict[str, Any] | None = None,
    ) -> Process:
        log_path = self._dir() / f"{name}.log"
        with log_path.open("ab") as log:
            log.write(f"\n$ {' '.join(command)}\n".encode())
            log.flush()
            offset = log.tell()
            kwargs: dict[str, Any] = {}
            if as_postgres and self._as_postgres:
                kwargs = {"user": "postgres", "group": "postgres", "extra_groups": []}
            popen = subprocess.Popen(
                command,
                cwd=BASE_DIR if not as_postgres else self._dir(),
                env=self.env() if not as_postgres else _postgres_env(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Own session: a Ctrl-C at the terminal reaches the harness,
                # which then stops these itself.
                start_new_session=True,
                **kwargs,
            )
        process = Process(
            name,
            kind,
            popen,
            log_path,
            port=port,
            extra=extra or {},
            log_offset=offset,
        )
        with self._lock:
            self.processes.append(process)
        self.say(f"stack: {name} PID {popen.pid}" + (f" port {port}" if port else ""))
        return process

    def _run_as_postgres(self, command: list[str], *, log: Path) -> None:
        kwargs: dict[str, Any] = {}
        if self._as_postgres:
            kwargs = {"user": "postgres", "group": "postgres", "extra_groups": []}
        with log.open("ab") as out:
            completed = subprocess.run(
                command,
                cwd=self._dir(),
                env=_postgres_env(),
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=STARTUP_TIMEOUT,
                check=False,
                **kwargs,
            )
        if completed.returncode != 0:
            raise StackError(f"{command[0]} failed:\n{_tail(log, TAIL_LINES)}")

    def _wait(self, process: Process, ready: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if not process.alive():
                raise StackError(
                    f"{process.name} (PID {process.pid}) exited with "
                    f"{process.popen.returncode} before {what}:\n"
                    f"{_tail(process.log, TAIL_LINES)}"
                )
            if ready():
                return
            time.sleep(0.2)
        raise StackError(
            f"{process.name} (PID {process.pid}): no {what} within "
            f"{STARTUP_TIMEOUT} s:\n{_tail(process.log, TAIL_LINES)}"
        )


def _wait_gone(pids: Iterable[int], timeout: float = 10) -> None:
    """Wait until these (killed) PIDs are gone or zombies awaiting their reaper."""
    deadline = time.monotonic() + timeout
    for pid in pids:
        while time.monotonic() < deadline:
            try:
                state = (
                    Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
                )
            except (OSError, IndexError):
                break
            if state in ("Z", "X"):
                break
            time.sleep(0.05)


def _start_time(pid: int) -> str:
    """The start time of ``pid`` (field 22 of /proc/<pid>/stat), "" if gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


def _say(text: str) -> None:
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def _raise_exit(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)


def _postgres_env() -> dict[str, str]:
    keep = ("PATH", "LANG", "LC_ALL", "TZ")
    return {k: os.environ[k] for k in keep if k in os.environ}


def _postgres_dsn(port: int | None, dbname: str) -> str:
    return f"host=127.0.0.1 port={port} user=postgres dbname={dbname}"


def _postgres_ready(port: int | None, dbname: str) -> bool:
    try:
        with psycopg.connect(_postgres_dsn(port, dbname), connect_timeout=2):
            return True
    except psycopg.OperationalError:
        return False


def _redis_ping(port: int | None) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port or 0), timeout=2) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def _healthy(port: int | None) -> bool:
    try:
        probe = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        probe.request("GET", "/healthz/")
        ok = probe.getresponse().status == 200
        probe.close()
        return ok
    except (OSError, http.client.HTTPException):
        return False


def _logged(process: Process, text: str) -> bool:
    """Whether this run of the process (not an earlier one) logged ``text``."""
    try:
        with process.log.open("rb") as log:
            log.seek(process.log_offset)
            return text.encode() in log.read()
    except OSError:
        return False


def _tail(path: Path, lines: int) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return f"({path} unreadable)"
