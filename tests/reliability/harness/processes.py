"""Processes of a private stack: the record of each, and how to watch them.

Helpers of ``base.StackBase`` and ``stack.Stack``: where PostgreSQL's
binaries are, which PIDs descend from a recorded one (Linux /proc), whether
a service answers yet, and the tail of a log for a failure report.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from crm.bench.procs import child_pids

#: Seconds a service gets to answer after it was started.
STARTUP_TIMEOUT = 90
#: Lines of each log printed when a scenario fails.
TAIL_LINES = 40


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


def wait_gone(pids: Iterable[int], timeout: float = 10) -> None:
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


def start_time(pid: int) -> str:
    """The start time of ``pid`` (field 22 of /proc/<pid>/stat), "" if gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


def say_to_stderr(text: str) -> None:
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def raise_exit(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)


def postgres_env() -> dict[str, str]:
    keep = ("PATH", "LANG", "LC_ALL", "TZ")
    return {k: os.environ[k] for k in keep if k in os.environ}


def postgres_dsn(port: int | None, dbname: str) -> str:
    return f"host=127.0.0.1 port={port} user=postgres dbname={dbname}"


def postgres_ready(port: int | None, dbname: str) -> bool:
    try:
        with psycopg.connect(postgres_dsn(port, dbname), connect_timeout=2):
            return True
    except psycopg.OperationalError:
        return False


def redis_ping(port: int | None) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port or 0), timeout=2) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def logged(process: Process, text: str) -> bool:
    """Whether this run of the process (not an earlier one) logged ``text``."""
    try:
        with process.log.open("rb") as log:
            log.seek(process.log_offset)
            return text.encode() in log.read()
    except OSError:
        return False


def tail(path: Path, lines: int) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return f"({path} unreadable)"
