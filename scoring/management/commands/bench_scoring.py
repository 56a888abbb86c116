"""``manage.py bench_scoring``: time the scoring paths on a synthetic database.

Seeds leads, accounts and touchpoints (120 days, the kinds and properties the
default model's rules count) into the configured database, then measures the
bulk path (``scoring.bulk.model_rescore_all`` over every lead), the per-lead
path (``scoring.services.lead_rescore`` on random leads) and a naive ORM loop
for comparison. The last line of the output is one JSON object with the
figures, so scripts can collect them.

Touchpoints are inserted in time order, as ingestion stores them, so one
lead's rows lie scattered over the table (see ARCHITECTURE.md). On
PostgreSQL rows go in with COPY; elsewhere with bulk_create in batches. The
seeding runs in a forked child process when it can, so the peak RSS reported
is the one of the measurements, not of the data generator.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import multiprocessing
import os
import random
import resource
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from celery import current_app as celery_app
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, connections, models, transaction
from django.db.models import F, Max, Min

from leads.geo import region_for_country
from leads.models import Account, Industry, Lead, StageTransition, Touchpoint
from leads.titles import department_from_title, seniority_from_title
from scoring import selectors
from scoring.bulk import BULK_CHUNK_SIZE, leads_rescore_set, model_rescore_all
from scoring.engine import Touch, evaluate_touches
from scoring.models import AccountScore, LeadScore, LeadScoreHistory, ScoringModel
from scoring.services import SYSTEM_ACTOR, lead_rescore

#: Touchpoints fall in this many days before the scoring time.
HISTORY_DAYS = 120
#: Bench data is recognisable by these e-mail domains (and only it is deleted).
BENCH_DOMAIN = "bench.example"
FREE_DOMAIN = f"free.{BENCH_DOMAIN}"
#: One account per this many leads; a fifth of the leads have none (free-mail).
LEADS_PER_ACCOUNT = 8
FREEMAIL_SHARE = 0.2
#: Leads timed one by one through the per-lead path (p50/p95).
PER_LEAD_SAMPLE = 200
#: Real-time sets timed, and their size (a batch of 100 touchpoints).
SET_SAMPLES = 20
SET_SIZE = 100
#: Rows per COPY write / bulk_create batch while seeding.
WRITE_BATCH = 10_000
#: The scoring time: fixed, so two runs with the same seed score the same.
NOW = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)

_SITE = "https://leadflow.example"
_TITLES = (
    ("Chief Marketing Officer", 2),
    ("CEO", 2),
    ("VP Sales", 3),
    ("VP of Marketing", 3),
    ("Director of Demand Generation", 5),
    ("Head of Revenue Operations", 4),
    ("Marketing Manager", 10),
    ("Sales Manager", 8),
    ("IT Manager", 6),
    ("Software Engineer", 15),
    ("Account Executive", 8),
    ("Growth Marketer", 8),
    ("Finance Analyst", 6),
    ("Operations Specialist", 6),
    ("Marketing Intern", 3),
    ("Student", 3),
    ("", 8),
)
_COUNTRIES = (
    ("US", 30),
    ("CA", 5),
    ("GB", 10),
    ("DE", 10),
    ("FR", 6),
    ("NL", 4),
    ("SE", 3),
    ("BR", 8),
    ("MX", 3),
    ("IN", 9),
    ("AU", 5),
    ("JP", 4),
    ("ZA", 3),
)
# Share of cold, warm and hot leads, and what each kind of lead does.
_PROFILES = ((0, 70), (1, 25), (2, 5))
_BLOG = tuple(f"{_SITE}/blog/post-{n}" for n in range(40))
_PRODUCT = tuple(f"{_SITE}/product/{p}" for p in ("scoring", "routing", "sla", "api"))
_PRICING = (f"{_SITE}/pricing", f"{_SITE}/pricing/enterprise")
_CAREERS = (f"{_SITE}/careers", f"{_SITE}/careers/sdr-berlin")
_ACTIVITY: dict[int, tuple[tuple[str, Any, int], ...]] = {
    # profile: (kind, url pool or property dict, weight)
    0: (
        ("page_view", _BLOG, 330),
        ("page_view", _PRODUCT, 60),
        ("page_view", _PRICING, 25),
        ("page_view", _CAREERS, 15),
        ("email_open", {"email": "newsletter"}, 330),
        ("email_click", {"email": "newsletter"}, 100),
        ("content_download", {"asset": "state-of-lead-scoring"}, 50),
        ("webinar_registered", {"webinar": "sla-basics"}, 30),
        ("form_submit", {"form": "newsletter"}, 30),
        ("unsubscribe", {}, 10),
        ("email_bounce", {}, 10),
        ("chat", {}, 10),
    ),
    1: (
        ("page_view", _BLOG, 240),
        ("page_view", _PRODUCT, 120),
        ("page_view", _PRICING, 80),
        ("page_view", _CAREERS, 10),
        ("email_open", {"email": "nurture"}, 200),
        ("email_click", {"email": "nurture"}, 150),
        ("content_download", {"asset": "roi-calculator"}, 80),
        ("webinar_registered", {"webinar": "scoring-101"}, 40),
        ("webinar_attended", {"webinar": "scoring-101"}, 30),
        ("form_submit", {"form": "contact"}, 30),
        ("chat", {}, 15),
        ("trial_signup", {}, 5),
    ),
    2: (
        ("page_view", _BLOG, 120),
        ("page_view", _PRODUCT, 150),
        ("page_view", _PRICING, 180),
        ("email_open", {"email": "nurture"}, 100),
        ("email_click", {"email": "nurture"}, 120),
        ("content_download", {"asset": "buyers-guide"}, 80),
        ("webinar_registered", {"webinar": "routing-live"}, 40),
        ("webinar_attended", {"webinar": "routing-live"}, 60),
        ("chat", {}, 30),
        ("cart_add", {"plan": "growth"}, 20),
        ("demo_request", {"form": "demo"}, 40),
        ("trial_signup", {}, 30),
    ),
}
#: Size of each profile's lookup table of (kind, properties): a power of two,
#: so drawing a touch is one ``getrandbits``.
_TABLE_BITS = 10


def _table(pairs: Sequence[tuple[Any, float]], bits: int) -> list[Any]:
    """A lookup table of 2**bits entries, each value repeated by its weight."""
    size = 1 << bits
    total = sum(weight for _, weight in pairs)
    table: list[Any] = []
    for value, weight in pairs:
        table.extend([value] * round(weight * size / total))
    return (table + [pairs[0][0]] * size)[:size]


def _touch_tables() -> dict[int, list[tuple[str, dict[str, Any]]]]:
    """Per profile: 1024 (kind, properties) to draw touches from."""
    tables = {}
    for profile, activity in _ACTIVITY.items():
        pairs: list[tuple[tuple[str, dict[str, Any]], float]] = []
        for kind, pool, weight in activity:
            if isinstance(pool, tuple):  # page views: one URL of the pool each
                pairs.extend(((kind, {"url": url}), weight / len(pool)) for url in pool)
            else:
                pairs.append(((kind, pool), weight))
        tables[profile] = _table(pairs, _TABLE_BITS)
    return tables


# Writing rows fast
# ------------------------------------------------------------------------------


def _copy_text(value: Any) -> str:
    """A Python value as PostgreSQL COPY text (our values need no escaping)."""
    if value is None:
        return r"\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


class _RowWriter:
    """Inserts rows of one model: COPY on PostgreSQL, bulk_create elsewhere.

    Rows are dicts of the fields that vary; every other column takes its
    value from ``template`` (an unsaved instance with the defaults set).
    """

    def __init__(self, model: type[models.Model], template: models.Model):
        self.model = model
        self.fields = [f for f in model._meta.concrete_fields if not f.primary_key]
        self.template = {f.attname: getattr(template, f.attname) for f in self.fields}
        self.copy = connection.vendor == "postgresql"
        self.texts = [_copy_text(self.template[f.attname]) for f in self.fields]
        self.index = {f.attname: i for i, f in enumerate(self.fields)}

    def write(self, rows: Iterator[dict[str, Any]]) -> int:
        done = 0
        batch: list[dict[str, Any]] = []
        for row in rows:
            batch.append(row)
            if len(batch) >= WRITE_BATCH:
                done += self._flush(batch)
                batch = []
        return done + self._flush(batch)

    def _flush(self, batch: list[dict[str, Any]]) -> int:
        if not batch:
            return 0
        if not self.copy:
            self.model.objects.bulk_create(
                [self.model(**{**self.template, **row}) for row in batch],
                batch_size=2_000,
            )
            return len(batch)
        lines = []
        for row in batch:
            texts = self.texts.copy()
            for name, value in row.items():
                texts[self.index[name]] = _copy_text(value)
            lines.append("\t".join(texts))
        columns = ", ".join(connection.ops.quote_name(f.column) for f in self.fields)
        table = connection.ops.quote_name(self.model._meta.db_table)
        with (
            connection.cursor() as cursor,
            cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy,
        ):
            copy.write("\n".join(lines) + "\n")
        return len(batch)


# The synthetic data
# ------------------------------------------------------------------------------


def _seed(
    *, leads: int, per_lead: int, seed: int, say: Callable[[str], None]
) -> dict[str, int]:
    """Insert ``leads`` leads with ``per_lead`` touchpoints each; return counts."""
    rng = random.Random(seed)
    start = NOW - dt.timedelta(days=HISTORY_DAYS)
    titles = [
        (t, seniority_from_title(t), department_from_title(t))
        for t in _table(_TITLES, 10)
    ]
    countries = _table(_COUNTRIES, 10)
    profiles_table = _table(_PROFILES, 7)
    industries = list(Industry.values)

    accounts = [
        Account(
            name=f"Bench {n}",
            domain=f"co{n}.{BENCH_DOMAIN}",
            industry=rng.choice(industries),
            employee_count=int(10 ** rng.uniform(0.7, 4.7)),
            country=rng.choice(countries),
        )
        for n in range(max(1, leads // LEADS_PER_ACCOUNT))
    ]
    Account.objects.bulk_create(accounts, batch_size=WRITE_BATCH)

    profiles = bytearray(leads)

    def lead_rows() -> Iterator[dict[str, Any]]:
        for n in range(leads):
            title, seniority, department = titles[rng.getrandbits(10)]
            country = countries[rng.getrandbits(10)]
            profiles[n] = profiles_table[rng.getrandbits(7)]
            account = None
            if rng.random() >= FREEMAIL_SHARE:
                account = accounts[rng.randrange(len(accounts))]
            domain = account.domain if account else FREE_DOMAIN
            created = start + dt.timedelta(seconds=rng.randrange(86_400 * 30))
            yield {
                "email": f"lead{n}@{domain}",
                "first_name": "Bench",
                "last_name": f"Lead {n}",
                "job_title": title,
                "seniority": seniority,
                "department": department,
                "country": country,
                "region": region_for_country(country),
                "account_id": account.id if account else None,
                "created_at": created,
                "entered_lead_at": created,
                "stage_changed_at": created,
            }

    template = Lead(
        email="", created_at=start, updated_at=start, attributes={}, grade=""
    )
    began = time.monotonic()
    _RowWriter(Lead, template).write(lead_rows())
    ids = list(
        Lead.objects.filter(email__endswith=BENCH_DOMAIN)
        .order_by("id")
        .values_list("id", flat=True)
    )
    say(f"  {len(ids):,} leads, {len(accounts):,} accounts")

    tables = _touch_tables()
    span = HISTORY_DAYS * 86_400 // per_lead
    shift = max(1, len(ids).bit_length())
    mask = (1 << shift) - 1
    written = 0

    def touch_rows(round_: int) -> Iterator[dict[str, Any]]:
        # Round r gives every lead one touch in the r-th slice of the 120 days,
        # sorted by time: a lead's rows end up spread over the whole table.
        keys = [(rng.randrange(span) << shift) | i for i in range(len(ids))]
        keys.sort()
        base = start + dt.timedelta(seconds=round_ * span)
        for key in keys:
            i = key & mask
            kind, props = tables[profiles[i]][rng.getrandbits(_TABLE_BITS)]
            at = base + dt.timedelta(seconds=key >> shift)
            yield {
                "lead_id": ids[i],
                "kind_id": kind,
                "occurred_at": at,
                "properties": props,
                "received_at": at,
            }

    tp_template = Touchpoint(
        lead_id=0, kind_id="page_view", occurred_at=start, source="bench"
    )
    writer = _RowWriter(Touchpoint, tp_template)
    for round_ in range(per_lead):
        written += writer.write(touch_rows(round_))
        say(
            f"  {written:,} touchpoints ({time.monotonic() - began:.0f} s, "
            f"round {round_ + 1}/{per_lead})"
        )
    return {"leads": len(ids), "touchpoints": written}


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


def _percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


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
            for pid in self._children():
                status = Path(f"/proc/{pid}/status")
                try:
                    lines = status.read_text().splitlines()
                except OSError:
                    continue
                for line in lines:
                    if line.startswith("VmHWM:"):
                        kib = int(line.split()[1])
                        self.peaks[pid] = max(self.peaks.get(pid, 0), kib)

    @staticmethod
    def _children() -> list[str]:
        pids = []
        for task in Path(f"/proc/{os.getpid()}/task").glob("*/children"):
            try:
                pids.extend(task.read_text().split())
            except OSError:
                continue
        return pids

    def peak_mb(self) -> float:
        return round(max(self.peaks.values(), default=0) / 1024, 1)


def _positive(value: str) -> int:
    text = value.strip().replace("_", "")
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{value!r} is not a positive whole number.")
    return int(text)


def _count(value: str) -> int:
    text = value.strip().replace("_", "")
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number.")
    return int(text)


class Command(BaseCommand):
    help = (
        "Seed a synthetic database and time bulk, per-lead and naive rescoring; "
        "the last output line is a JSON object with the figures."
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--leads", type=_positive, default=100_000)
        parser.add_argument(
            "--touchpoints-per-lead", type=_positive, default=20, dest="per_lead"
        )
        parser.add_argument(
            "--chunk-size",
            type=_positive,
            default=BULK_CHUNK_SIZE,
            help=f"Leads per bulk chunk (default {BULK_CHUNK_SIZE:,}).",
        )
        parser.add_argument(
            "--workers",
            type=_positive,
            default=1,
            help="Processes for the bulk rescore (PostgreSQL only; default 1).",
        )
        parser.add_argument(
            "--naive-sample",
            type=_count,
            default=2_000,
            help="Leads rescored by the naive ORM loop (default 2,000; 0 skips it).",
        )
        parser.add_argument("--seed", type=_count, default=1, help="Random seed.")
        parser.add_argument(
            "--reset",
            action="store_true",
            help="Delete every lead in the database (and their touchpoints, "
            "transitions and scores) before seeding.",
        )
        parser.add_argument(
            "--reuse",
            action="store_true",
            help="Measure the bench data already in the database (a --keep run) "
            "instead of seeding; its scores are reset first, so the run is a "
            "first pass like after seeding.",
        )
        parser.add_argument(
            "--keep",
            action="store_true",
            help="Keep the synthetic data afterwards (default: delete it).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
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
            self._bench(options)
        finally:
            settings.DEBUG = debug
            celery_app.conf.task_always_eager = eager

    def _bench(self, options: dict[str, Any]) -> None:
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
        figures: dict[str, Any] = {"database": self._database()}
        if options["reuse"]:
            _scores_reset()
            self.stdout.write("Reset the bench leads to unscored (a first pass).")
        else:
            if present:
                _bench_delete()
                self.stdout.write("Deleted the leads that were there (--reset).")
            figures["seed_seconds"] = self._seed(options)
        self._vacuum()
        try:
            figures.update(self._measure(model, options))
        finally:
            if not options["keep"]:
                _bench_delete()
                self.stdout.write("Deleted the bench data (--keep keeps it).")
        self.stdout.write(json.dumps(figures))

    # Steps -------------------------------------------------------------------

    def _database(self) -> str:
        return f"{connection.vendor}:{connection.settings_dict['NAME']}"

    def _seed(self, options: dict[str, Any]) -> float:
        self.stdout.write(
            f"Seeding {options['leads']:,} leads x {options['per_lead']} "
            f"touchpoints into {self._database()} ..."
        )
        began = time.monotonic()
        kwargs = {
            "leads": options["leads"],
            "per_lead": options["per_lead"],
            "seed": options["seed"],
        }
        if connection.in_atomic_block:
            # Inside a transaction (tests): a child could not see its data.
            _seed(**kwargs, say=self.stdout.write)
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
        self.stdout.write(f"Seeded in {seconds:.1f} s.")
        return seconds

    def _vacuum(self) -> None:
        if connection.vendor != "postgresql" or connection.in_atomic_block:
            return
        # Fresh statistics and visibility map, as autovacuum would give a live table.
        with connection.cursor() as cursor:
            for model in (Account, Lead, Touchpoint, LeadScore, LeadScoreHistory):
                cursor.execute(f"VACUUM ANALYZE {model._meta.db_table}")

    def _measure(self, model: ScoringModel, options: dict[str, Any]) -> dict[str, Any]:
        leads = Lead.objects.count()
        touchpoints = Touchpoint.objects.count()
        chunk_size, workers = options["chunk_size"], options["workers"]
        self.stdout.write(
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
        self.stdout.write(
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
        p50, p95 = _percentile(timings, 0.5), _percentile(timings, 0.95)
        self.stdout.write(
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
        set_p50 = _percentile([ms for ms, _ in set_timings], 0.5)
        set_p95 = _percentile([ms for ms, _ in set_timings], 0.95)
        set_rate = sum(n for _, n in set_timings) / (
            sum(ms for ms, _ in set_timings) / 1000
        )
        self.stdout.write(
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
            self.stdout.write(
                f"Naive ORM loop ({sample:,} leads): {naive_rate:,.0f} leads/s"
            )
        bulk_rate = scored / bulk_seconds
        speedup = round(bulk_rate / naive_rate, 1) if naive_rate else None
        if speedup:
            self.stdout.write(f"Bulk is {speedup}x the naive loop.")
        peak = max(_peak_rss_mb(), sampler.peak_mb())
        self.stdout.write(
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

    _seed(**kwargs, say=say)
    connections.close_all()
