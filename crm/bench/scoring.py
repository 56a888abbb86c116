"""``manage.py bench_scoring``: time the scoring paths on a synthetic database.

Seeds leads, accounts and touchpoints (``crm.bench.synthetic``) into the
configured database, then measures the bulk path
(``scoring.bulk.model_rescore_all`` over every lead), the per-lead path
(``scoring.services.lead_rescore`` on random leads) and a naive ORM loop for
comparison. The last line of the output is one JSON object with the figures,
so scripts can collect them.

Touchpoints are inserted in time order, as ingestion stores them, so one
lead's rows lie scattered over the table (see ARCHITECTURE.md). On
PostgreSQL rows go in with COPY; elsewhere with bulk_create in batches. The
seeding runs in a forked child process when it can, so the peak RSS reported
is the one of the measurements, not of the data generator.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import random
import resource
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from celery import current_app as celery_app
from django.conf import settings
from django.core.management.base import CommandError
from django.db import connection, connections, transaction
from django.db.models import F, Max, Min

from crm.bench.procs import child_pids, peak_rss_kib
from crm.bench.stats import percentile
from crm.bench.synthetic import BENCH_DOMAIN, NOW, seed_leads
from leads.models import Account, Lead, StageTransition, Touchpoint
from scoring import selectors
from scoring.bulk import leads_rescore_set, model_rescore_all
from scoring.engine import Touch, evaluate_touches
from scoring.models import AccountScore, LeadScore, LeadScoreHistory, ScoringModel
from scoring.services import SYSTEM_ACTOR, lead_rescore

#: Leads timed one by one through the per-lead path (p50/p95).
PER_LEAD_SAMPLE = 200
#: Real-time sets timed, and their size (a batch of 100 touchpoints).
SET_SAMPLES = 20
SET_SIZE = 100


def _bench_delete() -> None:
    """Delete every lead (and what points at them) and the bench accounts."""
    bench_accounts = Account.objects.filter(domain__endswith=BENCH_DOMAIN)
    truncate = connection.vendor == "postgresql" and not connection.in_atomic_block
    with transaction.atomic():
        if truncate:
            with connection.cursor() as cursor:
                # TRUNCATE ... CASCADE also empties every table that points at
                # leads (touchpoints, transitions, scores): seconds, not hours.
                # Not inside a caller's transaction (tests): pending deferred
                # foreign-key checks forbid it there.
                cursor.execute(f"TRUNCATE {Lead._meta.db_table} CASCADE")
        else:
            for relation in Lead._meta.related_objects:
                query = relation.related_model._base_manager.all()
                query._raw_delete(query.db)
            query = Lead.objects.all()
            query._raw_delete(query.db)
        AccountScore.objects.filter(account__in=bench_accounts).delete()
        bench_accounts._raw_delete(bench_accounts.db)


def _scores_reset() -> None:
    """Put bench leads back to unscored, so a --reuse run is a first pass again.

    Only for a database that holds bench leads alone (--reuse checks it): it
    empties the score, history and stage transition tables.
    """
    with transaction.atomic():
        for model in (LeadScore, LeadScoreHistory, StageTransition):
            query = model._base_manager.all()
            query._raw_delete(query.db)
        Lead.objects.update(
            stage=Lead.Stage.LEAD,
            highest_stage=Lead.Stage.LEAD,
            stage_changed_at=F("created_at"),
            entered_mql_at=None,
            score=0,
            fit_score=0,
            engagement_score=0,
            grade="",
            scored_at=None,
            rescore_requested_at=None,
        )


# Measurements
# ------------------------------------------------------------------------------


def _naive_rescore(lead_ids: Sequence[int], model: ScoringModel) -> None:
    """The loop a first version would write: load, evaluate, save, one by one."""
    spec = selectors.model_spec(model)
    for lead_id in lead_ids:
        lead = Lead.objects.select_related("account").get(id=lead_id)
        touches = [
            Touch(t.id, t.kind_id, t.occurred_at, t.properties or {})
            for t in lead.touchpoints.all()
        ]
        facts = selectors.lead_facts(lead, model_id=model.id)
        result = evaluate_touches(spec, facts, touches, NOW)
        LeadScore.objects.update_or_create(
            lead=lead,
            model=model,
            defaults={
                "total": result.total,
                "fit_score": result.fit_score,
                "engagement_score": result.engagement_score,
                "grade": result.grade,
                "breakdown": result.items,
                "gated_by": result.gated_by,
                "computed_at": NOW,
            },
        )
        lead.score = result.total
        lead.fit_score = result.fit_score
        lead.engagement_score = result.engagement_score
        lead.grade = result.grade
        lead.scored_at = NOW
        lead.save(
            update_fields=[
                "score",
                "fit_score",
                "engagement_score",
                "grade",
                "scored_at",
                "updated_at",
            ]
        )


def _peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports kibibytes, macOS bytes.
    return round(peak / (1024 * 1024 if sys.platform == "darwin" else 1024), 1)


class _ChildPeaks(threading.Thread):
    """Samples the peak RSS (VmHWM) of this process's children, on Linux.

    getrusage(RUSAGE_CHILDREN) would mix the bulk workers with the seeding
    child; reading /proc while the workers live keeps them apart.
    """

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peaks: dict[int, int] = {}
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.2):
            for pid in child_pids(os.getpid()):
                kib = peak_rss_kib(pid)
                self.peaks[pid] = max(self.peaks.get(pid, 0), kib)

    def peak_mb(self) -> float:
        return round(max(self.peaks.values(), default=0) / 1024, 1)


def run(options: dict[str, Any], *, say: Callable[[str], None]) -> None:
    """Seed (or reuse), measure, clean up; the last ``say`` is the JSON figures."""
    # Measure as production runs. With DEBUG on, Django keeps the text of
    # every query, megabytes per bulk chunk, so memory would grow with N.
    debug, settings.DEBUG = settings.DEBUG, False
    # Tasks the rescore triggers (a new MQL's handoff, from the stage
    # signal) run in other workers in production. Without a broker they
    # would run inline here and be timed as scoring; send them to the
    # in-process memory broker instead, where they end with the command
    # (forked bulk workers inherit this).
    eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = False
    try:
        _bench(options, say=say)
    finally:
        settings.DEBUG = debug
        celery_app.conf.task_always_eager = eager


def _bench(options: dict[str, Any], *, say: Callable[[str], None]) -> None:
    model = selectors.model_active()
    if model is None:
        raise CommandError("There is no active scoring model; publish one first.")
    present = Lead.objects.exists()
    if options["reuse"]:
        if not present:
            raise CommandError("--reuse needs bench data: the database is empty.")
        if Lead.objects.exclude(email__endswith=BENCH_DOMAIN).exists():
            raise CommandError(
                "--reuse measures bench data only, and this database holds "
                "other leads; nothing was changed."
            )
    elif present and not options["reset"]:
        raise CommandError(
            f"The database ({connection.settings_dict['NAME']}) already holds "
            f"{Lead.objects.count():,} leads; nothing was changed. Run against "
            "an empty database, or pass --reset to delete every lead first."
        )
    figures: dict[str, Any] = {"database": _database()}
    if options["reuse"]:
        _scores_reset()
        say("Reset the bench leads to unscored (a first pass).")
    else:
        if present:
            _bench_delete()
            say("Deleted the leads that were there (--reset).")
        figures["seed_seconds"] = _seed(options, say=say)
    _vacuum()
    try:
        figures.update(_measure(model, options, say=say))
    finally:
        if not options["keep"]:
            _bench_delete()
            say("Deleted the bench data (--keep keeps it).")
    say(json.dumps(figures))


def _database() -> str:
    return f"{connection.vendor}:{connection.settings_dict['NAME']}"


def _seed(options: dict[str, Any], *, say: Callable[[str], None]) -> float:
    say(
        f"Seeding {options['leads']:,} leads x {options['per_lead']} "
        f"touchpoints into {_database()} ..."
    )
    began = time.monotonic()
    kwargs = {
        "leads": options["leads"],
        "per_lead": options["per_lead"],
        "seed": options["seed"],
    }
    if connection.in_atomic_block:
        # Inside a transaction (tests): a child could not see its data.
        seed_leads(**kwargs, say=say)
    else:
        # A forked child keeps the generator's memory out of our peak RSS.
        connections.close_all()
        child = multiprocessing.get_context("fork").Process(
            target=_seed_child, kwargs=kwargs
        )
        child.start()
        child.join()
        if child.exitcode != 0:
            raise CommandError(f"Seeding failed (exit code {child.exitcode}).")
    seconds = round(time.monotonic() - began, 1)
    say(f"Seeded in {seconds:.1f} s.")
    return seconds


def _vacuum() -> None:
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return
    # Fresh statistics and visibility map, as autovacuum would give a live table.
    with connection.cursor() as cursor:
        for model in (Account, Lead, Touchpoint, LeadScore, LeadScoreHistory):
            cursor.execute(f"VACUUM ANALYZE {model._meta.db_table}")


def _measure(
    model: ScoringModel, options: dict[str, Any], *, say: Callable[[str], None]
) -> dict[str, Any]:
    leads = Lead.objects.count()
    touchpoints = Touchpoint.objects.count()
    chunk_size, workers = options["chunk_size"], options["workers"]
    say(
        f"Bulk rescore of {leads:,} leads ({touchpoints:,} touchpoints) "
        f"in chunks of {chunk_size:,}, {workers} process(es) ..."
    )
    promoted_before = StageTransition.objects.filter(
        system_actor=SYSTEM_ACTOR, to_stage=Lead.Stage.MQL
    ).count()
    sampler = _ChildPeaks()
    sampler.start()
    # One log line per new MQL would bury the figures.
    lifecycle_log = logging.getLogger("leads.lifecycle")
    level = lifecycle_log.level
    lifecycle_log.setLevel(logging.WARNING)
    began = time.monotonic()
    try:
        scored = model_rescore_all(
            model=model, now=NOW, chunk_size=chunk_size, workers=workers
        )
    finally:
        bulk_seconds = time.monotonic() - began
        lifecycle_log.setLevel(level)
        sampler.done.set()
        sampler.join()
    promoted = (
        StageTransition.objects.filter(
            system_actor=SYSTEM_ACTOR, to_stage=Lead.Stage.MQL
        ).count()
        - promoted_before
    )
    say(
        f"  {scored:,} leads in {bulk_seconds:.1f} s "
        f"({scored / bulk_seconds:,.0f} leads/s); {promoted:,} became MQLs"
    )

    rng = random.Random(options["seed"])
    # Sample by id without loading every id: memory must not grow with N.
    bounds = Lead.objects.aggregate(low=Min("id"), high=Max("id"))
    picks = rng.sample(
        range(bounds["low"], bounds["high"] + 1), min(PER_LEAD_SAMPLE, leads)
    )
    spec = selectors.model_spec(model)
    timings = []
    for lead_id in Lead.objects.filter(id__in=picks).values_list("id", flat=True):
        started = time.perf_counter()
        lead_rescore(lead_id=lead_id, model=model, spec=spec, now=NOW)
        timings.append((time.perf_counter() - started) * 1000)
    p50, p95 = percentile(timings, 50), percentile(timings, 95)
    say(
        f"Per-lead rescore ({len(timings)} random leads): p50 {p50:.2f} ms, "
        f"p95 {p95:.2f} ms"
    )

    # A real-time task: a batch of touchpoints brings scattered leads,
    # scored together in one transaction (scoring.bulk.leads_rescore_set).
    set_timings = []
    for _ in range(SET_SAMPLES):
        ids = sorted(
            Lead.objects.filter(
                id__in=rng.sample(
                    range(bounds["low"], bounds["high"] + 1),
                    min(SET_SIZE, leads),
                )
            ).values_list("id", flat=True)
        )
        started = time.perf_counter()
        leads_rescore_set(model=model, spec=spec, lead_ids=ids, now=NOW)
        set_timings.append(((time.perf_counter() - started) * 1000, len(ids)))
    set_p50 = percentile([ms for ms, _ in set_timings], 50)
    set_p95 = percentile([ms for ms, _ in set_timings], 95)
    set_rate = sum(n for _, n in set_timings) / (
        sum(ms for ms, _ in set_timings) / 1000
    )
    say(
        f"Real-time task ({SET_SAMPLES} sets of {SET_SIZE} random leads): "
        f"p50 {set_p50:.1f} ms, p95 {set_p95:.1f} ms per set, "
        f"{set_rate:,.0f} leads/s"
    )

    naive_rate = None
    sample = min(options["naive_sample"], leads)
    if sample:
        # A naive full rescore walks the leads in id order: time a run of it.
        first = rng.randrange(bounds["low"], bounds["high"] + 2 - sample)
        run = list(
            Lead.objects.filter(id__gte=first)
            .order_by("id")
            .values_list("id", flat=True)[:sample]
        )
        began = time.monotonic()
        _naive_rescore(run, model)
        naive_rate = len(run) / (time.monotonic() - began)
        say(f"Naive ORM loop ({sample:,} leads): {naive_rate:,.0f} leads/s")
    bulk_rate = scored / bulk_seconds
    speedup = round(bulk_rate / naive_rate, 1) if naive_rate else None
    if speedup:
        say(f"Bulk is {speedup}x the naive loop.")
    peak = max(_peak_rss_mb(), sampler.peak_mb())
    say(
        f"Peak RSS {peak:,.1f} MB (this process {_peak_rss_mb():,.1f} MB, "
        f"largest bulk worker {sampler.peak_mb():,.1f} MB)"
    )
    return {
        "leads": leads,
        "touchpoints": touchpoints,
        "chunk_size": chunk_size,
        "workers": workers,
        "bulk_seconds": round(bulk_seconds, 2),
        "bulk_leads_per_s": round(bulk_rate, 1),
        "mql_promoted": promoted,
        "naive_sample": sample,
        "naive_leads_per_s": round(naive_rate, 1) if naive_rate else None,
        "speedup": speedup,
        "per_lead_p50_ms": round(p50, 2),
        "per_lead_p95_ms": round(p95, 2),
        "set_of_100_p50_ms": round(set_p50, 1),
        "set_of_100_p95_ms": round(set_p95, 1),
        "set_leads_per_s": round(set_rate, 1),
        "peak_rss_mb": peak,
    }


def _seed_child(**kwargs: Any) -> None:
    def say(text: str) -> None:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()

    seed_leads(**kwargs, say=say)
    connections.close_all()
