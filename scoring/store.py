"""Reads and writes of scores shared by the per-lead and the bulk path.

Both paths read a lead's touchpoints and store its score with these
functions, so they cannot drift apart, and both are fast: on PostgreSQL the
reads use a plain cursor and the writes take all rows as one JSON parameter
(``jsonb_to_recordset``); elsewhere (the embedded SQLite default) the ORM.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Mapping
from decimal import Decimal
from functools import lru_cache
from types import MappingProxyType
from typing import Any

from django.db import connection
from django.db.models import FilteredRelation, Q

from leads.locks import leads_for_update, lock_lead_no_key_raw
from leads.models import Account, Lead, Touchpoint
from scoring.engine import (
    ACTIVITY_KINDS,
    CONDITION_KINDS,
    ModelSpec,
    ScoreResult,
    Touch,
)
from scoring.models import (
    AccountRollupRequest,
    AccountScore,
    LeadScore,
    LeadScoreHistory,
    ScoringModel,
)
from scoring.selectors import ACCOUNT_FACT_FIELDS, LEAD_FACT_FIELDS, facts_from_values

#: A lead's (total, fit score, engagement score): history is written when it moves.
Totals = tuple[Decimal, Decimal, Decimal]

#: What scoring reads of a lead (as ``values()`` names): the facts rules test,
#: the stage and recycle hold promotion looks at, and the account's facts.
LEAD_COLUMNS = (
    *LEAD_FACT_FIELDS,
    "attributes",
    "stage",
    "recycle_until",
    "account_id",
)
ACCOUNT_COLUMNS = tuple(f"account__{f}" for f in ACCOUNT_FACT_FIELDS)
#: The fit-rule attribute that reads the account's engagement roll-up.
ACCOUNT_SCORE_ATTRIBUTE = "account.score"


def uses_account_score(spec: ModelSpec) -> bool:
    """Whether a rule of ``spec`` tests the account's engagement roll-up."""
    return any(
        rule.kind in CONDITION_KINDS and rule.attribute == ACCOUNT_SCORE_ATTRIBUTE
        for rule in spec.rules
    )


def facts_from_row(row: dict[str, Any], account_score: Any) -> dict[str, Any]:
    """The facts of a lead read with LEAD_COLUMNS and ACCOUNT_COLUMNS."""
    account = (
        {f: row[f"account__{f}"] for f in ACCOUNT_FACT_FIELDS}
        if row["account_id"]
        else None
    )
    return facts_from_values(row, account, account_score)


def lead_for_rescore(*, lead_id: int, spec: ModelSpec) -> dict[str, Any] | None:
    """Lock one lead and read all the per-lead path needs of it, in one read.

    Locks the lead row FOR NO KEY UPDATE (only that row: the joined rows are
    read, not locked), like ``lock_lead(no_key=True)``, for the caller's
    transaction; call it inside ``transaction.atomic``. Returns the lead's
    LEAD_COLUMNS and ACCOUNT_COLUMNS, ``account_score`` (the account's roll-up
    under ``spec``'s model, read only when a rule tests it, else None) and
    ``previous`` (its stored totals under that model, or None); None for a
    missing lead. On PostgreSQL two round trips (the lock, then one joined
    read) instead of four (lock, account, account score, previous score): on
    a single-lead rescore they were half the time.
    """
    with_rollup = uses_account_score(spec)
    if connection.vendor == "postgresql":
        row = _lead_for_rescore_pg(lead_id, spec.id, with_rollup)
    else:
        row = _lead_for_rescore_orm(lead_id, spec.id, with_rollup)
    if row is None:
        return None
    totals = (
        row.pop("previous_total"),
        row.pop("previous_fit"),
        row.pop("previous_engagement"),
    )
    row["previous"] = None if totals[0] is None else tuple(Decimal(v) for v in totals)
    return row


def previous_totals(*, model: ScoringModel, lead_ids: list[int]) -> dict[int, Totals]:
    """The stored (total, fit, engagement) of these leads under ``model``.

    One query: over the id range when the leads are neighbours (a chunk: a
    range reads the unique index in order), else for exactly these ids.
    """
    if not lead_ids:
        return {}
    wanted = set(lead_ids)
    low, high = min(wanted), max(wanted)
    rows = LeadScore.objects.filter(model=model, lead_id__gte=low, lead_id__lte=high)
    if high - low + 1 > 2 * len(wanted):
        rows = rows.filter(lead_id__in=sorted(wanted))
    rows = rows.values_list("lead_id", "total", "fit_score", "engagement_score")
    return {
        lead_id: (Decimal(t), Decimal(f), Decimal(e))
        for lead_id, t, f, e in rows
        if lead_id in wanted
    }


