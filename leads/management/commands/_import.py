"""What ``import_leads`` and ``import_touchpoints`` share: options and output."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from leads.exceptions import ImportFileError
from leads.imports.jobs import import_job_create
from leads.imports.presets import LEADFLOW, PRESETS, SKIP, target_codes
from leads.imports.reading import encoding_check
from leads.imports.run import import_job_run
from leads.imports.selectors import import_job_rejects_write
from leads.imports.values import import_time_zone
from leads.models import IMPORT_MAX_BYTES, ImportJob

#: Rejected rows and notes printed; --rejects writes them all.
SHOWN = 10


def mapping_option(values: list[str] | None, *, kind: str) -> dict[str, str]:
    """``["CSV column=field", ...]`` as a dict; CommandError for a bad item."""
    mapping: dict[str, str] = {}
    for item in values or []:
        column, equals, target = item.rpartition("=")
        if not equals or not column.strip():
            raise CommandError(
                f'Error: argument --map: {item!r} is not "CSV column=field"; for '
                'example --map "E-Mail Address=email" (an empty field, as in '
                '--map "Notes=", skips the column, even with --keep-unmapped). '
                f"Fields: {', '.join(target_codes(kind))}."
            )
        # An empty field skips the column, even with --keep-unmapped.
        mapping[column.strip()] = target.strip() or SKIP
    return mapping


class ImportCommand(BaseCommand):
    """Import one CSV file now, in this process, and report what happened."""

    kind: str = ImportJob.Kind.LEADS

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        fields = ", ".join(target_codes(self.kind))
        parser.add_argument("file", help="The CSV file to import.")
        parser.add_argument(
            "--preset",
            choices=sorted(PRESETS),
            default=LEADFLOW,
            help="Column names of the export: hubspot, salesforce or leadflow "
            "(our field names; the default).",
        )
        parser.add_argument(
            "--map",
            action="append",
            metavar='"CSV column=field"',
            help="Map a column to a field, overriding the preset; repeatable. An "
            "empty field skips the column: it is not stored, even with "
            f"--keep-unmapped. Fields: {fields}.",
        )
        parser.add_argument(
            "--keep-unmapped",
            action="store_true",
            help="Keep columns mapped to no field (skipped ones aside) as free-form "
            f"{'attributes' if self.kind == ImportJob.Kind.LEADS else 'properties'} "
            "(typed as number, yes/no or text).",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Check and classify every row; store nothing.",
        )
        parser.add_argument(
            "--rejects",
            metavar="PATH",
            help="Write the rejected rows (with line and reason) to this CSV file.",
        )
        parser.add_argument(
            "--encoding",
            default="utf-8",
            help="The file's text encoding (default utf-8; a BOM is fine).",
        )
        parser.add_argument(
            "--timezone",
            default="",
            metavar="ZONE",
            help="Read dates that give no offset in this IANA time zone (such as "
            "Europe/Berlin or UTC); without it such rows are rejected.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        # call_command(preset=...) skips argparse's checks: repeat them here.
        if options["preset"] not in PRESETS:
            raise CommandError(
                f"Error: argument --preset: {options['preset']!r} is not one of "
                f"{', '.join(sorted(PRESETS))}."
            )
        mapping = mapping_option(options["map"], kind=self.kind)
        try:
            encoding_check(options["encoding"])
        except ImportFileError as exc:
            raise CommandError(f"Error: argument --encoding: {exc}") from None
        try:
            import_time_zone(options["timezone"])
        except ImportFileError as exc:
            raise CommandError(f"Error: argument --timezone: {exc}") from None
        path = Path(options["file"])
        rejects = Path(options["rejects"]) if options["rejects"] else None
        if rejects is not None and not rejects.parent.is_dir():
            raise CommandError(
                f"Error: argument --rejects: the folder {rejects.parent} does not "
                "exist; nothing was imported."
            )
        content = self._read(path)
        try:
            job = import_job_create(
                kind=self.kind,
                filename=path.name,
                content=content,
                encoding=options["encoding"],
                time_zone=options["timezone"],
                preset=options["preset"],
                mapping=mapping,
                keep_unmapped=options["keep_unmapped"],
                dry_run=options["dry_run"],
                enqueue=False,
            )
        except ImportFileError as exc:
            raise CommandError(f"{path}: {exc} Nothing was imported.") from None
        job = import_job_run(job_id=job.id) or job
        self._report(job, path)
        if rejects is not None:
            with rejects.open("w", newline="", encoding="utf-8") as out:
                count = import_job_rejects_write(job, out)
            self.stdout.write(f"{count:,} rejected rows written to {rejects}.")
        if job.status == ImportJob.Status.FAILED:
            raise CommandError(f"{path}: {job.error}")

    def _read(self, path: Path) -> bytes:
        try:
            size = path.stat().st_size
            if size > IMPORT_MAX_BYTES:
                raise CommandError(
                    f"{path} has {size:,} bytes; split it into files of at most "
                    f"{IMPORT_MAX_BYTES // (1024 * 1024)} MB."
                )
            return path.read_bytes()
        except OSError as exc:
            raise CommandError(
                f"Cannot read {path}: {exc.strerror or exc}. Give the path of a "
                "CSV file."
            ) from None

    def _report(self, job: ImportJob, path: Path) -> None:
        refused = ""
        if job.cells_refused:
            cells = "cell" if job.cells_refused == 1 else "cells"
            refused = f", {job.cells_refused:,} {cells} refused"
        if job.dry_run:
            self.stdout.write(
                f"Dry run of {path} (job {job.id}), nothing stored: "
                f"{job.rows_created:,} would be created, {job.rows_updated:,} "
                f"updated, {job.rows_unchanged:,} unchanged, {job.rows_rejected:,} "
                f"rejected{refused}."
            )
        else:
            self.stdout.write(
                f"Imported {path} (job {job.id}): {job.rows_created:,} created, "
                f"{job.rows_updated:,} updated, {job.rows_unchanged:,} unchanged, "
                f"{job.rows_rejected:,} rejected{refused}."
            )
        if job.rejected_rows:
            self.stdout.write(f"Rejected rows (first {SHOWN}):")
            for reject in job.rejected_rows[:SHOWN]:
                self.stdout.write(f"  line {reject['line']}: {reject['reason']}")
        if job.notes:
            self.stdout.write(f"Notes (first {SHOWN}):")
            for note in job.notes[:SHOWN]:
                self.stdout.write(f"  line {note['line']}: {note['message']}")
