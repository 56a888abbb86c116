"""The ``load`` and ``publish`` scenarios of the harness.

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

Each returns a dict of figures; ``cli`` prints it as the last line.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import random
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from crm.bench.procs import child_pids, peak_rss_kib
from crm.bench.stats import percentile
from tests.reliability.harness.client import ApiClient, Recorder
from tests.reliability.harness.database import (
    SETTLE_SECONDS,
    drain,
    prepare,
    publish_progress,
    settle,
    stale_breakdown,
)
from tests.reliability.harness.ingest import TOUCHPOINTS, URLS, Ingest, LoadPlan
from tests.reliability.harness.stack import Process, Stack


@contextlib.contextmanager
def _production_stack(
    web_workers: int,
    worker_concurrency: int,
    say: Callable[[str], None],
    keep: bool,
    bulk_concurrency: int = 1,
) -> Iterator[Stack]:
    """A started stack laid out as in production: gunicorn, a real-time
    worker (also timers and default) and a bulk worker of
    ``bulk_concurrency`` processes (one, as the Procfile's default)."""
    with Stack(say=say, keep=keep) as stack:
        stack.up(
            web_workers=web_workers,
            workers=(
                ("realtime", "realtime,timers,default", worker_concurrency),
                ("bulk", "bulk", bulk_concurrency),
            ),
        )
        yield stack


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
    with _production_stack(web_workers, worker_concurrency, say, keep) as stack:
        prepared = prepare(stack, plan.pool)
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


def run_publish(
    plan: LoadPlan,
    *,
    leads: int,
    per_lead: int,
    web_workers: int = 2,
    worker_concurrency: int = 2,
    bulk_concurrency: int = 1,
    timeout: float = 1800,
    say: Callable[[str], None] = print,
    keep: bool = False,
) -> dict[str, Any]:
    """The ``publish`` scenario; returns its figures (see the module docstring)."""
    began = time.monotonic()
    with _production_stack(
        web_workers, worker_concurrency, say, keep, bulk_concurrency
    ) as stack:
        say(f"publish: seeding {leads:,} leads x {per_lead} touchpoints")
        seeded = stack.harness(
            "seed", "--leads", str(leads), "--per-lead", str(per_lead), timeout=timeout
        )
        say(f"publish: seeded {seeded}")
        prepared = prepare(stack, plan.pool)
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
        model = stack.harness("publish-model")
        say(f"publish: published {model}")
        model_published = dt.datetime.fromisoformat(model["published_at"])
        progress = publish_progress(stack, model["model_id"])
        while time.monotonic() - published_at < timeout:
            if (
                progress["finished"] is not None
                and progress["on_new"] >= (progress["total"])
            ):
                break
            time.sleep(1)
            progress = publish_progress(stack, model["model_id"])
        all_on_new_seconds = time.monotonic() - published_at
        probe.done.set()
        say(f"publish: every lead on the new version after {all_on_new_seconds:.1f} s")
        loader.join()
        probe.join()
        stale, waited = settle(stack)
        breakdown = stale_breakdown(stack) if stale else None
        progress = publish_progress(stack, model["model_id"])
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
