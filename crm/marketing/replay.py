"""A draft scoring model replayed on history, next to the active model.

For a past period [start, end) (UTC dates), each lead is scored under both
models as of the end of a day (its touchpoints before then, decay counted to
then) and its MQL day under a model is the first day of the period whose
score qualifies (threshold, fit minimum, no disqualifying rule). Both models
are computed the same way, never read from the stored history, so the two
columns compare.

A lead's fit does not change in a replay and engagement only decays between
touches, so its score can only start to qualify as of a day it had a
touchpoint, the period's first day, or the day it was created: each lead is
scored as of the end of those days only (and as of the period's start, to
leave out the leads already qualified under that model before the period
began: a lead counts only when it would cross the threshold during the
period), with the bulk path's evaluation
(``scoring.bulk.chunk_evaluate``) by chunks of lead ids, and no longer under
a model once it qualified under it. Account roll-ups and lead facts are read
as they stand today.

The outcome of the leads that would have qualified comes from their real
handoffs (the latest SDR decision: accepted, or rejected with its reason) and
their ``highest_stage``: which is why this lives in ``crm`` (scoring never
reads handoffs). The replay request and its result are a
``scoring.models.ModelReplay`` row, computed by the task ``crm.replay_model``.
"""

from __future__ import annotations

import bisect
import datetime as dt
import logging
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from typing import Any

from django.db import transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from handoff.models import Handoff
from leads.lifecycle import stage_rank
from leads.models import Lead
from scoring import selectors, store
from scoring.bulk import BULK_CHUNK_SIZE, chunk_evaluate, lead_id_ranges
from scoring.engine import ModelSpec, Touch
from scoring.models import ModelReplay, ScoringModel

logger = logging.getLogger(__name__)

#: The longest period a replay covers.
MAX_DAYS = 366
#: The period a replay covers unless told: the last this many days.
DEFAULT_DAYS = 90
#: Leads listed per list (newly qualifying, no longer qualifying).
LIST_LIMIT = 100

DAY = dt.timedelta(days=1)


class ReplayRefused(ValueError):
    """A replay that cannot run, with what to change."""


def default_period(today: dt.date | None = None) -> tuple[dt.date, dt.date]:
    """The last DEFAULT_DAYS whole days: [today - 90, today)."""
    today = today or timezone.now().date()
    return today - dt.timedelta(days=DEFAULT_DAYS), today


def replay_check(
    *,
    draft: ScoringModel,
    start: dt.date,
    end: dt.date,
    today: dt.date | None = None,
) -> ScoringModel:
    """Refuse (ReplayRefused) what cannot be replayed; return the active model
    the draft is compared with."""
    today = today or timezone.now().date()
    if draft.status != ScoringModel.Status.DRAFT:
        raise ReplayRefused(
            f"{draft} is {draft.get_status_display().lower()}: only a draft model "
            "can be replayed. Clone it into a draft first."
        )
    if not draft.rules.exists():
        raise ReplayRefused(
            f"{draft} has no rules: add at least one rule before replaying it."
        )
    if end <= start:
        raise ReplayRefused(
            f"The period ends ({end}) on or before it starts ({start}): "
            "choose an end after the start."
        )
    if end > today:
        raise ReplayRefused(
            f"The period ends in the future ({end}): choose an end on or before "
            f"{today}, the replay covers days that are over."
        )
    if (end - start).days > MAX_DAYS:
        raise ReplayRefused(
            f"The period spans {(end - start).days} days: a replay covers at most "
            f"{MAX_DAYS} days, choose a shorter period."
        )
    active = selectors.model_active()
    if active is None:
        raise ReplayRefused(
            "No scoring model is active: publish one before comparing a draft with it."
        )
    return active


def replay_request(
    *,
    draft: ScoringModel,
    start: dt.date,
    end: dt.date,
    user: Any = None,
    today: dt.date | None = None,
    enqueue: bool = True,
) -> ModelReplay:
    """Check the request, store a pending replay and (with ``enqueue``) run it
    in the background after commit (task ``crm.replay_model``). Nothing is
    stored when refused."""
    from crm.tasks import replay_model_task

    active = replay_check(draft=draft, start=start, end=end, today=today)
    with transaction.atomic():
        replay = ModelReplay.objects.create(
            draft=draft,
            active=active,
            start=start,
            end=end,
            created_by=user if user and user.is_authenticated else None,
        )
        replay_id = replay.id
        if enqueue:
            transaction.on_commit(lambda: replay_model_task.delay(replay_id))
    return replay


