"""Draft simulation: what publishing a model would do to the leads today.

Scores the leads chunk by chunk as the rescore does (scoring.bulk), under the
model and under the active one, and counts the leads that would become MQL,
stay held in their recycle cool-down or stop qualifying, and the grades.
Stores nothing; scoring.previews runs it in the background per chunk.
"""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any

from django.utils import timezone

from scoring import selectors, store
from scoring.bulk import BULK_CHUNK_SIZE, chunk_evaluate, chunk_leads, lead_id_ranges
from scoring.engine import ModelSpec
from scoring.models import ScoringModel
from scoring.promotion import PROMOTABLE_STAGES

GRADES = ("A", "B", "C", "D")


def simulation_counts_empty() -> dict[str, Any]:
    """Counts of a simulation before any lead (see model_simulate)."""
    return {
        "leads_scored": 0,
        "would_become_mql": 0,
        "held_in_cool_down": 0,
        "no_longer_qualifying": 0,
        "grades": dict.fromkeys(GRADES, 0),
        "active_grades": dict.fromkeys(GRADES, 0),
    }


def simulation_counts_add(total: dict[str, Any], part: dict[str, Any]) -> None:
    """Add the counts of one range of leads to ``total`` (in place)."""
    for key, value in part.items():
        if isinstance(value, dict):
            for grade, count in value.items():
                total[key][grade] += count
        else:
            total[key] += value


def simulate_range(
    *,
    spec: ModelSpec,
    active_spec: ModelSpec | None,
    low: int,
    high: int,
    now: dt.datetime,
) -> dict[str, Any]:
    """The simulation counts (see model_simulate) of the leads in [low, high).

    ``active_spec`` is the active model's (None when there is none; ``spec``
    itself when it is the active one). Reads only: the leads, their
    touchpoints once for both models, and the recycle holds of those that
    would qualify.
    """
    counts = simulation_counts_empty()
    leads = chunk_leads(low=low, high=high)
    if not leads:
        return counts
    other = active_spec if active_spec is not None and active_spec is not spec else None
    touches = store.touches_by_lead(spec, low, high, also=other)
    evaluate_chunk = functools.partial(
        chunk_evaluate, leads=leads, low=low, high=high, now=now, touches=touches
    )
    results = evaluate_chunk(spec=spec)
    current = evaluate_chunk(spec=other) if other is not None else results
    promotable = {
        lead["id"]: lead["recycle_until"]
        for lead in leads
        if results[lead["id"]].qualifies and lead["stage"] in PROMOTABLE_STAGES
    }
    checks = selectors.recycle_holds_check(holds=promotable, now=now)
    for lead in leads:
        result = results[lead["id"]]
        counts["leads_scored"] += 1
        counts["grades"][result.grade] += 1
        if lead["id"] in promotable:
            if lead["id"] in checks and checks[lead["id"]] is None:
                counts["held_in_cool_down"] += 1
            else:
                counts["would_become_mql"] += 1
        if active_spec is not None:
            before = current[lead["id"]]
            counts["active_grades"][before.grade] += 1
            if before.qualifies and not result.qualifies:
                counts["no_longer_qualifying"] += 1
    return counts


def simulation_specs(model: ScoringModel) -> tuple[ModelSpec, ModelSpec | None]:
    """The specs a simulation of ``model`` compares: its own, the active one's."""
    spec = selectors.model_spec(model)
    active = selectors.model_active()
    if active is None:
        return spec, None
    return spec, spec if active.id == model.id else selectors.model_spec(active)


def model_simulate(
    *,
    model: ScoringModel,
    now: dt.datetime | None = None,
    chunk_size: int = BULK_CHUNK_SIZE,
) -> dict[str, Any]:
    """What publishing ``model`` would do to the leads today; stores nothing.

    Scores every lead that was not erased under ``model`` and under the
    active model (when that is another one), chunk by chunk as the rescore
    does, and counts:

    - ``leads_scored``: the leads a publish would rescore;
    - ``would_become_mql``: leads in ``lead`` or ``nurture`` that would
      qualify, so the rescore would move them to ``mql`` (and hand them over);
    - ``held_in_cool_down``: recycled leads that would qualify but stay in
      nurture, because their recycle cool-down runs past ``now`` and they had
      no high-intent touchpoint since (not counted in ``would_become_mql``);
    - ``no_longer_qualifying``: leads that qualify under the active model but
      would not under ``model`` (a lead already past ``lead`` keeps its stage);
    - ``grades`` and ``active_grades``: how many leads get each grade (A-D)
      under ``model`` and under the active model (all 0 without one).

    Reads only (a few queries per chunk). At a million leads this takes
    many minutes, so the publish page runs it in the background, a task per
    chunk (scoring.previews); this runs every chunk here, for scripts and
    tests.
    """
    now = now or timezone.now()
    spec, active_spec = simulation_specs(model)
    counts = simulation_counts_empty()
    for low, high in lead_id_ranges(chunk_size):
        simulation_counts_add(
            counts,
            simulate_range(
                spec=spec, active_spec=active_spec, low=low, high=high, now=now
            ),
        )
    return counts
