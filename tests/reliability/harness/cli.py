"""``python -m tests.reliability.harness <scenario>``: the load and fault harnesses.

Scenarios (each starts its own Redis, PostgreSQL, gunicorn, Celery workers and
beat on free ports of 127.0.0.1 in a temporary directory, and kills exactly
those processes by their recorded PIDs at the end):

- ``load``: sustained mixed ingest, then what was acknowledged against what
  was stored, and the leads left unscored a minute later.
- ``publish``: a new scoring model version published over seeded leads while
  the ingest runs.
- ``worker-kill``, ``redis-kill``, ``pg-restart``: the ingest runs while a
  part of the stack is broken on purpose (``faults``).

``--size ci`` (default) finishes in a minute or two; ``--size full`` is the
size the README's figures come from. Explicit options override the size.
The last output line is one JSON object with the figures; progress goes to
stderr.

``prepare``, ``seed`` and ``publish-model`` are the steps a scenario runs
inside its stack (``Stack.harness``, with the stack's DATABASE_URL); they
are not meant for a production database.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any, TextIO

from crm.bench.options import positive
from tests.reliability.harness import faults, fixtures
from tests.reliability.harness.ingest import PUBLISH_SIZES, SIZES, LoadPlan
from tests.reliability.harness.load import run_load, run_publish


def _share(value: str) -> float:
    try:
        share = float(value)
    except ValueError:
        share = -1.0
    if not 0 <= share <= 1:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number from 0 to 1.")
    return share


def parser() -> argparse.ArgumentParser:
    """The harness's options: one subcommand per scenario or inside step."""
    parser = argparse.ArgumentParser(
        prog="python -m tests.reliability.harness",
        description=(
            "Run a reliability scenario (load, publish, worker-kill, redis-kill, "
            "pg-restart) on a private stack; "
            "the last output line is a JSON object with its figures."
        ),
    )
    steps = parser.add_subparsers(dest="step", required=True, metavar="SCENARIO")
    for name, text in (
        ("load", "Mixed ingest, then stored vs acknowledged and stale leads."),
        ("publish", "Publish a model over seeded leads while ingesting."),
    ):
        sub = steps.add_parser(name, help=text)
        sub.add_argument("--size", choices=("ci", "full"), default="ci")
        sub.add_argument("--touchpoints", type=positive, help="Touchpoints to send.")
        sub.add_argument("--threads", type=positive, help="Client threads.")
        sub.add_argument("--pool", type=positive, help="Pre-created leads.")
        sub.add_argument(
            "--batch-share",
            type=_share,
            help="Share of the touchpoints sent in batches of 100 (0-1).",
        )
        sub.add_argument(
            "--web-workers", type=positive, default=2, help="Gunicorn workers."
        )
        sub.add_argument(
            "--worker-concurrency",
            type=positive,
            default=2,
            help="Pool size of the realtime worker (default 2, as the Procfile).",
        )
        sub.add_argument(
            "--keep", action="store_true", help="Keep the work dir and its logs."
        )
        if name == "load":
            sub.add_argument(
                "--drain",
                type=positive,
                default=None,
                help="When leads are stale a minute after the load, wait up "
                "to this many seconds more and report when none was "
                "(default: 600 at full size, none at CI size).",
            )
        if name == "publish":
            sub.add_argument(
                "--bulk-concurrency",
                type=positive,
                default=1,
                help="Pool size of the bulk worker (default 1, as the Procfile's "
                "BULK_CONCURRENCY).",
            )
            sub.add_argument("--leads", type=positive, help="Leads to seed.")
            sub.add_argument(
                "--per-lead", type=positive, help="Touchpoints per seeded lead."
            )
    prepare = steps.add_parser("prepare", help="(inside a stack) users, pool")
    prepare.add_argument("--pool", type=positive, default=500)
    seed = steps.add_parser("seed", help="(inside a stack) bulk leads")
    seed.add_argument("--leads", type=positive, required=True)
    seed.add_argument("--per-lead", type=positive, default=10)
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
    return parser


def run(argv: list[str], *, stdout: TextIO, stderr: TextIO) -> dict[str, Any]:
    """Run the step ``argv`` names; print its figures as one JSON last line
    on ``stdout`` (progress goes to ``stderr``) and return them.

    The inside steps need Django set up (``__main__`` does it); a scenario
    that cannot run raises RuntimeError (a ``StackError`` with the logs).
    """
    options = vars(parser().parse_args(argv))
    step = options["step"]

    def say(text: str) -> None:
        stderr.write(text + "\n")
        stderr.flush()

    if step == "prepare":
        result = fixtures.load_prepare(pool=options["pool"])
    elif step == "seed":
        result = fixtures.bulk_seed(
            leads=options["leads"], per_lead=options["per_lead"]
        )
    elif step == "publish-model":
        result = fixtures.model_publish_next()
    elif step in faults.SCENARIOS:
        result = faults.SCENARIOS[step](
            size=options["size"], say=say, keep=options["keep"]
        )
    else:
        result = _scenario(step, options, say)
    stdout.write(json.dumps(result, default=str) + "\n")
    stdout.flush()
    return result


def _scenario(
    step: str, options: dict[str, Any], say: Callable[[str], None]
) -> dict[str, Any]:
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

    common = {
        "web_workers": options["web_workers"],
        "worker_concurrency": options["worker_concurrency"],
        "say": say,
        "keep": options["keep"],
    }
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
            plan,
            leads=size["leads"],
            per_lead=size["per_lead"],
            bulk_concurrency=options["bulk_concurrency"],
            **common,
        ),
    }
