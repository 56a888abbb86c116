"""``manage.py seed_demo``: fill the database with demo data and demo logins."""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from datetime import date
from typing import Any, TypeVar

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, OutputWrapper
from django.urls import reverse
from django.utils import timezone
from tqdm import tqdm

from crm.demo import (
    DEFAULT_LEADS,
    DEFAULT_SEED,
    DEMO_PASSWORD,
    DEMO_USERS,
    MAX_LEADS,
    DemoDataPresent,
    DemoSummary,
    demo_data_counts,
    demo_seed,
    demo_users_ensure,
)

T = TypeVar("T")


def lead_count(value: str | int) -> int:
    """argparse type of --leads: an integer from 1 to MAX_LEADS."""
    text = str(value).strip().replace("_", "")
    if not re.fullmatch(r"\d+", text):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a whole number; give the number of leads, "
            f"e.g. --leads 2000."
        )
    count = int(text)
    if not 1 <= count <= MAX_LEADS:
        raise argparse.ArgumentTypeError(
            f"{count:,} is out of range; give between 1 and {MAX_LEADS:,} leads."
        )
    return count


def seed_number(value: str | int) -> int:
    """argparse type of --seed: a non-negative integer."""
    text = str(value).strip()
    if not re.fullmatch(r"\d+", text):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a non-negative whole number; use e.g. --seed 42."
        )
    return int(text)


def iso_date(value: str | date) -> date:
    """argparse type of --today: a real calendar date written YYYY-MM-DD."""
    if isinstance(value, date):
        return value
    text = str(value).strip()
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            raise ValueError
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a valid date; write it as YYYY-MM-DD, "
            "e.g. --today 2026-03-01."
        ) from None


def _checked(option: str, check: Callable[[Any], T], value: object) -> T:
    """``check(value)``; its complaint raised as argparse words it (CommandError)."""
    try:
        return check(value)
    except argparse.ArgumentTypeError as exc:
        raise CommandError(f"Error: argument {option}: {exc}") from None


class _TqdmStream:
    """Hands tqdm's output to the command's stderr unchanged.

    OutputWrapper.write appends a newline and may colour the text, which
    would turn one redrawn progress line into hundreds of red ones.
    """

    def __init__(self, wrapper: OutputWrapper):
        self._wrapper = wrapper

    def write(self, text: str) -> None:
        self._wrapper.write(text, style_func=lambda x: x, ending="")

    def flush(self) -> None:
        self._wrapper.flush()


