"""``manage.py bench_scoring``: time the scoring paths on a synthetic database.

Seeds leads, accounts and touchpoints into the configured database, then
times the bulk path, the per-lead path and a naive ORM loop; the last line
of the output is one JSON object with the figures (see ``crm.bench.scoring``).
"""

from __future__ import annotations

import argparse
from typing import Any

from django.core.management.base import BaseCommand

from crm.bench import scoring
from crm.bench.options import count, positive
from scoring.bulk import BULK_CHUNK_SIZE


class Command(BaseCommand):
    help = (
        "Seed a synthetic database and time bulk, per-lead and naive rescoring; "
        "the last output line is a JSON object with the figures."
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--leads", type=positive, default=100_000)
        parser.add_argument(
            "--touchpoints-per-lead", type=positive, default=20, dest="per_lead"
        )
        parser.add_argument(
            "--chunk-size",
            type=positive,
            default=BULK_CHUNK_SIZE,
            help=f"Leads per bulk chunk (default {BULK_CHUNK_SIZE:,}).",
        )
        parser.add_argument(
            "--workers",
            type=positive,
            default=1,
            help="Processes for the bulk rescore (PostgreSQL only; default 1).",
        )
        parser.add_argument(
            "--naive-sample",
            type=count,
            default=2_000,
            help="Leads rescored by the naive ORM loop (default 2,000; 0 skips it).",
        )
        parser.add_argument("--seed", type=count, default=1, help="Random seed.")
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
        scoring.run(options, say=self.stdout.write)
