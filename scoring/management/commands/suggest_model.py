"""``manage.py suggest_model``: a draft model with points fitted from outcomes.

It runs in the terminal, through the same services and the same
``ModelSuggestion`` row as the page and the API (so it waits its turn: one
suggestion at a time), printing each stage as it starts.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from scoring.exceptions import SuggestionRefused, SuggestionRunning
from scoring.models import ModelSuggestion
from scoring.services.suggestions import suggestion_request, suggestion_run
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
            suggestion = suggestion_request(
                outcome=options["outcome"],
                until=until,
                name=options["name"],
                enqueue=False,
            )
        except (SuggestionRefused, SuggestionRunning) as exc:
            raise CommandError(str(exc)) from None
        stages: list[str] = []

        def listener(stage: str, done: int, total: int) -> None:
            if not stages or stages[-1] != stage:
                stages.append(stage)
                label = ModelSuggestion.Stage(stage).label
                self.stdout.write(f"{label}… ({time.monotonic() - started:.1f} s)")

        suggestion_run(
            suggestion_id=suggestion.id,
            worker=f"command-{os.getpid()}",
            listener=listener,
        )
        suggestion.refresh_from_db()
        if suggestion.status != ModelSuggestion.Status.DONE:
            raise CommandError(suggestion.error or "The suggestion did not finish.")
        draft = suggestion.draft
        self.stdout.write(
            f"Draft {draft} ({suggestion.result['rules']} rules, MQL threshold "
            f"{draft.mql_threshold}) in {time.monotonic() - started:.1f} s, "
            f"suggested {timezone.now():%Y-%m-%d %H:%M} UTC (suggestion "
            f"{suggestion.id})."
        )
        self.stdout.write(json.dumps(suggestion.result))
