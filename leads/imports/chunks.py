"""What a running import job carries from chunk to chunk (``ImportRun``) and
the outcome of one chunk (``ImportChunk``), shared by the job runner and the
lead and touchpoint chunks.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from leads.imports.rows import ColumnPlan
from leads.models import ImportJob

#: ``system_actor`` of imported stage transitions and ``source`` of touchpoints.
IMPORT_ACTOR = "import"


@dataclass
class ImportRun:
    """What a run carries from chunk to chunk (committed state only)."""

    job: ImportJob
    plan: ColumnPlan
    types: dict[int, str]
    now: dt.datetime
    tz: dt.tzinfo | None
    rejects: list[dict[str, Any]]
    notes: list[dict[str, Any]]
    # E-mails (leads) / external ids (touchpoints) seen -> their first line.
    seen: dict[str, int] = field(default_factory=dict)
    kinds: dict[str, str] = field(default_factory=dict)


@dataclass
class ImportChunk:
    """The outcome of one chunk, merged into the run after it commits."""

    records: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    refused: int = 0
    rejects: list[dict[str, Any]] = field(default_factory=list)
    notes: list[dict[str, Any]] = field(default_factory=list)
    seen: dict[str, int] = field(default_factory=dict)

    def reject(self, line: int, cells: list[str], reason: str) -> None:
        # jsonb cannot hold NUL: keep the rejected row visible with U+FFFD.
        row = [cell.replace("\x00", "\ufffd") for cell in cells]
        self.rejects.append({"line": line, "reason": reason, "row": row})

    def note(self, line: int, message: str) -> None:
        self.notes.append({"line": line, "message": message})

    def refuse(self, line: int, message: str) -> None:
        """A cell of a stored row that was not applied: counted and noted."""
        self.refused += 1
        self.note(line, message)
