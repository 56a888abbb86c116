"""``manage.py replay_model``: a draft scoring model replayed on a past period."""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from crm.marketing.replay import (
    ReplayRefused,
    default_period,
    replay_request,
    replay_run,
)
from scoring.models import ScoringModel


def day(text: str | None, option: str) -> dt.date | None:
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise CommandError(
            f"{option} {text!r} is not a date: write it as YYYY-MM-DD."
        ) from None


class Command(BaseCommand):
    help = (
        "Replay a draft scoring model on a past period next to the active model; "
        "the last line is the weekly figures and counts as JSON."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("model_id", type=int, help="The draft model's id.")
        parser.add_argument(
            "--start",
            help="The period's first day (YYYY-MM-DD, UTC); default: 90 days ago.",
        )
        parser.add_argument(
            "--end", help="The day after the period (YYYY-MM-DD, UTC); default: today."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        draft = ScoringModel.objects.filter(id=options["model_id"]).first()
        if draft is None:
            raise CommandError(f"No scoring model has the id {options['model_id']}.")
        default_start, default_end = default_period()
        start = day(options["start"], "--start") or default_start
        end = day(options["end"], "--end") or default_end
        started = time.monotonic()
        try:
            replay = replay_request(draft=draft, start=start, end=end, enqueue=False)
        except ReplayRefused as exc:
            raise CommandError(str(exc)) from None
        replay = replay_run(replay_id=replay.id)
        seconds = round(time.monotonic() - started, 1)
        result = replay.result
        totals = result["totals"]
        self.stdout.write(
            f"Replay {replay.id} of {draft} against {result['active']['name']}, "
            f"{start} to {end} (end excluded), {replay.total:,} leads in {seconds} s: "
            f"{totals['draft']['mql']:,} MQLs under the draft, "
            f"{totals['active']['mql']:,} under the active model."
        )
        summary = {
            "replay": replay.id,
            "draft": draft.id,
            "active": result["active"]["id"],
            "start": result["start"],
            "end": result["end"],
            "leads": replay.total,
            "seconds": seconds,
            "weeks": result["weeks"],
            "totals": totals,
            "newly_qualifying": result["newly_qualifying"]["count"],
            "no_longer_qualifying": result["no_longer_qualifying"]["count"],
        }
        self.stdout.write(json.dumps(summary))
