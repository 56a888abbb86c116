"""``manage.py bench_tracking``: tracking messages per second through the real
HTTP stack and the Segment-compatible endpoint.

Starts gunicorn (``--workers``, default 2) on a free port of 127.0.0.1 against
the configured database, creates a server tracking source and identifies
IDENTIFIED_VISITORS of its VISITORS visitors (leads at BENCH_DOMAIN), then
sends ``--single`` one-message ``POST /segment/v1/t`` calls from
``--threads`` client threads and ``--batches`` ``POST /segment/v1/batch``
calls of ``--batch-size`` messages. The messages mix what a site sends:
page views and events, of anonymous and identified visitors, mapped and
unmapped names, each with a unique messageId. Prints p50/p95 latencies and
messages per second; the last line of output is one JSON object.

The key's rate limit is lifted for the server it starts. Only that gunicorn
process is stopped at the end; the source, its visitors and events, the
touchpoints and the leads it made are deleted afterwards unless ``--keep``.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import threading
import uuid
from typing import Any

from django.core.management.base import CommandError
from django.db import connection

from crm.bench.ingest import Say, _gunicorn, _run, report
from leads.models import Account, Lead, Touchpoint, TrackingSource
from leads.tracking.services import tracking_source_create

BENCH_SOURCE = "bench-tracking"
BENCH_DOMAIN = "bench-tracking.example"
#: Visitors the messages are spread over; the first IDENTIFIED_VISITORS are
#: identified before the run, so their mapped events become touchpoints.
VISITORS = 500
IDENTIFIED_VISITORS = 100
#: Event names in turn: mapped by the default mappings, or kept unmapped.
EVENTS = ("Demo Requested", "Pricing Viewed", "Signed Up", "Video Played")


class _Client(threading.local):
    """One HTTP connection per client thread, Basic auth with the write key."""

    def __init__(self, port: int, key: str) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        basic = base64.b64encode(f"{key}:".encode()).decode()
        self.headers = {
            "Authorization": f"Basic {basic}",
            "Content-Type": "application/json",
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


def _message(run: str, prefix: str, i: int, *, typed: bool) -> dict[str, Any]:
    visitor = i * 7 % VISITORS
    message: dict[str, Any] = {
        "anonymousId": f"bench-{run}-v{visitor}",
        "messageId": f"bench-{run}-{prefix}{i}",
        "context": {
            "page": {
                "url": f"https://www.example.com/page/{i % 97}?utm_source=bench",
                "path": f"/page/{i % 97}",
                "title": "Bench page",
            },
            "userAgent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/121.0",
        },
    }
    if i % 3 == 0:
        message["type"] = "page"
    else:
        message["type"] = "track"
        message["event"] = EVENTS[i % len(EVENTS)]
        message["properties"] = {"plan": "pro", "step": i % 5}
    if not typed:
        message.pop("type")
    return message


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
    if size > 500:
        raise CommandError("--batch-size is at most 500 (Segment's 500 KB a batch).")
    if TrackingSource.objects.filter(name=BENCH_SOURCE).exists():
        raise CommandError(
            f"A tracking source {BENCH_SOURCE!r} exists (a run kept with --keep); "
            "delete it first."
        )
    run_id = uuid.uuid4().hex[:8]
    source = tracking_source_create(
        name=BENCH_SOURCE, kind="server", origins=[], actor=None
    )
    connection.close()
    # The bench measures the endpoint, not its rate limit.
    os.environ["TRACKING_RATE"] = "100000000/min"
    try:
        with _gunicorn(workers, say=say) as port:
            client = _Client(port, source.write_key)
            say(
                f"gunicorn: {workers} workers on 127.0.0.1:{port}; "
                f"{threads} client threads"
            )
            identifies = [
                {
                    "type": "identify",
                    "anonymousId": f"bench-{run_id}-v{v}",
                    "userId": f"visitor{v}@{BENCH_DOMAIN}",
                }
                for v in range(IDENTIFIED_VISITORS)
            ]
            for start in range(0, len(identifies), 100):
                status, body = client.post(
                    "/segment/v1/batch", {"batch": identifies[start : start + 100]}
                )
                if status != 200:
                    raise CommandError(f"identify batch: HTTP {status} {body[:200]!r}")
            singles = _run(
                single,
                threads,
                lambda i: client.post(
                    "/segment/v1/t" if i % 3 else "/segment/v1/p",
                    _message(run_id, "s", i, typed=False),
                ),
                expect=(200,),
            )
            batch = _run(
                batches,
                min(threads, max(batches, 1)),
                lambda b: client.post(
                    "/segment/v1/batch",
                    {
                        "batch": [
                            _message(run_id, f"b{b}-", i, typed=True)
                            for i in range(size)
                        ]
                    },
                ),
                expect=(200,),
                check=lambda body: json.loads(body) == {"success": True},
            )
    finally:
        os.environ.pop("TRACKING_RATE", None)
        if not keep:
            _clean_up(source)
    report(
        singles,
        batch,
        size=size,
        workers=workers,
        threads=threads,
        say=say,
        unit="messages",
        batch_key="batch_messages_per_s",
    )


def _clean_up(source: TrackingSource) -> None:
    Touchpoint.objects.filter(source=source.touchpoint_source).delete()
    TrackingSource.objects.filter(pk=source.pk).delete()  # visitors, events
    Lead.objects.filter(email__endswith=f"@{BENCH_DOMAIN}").delete()
    Account.objects.filter(domain=BENCH_DOMAIN).delete()
