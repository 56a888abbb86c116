"""``manage.py reliability <scenario>``: the load and fault harnesses.

Scenarios (each starts its own Redis, PostgreSQL, gunicorn, Celery workers and
beat on free ports of 127.0.0.1 in a temporary directory, and kills exactly
those processes by their recorded PIDs at the end):

- ``load``: sustained mixed ingest, then what was acknowledged against what
  was stored, and the leads left unscored a minute later.
- ``publish``: a new scoring model version published over seeded leads while
  the ingest runs.
- ``worker-kill``, ``redis-kill``, ``pg-restart``: the ingest runs while a
  part of the stack is broken on purpose (crm.reliability.faults).

``--size ci`` (default) finishes in a minute or two; ``--size full`` is the
size the README's figures come from. Explicit options override the size.
The last output line is one JSON object with the figures.

``prepare``, ``seed`` and ``publish-model`` are the steps a scenario runs
inside its stack (with the stack's DATABASE_URL); they are not meant for a
production database.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from crm.reliability import faults, fixtures
from crm.reliability.load import PUBLISH_SIZES, SIZES, LoadPlan, run_load, run_publish


def _positive(value: str) -> int:
    text = value.strip().replace("_", "")
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{value!r} is not a positive whole number.")
    return int(text)


def _share(value: str) -> float:
    try:
        share = float(value)
    except ValueError:
        share = -1.0
    if not 0 <= share <= 1:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number from 0 to 1.")
    return share


class Command(BaseCommand):
    help = (
        "Run a reliability scenario (load, publish, worker-kill, redis-kill, "
        "pg-restart) on a private stack; "
        "the last output line is a JSON object with its figures."
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        steps = parser.add_subparsers(dest="step", required=True, metavar="SCENARIO")
        for name, text in (
            ("load", "Mixed ingest, then stored vs acknowledged and stale leads."),
            ("publish", "Publish a model over seeded leads while ingesting."),
        ):
            sub = steps.add_parser(name, help=text)
            sub.add_argument("--size", choices=("ci", "full"), default="ci")
            sub.add_argument(
                "--touchpoints", type=_positive, help="Touchpoints to send."
            )
            sub.add_argument("--threads", type=_positive, help="Client threads.")
            sub.add_argument("--pool", type=_positive, help="Pre-created leads.")
            sub.add_argument(
                "--batch-share",
                type=_share,
                help="Share of the touchpoints sent in batches of 100 (0-1).",
            )
            sub.add_argument(
                "--web-workers", type=_positive, default=2, help="Gunicorn workers."
            )
            sub.add_argument(
                "--worker-concurrency",
                type=_positive,
                default=2,
                help="Pool size of the realtime worker (default 2, as the Procfile).",
            )
            sub.add_argument(
                "--keep", action="store_true", help="Keep the work dir and its logs."
            )
            if name == "load":
                sub.add_argument(
                    "--drain",
                    type=_positive,
                    default=None,
                    help="When leads are stale a minute after the load, wait up "
                    "to this many seconds more and report when none was "
                    "(default: 600 at full size, none at CI size).",
                )
            if name == "publish":
                sub.add_argument("--leads", type=_positive, help="Leads to seed.")
                sub.add_argument(
                    "--per-lead", type=_positive, help="Touchpoints per seeded lead."
                )
        prepare = steps.add_parser("prepare", help="(inside a stack) users, pool")
        prepare.add_argument("--pool", type=_positive, default=500)
        seed = steps.add_parser("seed", help="(inside a stack) bulk leads")
        seed.add_argument("--leads", type=_positive, required=True)
        seed.add_argument("--per-lead", type=_positive, default=10)
        steps.add_parser("publish-model", help="(inside a stack) publish a version")
        for name, text in (
            ("worker-kill", "SIGKILL pool children and workers during ingest."),
            ("redis-kill", "Kill Redis for 30 s mid-ingest; it comes back empty."),
            ("pg-restart", "Crash-stop PostgreSQL mid-load and start it again."),
        ):
            sub = steps.add_parser(name, help=text)
            sub.add_argument("--size", choices=("ci", "full"), default="ci")
            sub.add_argument(
                "--keep", action="store_true", help="Keep the work dir and its logs."
            )

    def handle(self, *args: Any, **options: Any) -> None:
        step = options["step"]
        if step == "prepare":
            result = fixtures.load_prepare(pool=options["pool"])
        elif step == "seed":
            result = fixtures.bulk_seed(
                leads=options["leads"], per_lead=options["per_lead"]
            )
        elif step == "publish-model":
            result = fixtures.model_publish_next()
        elif step in faults.SCENARIOS:
            try:
                result = faults.SCENARIOS[step](
                    size=options["size"], say=self.stderr.write, keep=options["keep"]
                )
            except RuntimeError as exc:
                raise CommandError(str(exc)) from exc
        else:
            result = self._scenario(step, options)
        self.stdout.write(json.dumps(result, default=str))

    def _scenario(self, step: str, options: dict[str, Any]) -> dict[str, Any]:
        sizes = SIZES if step == "load" else PUBLISH_SIZES
        size = {**SIZES[options["size"]], **sizes[options["size"]]}
        for name in ("touchpoints", "threads", "pool", "leads", "per_lead"):
            if options.get(name):
                size[name] = options[name]
        if options.get("batch_share") is not None:
            size["batch_share"] = options["batch_share"]
        plan = replace(
            LoadPlan(touchpoints=size["touchpoints"]),
            threads=size["threads"],
            pool=size["pool"],
            batch_share=size["batch_share"],
        )

        def say(text: str) -> None:
            self.stderr.write(text)

        common = {
            "web_workers": options["web_workers"],
            "worker_concurrency": options["worker_concurrency"],
            "say": say,
            "keep": options["keep"],
        }
        try:
            if step == "load":
                drain = options["drain"]
                if drain is None:
                    drain = 600 if options["size"] == "full" else 0
                return {
                    "size": options["size"],
                    **run_load(plan, drain_seconds=drain, **common),
                }
            return {
                "size": options["size"],
                **run_publish(
                    plan, leads=size["leads"], per_lead=size["per_lead"], **common
                ),
            }
        except RuntimeError as exc:
            raise CommandError(str(exc)) from exc