def replay_run(*, replay_id: int) -> ModelReplay:
    """Compute a pending replay, storing its progress per chunk and then its
    result; a failure is stored on the row (and raised). A replay already
    done is left as it is."""
    replay = ModelReplay.objects.select_related("draft", "active").get(id=replay_id)
    if replay.status == ModelReplay.Status.DONE:
        return replay
    if replay.active is None:
        replay_fail(replay, "The active model it was compared with was deleted.")
        return replay
    total = Lead.objects.filter(erased_at__isnull=True).count()
    ModelReplay.objects.filter(id=replay.id).update(
        status=ModelReplay.Status.RUNNING, done=0, total=total, error=""
    )

    def progress(done: int) -> None:
        ModelReplay.objects.filter(id=replay.id).update(done=F("done") + done)

    try:
        result = replay_compute(
            draft=replay.draft,
            active=replay.active,
            start=replay.start,
            end=replay.end,
            progress=progress,
        )
    except Exception:
        logger.exception("Replay %s failed", replay.id)
        replay_fail(replay, "The replay failed unexpectedly: start it again.")
        raise
    ModelReplay.objects.filter(id=replay.id).update(
        status=ModelReplay.Status.DONE,
        done=total,
        result=result,
        finished_at=timezone.now(),
    )
    replay.refresh_from_db()
    return replay


def replay_fail(replay: ModelReplay, error: str) -> None:
    ModelReplay.objects.filter(id=replay.id).update(
        status=ModelReplay.Status.FAILED, error=error[:300], finished_at=timezone.now()
    )
    replay.refresh_from_db()


def _moment(day: dt.date) -> dt.datetime:
    """The end of ``day`` (UTC): the start of the next day."""
    return dt.datetime.combine(day + DAY, dt.time(), tzinfo=dt.UTC)


def mql_days(
    *,
    specs: list[ModelSpec],
    start: dt.date,
    end: dt.date,
    chunk_size: int = BULK_CHUNK_SIZE,
    progress: Callable[[int], Any] | None = None,
) -> list[dict[int, dt.date]]:
    """For each spec, the leads whose score under it crosses the threshold
    during [start, end): the first day as of whose end it qualifies. A lead
    whose score under a spec already qualified at the period's start (the
    end of the day before) is left out for that spec: it was already
    qualified, not newly qualifying in the period."""
    first = [{} for _ in specs]  # type: list[dict[int, dt.date]]
    end_at = _moment(end - DAY)
    start_at = dt.datetime.combine(start, dt.time(), tzinfo=dt.UTC)
    for low, high in lead_id_ranges(chunk_size):
        leads = list(
            Lead.objects.filter(
                id__gte=low, id__lt=high, erased_at__isnull=True, created_at__lt=end_at
            )
            .values("id", "created_at", *store.LEAD_COLUMNS, *store.ACCOUNT_COLUMNS)
            .order_by("id")
        )
        if leads:
            _chunk_mql_days(
                specs=specs,
                leads=leads,
                low=low,
                high=high,
                start=start,
                start_at=start_at,
                end_at=end_at,
                first=first,
            )
        if progress is not None:
            progress(
                Lead.objects.filter(
                    id__gte=low, id__lt=high, erased_at__isnull=True
                ).count()
            )
    return first


def _chunk_mql_days(
    *,
    specs: list[ModelSpec],
    leads: list[dict[str, Any]],
    low: int,
    high: int,
    start: dt.date,
    start_at: dt.datetime,
    end_at: dt.datetime,
    first: list[dict[int, dt.date]],
) -> None:
    also = specs[1] if len(specs) > 1 else None
    touches = store.touches_by_lead(specs[0], low, high, also=also)
    times: dict[int, list[dt.datetime]] = {}
    for lead_id, lead_touches in touches.items():
        lead_touches.sort(key=lambda t: t.occurred_at)
        times[lead_id] = [t.occurred_at for t in lead_touches]
    # Each lead's moments: the period's start (the leads that already existed,
    # to leave out those already qualified then), the end of the first day, of
    # its creation day and of each day it had a touchpoint, within the period
    # and once it existed.
    at: dict[dt.datetime, list[dict[str, Any]]] = defaultdict(list)
    for lead in leads:
        created = lead["created_at"]
        days = {start, created.astimezone(dt.UTC).date()}
        for occurred_at in times.get(lead["id"], ()):
            if start_at <= occurred_at < end_at:
                days.add(occurred_at.astimezone(dt.UTC).date())
        if created < start_at:
            at[start_at].append(lead)
        for day in days:
            moment = _moment(day)
            if start_at < moment <= end_at and created < moment:
                at[moment].append(lead)
    # Per model, the leads already qualified at the period's start: they
    # cannot newly qualify during it, under either model.
    already: list[set[int]] = [set() for _ in specs]
    for moment in sorted(at):
        for spec, found, before_start in zip(specs, first, already, strict=True):
            group = [
                lead
                for lead in at[moment]
                if lead["id"] not in found and lead["id"] not in before_start
            ]
            if not group:
                continue
            before: dict[int, list[Touch]] = {}
            for lead in group:
                lead_touches = touches.get(lead["id"])
                if lead_touches:
                    cut = bisect.bisect_left(times[lead["id"]], moment)
                    before[lead["id"]] = lead_touches[:cut]
            results = chunk_evaluate(
                spec=spec,
                leads=group,
                low=low,
                high=high,
                now=moment,
                touches=before,
            )
            if moment == start_at:
                before_start.update(
                    lead_id for lead_id, result in results.items() if result.qualifies
                )
                continue
            day = moment.date() - DAY
            for lead_id, result in results.items():
                if result.qualifies:
                    found[lead_id] = day


