"""The handoff's reactions to what the leads domain announces (after commit)."""

from __future__ import annotations

from typing import Any

from handoff.tasks import open_handoff_task
from leads.models import Stage


def on_lead_stage_changed(
    sender: Any, *, lead_id: int, to_stage: str, **kwargs: Any
) -> None:
    """A lead that became an MQL gets a handoff (the reconciler covers a lost one)."""
    if to_stage == Stage.MQL:
        open_handoff_task.delay(lead_id)
