"""``manage.py suggest_model``: a draft model with points fitted from outcomes."""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from scoring.exceptions import SuggestionRefused
from scoring.services.suggestions import model_suggest
from scoring.suggestion import OUTCOMES, cut_off_time


def cut_off(text: str | None) -> dt.datetime | None:
    """The start (UTC) of the day ``text`` (YYYY-MM-DD) names, None for none."""
    if text is None:
        return None
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise CommandError(
            f"--until {text!r} is not a date: write it as YYYY-MM-DD."
        ) from None
    return cut_off_time(day)


class Command(BaseCommand):
    help = (
        "Fit scoring points to the leads' outcomes and store them as a draft "
        "model; the last line is the draft's id and validation figures as JSON."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--outcome",
            required=True,
            help=f"The stage a lead must have reached: {' or '.join(OUTCOMES)}.",
        )
        parser.add_argument(
            "--until",
            help="Fit only on leads created before this day (YYYY-MM-DD, UTC); "
            "default: 60 days ago, so that they had time to reach the outcome.",
        )
        parser.add_argument("--name", default="", help="The draft's name.")

    def handle(self, *args: Any, **options: Any) -> None:
        until = cut_off(options["until"])
        started = time.monotonic()
        try:
            result = model_suggest(
                outcome=options["outcome"], until=until, name=options["name"]
            )
        except SuggestionRefused as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            f"Draft {result.model} ({result.rules} rules, MQL threshold "
            f"{result.model.mql_threshold}) in {time.monotonic() - started:.1f} s, "
            f"suggested {timezone.now():%Y-%m-%d %H:%M} UTC."
        )
        self.stdout.write(json.dumps(result.as_json()))
