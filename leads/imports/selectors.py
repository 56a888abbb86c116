"""Reads of CSV imports that feed the import pages and commands."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from typing import TextIO

from django.db.models import QuerySet

from leads.exports import csv_cell
from leads.imports.presets import SKIP, TARGET_FIELDS
from leads.imports.reading import csv_open
from leads.models import ImportJob

#: Rows of the file read to find a sample value for each column.
SAMPLE_ROWS = 50
#: Rejected rows and notes shown on the job page (the CSV has them all).
SHOWN_ROWS = 100


def import_job_list_recent(*, limit: int = 20) -> QuerySet[ImportJob]:
    """The newest import jobs with their author, without the big columns."""
    return (
        ImportJob.objects.defer("content", "rejected_rows", "notes", "mapping")
        .select_related("created_by")
        .order_by("-created_at", "-id")[:limit]
    )


def import_job_get(*, job_id: int) -> ImportJob:
    """One job without its file content; raises ImportJob.DoesNotExist."""
    return (
        ImportJob.objects.defer("content").select_related("created_by").get(id=job_id)
    )


@dataclass(frozen=True)
class ColumnSample:
    position: int
    column: str
    sample: str


def import_job_samples(*, job_id: int) -> list[ColumnSample]:
    """Each column of the job's file with its first non-blank value.

    Decodes the stored file (checked at upload) and reads at most
    SAMPLE_ROWS records.
    """
    job = ImportJob.objects.only("content", "encoding").get(id=job_id)
    csv_file = csv_open(bytes(job.content), encoding=job.encoding)
    samples = [""] * len(csv_file.header)
    for count, record in enumerate(csv_file.records()):
        for position, cell in enumerate(record.cells[: len(samples)]):
            if not samples[position] and cell.strip():
                samples[position] = cell.strip()
        if count >= SAMPLE_ROWS or all(samples):
            break
    return [
        ColumnSample(position, column, samples[position])
        for position, column in enumerate(csv_file.header)
    ]


def import_target_choices(kind: str) -> list[tuple[str, str]]:
    """The mapping choices of a kind: "not mapped" and "skip" first, then the
    fields. A not-mapped column is kept as free-form when the job keeps
    unmapped columns; a skipped one never is."""
    return [("", "— not mapped —"), (SKIP, "— skip: never stored —")] + [
        (target.code, target.label) for target in TARGET_FIELDS[kind]
    ]


def import_job_rejects_write(job: ImportJob, out: TextIO) -> int:
    """Write the job's stored rejected rows as CSV to ``out``; return how many.

    Columns: ``line``, ``reason``, then the file's own columns, so the file
    can be fixed and imported again (with the two extra columns unmapped).
    Cells are what someone uploaded, so a cell a spreadsheet would run as a
    formula gets a leading ``'`` (``leads.exports.csv_cell``); the import
    drops that quote again.
    """
    writer = csv.writer(out)
    writer.writerow([csv_cell(c) for c in ["line", "reason", *job.columns]])
    for reject in job.rejected_rows:
        writer.writerow(
            [reject["line"], *(csv_cell(c) for c in [reject["reason"], *reject["row"]])]
        )
    return len(job.rejected_rows)
