"""Scoring's reactions to what the leads domain announces (after commit)."""

from __future__ import annotations

import logging
from typing import Any

from scoring.tasks import RESCORE_TASK_SIZE, rescore_leads_task

logger = logging.getLogger(__name__)


def on_leads_changed(sender: Any, *, lead_ids: list[int], **kwargs: Any) -> None:
    """Enqueue a rescore of the changed leads (the marks cover a lost message)."""
    for start in range(0, len(lead_ids), RESCORE_TASK_SIZE):
        rescore_leads_task.delay(lead_ids[start : start + RESCORE_TASK_SIZE])
