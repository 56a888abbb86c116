"""One chunk of a touchpoint import: classify the rows and store them.

Touchpoints go through ``leads.ingestion.touchpoints_ingest`` with
``source="import"``, so re-running a file with external ids stores nothing
twice.
"""

from __future__ import annotations

from leads.imports.chunks import IMPORT_ACTOR, ImportChunk, ImportRun
from leads.imports.presets import ACTIVITY_WORDS, normalize_word
from leads.imports.reading import Record
from leads.imports.rows import (
    RowRejected,
    RowSkipped,
    TouchpointRow,
    touchpoint_row_clean,
)
from leads.ingestion import TouchpointIn, touchpoints_ingest
from leads.models import Campaign, Touchpoint, TouchpointKind


def kind_words() -> dict[str, str]:
    """Active touchpoint kinds by normalised word: their codes, their labels
    ("Page view"), then the other CRMs' words for them (``ACTIVITY_WORDS``:
    "Visit Webpage", "EMAIL_OPEN"). An earlier word wins."""
    words: dict[str, str] = {}
    kinds = TouchpointKind.objects.filter(is_active=True).values_list("code", "label")
    for code, _label in kinds:
        words[normalize_word(code)] = code
    for code, label in kinds:
        words.setdefault(normalize_word(label), code)
    active = set(words.values())
    for word, code in ACTIVITY_WORDS.items():
        if code in active:
            words.setdefault(word, code)
    return words


def touchpoint_chunk(run: ImportRun, records: list[Record]) -> ImportChunk:
    """Classify and (unless a dry run) store one chunk of touchpoint records.

    One query for the campaigns named, then ``touchpoints_ingest`` (a fixed
    number of queries for the batch); a dry run asks only which external ids
    are already stored. A skipped row (an e-mail sent to the lead) counts as
    unchanged, with a note.
    """
    chunk = ImportChunk()
    rows: list[TouchpointRow] = []
    for record in records:
        try:
            rows.append(
                touchpoint_row_clean(
                    record,
                    plan=run.plan,
                    types=run.types,
                    kinds=run.kinds,
                    now=run.now,
                    tz=run.tz,
                )
            )
        except RowRejected as exc:
            chunk.reject(record.line, record.cells, str(exc))
        except RowSkipped as exc:
            chunk.unchanged += 1
            chunk.note(record.line, str(exc))
    campaigns = _campaigns_by_name({row.campaign for row in rows if row.campaign})
    column = run.plan.header[run.plan.column_of("campaign") or 0]
    valid: list[TouchpointRow] = []
    for row in rows:
        if row.campaign and row.campaign.lower() not in campaigns:
            chunk.reject(
                row.line,
                row.cells,
                f"{column}: no campaign is named {row.campaign!r}; create it first "
                "or leave the column unmapped.",
            )
        else:
            valid.append(row)
    if run.job.dry_run:
        _touchpoints_classify(valid, run, chunk)
        return chunk
    if not valid:
        return chunk
    items = [
        TouchpointIn(
            kind=row.kind,
            occurred_at=row.occurred_at,
            lead_email=row.email,
            campaign_id=campaigns[row.campaign.lower()] if row.campaign else None,
            # A named campaign wins over UTM keys (ingestion takes one of them).
            **({} if row.campaign else row.utm),
            properties=row.properties,
            external_id=row.external_id,
        )
        for row in valid
    ]
    outcomes = touchpoints_ingest(items=items, source=IMPORT_ACTOR, now=run.now)
    for row, outcome in zip(valid, outcomes, strict=True):
        if outcome.status == "created":
            chunk.created += 1
        elif outcome.status == "duplicate":
            chunk.unchanged += 1
        else:
            reason = "; ".join(
                f"{name}: {' '.join(messages)}"
                for name, messages in (outcome.errors or {}).items()
            )
            chunk.reject(row.line, row.cells, reason)
    return chunk


def _campaigns_by_name(names: set[str]) -> dict[str, int]:
    if not names:
        return {}
    return {
        name.lower(): campaign_id
        for name, campaign_id in Campaign.objects.filter(
            name__lower__in={n.lower() for n in names}
        ).values_list("name", "id")
    }


def _touchpoints_classify(
    rows: list[TouchpointRow], run: ImportRun, chunk: ImportChunk
) -> None:
    """Dry run: would-create or already-stored (by external id), nothing written."""
    ids = {row.external_id for row in rows if row.external_id}
    stored = set(
        Touchpoint.objects.filter(source=IMPORT_ACTOR, external_id__in=ids).values_list(
            "external_id", flat=True
        )
    )
    for row in rows:
        key = row.external_id
        if key and (key in stored or key in run.seen or key in chunk.seen):
            chunk.unchanged += 1
            continue
        if key:
            chunk.seen[key] = row.line
        chunk.created += 1