def _lead_for_rescore_orm(
    lead_id: int, model_id: int, with_rollup: bool
) -> dict[str, Any] | None:
    query = (
        leads_for_update(id=lead_id, no_key=True)
        .order_by()
        .annotate(
            previous=FilteredRelation("scores", condition=Q(scores__model_id=model_id))
        )
    )
    columns = [
        *LEAD_COLUMNS,
        *ACCOUNT_COLUMNS,
        "previous__total",
        "previous__fit_score",
        "previous__engagement_score",
    ]
    if with_rollup:
        query = query.annotate(
            rollup=FilteredRelation(
                "account__scores", condition=Q(account__scores__model_id=model_id)
            )
        )
        columns.append("rollup__engagement_score")
    row = next(iter(query.values(*columns)), None)
    if row is None:
        return None
    row["account_score"] = row.pop("rollup__engagement_score", None)
    row["previous_total"] = row.pop("previous__total")
    row["previous_fit"] = row.pop("previous__fit_score")
    row["previous_engagement"] = row.pop("previous__engagement_score")
    return row


@lru_cache(maxsize=2)
def _lead_for_rescore_sql(with_rollup: bool) -> tuple[str, tuple[str, ...]]:
    """The statement _lead_for_rescore_pg runs, and the names of its columns."""
    lead, account = Lead._meta, Account._meta
    selected = [
        *(f"l.{lead.get_field(name).column}" for name in LEAD_COLUMNS),
        *(f"a.{account.get_field(name).column}" for name in ACCOUNT_FACT_FIELDS),
        "s.total",
        "s.fit_score",
        "s.engagement_score",
        "r.engagement_score" if with_rollup else "NULL",
    ]
    names = (
        *LEAD_COLUMNS,
        *ACCOUNT_COLUMNS,
        "previous_total",
        "previous_fit",
        "previous_engagement",
        "account_score",
    )
    rollup = (
        f"LEFT JOIN {AccountScore._meta.db_table} AS r "
        "ON r.account_id = l.account_id AND r.model_id = %(model)s "
        if with_rollup
        else ""
    )
    sql = (
        f"SELECT {', '.join(selected)} FROM {lead.db_table} AS l "  # nosec B608: names from model meta, values bound
        f"LEFT JOIN {account.db_table} AS a ON a.id = l.account_id "
        f"LEFT JOIN {LeadScore._meta.db_table} AS s "
        "ON s.lead_id = l.id AND s.model_id = %(model)s "
        f"{rollup}"
        "WHERE l.id = %(lead)s"
    )
    return sql, names


def _lead_for_rescore_pg(
    lead_id: int, model_id: int, with_rollup: bool
) -> dict[str, Any] | None:
    # The ORM spent longer building this query than PostgreSQL running it
    # (a third of a single-lead rescore); the statement is built once.
    sql, names = _lead_for_rescore_sql(with_rollup)
    # Lock first, read in a second statement. A statement that waits for the
    # lock re-reads the locked row but sees the joined rows as of its start:
    # after waiting out a concurrent rescore of this lead it missed the score
    # that one stored and wrote a second history row.
    if not lock_lead_no_key_raw(lead_id):
        return None
    with connection.cursor() as cursor:
        cursor.execute(sql, {"model": model_id, "lead": lead_id})
        found = cursor.fetchone()
    if found is None:
        return None
    row = dict(zip(names, found, strict=True))
    # jsonb arrives as its text, as Django's PostgreSQL backend loads it.
    attributes = row["attributes"]
    row["attributes"] = json.loads(attributes) if attributes is not None else None
    return row


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MISSING = object()
_NO_PROPERTIES: Mapping[str, Any] = MappingProxyType({})


