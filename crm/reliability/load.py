"""The ``load`` and ``publish`` scenarios of ``manage.py reliability``.

``load``: sustained mixed ingest through gunicorn into a real Celery worker,
PostgreSQL and Redis (a private ``Stack``): single touchpoint POSTs, batches
of 100, reads of the SAL queue and of the lead list, and 10% of touchpoints
repeating an ``external_id`` that was already acknowledged. Then it counts,
in the database, what was stored against what the API acknowledged, and
waits up to a minute for every lead to be rescored.

``publish``: the same ingest runs while a new scoring model version is
published over leads seeded directly in the database; every lead must end
on the new version, real-time rescoring is timed while the bulk queue works,
and the workers' peak memory is sampled.

Each returns a dict of figures; the command prints it as the last line.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from crm.reliability.client import ApiClient, Recorder, percentile
from crm.reliability.fixtures import LOAD_DOMAIN
from crm.reliability.stack import Process, Stack, child_pids, peak_rss_kib

KINDS = ("page_view", "email_open", "email_click", "content_download", "chat")
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
#: Seconds the rescoring gets to catch up after the load.
SETTLE_SECONDS = 60
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
        body: dict[str, Any] = {
            "kind": KINDS[rng.randrange(len(KINDS))],
            "external_id": f"{self.prefix}{n}",
            "properties": {"url": URLS[rng.randrange(len(URLS))]},
        }
        roll = rng.random()
        if roll < self.plan.new_lead_share:
            body["lead_email"] = f"new{n}.{self.run}@{LOAD_DOMAIN}"
        elif roll < (1 + self.plan.new_lead_share) / 2 and self.lead_ids:
            body["lead"] = self.lead_ids[rng.randrange(len(self.lead_ids))]
        else:
            # An existing lead by e-mail, in the case the sender happens to use.
            email = f"pool{rng.randrange(self.plan.pool)}@{LOAD_DOMAIN}"
            body["lead_email"] = email.capitalize() if rng.random() < 0.3 else email
        return body

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


# Staleness
# ------------------------------------------------------------------------------

STALE_SQL = """
SELECT count(*) FROM leads_lead l
WHERE l.erased_at IS NULL AND (
    l.rescore_requested_at IS NOT NULL
    OR EXISTS (
        SELECT 1 FROM leads_touchpoint t
        WHERE t.lead_id = l.id
          AND (l.scored_at IS NULL OR t.received_at > l.scored_at)
    )
)
"""


def stale_leads(stack: Stack) -> int:
    """Leads still marked for a rescore, or scored before their newest
    touchpoint arrived (or never scored though they have touchpoints)."""
    with stack.db() as conn:
        return conn.execute(STALE_SQL).fetchone()[0]


def settle(stack: Stack, seconds: float = SETTLE_SECONDS) -> tuple[int, float]:
    """Wait up to ``seconds`` for no stale lead; return (stale, seconds waited)."""
    began = time.monotonic()
    while True:
        stale = stale_leads(stack)
        waited = time.monotonic() - began
        if stale == 0 or waited >= seconds:
            return stale, round(waited, 1)
        time.sleep(2)


def stale_breakdown(stack: Stack) -> dict[str, int]:
    """Why leads are stale: still marked (their rescore is queued or was
    lost), or unmarked yet scored before their newest touchpoint arrived
    (a rescore wrote an older result), and the rescore messages still queued
    for the realtime worker (Redis)."""
    import redis

    with stack.db() as conn:
        marked, unmarked = conn.execute(
            "SELECT count(*) FILTER (WHERE rescore_requested_at IS NOT NULL), "  # nosec B608: a constant query
            "count(*) FILTER (WHERE rescore_requested_at IS NULL) "
            f"FROM ({STALE_SQL.replace('count(*)', 'l.rescore_requested_at', 1)}) s"
        ).fetchone()
    try:
        queued = redis.Redis.from_url(stack.redis_url, socket_timeout=5).llen(
            "realtime"
        )
    except redis.RedisError:
        queued = -1
    return {"marked": marked, "unmarked": unmarked, "realtime_queued": queued}


def drain(stack: Stack, seconds: float) -> float | None:
    """Seconds more until no lead is stale, None if not within ``seconds``:
    tells a backlog that clears late from leads that stay stale."""
    began = time.monotonic()
    while time.monotonic() - began < seconds:
        if stale_leads(stack) == 0:
            return round(time.monotonic() - began, 1)
        time.sleep(5)
    return None


# Scenarios
# ------------------------------------------------------------------------------


@contextlib.contextmanager
def _production_stack(
    *,
    web_workers: int,
    worker_concurrency: int,
    say: Callable[[str], None],
    keep: bool,
) -> Iterator[Stack]:
    """A started stack laid out as in production: gunicorn, a real-time
    worker (also timers and default) and a bulk worker of one process."""
    with Stack(say=say, keep=keep) as stack:
        stack.up(
            web_workers=web_workers,
            workers=(
                ("realtime", "realtime,timers,default", worker_concurrency),
                ("bulk", "bulk", 1),
            ),
        )
        yield stack


def _prepare(stack: Stack, pool: int) -> dict[str, Any]:
    out = stack.manage("reliability", "prepare", "--pool", str(pool))
    return json.loads(out.strip().splitlines()[-1])


def _client(stack: Stack) -> ApiClient:
    assert stack.web_port is not None
    return ApiClient(stack.web_port, recorder=Recorder())


def run_load(
    plan: LoadPlan,
    *,
    web_workers: int = 2,
    worker_concurrency: int = 2,
    say: Callable[[str], None] = print,
    keep: bool = False,
    drain_seconds: float = 0,
) -> dict[str, Any]:
    """The ``load`` scenario; returns its figures (see the module docstring).

    With ``drain_seconds``, leads still stale after the minute are waited for
    that much longer, to tell a late backlog from leads that stay stale.
    """
    began = time.monotonic()
    with _production_stack(
        web_workers=web_workers,
        worker_concurrency=worker_concurrency,
        say=say,
        keep=keep,
    ) as stack:
        prepared = _prepare(stack, plan.pool)
        ingest = Ingest(
            client=_client(stack),
            plan=plan,
            run=f"{int(time.time()):x}",
            marketing_token=prepared["marketing_token"],
            sdr_token=prepared["sdr_token"],
            lead_ids=prepared["lead_ids"],
        )
        say(
            f"load: {plan.touchpoints:,} touchpoints from {plan.threads} threads "
            f"into {web_workers} gunicorn workers"
        )
        ingest.run_all(say=say)
        say(f"load: sent in {ingest.seconds:.1f} s; waiting for rescoring")
        stale, waited = settle(stack)
        breakdown = stale_breakdown(stack) if stale else None
        drained = drain(stack, drain_seconds) if stale else None
        if stale:
            say(f"load: {stale} stale leads after {waited} s: {breakdown}")
        figures = ingest.figures(stack)
        with stack.db() as conn:
            leads = conn.execute("SELECT count(*) FROM leads_lead").fetchone()[0]
    return {
        "scenario": "load",
        **figures,
        "leads": leads,
        "stale_leads": stale,
        "settle_seconds": waited,
        # Only when leads were stale a minute after the load: why, and how
        # much longer until none was (None: not within --drain seconds).
        "stale_breakdown": breakdown,
        "stale_zero_after_more_seconds": drained,
        "seconds": round(time.monotonic() - began, 1),
    }


class _PeakSampler(threading.Thread):
    """Samples VmHWM of the workers and their pool children every half second
    (children replaced meanwhile are kept by PID)."""

    def __init__(self, workers: list[Process]) -> None:
        super().__init__(daemon=True)
        self.workers = workers
        self.peaks: dict[str, int] = {}
        self.done = threading.Event()

    def run(self) -> None:
        while True:
            for worker in self.workers:
                for pid in [worker.pid, *child_pids(worker.pid)]:
                    key = f"{worker.name}/{pid}"
                    self.peaks[key] = max(self.peaks.get(key, 0), peak_rss_kib(pid))
            if self.done.wait(0.5):
                return

    def peak_mb(self) -> dict[str, float]:
        by_worker: dict[str, int] = {}
        for key, kib in self.peaks.items():
            name = key.split("/")[0]
            by_worker[name] = max(by_worker.get(name, 0), kib)
        return {name: round(kib / 1024, 1) for name, kib in by_worker.items()}


class _LatencyProbe(threading.Thread):
    """Real-time rescoring while the bulk queue works: POSTs one touchpoint
    for a seeded lead, then polls that lead until it is scored after the
    touchpoint arrived and no longer marked. Records the seconds between."""

    def __init__(
        self, stack: Stack, client: ApiClient, token: str, lead_ids: list[int], run: str
    ) -> None:
        super().__init__(daemon=True)
        self.stack = stack
        self.client = client
        self.token = token
        self.lead_ids = lead_ids
        self.run_id = run
        self.samples_ms: list[float] = []
        self.timeouts = 0
        self.done = threading.Event()

    def run(self) -> None:
        rng = random.Random(self.run_id)
        n = 0
        with self.stack.db() as conn:
            while not self.done.is_set():
                n += 1
                lead_id = self.lead_ids[rng.randrange(len(self.lead_ids))]
                sent = time.monotonic()
                answer = self.client.post(
                    "probe",
                    TOUCHPOINTS,
                    {
                        "lead": lead_id,
                        "kind": "page_view",
                        "external_id": f"probe-{self.run_id}-{n}",
                        "properties": {"url": URLS[0]},
                    },
                    token=self.token,
                )
                if answer.status != 201:
                    continue
                received = dt.datetime.fromisoformat(answer.json()["received_at"])
                deadline = sent + SETTLE_SECONDS
                while time.monotonic() < deadline:
                    row = conn.execute(
                        "SELECT scored_at, rescore_requested_at FROM leads_lead "
                        "WHERE id = %s",
                        [lead_id],
                    ).fetchone()
                    if row[0] is not None and row[0] >= received and row[1] is None:
                        self.samples_ms.append((time.monotonic() - sent) * 1000)
                        break
                    time.sleep(0.05)
                else:
                    self.timeouts += 1
                self.done.wait(0.5)


def _publish_progress(stack: Stack, model_id: int) -> dict[str, Any]:
    with stack.db() as conn:
        total, on_new, mismatched, finished = conn.execute(
            """
            SELECT
              (SELECT count(*) FROM leads_lead WHERE erased_at IS NULL),
              (SELECT count(*) FROM scoring_leadscore s
                 JOIN leads_lead l ON l.id = s.lead_id
                WHERE s.model_id = %(m)s AND l.erased_at IS NULL),
              (SELECT count(*) FROM leads_lead l
                 LEFT JOIN scoring_leadscore s
                   ON s.lead_id = l.id AND s.model_id = %(m)s
                WHERE l.erased_at IS NULL
                  AND (s.id IS NULL OR s.total <> l.score)),
              (SELECT rescore_finished_at FROM scoring_scoringmodel WHERE id = %(m)s)
            """,
            {"m": model_id},
        ).fetchone()
    return {
        "total": total,
        "on_new": on_new,
        "mismatched": mismatched,
        "finished": finished,
    }


def run_publish(
    plan: LoadPlan,
    *,
    leads: int,
    per_lead: int,
    web_workers: int = 2,
    worker_concurrency: int = 2,
    timeout: float = 1800,
    say: Callable[[str], None] = print,
    keep: bool = False,
) -> dict[str, Any]:
    """The ``publish`` scenario; returns its figures (see the module docstring)."""
    began = time.monotonic()
    with _production_stack(
        web_workers=web_workers,
        worker_concurrency=worker_concurrency,
        say=say,
        keep=keep,
    ) as stack:
        say(f"publish: seeding {leads:,} leads x {per_lead} touchpoints")
        seeded = json.loads(
            stack.manage(
                "reliability",
                "seed",
                "--leads",
                str(leads),
                "--per-lead",
                str(per_lead),
                timeout=timeout,
            )
            .strip()
            .splitlines()[-1]
        )
        say(f"publish: seeded {seeded}")
        prepared = _prepare(stack, plan.pool)
        with stack.db() as conn:
            seeded_ids = [
                row[0]
                for row in conn.execute(
                    "SELECT id FROM leads_lead WHERE email LIKE %s ORDER BY id",
                    ["%bench.example"],
                )
            ]
        run = f"{int(time.time()):x}"
        client = _client(stack)
        ingest = Ingest(
            client=client,
            plan=plan,
            run=run,
            marketing_token=prepared["marketing_token"],
            sdr_token=prepared["sdr_token"],
            # Existing leads of both kinds: the pool and the seeded ones.
            lead_ids=prepared["lead_ids"] + seeded_ids[:: max(1, leads // 2_000)],
        )
        workers = [p for p in stack.processes if p.kind == "worker"]
        sampler = _PeakSampler(workers)
        sampler.start()
        loader = threading.Thread(target=ingest.run_all, daemon=True)
        loader.start()
        time.sleep(2)  # ingestion is under way before the publish
        probe = _LatencyProbe(
            stack, client, prepared["marketing_token"], seeded_ids, run
        )
        probe.start()
        published_at = time.monotonic()
        model = json.loads(
            stack.manage("reliability", "publish-model").strip().splitlines()[-1]
        )
        say(f"publish: published {model}")
        model_published = dt.datetime.fromisoformat(model["published_at"])
        progress = _publish_progress(stack, model["model_id"])
        while time.monotonic() - published_at < timeout:
            if (
                progress["finished"] is not None
                and progress["on_new"] >= (progress["total"])
            ):
                break
            time.sleep(1)
            progress = _publish_progress(stack, model["model_id"])
        all_on_new_seconds = time.monotonic() - published_at
        probe.done.set()
        say(f"publish: every lead on the new version after {all_on_new_seconds:.1f} s")
        loader.join()
        probe.join()
        stale, waited = settle(stack)
        breakdown = stale_breakdown(stack) if stale else None
        progress = _publish_progress(stack, model["model_id"])
        sampler.done.set()
        sampler.join()
        figures = ingest.figures(stack)
    peaks = sampler.peak_mb()
    return {
        "scenario": "publish",
        "leads_seeded": seeded["leads"],
        "touchpoints_seeded": seeded["touchpoints"],
        "leads_total": progress["total"],
        "leads_on_new_version": progress["on_new"],
        "leads_score_not_new_version": progress["mismatched"],
        "model_version": model["version"],
        "publish_finished": progress["finished"] is not None,
        # The bulk run: from publishing to its last chunk (the model's own record).
        "publish_seconds": round(
            (progress["finished"] - model_published).total_seconds(), 1
        )
        if progress["finished"]
        else None,
        # Until the leads the ingest created meanwhile were scored under it too.
        "all_leads_on_new_version_seconds": round(all_on_new_seconds, 1),
        "realtime_rescore_p95_ms": round(percentile(probe.samples_ms, 95), 1),
        "realtime_rescore_max_ms": round(max(probe.samples_ms, default=0.0), 1),
        "realtime_rescore_samples": len(probe.samples_ms),
        "realtime_rescore_timeouts": probe.timeouts,
        "worker_peak_rss_mb": peaks,
        "stale_leads": stale,
        "settle_seconds": waited,
        "stale_breakdown": breakdown,
        **figures,
        "seconds": round(time.monotonic() - began, 1),
    }
