"""``manage.py bench_reports``: time the SLA report on synthetic handoffs.

Seeds leads and handoffs (spread over ``--days`` before a fixed time, with
the outcomes, speeds and reasons a busy team has) under two bench SLAs and
``--sdrs`` bench SDRs, then times ``handoff.reports.sla_report`` and each of
its selectors for the 7-, 30- and 90-day presets and a custom full year. The
last line of the output is one JSON object with the figures, so scripts can
collect them. Bench rows are recognisable by their names (``Bench ...``,
``bench-sdr-...``, ``@bench-reports.example``) and only they are deleted.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import statistics
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from handoff import reports
from handoff.models import (
    BusinessCalendar,
    Handoff,
    RejectionReason,
    ServiceLevelAgreement,
    Team,
    TeamMember,
)
from leads.models import Lead

#: The report's "now": fixed, so two runs with the same seed measure the same.
NOW = dt.datetime(2026, 3, 16, 12, 0, tzinfo=dt.UTC)
BENCH_DOMAIN = "bench-reports.example"
BENCH_PREFIX = "Bench"
SDR_PREFIX = "bench-sdr-"
#: Rows per bulk_create batch while seeding.
WRITE_BATCH = 5_000
#: Share of handoffs that are reassignments (sequence 2).
REASSIGNED_SHARE = 0.05


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value} is not a positive whole number.")
    return number


class Command(BaseCommand):
    help = "Time the SLA report's selectors on synthetic handoffs (JSON last line)."

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--handoffs", type=_positive, default=100_000)
        parser.add_argument("--sdrs", type=_positive, default=20)
        parser.add_argument(
            "--days",
            type=_positive,
            default=365,
            help="Spread the handoffs over this many days before the bench time.",
        )
        parser.add_argument(
            "--repeat", type=_positive, default=3, help="Timed runs per period."
        )
        parser.add_argument("--seed", type=int, default=1, help="Random seed.")
        parser.add_argument(
            "--reuse",
            action="store_true",
            help="Measure the bench data a --keep run left instead of seeding.",
        )
        parser.add_argument(
            "--keep", action="store_true", help="Keep the bench data afterwards."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["reuse"]:
            if not Handoff.objects.filter(sla__name__startswith=BENCH_PREFIX).exists():
                raise CommandError("No bench data to reuse; run once with --keep.")
        else:
            _bench_delete()
            began = time.monotonic()
            count = _seed(
                handoffs=options["handoffs"],
                sdrs=options["sdrs"],
                days=options["days"],
                rng=random.Random(options["seed"]),
            )
            self.stdout.write(
                f"seeded {count:,} handoffs in {time.monotonic() - began:.1f} s"
            )
        try:
            result = self._measure(repeat=options["repeat"])
        finally:
            if not options["keep"]:
                _bench_delete()
        self.stdout.write(json.dumps(result))

    def _measure(self, *, repeat: int) -> dict[str, Any]:
        periods: dict[str, dict[str, Any]] = {
            "7d": {"period": "7"},
            "30d": {"period": "30"},
            "90d": {"period": "90"},
            "366d": {
                "period": "custom",
                "date_from": (NOW - dt.timedelta(days=365)).date(),
                "date_to": NOW.date(),
            },
        }
        result: dict[str, Any] = {
            "vendor": connection.vendor,
            "handoffs": Handoff.objects.filter(
                sla__name__startswith=BENCH_PREFIX
            ).count(),
            "periods": {},
        }
        for name, arguments in periods.items():
            scope = reports.report_scope(now=NOW, **arguments)
            with CaptureQueriesContext(connection) as queries:
                report = reports.sla_report(now=NOW, **arguments)
            figures: dict[str, Any] = {
                "assigned": report.totals.assigned,
                "queries": len(queries),
                "total_ms": _median_ms(
                    lambda a=arguments: reports.sla_report(now=NOW, **a), repeat
                ),
            }
            selectors: dict[str, Callable[[], Any]] = {
                "compliance_totals": lambda s=scope: reports.compliance_totals(scope=s),
                "speed_to_lead": lambda s=scope: reports.speed_to_lead(scope=s),
                "compliance_by_sdr": lambda s=scope: reports.compliance_by_sdr(scope=s),
                "compliance_by_sla": lambda s=scope: reports.compliance_by_sla(scope=s),
                "compliance_trend": lambda s=scope: reports.compliance_trend(scope=s),
                "workload_list": lambda: reports.workload_list(now=NOW),
                "rejection_reasons": lambda s=scope: reports.rejection_reasons(scope=s),
                "sales_outcomes": lambda s=scope: reports.sales_outcomes(scope=s),
                "volume_pacing": lambda: reports.volume_pacing(now=NOW),
            }
            figures["selectors_ms"] = {
                key: _median_ms(call, repeat) for key, call in selectors.items()
            }
            result["periods"][name] = figures
            self.stdout.write(
                f"{name}: {figures['assigned']:,} handoffs, "
                f"{figures['queries']} queries, {figures['total_ms']} ms"
            )
        return result


def _median_ms(call: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        call()
        times.append(time.perf_counter() - began)
    return round(1000 * statistics.median(times), 1)


def _seed(*, handoffs: int, sdrs: int, days: int, rng: random.Random) -> int:
    """Bench SLAs, teams, SDRs, one lead per handoff, and the handoffs."""
    user_model = get_user_model()
    with transaction.atomic():
        calendar, _ = BusinessCalendar.objects.get_or_create(
            name=f"{BENCH_PREFIX} calendar"
        )
        teams = [Team.objects.create(name=f"{BENCH_PREFIX} team {i}") for i in (1, 2)]
        slas = [
            ServiceLevelAgreement.objects.create(
                name=f"{BENCH_PREFIX} SLA {i}",
                priority=900 + i,
                team=team,
                calendar=calendar,
                accept_within_hours=Decimal(4 * i),
                volume_commitment=handoffs // max(days // 30, 1),
                volume_period="month" if i == 1 else "week",
            )
            for i, team in enumerate(teams, start=1)
        ]
        people = []
        for i in range(sdrs):
            user = user_model.objects.create(
                username=f"{SDR_PREFIX}{i}", first_name="Bench", last_name=f"SDR {i}"
            )
            TeamMember.objects.create(team=teams[i % 2], user=user)
            people.append(user)
        reasons = list(
            RejectionReason.objects.filter(audience=RejectionReason.Audience.SDR)
        )
    written = 0
    while written < handoffs:
        size = min(WRITE_BATCH, handoffs - written)
        with transaction.atomic():
            leads = Lead.objects.bulk_create(
                Lead(
                    email=f"lead{written + i}@{BENCH_DOMAIN}",
                    stage=Lead.Stage.SAL,
                    attributes={},
                )
                for i in range(size)
            )
            Handoff.objects.bulk_create(
                _handoff(lead, slas, people, reasons, days, rng) for lead in leads
            )
        written += size
    return written


def _handoff(
    lead: Lead,
    slas: list[ServiceLevelAgreement],
    people: list[Any],
    reasons: list[RejectionReason],
    days: int,
    rng: random.Random,
) -> Handoff:
    sla = rng.choice(slas)
    created = NOW - dt.timedelta(seconds=rng.uniform(0, days * 86_400))
    window = dt.timedelta(hours=float(sla.accept_within_hours) * rng.choice([1, 2, 3]))
    due = created + window
    fields: dict[str, Any] = {
        "status": Handoff.Status.PENDING,
        "first_attempt_at": created
        + dt.timedelta(minutes=rng.expovariate(1 / rng.choice([3, 10, 45, 240]))),
    }
    decided = fields["first_attempt_at"] + dt.timedelta(
        minutes=rng.expovariate(1 / 180)
    )
    if due <= NOW or rng.random() < 0.6:
        roll = rng.random()
        if roll < 0.08:
            fields = {"status": Handoff.Status.EXPIRED, "expired_at": due}
        elif roll < 0.65:
            fields.update(status=Handoff.Status.ACCEPTED, decided_at=decided)
        else:
            fields.update(
                status=Handoff.Status.REJECTED,
                decided_at=decided,
                reason=rng.choice(reasons),
                feedback=rng.choice(["", "", "Budget frozen", "Wrong person"]),
            )
    for name in ("first_attempt_at", "decided_at"):
        if fields.get(name) and fields[name] > NOW:
            fields[name] = None
            if name == "decided_at":
                fields.update(status=Handoff.Status.PENDING, reason=None, feedback="")
    if fields.get("status") == Handoff.Status.EXPIRED and due > NOW:
        fields = {"status": Handoff.Status.PENDING}
    return Handoff(
        lead=lead,
        sla=sla,
        team=sla.team,
        assigned_to=rng.choice(people),
        sequence=2 if rng.random() < REASSIGNED_SHARE else 1,
        mql_at=created - dt.timedelta(seconds=rng.expovariate(1 / 90)),
        created_at=created,
        due_at=due,
        at_risk_at=created + window * 0.75,
        **fields,
    )


def _bench_delete() -> None:
    """Remove every bench row (and nothing else), children first."""
    with transaction.atomic():
        Handoff.objects.filter(sla__name__startswith=BENCH_PREFIX).delete()
        ServiceLevelAgreement.objects.filter(name__startswith=BENCH_PREFIX).delete()
        Team.objects.filter(name__startswith=BENCH_PREFIX).delete()
        BusinessCalendar.objects.filter(name__startswith=BENCH_PREFIX).delete()
        get_user_model().objects.filter(username__startswith=SDR_PREFIX).delete()
        Lead.objects.filter(email__endswith=f"@{BENCH_DOMAIN}").delete()
