"""``manage.py bench_pages``: server time and queries of the busiest pages.

Requests the SAL queue, its polled fragment and the pipelines as the demo's
users against the configured database, with DEBUG off as production serves
them (whatever the environment sets); the last line of the output is one
JSON object with the figures (see ``crm.bench.pages``).
"""

from __future__ import annotations

import argparse
from typing import Any

from django.core.management.base import BaseCommand

from crm.bench import pages
from crm.bench.options import count, positive


class Command(BaseCommand):
    help = (
        "Time the SAL queue, its polled fragment and the pipelines as the demo's "
        "users with DEBUG off, as in production (p50/p95/max milliseconds and "
        "queries per page); the last output "
        "line is a JSON object with the figures."
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--runs",
            type=positive,
            default=20,
            help="Measured requests per page (default 20).",
        )
        parser.add_argument(
            "--warmup",
            type=count,
            default=2,
            help="Unmeasured requests per page before the runs (default 2).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        pages.run(options, say=self.stdout.write)
