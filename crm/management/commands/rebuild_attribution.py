"""``manage.py rebuild_attribution``: rebuild the campaign attribution roll-up."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from crm.marketing.attribution_rollup import attribution_all_rebuild


def since_date(value: str) -> dt.date:
    """argparse type of --since: a real calendar date written YYYY-MM-DD."""
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError as error:
        raise CommandError(
            f"--since {value!r} is not a date; write it YYYY-MM-DD, e.g. 2026-01-31."
        ) from error


class Command(BaseCommand):
    help = (
        "Rebuild the campaign credits of every day with conversions (or of "
        "every such day from --since on), under every attribution model."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--since",
            metavar="YYYY-MM-DD",
            help="Rebuild only the days from this UTC date on.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        since = since_date(options["since"]) if options["since"] else None
        started = time.monotonic()
        result = attribution_all_rebuild(now=timezone.now(), since=since)
        elapsed = time.monotonic() - started
        if not result.days:
            self.stdout.write("No days with conversions to rebuild.")
            return
        self.stdout.write(
            f"Rebuilt {len(result.days):,} days, {result.days[0]} to "
            f"{result.days[-1]}: {result.rows:,} credit rows under every "
            f"attribution model, in {elapsed:.1f} s."
        )
