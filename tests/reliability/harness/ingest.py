"""The mixed ingest every scenario runs against a stack's gunicorn.

Single touchpoint POSTs, batches of 100, reads of the SAL queue and of the
lead list, and 10% of touchpoints repeating an ``external_id`` that was
already acknowledged (``LoadPlan``); ``Ingest.figures`` then counts, in the
stack's database, what was stored against what the API acknowledged.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from crm.bench.synthetic import API_KINDS, api_touchpoint
from tests.reliability.harness.client import ApiClient
from tests.reliability.harness.stack import Stack

#: The e-mail domain of the leads the load writes (pool and new ones).
LOAD_DOMAIN = "reliability.example"
URLS = (
    "https://leadflow.example/pricing",
    "https://leadflow.example/product/scoring",
    "https://leadflow.example/blog/post-1",
    "https://leadflow.example/blog/post-2",
)
TOUCHPOINTS = "/api/v1/touchpoints/"
BATCH = "/api/v1/touchpoints/batch/"
#: The SAL queue: an SDR's pending handoffs, oldest due first.
SAL_QUEUE = "/api/v1/handoffs/?status=pending"
LEAD_LIST = "/api/v1/leads/?page_size=50"
#: How often a long load says how far it got.
PROGRESS_SECONDS = 60


@dataclass(frozen=True)
class LoadPlan:
    """What the ingest sends. ``touchpoints`` counts every item sent, the
    repeats included; ``batch_share`` of them go in batches of ``batch_size``."""

    touchpoints: int
    threads: int = 4
    pool: int = 500
    batch_size: int = 100
    batch_share: float = 0.8
    repeat_share: float = 0.1
    new_lead_share: float = 0.2
    #: One read (SAL queue or lead list) per this many touchpoints.
    touchpoints_per_read: int = 100
    seed: int = 1


SIZES: dict[str, dict[str, Any]] = {
    # CI: under a minute of load on a busy 2-core runner.
    "ci": {"touchpoints": 2_000, "threads": 4, "pool": 300, "batch_share": 0.8},
    # Single POSTs cost a request each: at 10% of 100,000 touchpoints they are
    # still most of the requests (and of the run's time).
    "full": {"touchpoints": 100_000, "threads": 6, "pool": 5_000, "batch_share": 0.9},
}
PUBLISH_SIZES: dict[str, dict[str, Any]] = {
    "ci": {"leads": 5_000, "per_lead": 10, "touchpoints": 1_000},
    "full": {"leads": 100_000, "per_lead": 10, "touchpoints": 40_000},
}


@dataclass
class IngestTally:
    """What the API acknowledged, by external id number."""

    accepted: set[int] = field(default_factory=set)
    accepted_list: list[int] = field(default_factory=list)
    repeats_sent: int = 0
    repeats_answered_200: int = 0
    rejected: int = 0
    unexpected: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def accept(self, n: int) -> None:
        with self.lock:
            if n not in self.accepted:
                self.accepted.add(n)
                self.accepted_list.append(n)

    def pick_accepted(self, rng: random.Random) -> int | None:
        with self.lock:
            if not self.accepted_list:
                return None
            return self.accepted_list[rng.randrange(len(self.accepted_list))]

    def add(self, **counts: int) -> None:
        with self.lock:
            for name, value in counts.items():
                setattr(self, name, getattr(self, name) + value)


class Ingest:
    """The mixed ingest of one run against a stack's gunicorn."""

    def __init__(
        self,
        *,
        client: ApiClient,
        plan: LoadPlan,
        run: str,
        marketing_token: str,
        sdr_token: str,
        lead_ids: list[int],
    ) -> None:
        self.client = client
        self.plan = plan
        self.run = run
        self.marketing = marketing_token
        self.sdr = sdr_token
        self.lead_ids = lead_ids
        self.tally = IngestTally()
        self.seconds = 0.0
        self._next = 0
        self._lock = threading.Lock()
        self._ops = self._schedule()
        self._position = 0

    @property
    def prefix(self) -> str:
        """Every external id of the run starts with this."""
        return f"rl-{self.run}-"

    def _schedule(self) -> list[str]:
        plan = self.plan
        batches = round(plan.touchpoints * plan.batch_share / plan.batch_size)
        singles = max(0, plan.touchpoints - batches * plan.batch_size)
        reads = max(2, plan.touchpoints // plan.touchpoints_per_read)
        ops = ["batch"] * batches + ["single"] * singles
        ops += ["queue"] * (reads // 2) + ["leads"] * (reads - reads // 2)
        random.Random(plan.seed).shuffle(ops)
        return ops

    def _fresh(self) -> int:
        with self._lock:
            self._next += 1
            return self._next

    def item(self, n: int) -> dict[str, Any]:
        """Touchpoint number ``n`` of the run: the same every time it is built,
        so a repeat sends exactly what was sent first."""
        rng = random.Random(n * 1_000_003 + self.plan.seed)
        kind = API_KINDS[rng.randrange(len(API_KINDS))]
        url = URLS[rng.randrange(len(URLS))]
        lead, email = None, None
        roll = rng.random()
        if roll < self.plan.new_lead_share:
            email = f"new{n}.{self.run}@{LOAD_DOMAIN}"
        elif roll < (1 + self.plan.new_lead_share) / 2 and self.lead_ids:
            lead = self.lead_ids[rng.randrange(len(self.lead_ids))]
        else:
            # An existing lead by e-mail, in the case the sender happens to use.
            email = f"pool{rng.randrange(self.plan.pool)}@{LOAD_DOMAIN}"
            email = email.capitalize() if rng.random() < 0.3 else email
        return api_touchpoint(
            external_id=f"{self.prefix}{n}",
            kind=kind,
            url=url,
            lead=lead,
            lead_email=email,
        )

    def run_all(
        self,
        *,
        stop: threading.Event | None = None,
        say: Callable[[str], None] | None = None,
    ) -> None:
        """Send the whole schedule from ``plan.threads`` threads, saying how
        far it got every PROGRESS_SECONDS when ``say`` is given."""
        began = time.monotonic()
        threads = [
            threading.Thread(target=self._worker, args=(i, stop), daemon=True)
            for i in range(self.plan.threads)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            while thread.is_alive():
                thread.join(PROGRESS_SECONDS)
                if say is not None and thread.is_alive():
                    say(
                        f"load: {self._position:,} of {len(self._ops):,} requests "
                        f"after {time.monotonic() - began:.0f} s"
                    )
        self.seconds = time.monotonic() - began

    def _take(self) -> str | None:
        with self._lock:
            if self._position >= len(self._ops):
                return None
            op = self._ops[self._position]
            self._position += 1
            return op

    def _worker(self, index: int, stop: threading.Event | None) -> None:
        rng = random.Random(f"{self.run}-{index}")
        while (op := self._take()) is not None:
            if stop is not None and stop.is_set():
                return
            if op == "single":
                self._single(rng)
            elif op == "batch":
                self._batch(rng)
            elif op == "queue":
                self._read("read_queue", SAL_QUEUE, self.sdr)
            else:
                self._read("read_leads", LEAD_LIST, self.marketing)

    def _single(self, rng: random.Random) -> None:
        repeat = (
            self.tally.pick_accepted(rng)
            if rng.random() < self.plan.repeat_share
            else None
        )
        n = repeat if repeat is not None else self._fresh()
        answer = self.client.post(
            "single", TOUCHPOINTS, self.item(n), token=self.marketing
        )
        if repeat is not None:
            self.tally.add(repeats_sent=1, repeats_answered_200=answer.status == 200)
        elif answer.status in (200, 201):
            # 200 for a fresh id: a retry of a request that was stored.
            self.tally.accept(n)
        else:
            self.tally.add(unexpected=1)

    def _batch(self, rng: random.Random) -> None:
        numbers: list[int] = []
        repeats: list[bool] = []
        for _ in range(self.plan.batch_size):
            repeat = (
                self.tally.pick_accepted(rng)
                if rng.random() < self.plan.repeat_share
                else None
            )
            numbers.append(repeat if repeat is not None else self._fresh())
            repeats.append(repeat is not None)
        answer = self.client.post(
            "batch",
            BATCH,
            {"touchpoints": [self.item(n) for n in numbers]},
            token=self.marketing,
        )
        if answer.status != 200:
            self.tally.add(unexpected=1, repeats_sent=sum(repeats))
            return
        results = answer.json()["results"]
        self.batch_answered(answer, results, repeats)
        for n, repeat, result in zip(numbers, repeats, results, strict=True):
            status = result["status"]
            if repeat:
                self.tally.add(
                    repeats_sent=1, repeats_answered_200=status == "duplicate"
                )
            elif status in ("created", "duplicate"):
                self.tally.accept(n)
            else:
                self.tally.add(rejected=1)

    def batch_answered(
        self, answer: Any, results: list[dict[str, Any]], repeats: list[bool]
    ) -> None:
        """A batch's per-item results, for a scenario that checks more."""

    def _read(self, kind: str, path: str, token: str) -> None:
        if self.client.get(kind, path, token=token).status != 200:
            self.tally.add(unexpected=1)

    # Counting in the database
    # --------------------------------------------------------------------------

    def figures(self, stack: Stack) -> dict[str, Any]:
        """Acknowledged against stored, from the stack's database."""
        with stack.db() as conn:
            rows = conn.execute(
                "SELECT external_id, count(*) FROM leads_touchpoint "
                "WHERE external_id LIKE %s GROUP BY external_id",
                [self.prefix.replace("_", r"\_") + "%"],
            ).fetchall()
        stored = {int(ext[len(self.prefix) :]) for ext, _ in rows}
        recorder = self.client.recorder
        sent = self.plan.touchpoints
        return {
            "threads": self.plan.threads,
            "batch_share": self.plan.batch_share,
            "touchpoints_sent": sent,
            "accepted": len(self.tally.accepted),
            "stored": sum(count for _, count in rows),
            "lost": len(self.tally.accepted - stored),
            "duplicated": sum(count - 1 for _, count in rows if count > 1),
            "repeats_sent": self.tally.repeats_sent,
            "repeats_answered_200": self.tally.repeats_answered_200,
            "rejected_items": self.tally.rejected,
            "unexpected_answers": self.tally.unexpected,
            "errors_5xx": recorder.responses_5xx(),
            "retries": recorder.retries,
            "requests": {
                kind: recorder.count(kind)
                for kind in ("single", "batch", "read_queue", "read_leads")
            },
            "p95_ms": recorder.p95("single", "batch", "read_queue", "read_leads"),
            "p95_ms_single": recorder.p95("single"),
            "p95_ms_batch": recorder.p95("batch"),
            "p95_ms_reads": recorder.p95("read_queue", "read_leads"),
            "throughput": round(sent / self.seconds, 1) if self.seconds else 0.0,
            "load_seconds": round(self.seconds, 1),
            "first_errors": recorder.errors[:5],
        }