def touches_by_lead(
    spec: ModelSpec,
    low: int,
    high: int,
    *,
    also: ModelSpec | None = None,
    ids: list[int] | None = None,
) -> dict[int, list[Touch]]:
    """The touchpoints of leads with ids in [low, high) that ``spec`` counts.

    Only the kinds its activity rules count, and of each touchpoint's
    properties only those its rules test (top-level keys); with ``also``,
    those another model counts too (a simulation scores both from one
    read); with ``ids``, only of those leads (scattered ids in the range).
    One query. The per-lead path asks for one lead ([id, id + 1)), the bulk
    path for a chunk, the real-time path for the leads of one task.
    """
    rules = [
        r
        for model in (spec, also)
        if model is not None
        for r in model.rules
        if r.kind in ACTIVITY_KINDS
    ]
    kinds = {r.touchpoint_kind for r in rules}
    if not kinds:
        return {}
    props = sorted({r.property_name for r in rules if r.property_name})
    base = Touchpoint.objects.filter(
        lead_id__gte=low, lead_id__lt=high, kind_id__in=kinds
    ).order_by()
    if ids is not None:
        base = base.filter(lead_id__in=ids)
    touches: dict[int, list[Touch]] = defaultdict(list)
    if connection.vendor == "postgresql":
        # Bring back only the property values the rules test (jsonb -> JSON
        # text, decoded once per distinct text): decoding whole documents in
        # Python would dominate the run. Read with a plain cursor and the time
        # as epoch microseconds: the ORM's per-value converters cost as much
        # as the arithmetic.
        picks = "".join(", properties -> %s" for _ in props)
        sql = (
            "SELECT lead_id, id, kind, "  # nosec B608: names from model meta, values bound
            f"(extract(epoch FROM occurred_at) * 1000000)::bigint{picks} "
            f"FROM {Touchpoint._meta.db_table} "
            "WHERE lead_id >= %s AND lead_id < %s AND kind = ANY(%s)"
        )
        params = [*props, low, high, sorted(kinds)]
        if ids is not None:
            sql += " AND lead_id = ANY(%s)"
            params.append(list(ids))
        # All rows at once (iterating the cursor costs a call per row) and
        # the values decoded through one cache (a JSON text -> its value).
        decoded: dict[str | None, Any] = {None: None}
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
        epoch, microseconds = _EPOCH, dt.timedelta(microseconds=1)
        if not props:
            # No rule tests a property: every touch shares one empty mapping.
            for lead_id, touch_id, kind, micros in rows:
                touches[lead_id].append(
                    Touch(touch_id, kind, epoch + micros * microseconds, _NO_PROPERTIES)
                )
            return touches
        if len(props) == 1:
            # One tested property (the common case): no per-row lists.
            (name,) = props
            for lead_id, touch_id, kind, micros, text in rows:
                value = decoded.get(text, _MISSING)
                if value is _MISSING:
                    value = decoded[text] = json.loads(text)
                touches[lead_id].append(
                    Touch(touch_id, kind, epoch + micros * microseconds, {name: value})
                )
            return touches
        for lead_id, touch_id, kind, micros, *texts in rows:
            values = []
            for text in texts:
                value = decoded.get(text, _MISSING)
                if value is _MISSING:
                    value = decoded[text] = json.loads(text)
                values.append(value)
            touches[lead_id].append(
                Touch(
                    touch_id,
                    kind,
                    epoch + micros * microseconds,
                    dict(zip(props, values, strict=True)),
                )
            )
    else:
        # SQLite's JSON_EXTRACT loses the difference between "5" and 5, so read
        # the documents whole there; the embedded default is small anyway.
        rows = base.values_list("lead_id", "id", "kind_id", "occurred_at", "properties")
        for lead_id, touch_id, kind, occurred_at, document in rows.iterator(20_000):
            document = document or {}
            properties = {name: document.get(name) for name in props}
            touches[lead_id].append(Touch(touch_id, kind, occurred_at, properties))
    return touches


