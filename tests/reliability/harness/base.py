"""The bookkeeping of a private stack: its work dir, environment and processes.

``StackBase`` records every process it spawns by the PID ``Popen`` returned;
``kill`` and ``stop`` signal only recorded PIDs and their descendants
(gunicorn workers, Celery pool children, PostgreSQL backends), never
processes found by name. Each process logs to ``<work dir>/<name>.log``;
when the ``with`` block fails, the tails of those logs are printed.
``stack.Stack`` adds the services themselves.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import psycopg

from crm.bench.procs import child_pids, peak_rss_kib
from tests.reliability.harness.processes import (
    STARTUP_TIMEOUT,
    TAIL_LINES,
    Process,
    StackError,
    descendant_pids,
    postgres_dsn,
    postgres_env,
    raise_exit,
    say_to_stderr,
    start_time,
    tail,
    wait_gone,
)

#: The Django project root (where manage.py lives).
BASE_DIR = Path(__file__).resolve().parents[3]
DATABASE_NAME = "leadflow"
#: Variables the parent may have that must not leak into the stack.
_INHERITED_SERVICE_VARS = (
    "DATABASE_URL",
    "REDIS_URL",
    "CELERY_BROKER_URL",
    "LEADFLOW_REQUIRE_SERVICES",
)


class StackBase:
    """The work dir, environment and recorded processes of a ``stack.Stack``;
    see the module docstring. ``stop`` kills every recorded process and
    removes the work dir."""

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
        self.say = say or say_to_stderr
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

    def __enter__(self) -> Self:
        self.work_dir = Path(tempfile.mkdtemp(prefix="leadflow-reliability-"))
        if self._as_postgres:
            # PostgreSQL refuses to run as root; its data lives in here.
            shutil.chown(self.work_dir, user="postgres", group="postgres")
        if threading.current_thread() is threading.main_thread():
            # A SIGTERM to the harness must still stop what it started.
            self._previous_sigterm = signal.signal(signal.SIGTERM, raise_exit)
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
            postgres_dsn(self.postgres_port, DATABASE_NAME),
            autocommit=True,
            connect_timeout=5,
        )

    def manage(self, *args: str, timeout: float = 600) -> str:
        """Run ``manage.py <args>`` against the stack; return its stdout.

        Its stderr goes to ``manage.log`` in the work dir; a non-zero exit
        raises StackError with the tail of both.
        """
        return self._python(["manage.py", *args], timeout=timeout)

    def harness(self, *args: str, timeout: float = 600) -> dict[str, Any]:
        """Run a step of the harness inside the stack (``python -m
        tests.reliability.harness <args>``, with the stack's environment and
        so its database); return the JSON object it printed last.

        Its stderr goes to ``manage.log`` as ``manage``'s does.
        """
        out = self._python(["-m", "tests.reliability.harness", *args], timeout=timeout)
        return json.loads(out.strip().splitlines()[-1])

    def _python(self, args: list[str], *, timeout: float) -> str:
        command = " ".join(args)
        log = self._dir() / "manage.log"
        with log.open("ab") as err:
            err.write(f"\n$ python {command}\n".encode())
            err.flush()
            completed = subprocess.run(
                [sys.executable, *args],
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
                f"python {command} exited {completed.returncode}:\n"
                f"{out[-2000:]}\n{tail(log, TAIL_LINES)}"
            )
        return out

    def worker_pool_children(self, handle: Process) -> list[int]:
        """PIDs of the pool processes of a worker started by ``start_worker``."""
        return child_pids(handle.pid)

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
                (child, start_time(child)) for child in descendant_pids(pid)
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
            wait_gone(below)
        for process in self.processes:
            with contextlib.suppress(OSError, ValueError, subprocess.TimeoutExpired):
                process.popen.wait(timeout=5)
        # Children of processes killed earlier, if still there (and still the
        # same process: the start time guards against a reused PID).
        orphans = [pid for pid, began in self._orphans if start_time(pid) == began]
        for pid in orphans:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        wait_gone(orphans)
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
            parts.append(f"----- {log.name} -----\n{tail(log, lines)}")
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
                env=self.env() if not as_postgres else postgres_env(),
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
                env=postgres_env(),
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=STARTUP_TIMEOUT,
                check=False,
                **kwargs,
            )
        if completed.returncode != 0:
            raise StackError(f"{command[0]} failed:\n{tail(log, TAIL_LINES)}")

    def _wait(self, process: Process, ready: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if not process.alive():
                raise StackError(
                    f"{process.name} (PID {process.pid}) exited with "
                    f"{process.popen.returncode} before {what}:\n"
                    f"{tail(process.log, TAIL_LINES)}"
                )
            if ready():
                return
            time.sleep(0.2)
        raise StackError(
            f"{process.name} (PID {process.pid}): no {what} within "
            f"{STARTUP_TIMEOUT} s:\n{tail(process.log, TAIL_LINES)}"
        )
