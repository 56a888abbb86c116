"""A threaded HTTP client for the reliability scenarios.

One keep-alive ``http.client`` connection per client thread (as
``bench_ingest`` does), reopened after any connection error. A request that
fails to connect, loses its connection or is answered 502/503/504 is sent
again, the same body, until ``retry_for`` seconds have passed: touchpoints
carry an ``external_id``, so a retry of a request that was in fact stored is
answered "duplicate" (200) and stores nothing twice. Every attempt's status
is counted (so a 503 that a retry papered over still shows), and each
request's latency, first attempt to final answer, is recorded per kind.
"""

from __future__ import annotations

import http.client
import json
import random
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from crm.bench.stats import percentile

#: Answers that mean "not now, try again" rather than "no".
RETRY_STATUSES = (502, 503, 504)
#: Keep the first few failures verbatim for the report.
KEPT_ERRORS = 20


@dataclass
class Answer:
    """The final answer to one request: status 0 when none came in time."""

    status: int
    body: bytes
    attempts: int
    ms: float

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Recorder:
    """Latencies and status counts per kind of request, safe across threads."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: dict[str, Counter[int]] = field(
        default_factory=lambda: defaultdict(Counter)
    )
    #: Status of every attempt, retries included (0 = no answer).
    attempts: Counter[int] = field(default_factory=Counter)
    retries: int = 0
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, kind: str, answer: Answer) -> None:
        with self.lock:
            self.latencies[kind].append(answer.ms)
            self.statuses[kind][answer.status] += 1
            self.retries += answer.attempts - 1

    def attempt(self, status: int) -> None:
        with self.lock:
            self.attempts[status] += 1

    def error(self, text: str) -> None:
        with self.lock:
            if len(self.errors) < KEPT_ERRORS:
                self.errors.append(text)

    def p95(self, *kinds: str) -> float:
        values = [v for k in kinds for v in self.latencies.get(k, [])]
        return round(percentile(values, 95), 1)

    def count(self, *kinds: str) -> int:
        return sum(len(self.latencies.get(k, [])) for k in kinds)

    def responses_5xx(self) -> int:
        """Answers >= 500 over every attempt, retried or not."""
        return sum(n for status, n in self.attempts.items() if status >= 500)


class _Connections(threading.local):
    connection: http.client.HTTPConnection | None = None


class ApiClient:
    """Sends JSON requests to the stack's gunicorn; see the module docstring."""

    def __init__(
        self,
        port: int,
        *,
        host: str = "127.0.0.1",
        timeout: float = 30.0,
        retry_for: float = 120.0,
        retry_statuses: Sequence[int] = RETRY_STATUSES,
        recorder: Recorder | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.timeout = timeout
        self.retry_for = retry_for
        self.retry_statuses = tuple(retry_statuses)
        self.recorder = recorder or Recorder()
        self._local = _Connections()

    def post(self, kind: str, path: str, body: Any, *, token: str) -> Answer:
        return self.request(kind, "POST", path, body, token=token)

    def get(self, kind: str, path: str, *, token: str) -> Answer:
        return self.request(kind, "GET", path, None, token=token)

    def request(
        self, kind: str, method: str, path: str, body: Any = None, *, token: str
    ) -> Answer:
        """Send until a final answer or ``retry_for`` seconds; record it."""
        payload = None if body is None else json.dumps(body, separators=(",", ":"))
        headers = {"Authorization": f"Token {token}", "Accept": "application/json"}
        if payload is not None:
            headers["Content-Type"] = "application/json"
        started = time.monotonic()
        attempts = 0
        status, data = 0, b""
        while True:
            attempts += 1
            status, data, wait = self._once(method, path, payload, headers)
            self.recorder.attempt(status)
            retriable = status == 0 or status in self.retry_statuses
            elapsed = time.monotonic() - started
            if not retriable or elapsed >= self.retry_for:
                break
            backoff = min(2.0, 0.1 * 2 ** min(attempts, 5)) * random.uniform(0.5, 1.0)
            time.sleep(min(wait, 2.0) if wait else backoff)
        answer = Answer(status, data, attempts, (time.monotonic() - started) * 1000)
        if status == 0 or status >= 400:
            self.recorder.error(f"{kind} {method} {path} -> {status}: {data[:300]!r}")
        self.recorder.record(kind, answer)
        return answer

    def _once(
        self, method: str, path: str, payload: str | None, headers: dict[str, str]
    ) -> tuple[int, bytes, float]:
        """One attempt: (status, body, Retry-After seconds); status 0 on a
        connection error, after which the thread's connection is reopened."""
        connection = self._local.connection
        if connection is None:
            connection = http.client.HTTPConnection(
                self.host, self.port, timeout=self.timeout
            )
            self._local.connection = connection
        try:
            connection.request(method, path, payload, headers)
            response = connection.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException) as exc:
            connection.close()
            self._local.connection = None
            return 0, f"{exc.__class__.__name__}: {exc}".encode(), 0.0
        if response.will_close:
            connection.close()
            self._local.connection = None
        retry_after = response.getheader("Retry-After") or ""
        wait = float(retry_after) if retry_after.isdigit() else 0.0
        return response.status, data, wait