def scores_write(
    *,
    model: ScoringModel,
    results: dict[int, ScoreResult],
    now: dt.datetime,
    read_at: dt.datetime,
    previous: dict[int, Totals] | None = None,
) -> None:
    """Store the results of ``model`` for these leads: scores, history, lead columns.

    Upserts each LeadScore, adds a history row where (total, fit, engagement)
    differs from ``previous`` (read here when not given: the caller may have
    read it with the lead), writes the score columns of the leads and clears
    their rescore mark unless it is newer than ``read_at`` (reliability rule 1).
    A lead that is not marked and whose columns already hold these values
    (score, fit, engagement, grade) is not written at all, so its
    ``scored_at`` stays when its score was last written. Each lead write
    pays every index of the wide lead row (the largest share of a bulk
    chunk's PostgreSQL time), and a rescore often leaves a score as it was:
    the decay of a lead with no recent activity, a published model whose
    changed rules the lead does not meet.
    A fixed number of statements for any number of leads; running it twice
    writes the same rows and no second history row.
    """
    if not results:
        return
    if previous is None:
        previous = previous_totals(model=model, lead_ids=list(results))
    if connection.vendor == "postgresql":
        _scores_write_pg(
            model=model, results=results, now=now, read_at=read_at, previous=previous
        )
        return
    ids = list(results)
    LeadScore.objects.bulk_create(
        [
            LeadScore(
                lead_id=lead_id,
                model=model,
                total=r.total,
                fit_score=r.fit_score,
                engagement_score=r.engagement_score,
                grade=r.grade,
                breakdown=r.items,
                gated_by=r.gated_by,
                computed_at=now,
            )
            for lead_id, r in results.items()
        ],
        update_conflicts=True,
        unique_fields=["lead", "model"],
        update_fields=[
            "total",
            "fit_score",
            "engagement_score",
            "grade",
            "breakdown",
            "gated_by",
            "computed_at",
        ],
        batch_size=2_000,
    )
    LeadScoreHistory.objects.bulk_create(
        [
            LeadScoreHistory(
                lead_id=lead_id,
                model=model,
                total=r.total,
                fit_score=r.fit_score,
                engagement_score=r.engagement_score,
                at=now,
            )
            for lead_id, r in results.items()
            if previous.get(lead_id) != (r.total, r.fit_score, r.engagement_score)
        ],
        batch_size=2_000,
    )
    # One prepared UPDATE per lead (executemany): bulk_update's CASE WHEN per
    # row costs ten times more to build than SQLite needs to run these.
    score, fit, engagement, grade, scored = (
        Lead._meta.get_field(name)
        for name in ("score", "fit_score", "engagement_score", "grade", "scored_at")
    )
    scored_at = scored.get_db_prep_save(now, connection)
    rows = [
        (
            score.get_db_prep_save(r.total, connection),
            fit.get_db_prep_save(r.fit_score, connection),
            engagement.get_db_prep_save(r.engagement_score, connection),
            grade.get_db_prep_save(r.grade, connection),
            scored_at,
            lead_id,
        )
        for lead_id, r in results.items()
    ]
    quote = connection.ops.quote_name
    columns = (score, fit, engagement, grade, scored)
    sets = ", ".join(f"{quote(field.column)} = %s" for field in columns)
    moved = " OR ".join(f"{quote(field.column)} <> %s" for field in columns[:4])
    with connection.cursor() as cursor:
        cursor.executemany(
            f"UPDATE {quote(Lead._meta.db_table)} SET {sets} WHERE id = %s "  # nosec B608: names from model meta, values bound
            "AND (rescore_requested_at IS NOT NULL OR scored_at IS NULL "
            f"OR {moved})",
            [(*row, *row[:4]) for row in rows],
        )
    Lead.objects.filter(id__in=ids, rescore_requested_at__lte=read_at).update(
        rescore_requested_at=None
    )


