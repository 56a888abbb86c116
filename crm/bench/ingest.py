"""``manage.py bench_ingest``: touchpoints per second through the real HTTP stack.

Starts gunicorn (``--workers``, default 2) on a free port of 127.0.0.1 against
the configured database, creates a Marketing user with an API token and a pool
of leads (``crm.bench.synthetic``), then sends ``--single`` one-touchpoint
POSTs from ``--threads`` client threads and ``--batches`` batch POSTs of
``--batch-size`` touchpoints, every touchpoint with a unique external id.
Prints p50/p95 latencies and throughput; the last line of output is one JSON
object for scripts.

Only the gunicorn process this command started is stopped at the end. The
rows it wrote (user, token, leads at BENCH_DOMAIN and their touchpoints) are
deleted afterwards unless ``--keep``. With no Celery broker configured,
rescoring runs eagerly inside each request, so the figures include it (the
JSON says which mode ran).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import CommandError
from django.db import connection

from crm.bench.procs import free_port, gunicorn_command, healthy
from crm.bench.stats import percentile
from crm.bench.synthetic import API_KINDS, api_touchpoint, api_user_token, lead_pool
from crm.roles import MARKETING
from leads.models import Account, Lead

#: Leads the touchpoints are spread over (by id), created before the run.
LEAD_POOL = 1_000
#: Where the pool's e-mail addresses live, so the clean-up finds them.
BENCH_DOMAIN = "bench-ingest.example"
BENCH_USER = "bench-ingest"
#: Seconds gunicorn gets to answer its health check after starting.
STARTUP_TIMEOUT = 60

Say = Callable[[str], None]


@dataclass
class Phase:
    """Latencies and failures of one phase of the run."""

    requests: int = 0
    seconds: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, ms: float, error: str | None) -> None:
        with self.lock:
            self.latencies_ms.append(ms)
            if error:
                self.errors.append(error)

    def percentile(self, p: int) -> float:
        return percentile(self.latencies_ms, p)


class _Client(threading.local):
    """One HTTP connection per client thread (reopened when gunicorn closes it)."""

    def __init__(self, port: int, token: str) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        self.headers = {
            "Authorization": f"Token {token}",
            "Content-Type": "application/json",
            "Accept": "application/json",
        }

    def post(self, path: str, body: Any) -> tuple[int, bytes]:
        payload = json.dumps(body, separators=(",", ":"))
        try:
            self.connection.request("POST", path, payload, self.headers)
            response = self.connection.getresponse()
            return response.status, response.read()
        except (OSError, http.client.HTTPException):
            self.connection.close()
            raise


def run(
    *,
    single: int,
    batches: int,
    size: int,
    threads: int,
    workers: int,
    keep: bool,
    say: Say,
) -> None:
    """The whole run (see the module docstring); the last ``say`` is the JSON."""
    if min(single, batches, size, threads, workers) < 0 or threads < 1:
        raise CommandError("Counts must not be negative; use at least 1 thread.")
    if size > 1000:
        raise CommandError("--batch-size is at most 1000 (the API's batch limit).")

    run_id = uuid.uuid4().hex[:8]
    token = api_user_token(BENCH_USER, MARKETING)
    lead_ids = lead_pool(LEAD_POOL, domain=BENCH_DOMAIN)
    # The server opens its own connections; do not hold one across the run.
    connection.close()
    try:
        with _gunicorn(workers, say=say) as port:
            client = _Client(port, token)
            say(
                f"gunicorn: {workers} workers on 127.0.0.1:{port}; "
                f"{threads} client threads"
            )
            singles = _run(
                single,
                threads,
                lambda i: client.post(
                    "/api/v1/touchpoints/", _item(run_id, "s", i, lead_ids)
                ),
                expect=(201,),
            )
            batch = _run(
                batches,
                min(threads, max(batches, 1)),
                lambda b: client.post(
                    "/api/v1/touchpoints/batch/",
                    {
                        "touchpoints": [
                            _item(run_id, f"b{b}-", i, lead_ids) for i in range(size)
                        ]
                    },
                ),
                expect=(200,),
                check=lambda body: json.loads(body)["created"] == size,
            )
    finally:
        if not keep:
            _clean_up()
    report(singles, batch, size=size, workers=workers, threads=threads, say=say)


# Set-up and clean-up
# ------------------------------------------------------------------------------


def _clean_up() -> None:
    # Touchpoints go with their leads (CASCADE).
    Lead.objects.filter(email__endswith=f"@{BENCH_DOMAIN}").delete()
    Account.objects.filter(domain=BENCH_DOMAIN).delete()
    get_user_model().objects.filter(username=BENCH_USER).delete()


@contextlib.contextmanager
def _gunicorn(workers: int, *, say: Say) -> Iterator[int]:
    """Run gunicorn for the block; stop exactly that process afterwards."""
    port = free_port()
    log = tempfile.NamedTemporaryFile(  # noqa: SIM115
        prefix="bench-ingest-gunicorn-", suffix=".log", delete=False
    )
    process = subprocess.Popen(
        gunicorn_command(port, workers=workers, timeout=300),
        cwd=settings.BASE_DIR,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    say(f"gunicorn PID {process.pid}, log {log.name}")
    failed = True
    try:
        _wait_ready(process, port, Path(log.name))
        yield port
        failed = False
    finally:
        process.terminate()  # SIGTERM to this PID: gunicorn stops its workers
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
        if not failed:
            Path(log.name).unlink()  # kept when something went wrong


def _wait_ready(process: subprocess.Popen, port: int, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise CommandError(f"gunicorn exited:\n{log.read_text()[-2000:]}")
        if healthy(port, timeout=2):
            return
        time.sleep(0.2)
    raise CommandError(f"gunicorn did not answer within {STARTUP_TIMEOUT} s")


# The load
# ------------------------------------------------------------------------------


def _item(run: str, prefix: str, i: int, lead_ids: list[int]) -> dict[str, Any]:
    return api_touchpoint(
        lead=lead_ids[i % len(lead_ids)],
        kind=API_KINDS[i % len(API_KINDS)],
        external_id=f"bench-{run}-{prefix}{i}",
        url=f"https://www.example.com/page/{i % 97}",
    )


def _run(
    count: int,
    threads: int,
    send: Callable[[int], tuple[int, bytes]],
    *,
    expect: tuple[int, ...],
    check: Callable[[bytes], bool] | None = None,
) -> Phase:
    phase = Phase(requests=count)

    def one(i: int) -> None:
        started = time.perf_counter()
        error = None
        try:
            status, body = send(i)
            if status not in expect:
                error = f"HTTP {status}: {body[:200]!r}"
            elif check is not None and not check(body):
                error = f"unexpected answer: {body[:200]!r}"
        except (OSError, http.client.HTTPException) as exc:
            error = f"{exc.__class__.__name__}: {exc}"
        phase.record((time.perf_counter() - started) * 1000, error)

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(one, range(count)))
    phase.seconds = time.perf_counter() - started
    return phase


def report(
    singles: Phase,
    batch: Phase,
    *,
    size: int,
    workers: int,
    threads: int,
    say: Say,
    unit: str = "touchpoints",
    batch_key: str = "batch_per_s",
) -> None:
    """Print both phases (rates in ``unit`` per second) and, last, the JSON
    summary the benchmark commands end with (the batch rate under
    ``batch_key``)."""
    single_rate = singles.requests / singles.seconds if singles.seconds else 0.0
    batch_rate = batch.requests * size / batch.seconds if batch.seconds else 0.0
    for name, phase, rate, per in [
        ("single", singles, single_rate, f"{unit}/s"),
        ("batch", batch, batch_rate, f"{unit}/s ({size} per request)"),
    ]:
        say(
            f"{name:6}: {phase.requests} requests in {phase.seconds:.2f} s, "
            f"{rate:,.0f} {per}; p50 {phase.percentile(50):.1f} ms, "
            f"p95 {phase.percentile(95):.1f} ms; {len(phase.errors)} errors"
        )
        for error in phase.errors[:3]:
            say(f"        {error}")
    summary = {
        "database": connection.vendor,
        "celery": "eager" if settings.CELERY_TASK_ALWAYS_EAGER else "broker",
        "debug": settings.DEBUG,
        "workers": workers,
        "threads": threads,
        "single": singles.requests,
        "single_per_s": round(single_rate, 1),
        "single_p50_ms": round(singles.percentile(50), 2),
        "single_p95_ms": round(singles.percentile(95), 2),
        "batches": batch.requests,
        "batch_size": size,
        batch_key: round(batch_rate, 1),
        "batch_p50_ms": round(batch.percentile(50), 2),
        "batch_p95_ms": round(batch.percentile(95), 2),
        "errors": len(singles.errors) + len(batch.errors),
    }
    say(json.dumps(summary))
