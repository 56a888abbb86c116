"""Processes a measurement starts or watches (Linux ``/proc``), and its ports."""

from __future__ import annotations

import contextlib
import http.client
import socket
import sys
from pathlib import Path


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def gunicorn_command(port: int, *, workers: int, timeout: int) -> list[str]:
    """The command line of a gunicorn serving Leadflow on 127.0.0.1:``port``
    with ``workers`` sync workers and a worker timeout of ``timeout`` s."""
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "crm.wsgi:application",
        "--workers",
        str(workers),
        "--bind",
        f"127.0.0.1:{port}",
        "--timeout",
        str(timeout),
        "--log-level",
        "warning",
    ]


def healthy(port: int | None, *, timeout: float = 5) -> bool:
    """Whether a Leadflow web server on ``port`` answers /healthz/ with 200."""
    try:
        probe = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        probe.request("GET", "/healthz/")
        ok = probe.getresponse().status == 200
        probe.close()
        return ok
    except (OSError, http.client.HTTPException):
        return False


def child_pids(pid: int) -> list[int]:
    """Direct children of ``pid``, empty when it is gone."""
    pids: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(OSError):
            pids.extend(int(p) for p in task.read_text().split())
    return pids


def peak_rss_kib(pid: int) -> int:
    """The peak resident set (VmHWM) of ``pid`` in KiB, 0 when it is gone."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0
