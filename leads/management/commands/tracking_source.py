"""``manage.py tracking_source NAME``: create a tracking source, or rotate its
write key, and print the key."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from leads.models import TrackingSource
from leads.tracking.services import tracking_source_create, tracking_source_rotate


class Command(BaseCommand):
    help = (
        "Create a website or server tracking source (or give an existing one a "
        "new write key with --rotate) and print its write key as the last line."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="The source's name, e.g. 'Marketing site'.")
        parser.add_argument(
            "--kind",
            choices=TrackingSource.Kind.values,
            default=TrackingSource.Kind.SITE,
            help="site: the website snippet (needs --origin); server: a Segment "
            "or RudderStack SDK. Default: site.",
        )
        parser.add_argument(
            "--origin",
            action="append",
            default=[],
            metavar="URL",
            help="An origin browsers may send from, e.g. https://www.example.com "
            "(repeat for several).",
        )
        parser.add_argument(
            "--retention-days",
            type=int,
            default=180,
            help="Days anonymous history is kept after a visitor's last visit.",
        )
        parser.add_argument(
            "--rotate",
            action="store_true",
            help="Give the existing source NAME a new write key; the old one "
            "keeps working for 24 hours.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        name = options["name"].strip()
        existing = TrackingSource.objects.filter(name__iexact=name).first()
        if options["rotate"]:
            if existing is None:
                raise CommandError(
                    f"There is no tracking source named {name!r}; leave out "
                    "--rotate to create it."
                )
            if options["origin"]:
                raise CommandError(
                    "--rotate changes only the key; change origins on the "
                    "tracking settings page."
                )
            source = tracking_source_rotate(source=existing, actor=None)
            self.stdout.write(
                f"New write key of {source.name!r} (the old one works 24 more hours):"
            )
        else:
            if existing is not None:
                raise CommandError(
                    f"A tracking source named {existing.name!r} exists; add "
                    "--rotate to give it a new write key."
                )
            try:
                source = tracking_source_create(
                    name=name,
                    kind=options["kind"],
                    origins=options["origin"],
                    retention_days=options["retention_days"],
                    actor=None,
                )
            except ValidationError as exc:
                problems = "; ".join(
                    f"--{field.replace('_', '-')}: {' '.join(messages)}"
                    if field != "name"
                    else f"NAME: {' '.join(messages)}"
                    for field, messages in exc.message_dict.items()
                )
                raise CommandError(problems.replace("--origins", "--origin")) from exc
            self.stdout.write(
                f"Created {source.get_kind_display().lower()} source "
                f"{source.name!r}. Write key:"
            )
        self.stdout.write(source.write_key)
