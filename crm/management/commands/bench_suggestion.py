"""``manage.py bench_suggestion``: suggested points on a HubSpot-style export.

Builds a contact and an activity export with known effects, imports them as
``import_leads``/``import_touchpoints --preset hubspot --keep-unmapped`` do,
and compares the suggestion's ROC AUC with the active model's and a plain
logistic regression's, all inside a transaction rolled back at the end; the
last line of the output is one JSON object (see ``crm.bench.suggestion``).
"""

from __future__ import annotations

import argparse
from typing import Any

from django.core.management.base import BaseCommand

from crm.bench import suggestion
from crm.bench.options import count, positive


class Command(BaseCommand):
    help = (
        "Import a generated HubSpot-style export and compare the suggested "
        "points with the active model and a plain logistic regression (nothing "
        "is kept); the last output line is a JSON object with the figures."
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--contacts",
            type=positive,
            default=4_000,
            help="Contacts in the export (default 4,000).",
        )
        parser.add_argument("--seed", type=count, default=1, help="Random seed.")

    def handle(self, *args: Any, **options: Any) -> None:
        suggestion.run(options, say=self.stdout.write)
