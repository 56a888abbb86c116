"""Which SDR of a team gets the next MQL: pure functions over plain data.

``handoff.services.opening`` loads the candidates
(``selectors.assignment_candidates``) under the team's row lock (so two
workers assigning at once take turns and both see the other's result) and
calls ``choose``. Everything here is deterministic: ties are broken by who was
assigned least recently (the team's turn counter), then by membership order.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction

ROUND_ROBIN = "round_robin"
WEIGHTED = "weighted"
LEAST_LOADED = "least_loaded"


@dataclass(frozen=True)
class Candidate:
    member_id: int
    user_id: int
    weight: int
    assigned_count: int
    last_turn: int
    open_count: int
    today_count: int
    daily_cap: int | None
    open_cap: int | None
    away: bool


def skip_reason(candidate: Candidate) -> str:
    """Why ``candidate`` cannot take a new MQL now, or "" if they can."""
    if candidate.away:
        return "away"
    if candidate.daily_cap is not None and candidate.today_count >= candidate.daily_cap:
        return f"at the daily cap of {candidate.daily_cap}"
    if candidate.open_cap is not None and candidate.open_count >= candidate.open_cap:
        return f"at the cap of {candidate.open_cap} open handoffs"
    return ""


def _recency(candidate: Candidate) -> tuple[int, int]:
    return (candidate.last_turn, candidate.member_id)


def choose(
    strategy: str,
    candidates: Sequence[Candidate],
    *,
    exclude_user_ids: Iterable[int] = (),
    prefer_user_id: int | None = None,
) -> Candidate | None:
    """The candidate who gets the next MQL, or None when nobody can take it.

    Skips people who are away or at a cap, and those in ``exclude_user_ids``
    (the SDR who just let a handoff breach) unless nobody else can take it.
    ``prefer_user_id`` (the account's owner) wins when eligible.

    - round robin: whoever was assigned least recently;
    - weighted: the lowest assignments-per-weight, so over time each person's
      share is proportional to their weight;
    - least loaded: the fewest open handoffs, then least recently assigned.
    """
    eligible = [c for c in candidates if not skip_reason(c)]
    excluded = set(exclude_user_ids)
    preferred = [c for c in eligible if c.user_id not in excluded] or eligible
    if not preferred:
        return None
    for candidate in preferred:
        if candidate.user_id == prefer_user_id:
            return candidate
    if strategy == WEIGHTED:
        return min(
            preferred,
            key=lambda c: (Fraction(c.assigned_count + 1, c.weight), *_recency(c)),
        )
    if strategy == LEAST_LOADED:
        return min(preferred, key=lambda c: (c.open_count, *_recency(c)))
    return min(preferred, key=_recency)
