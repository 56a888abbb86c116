"""``manage.py rebuild_rule_rollup [--since YYYY-MM-DD]``: rebuild rule
analytics' roll-up."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from crm.management.commands.seed_demo import _checked, iso_date
from crm.marketing.rule_rollup import rule_rollup_rebuild


class Command(BaseCommand):
    help = "Rebuild rule analytics' daily roll-up, every day or from --since on."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--since",
            help="First day to rebuild, YYYY-MM-DD (default: every day).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        since = options["since"]
        if since is not None:
            since = _checked("--since", iso_date, since)
        started = time.monotonic()
        try:
            run = rule_rollup_rebuild(since=since)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            f"Rebuilt {run.days} days of the rule analytics roll-up in "
            f"{time.monotonic() - started:.1f} s."
        )