class Command(BaseCommand):
    help = (
        "Fill an empty database with a realistic, reproducible demo data set "
        "(accounts, campaigns, leads, touchpoints, stage history, SLAs and "
        "handoffs) and demo logins."
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--leads",
            type=lead_count,
            default=DEFAULT_LEADS,
            help=f"How many leads to create (1 to {MAX_LEADS:,}; default "
            f"{DEFAULT_LEADS:,}).",
        )
        parser.add_argument(
            "--seed",
            type=seed_number,
            default=DEFAULT_SEED,
            help="Random seed; the same seed and --today give the same data "
            f"(default {DEFAULT_SEED}).",
        )
        parser.add_argument(
            "--today",
            type=iso_date,
            default=None,
            help="The day the demo data leads up to, YYYY-MM-DD (default: today, UTC).",
        )
        parser.add_argument(
            "--allow-production",
            action="store_true",
            help="Run even with DEBUG off on PostgreSQL (a public demo server). "
            "The demo users get the well-known password, so never use this on "
            "real data.",
        )
        mode = parser.add_mutually_exclusive_group()
        mode.add_argument(
            "--reset",
            action="store_true",
            help="Delete all leads, accounts, campaigns, touchpoints, stage "
            "transitions and handoffs, and the demo SLAs and teams, first (users "
            "are kept).",
        )
        mode.add_argument(
            "--if-empty",
            action="store_true",
            help="Seed only when there is no data; otherwise just make sure the "
            "demo logins exist.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        # call_command(leads=...) skips argparse, so check the values here too.
        leads = _checked("--leads", lead_count, options["leads"])
        seed = _checked("--seed", seed_number, options["seed"])
        today = _checked("--today", iso_date, options["today"] or timezone.now().date())
        if options["reset"] and options["if_empty"]:
            raise CommandError(
                "Error: --reset and --if-empty cannot be combined; --reset "
                "replaces existing data, --if-empty keeps it."
            )

        # The embedded SQLite default is a development database even with DEBUG
        # off (its default), so seeding it needs no configuration.
        development = settings.DEBUG or settings.EMBEDDED_DATABASE
        if not development and not options["allow_production"]:
            raise CommandError(
                "DEBUG is off and the database is not the embedded SQLite, so this "
                "looks like a production database; seed_demo "
                f"would give the users {', '.join(u.username for u in DEMO_USERS)} "
                f"the public password {DEMO_PASSWORD!r}. Nothing was changed. Pass "
                "--allow-production only for a throw-away demo server."
            )
        if options["if_empty"]:
            counts = demo_data_counts()
            if any(counts.values()):
                demo_users_ensure()
                self.stdout.write(
                    f"Demo data is already present ({counts['leads']:,} leads, "
                    f"{counts['accounts']:,} accounts, {counts['campaigns']:,} "
                    "campaigns); not seeding."
                )
                self._write_logins()
                return

        bar = tqdm(
            total=leads,
            unit="lead",
            desc="Seeding",
            file=_TqdmStream(self.stderr),
            disable=options["verbosity"] == 0,
        )

        def progress(done: int) -> None:
            bar.update(done)
            if bar.n >= leads:
                bar.close()  # before the closing log line, so it is drawn once

        try:
            summary = demo_seed(
                leads=leads,
                seed=seed,
                today=today,
                reset=options["reset"],
                progress=progress,
            )
        except DemoDataPresent as exc:
            raise CommandError(
                f"The database already holds {exc.leads:,} leads (and "
                f"{exc.accounts:,} accounts, {exc.campaigns:,} campaigns); nothing "
                "was changed. Run seed_demo again with --reset to delete them and "
                "seed demo data, or with --if-empty to keep them."
            ) from None
        finally:
            bar.close()
        self._write_summary(summary, seed=seed, today=today)
        self._write_logins()

    def _write_summary(self, summary: DemoSummary, *, seed: int, today: date) -> None:
        self.stdout.write(
            self.style.SUCCESS(
                f"Seeded demo data (seed {seed}, today {today.isoformat()}) in "
                f"{summary.elapsed_seconds:.1f} s:"
            )
        )
        rows = [
            ("accounts", summary.accounts),
            ("leads", summary.leads),
            ("campaigns", summary.campaigns),
            ("touchpoints", summary.touchpoints),
            ("transitions", summary.transitions),
            ("handoffs", summary.handoffs),
            ("attempts", summary.contact_attempts),
            ("outcomes", summary.sales_outcomes),
        ]
        for label, count in rows:
            self.stdout.write(f"  {label:<14}{count:>10,}")
        self.stdout.write("Leads per stage:")
        for stage, count in summary.leads_per_stage.items():
            self.stdout.write(f"  {stage:<14}{count:>10,}")
        self.stdout.write("Handoffs per status:")
        for status, count in summary.handoffs_per_status.items():
            self.stdout.write(f"  {status:<14}{count:>10,}")
        if summary.scoring_model:
            self.stdout.write(
                f"Scored every lead under {summary.scoring_model}: "
                f"{summary.mqls_from_scoring:,} became MQLs."
            )
        queue = ", ".join(
            f"{count:,} {state}" for state, count in summary.queue.items()
        )
        self.stdout.write(f"SAL queue at 00:00 UTC on {today.isoformat()}: {queue}.")

    def _write_logins(self) -> None:
        # SITE_URL is where people open Leadflow (make run sets it to its port).
        self.stdout.write(f"Demo logins at {settings.SITE_URL}{reverse('login')}")
        width = max(len("username"), *(len(u.username) for u in DEMO_USERS)) + 2
        self.stdout.write(f"  {'username':<{width}}{'role':<11}password")
        for user in DEMO_USERS:
            self.stdout.write(
                f"  {user.username:<{width}}{user.role:<11}{DEMO_PASSWORD}"
            )
