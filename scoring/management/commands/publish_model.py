"""``manage.py publish_model``: publish a draft model, as its page does."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from scoring.exceptions import ModelNotPublishable
from scoring.models import ScoringModel
from scoring.services.publishing import model_publish


class Command(BaseCommand):
    help = "Publish a draft scoring model and start rescoring every lead under it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("model_id", type=int, help="The draft's id.")

    def handle(self, *args: Any, **options: Any) -> None:
        model_id = options["model_id"]
        if not ScoringModel.objects.filter(id=model_id).exists():
            raise CommandError(
                f"No scoring model has id {model_id}; the scoring models page "
                "lists them."
            )
        try:
            model = model_publish(model_id=model_id)
        except ModelNotPublishable as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            f"Published {model} (id {model.id}); rescoring "
            f"{model.rescore_total:,} leads."
        )
