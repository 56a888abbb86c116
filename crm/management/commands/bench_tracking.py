"""``manage.py bench_tracking``: tracking messages per second through the real
HTTP stack (``/segment/v1/t`` and ``/segment/v1/batch``).

Starts gunicorn on a free port against the configured database; the last
line of output is one JSON object (see ``crm.bench.tracking``).
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from crm.bench import tracking


class Command(BaseCommand):
    help = (
        "Measure tracking ingestion (single /segment/v1/t calls and batches) "
        "through gunicorn on the configured database; the last output line is JSON."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--single", type=int, default=1000, metavar="N")
        parser.add_argument("--batches", type=int, default=20, metavar="M")
        parser.add_argument("--batch-size", type=int, default=100, metavar="B")
        parser.add_argument(
            "--threads", type=int, default=4, help="Client threads (default 4)."
        )
        parser.add_argument(
            "--workers", type=int, default=2, help="Gunicorn workers (default 2)."
        )
        parser.add_argument(
            "--keep", action="store_true", help="Keep the rows the run wrote."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        tracking.run(
            single=options["single"],
            batches=options["batches"],
            size=options["batch_size"],
            threads=options["threads"],
            workers=options["workers"],
            keep=options["keep"],
            say=self.stdout.write,
        )