def _scores_write_pg(
    *,
    model: ScoringModel,
    results: dict[int, ScoreResult],
    now: dt.datetime,
    read_at: dt.datetime,
    previous: dict[int, Totals],
) -> None:
    """``scores_write`` on PostgreSQL: the same rows, from one JSON document.

    The ORM's bulk_update (a CASE WHEN per row) took two thirds of a bulk run
    and bulk_create's client-side quoting of tens of thousands of parameters
    most of the rest; ``jsonb_to_recordset`` takes a whole chunk as one
    parameter. Decimals travel as strings, so the numbers stay exact.
    """
    rows = [
        {
            "lead_id": lead_id,
            "total": str(r.total),
            "fit_score": str(r.fit_score),
            "engagement_score": str(r.engagement_score),
            "grade": r.grade,
            "breakdown": r.items,
            "gated_by": r.gated_by,
            "changed": previous.get(lead_id)
            != (r.total, r.fit_score, r.engagement_score),
        }
        for lead_id, r in results.items()
    ]
    record = (
        "lead_id bigint, total numeric, fit_score numeric, engagement_score numeric, "
        "grade text, breakdown jsonb, gated_by jsonb, changed boolean"
    )
    # One statement (data-modifying CTEs over one decoded document): a
    # single lead's rescore pays one round trip for its writes, not three.
    # The score columns are written on the lead with its rescore mark
    # cleared unless a newer change arrived after the lead was read
    # (reliability rule 1); history only for leads whose totals moved. A
    # lead already showing these columns and not marked is left alone
    # (see scores_write).
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH v AS MATERIALIZED (
                SELECT * FROM jsonb_to_recordset(%(rows)s::jsonb) AS v({record})
            ),
            scores AS (
                INSERT INTO {LeadScore._meta.db_table} (lead_id, model_id, total,
                    fit_score, engagement_score, grade, breakdown, gated_by,
                    computed_at)
                SELECT lead_id, %(model)s, total, fit_score, engagement_score,
                    grade, breakdown, gated_by, %(now)s
                FROM v
                ORDER BY lead_id
                ON CONFLICT (lead_id, model_id) DO UPDATE SET
                    total = EXCLUDED.total,
                    fit_score = EXCLUDED.fit_score,
                    engagement_score = EXCLUDED.engagement_score,
                    grade = EXCLUDED.grade,
                    breakdown = EXCLUDED.breakdown,
                    gated_by = EXCLUDED.gated_by,
                    computed_at = EXCLUDED.computed_at
            ),
            history AS (
                INSERT INTO {LeadScoreHistory._meta.db_table} (lead_id, model_id,
                    total, fit_score, engagement_score, at)
                SELECT lead_id, %(model)s, total, fit_score, engagement_score,
                    %(now)s
                FROM v
                WHERE changed
                ORDER BY lead_id
            )
            UPDATE {Lead._meta.db_table} AS lead SET
                score = v.total,
                fit_score = v.fit_score,
                engagement_score = v.engagement_score,
                grade = v.grade,
                scored_at = %(now)s,
                rescore_requested_at = CASE
                    WHEN lead.rescore_requested_at <= %(read_at)s THEN NULL
                    ELSE lead.rescore_requested_at
                END
            FROM v
            WHERE lead.id = v.lead_id
                AND (lead.rescore_requested_at IS NOT NULL
                    OR lead.scored_at IS NULL
                    OR lead.score <> v.total
                    OR lead.fit_score <> v.fit_score
                    OR lead.engagement_score <> v.engagement_score
                    OR lead.grade <> v.grade)
            """,  # nosec B608: names from model meta, values bound
            {
                "rows": json.dumps(rows),
                "model": model.id,
                "now": now,
                "read_at": read_at,
            },
        )


# Account roll-ups (scoring.services.rollups)
# ------------------------------------------------------------------------------

#: The advisory lock (PostgreSQL) that roll-up refreshes take in turn.
ROLLUPS_LOCK_KEY = 0x4C46_524F


def rollups_lock(*, wait: bool = True) -> bool:
    """Take the roll-up lock to the end of the transaction; without ``wait``,
    only if it is free (returns whether it was taken)."""
    function = "pg_advisory_xact_lock" if wait else "pg_try_advisory_xact_lock"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {function}(%s)", [ROLLUPS_LOCK_KEY])  # nosec B608: one of two names
        return wait or bool(cursor.fetchone()[0])


def rollup_requests_take() -> list[tuple[int, int]]:
    """Delete every committed roll-up request; return their (model id, account
    id). Call in the transaction that refreshes them."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                f"DELETE FROM {AccountRollupRequest._meta.db_table} "  # nosec B608: name from model meta
                "RETURNING model_id, account_id"
            )
            return cursor.fetchall()
    rows = list(
        AccountRollupRequest.objects.values_list("id", "model_id", "account_id")
    )
    AccountRollupRequest.objects.filter(id__in=[r[0] for r in rows]).delete()
    return [(model_id, account_id) for _, model_id, account_id in rows]


def account_scores_upsert_pg(
    *,
    model: ScoringModel,
    account_ids: list[int] | None,
    now: dt.datetime,
    cap: Decimal,
) -> int:
    """Roll the model's lead engagement (each lead capped at ``cap``) up to the
    accounts (all, or ``account_ids``) in one INSERT ... SELECT ... ON
    CONFLICT statement; return the number of accounts written."""
    only = "AND lead.account_id = ANY(%(accounts)s)" if account_ids is not None else ""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {AccountScore._meta.db_table} (account_id, model_id,
                engagement_score, engaged_leads, computed_at)
            SELECT lead.account_id, %(model)s,
                SUM(LEAST(GREATEST(score.engagement_score, 0), %(cap)s)),
                COUNT(*) FILTER (WHERE score.engagement_score > 0),
                %(now)s
            FROM {LeadScore._meta.db_table} AS score
            JOIN {Lead._meta.db_table} AS lead ON lead.id = score.lead_id
            WHERE score.model_id = %(model)s AND lead.account_id IS NOT NULL {only}
            GROUP BY lead.account_id
            ORDER BY lead.account_id
            ON CONFLICT (account_id, model_id) DO UPDATE SET
                engagement_score = EXCLUDED.engagement_score,
                engaged_leads = EXCLUDED.engaged_leads,
                computed_at = EXCLUDED.computed_at
            """,  # nosec B608: names from model meta, values bound
            {
                "model": model.id,
                "cap": cap,
                "now": now,
                "accounts": account_ids,
            },
        )
        return cursor.rowcount
