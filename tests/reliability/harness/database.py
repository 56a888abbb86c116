"""What a scenario reads from its stack's database, or has a step write there.

Staleness (leads whose score misses a touchpoint), the progress of a model
publish, and the ``prepare`` step that creates the load's users and lead
pool (``fixtures``, run inside the stack by ``Stack.harness``).
"""

from __future__ import annotations

import time
from typing import Any

from tests.reliability.harness.stack import Stack

#: Seconds the rescoring gets to catch up after the load.
SETTLE_SECONDS = 60


STALE_SQL = """
SELECT count(*) FROM leads_lead l
WHERE l.erased_at IS NULL AND (
    l.rescore_requested_at IS NOT NULL
    OR EXISTS (
        SELECT 1 FROM leads_touchpoint t
        WHERE t.lead_id = l.id
          AND (l.scored_at IS NULL OR t.received_at > l.scored_at)
    )
)
"""


def stale_leads(stack: Stack) -> int:
    """Leads still marked for a rescore, or scored before their newest
    touchpoint arrived (or never scored though they have touchpoints)."""
    with stack.db() as conn:
        return conn.execute(STALE_SQL).fetchone()[0]


def settle(stack: Stack, seconds: float = SETTLE_SECONDS) -> tuple[int, float]:
    """Wait up to ``seconds`` for no stale lead; return (stale, seconds waited)."""
    began = time.monotonic()
    while True:
        stale = stale_leads(stack)
        waited = time.monotonic() - began
        if stale == 0 or waited >= seconds:
            return stale, round(waited, 1)
        time.sleep(2)


def stale_breakdown(stack: Stack) -> dict[str, int]:
    """Why leads are stale: still marked (their rescore is queued or was
    lost), or unmarked yet scored before their newest touchpoint arrived
    (a rescore wrote an older result), and the rescore messages still queued
    for the realtime worker (Redis)."""
    import redis

    with stack.db() as conn:
        marked, unmarked = conn.execute(
            "SELECT count(*) FILTER (WHERE rescore_requested_at IS NOT NULL), "  # nosec B608: a constant query
            "count(*) FILTER (WHERE rescore_requested_at IS NULL) "
            f"FROM ({STALE_SQL.replace('count(*)', 'l.rescore_requested_at', 1)}) s"
        ).fetchone()
    try:
        queued = redis.Redis.from_url(stack.redis_url, socket_timeout=5).llen(
            "realtime"
        )
    except redis.RedisError:
        queued = -1
    return {"marked": marked, "unmarked": unmarked, "realtime_queued": queued}


def drain(stack: Stack, seconds: float) -> float | None:
    """Seconds more until no lead is stale, None if not within ``seconds``:
    tells a backlog that clears late from leads that stay stale."""
    began = time.monotonic()
    while time.monotonic() - began < seconds:
        if stale_leads(stack) == 0:
            return round(time.monotonic() - began, 1)
        time.sleep(5)
    return None


def prepare(stack: Stack, pool: int) -> dict[str, Any]:
    """The load's API users and ``pool`` leads (``fixtures.load_prepare``)."""
    return stack.harness("prepare", "--pool", str(pool))


def publish_progress(stack: Stack, model_id: int) -> dict[str, Any]:
    with stack.db() as conn:
        total, on_new, mismatched, finished = conn.execute(
            """
            SELECT
              (SELECT count(*) FROM leads_lead WHERE erased_at IS NULL),
              (SELECT count(*) FROM scoring_leadscore s
                 JOIN leads_lead l ON l.id = s.lead_id
                WHERE s.model_id = %(m)s AND l.erased_at IS NULL),
              (SELECT count(*) FROM leads_lead l
                 LEFT JOIN scoring_leadscore s
                   ON s.lead_id = l.id AND s.model_id = %(m)s
                WHERE l.erased_at IS NULL
                  AND (s.id IS NULL OR s.total <> l.score)),
              (SELECT rescore_finished_at FROM scoring_scoringmodel WHERE id = %(m)s)
            """,
            {"m": model_id},
        ).fetchone()
    return {
        "total": total,
        "on_new": on_new,
        "mismatched": mismatched,
        "finished": finished,
    }