def outcomes(lead_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """Each lead's latest SDR decision (``accepted``/``rejected`` with the
    reason's label, or None) and ``highest_stage``."""
    ids = sorted(set(lead_ids))
    found: dict[int, dict[str, Any]] = {}
    for n in range(0, len(ids), 5_000):
        part = ids[n : n + 5_000]
        for lead_id, email, first_name, last_name, highest in Lead.objects.filter(
            id__in=part
        ).values_list("id", "email", "first_name", "last_name", "highest_stage"):
            found[lead_id] = {
                "email": email,
                "name": f"{first_name} {last_name}".strip(),
                "highest_stage": highest,
                "decision": None,
                "reason": None,
            }
        decided = (
            Handoff.objects.filter(
                lead_id__in=part,
                status__in=[Handoff.Status.ACCEPTED, Handoff.Status.REJECTED],
            )
            .order_by("lead_id", "decided_at", "id")
            .values_list("lead_id", "status", "reason__label")
        )
        for lead_id, status, reason in decided:
            found[lead_id]["decision"] = status
            found[lead_id]["reason"] = reason if status == "rejected" else None
    return found


def _figures(
    lead_ids: Iterable[int], outcome: dict[int, dict[str, Any]]
) -> dict[str, Any]:
    ids = list(lead_ids)
    reasons: Counter[str] = Counter()
    accepted = rejected = sql = customer = 0
    for lead_id in ids:
        o = outcome[lead_id]
        if o["decision"] == "accepted":
            accepted += 1
        elif o["decision"] == "rejected":
            rejected += 1
            reasons[o["reason"]] += 1
        rank = stage_rank(o["highest_stage"])
        sql += rank >= stage_rank(Lead.Stage.SQL)
        customer += rank >= stage_rank(Lead.Stage.CUSTOMER)
    return {
        "mql": len(ids),
        "accepted": accepted,
        "rejected": rejected,
        # A list, not an object: the stored JSON (jsonb) keeps no key order.
        "reasons": [
            {"reason": reason, "count": count}
            for reason, count in sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))
        ],
        "sql": sql,
        "customer": customer,
    }


def _listed(
    days: dict[int, dt.date], ids: set[int], outcome: dict[int, dict[str, Any]]
) -> dict[str, Any]:
    ordered = sorted(ids, key=lambda i: (days[i], i))
    return {
        "count": len(ordered),
        "leads": [
            {
                "id": lead_id,
                "name": outcome[lead_id]["name"],
                "email": outcome[lead_id]["email"],
                "mql_day": days[lead_id].isoformat(),
                "decision": outcome[lead_id]["decision"],
                "highest_stage": outcome[lead_id]["highest_stage"],
                "url": reverse("crm:lead_detail", args=[lead_id]),
            }
            for lead_id in ordered[:LIST_LIMIT]
        ],
    }


def replay_compute(
    *,
    draft: ScoringModel,
    active: ScoringModel,
    start: dt.date,
    end: dt.date,
    chunk_size: int = BULK_CHUNK_SIZE,
    progress: Callable[[int], Any] | None = None,
) -> dict[str, Any]:
    """The replay's figures as plain JSON: per week (Monday-based) and in
    total, for the draft and the active model, how many leads would have
    become MQL and their real outcomes; the leads newly qualifying under the
    draft and those no longer qualifying (the first LIST_LIMIT of each)."""
    draft_days, active_days = mql_days(
        specs=[selectors.model_spec(draft), selectors.model_spec(active)],
        start=start,
        end=end,
        chunk_size=chunk_size,
        progress=progress,
    )
    outcome = outcomes([*draft_days, *active_days])
    weeks = []
    monday = start - dt.timedelta(days=start.weekday())
    while monday < end:
        following = monday + dt.timedelta(days=7)
        weeks.append(
            {
                "week": monday.isoformat(),
                "draft": _figures(
                    (i for i, d in draft_days.items() if monday <= d < following),
                    outcome,
                ),
                "active": _figures(
                    (i for i, d in active_days.items() if monday <= d < following),
                    outcome,
                ),
            }
        )
        monday = following
    newly = set(draft_days) - set(active_days)
    lost = set(active_days) - set(draft_days)
    return {
        "draft": {"id": draft.id, "name": str(draft)},
        "active": {"id": active.id, "name": str(active)},
        "start": start.isoformat(),
        "end": end.isoformat(),
        "weeks": weeks,
        "totals": {
            "draft": _figures(draft_days, outcome),
            "active": _figures(active_days, outcome),
        },
        "newly_qualifying": _listed(draft_days, newly, outcome),
        "no_longer_qualifying": _listed(active_days, lost, outcome),
    }


def replay_latest(draft: ScoringModel) -> ModelReplay | None:
    """The draft's latest replay (any status)."""
    return ModelReplay.objects.filter(draft=draft).first()
