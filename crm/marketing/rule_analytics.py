"""Rule analytics: which scoring rules predict what SDRs and sales did.

One selector (``rule_analytics``) serves the ``/scoring/analytics/`` page and
``GET /api/v1/reports/rules/``. It reads three apps, so it lives here in
``crm`` (scoring may not import handoff). What it counts:

**The cohort**: leads created in the period ``[start, end)`` (UTC days), not
erased (as the funnel and the lead list leave them out), that have a score
under the chosen model (the active one by default, or any published one).
For each such lead, from its current ``LeadScore`` under that model: which
rules fired (the items of its stored breakdown, and the disqualifying rules
in ``gated_by``) and its total; from the lead: whether it ever reached MQL,
SQL (or later) and customer (``Lead.highest_stage``); from its handoffs:
whether an SDR decided one (accepted or rejected) and accepted one.

**Per rule**, three outcomes, each among the leads the rule fired on against
the cohort's leads it did not fire on: SDR acceptance (accepted over decided,
so only leads an SDR decided count), reaching SQL and becoming a customer
(over all the leads). Each rate carries Wilson's 95% interval; the lift is
rate fired over rate not fired, with the log-method 95% interval
(``crm.marketing.rule_stats``).

**Weight flags** (fit and engagement rules with points above 0, on the
lift of reaching SQL): *over-weighted* when the rule's points are at least
the median of those rules' points and its lift is clearly small: the
interval reaches down to 1 or below (no clear lift) and stays below
``CLEAR_LIFT``; *under-weighted* when its points are below the median and
the interval's lower bound is above ``CLEAR_LIFT``. A small sample's wide
interval gets no flag (it could be either), nor does a lift without an
interval (no SQL on one side).

**Score quality** over the cohort: ROC AUC of the total for reaching SQL and
for becoming a customer (Mann-Whitney over whole points of the total,
rounded down, so that it adds up over the roll-up's days: totals within one
point tie, a tie counting one half), precision at
the model's MQL threshold (of the cohort's leads scoring at or above it, the
share that reached SQL) and the MQL-to-SQL rate by bands of ``BAND_POINTS``
points of the total (of the cohort's leads that reached MQL).

**Rejections** made in the period, whatever the lead's age: SDR rejections
(handoffs rejected, by ``decided_at``) and sales send-backs (sales moves
with a reason, by ``at``), counted per reason and by the lead's first-touch
campaign (its earliest touchpoint's campaign), by SLA, by rule that fired and
by grade (the handoff's score as it was at handoff; a send-back through its
handoff), and by week (weeks start on Monday, UTC). The latest feedback
texts of the period's SDR decisions and sales moves, optionally only those
containing a search text.

The counting is SQL over one definition of the cohort (``_cohort_sql``):
one grouped query gives every total and the score figures; on PostgreSQL
one more query counts each rule's leads over the breakdowns' items with
``jsonb_array_elements``; the rejections are one grouped query per audience
and, on PostgreSQL, one per audience over the handoffs' breakdowns. Where
there is no jsonb (SQLite) the per-rule counts read the breakdowns and count
in Python, to the same figures (the tests compare both on PostgreSQL).

**The daily roll-up** (``crm.marketing.rule_rollup`` builds it): with
``RULE_ROLLUP`` on and the roll-up built, every figure but the feedback is
summed from it instead (``rollup_by_points``, ``rollup_rule_counts``,
``rollup_rejection_counts``), to the same figures; ``as_of`` says when it
was brought up to date.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace
from decimal import Decimal
from fractions import Fraction
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import (
    Case,
    Count,
    F,
    OuterRef,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import TruncWeek
from django.utils import timezone

from crm.marketing.rule_stats import Lift, Rate, lift, roc_auc
from crm.models import (
    RuleCohortCount,
    RuleCohortScore,
    RuleRejectionCount,
    RuleRejectionRule,
    RuleRollupState,
)
from handoff.models import (
    Handoff,
    RejectionReason,
    SalesOutcome,
    ServiceLevelAgreement,
)
from leads.lifecycle import FUNNEL
from leads.models import Campaign, Lead, Stage, Touchpoint
from scoring.models import LeadScore, ScoringModel, ScoringRule

#: Points per band of the MQL-to-SQL table: wide enough that a band holds
#: leads at the demo's size, narrow enough to show where SQLs start.
BAND_POINTS = 10
#: A lift that earns a rule its points: a rule surely above it (its SQL
#: lift's lower bound is) with fewer points than the median is under-weighted;
#: one surely below it (the upper bound) and not surely above 1, with at least
#: the median points, is over-weighted. Half again the rest's rate.
CLEAR_LIFT = 1.5
#: How long counted figures are reused: a search of the feedback or a
#: reload within it costs only the feedback's two queries, not a count of
#: every lead of the period (about a second at 100k leads). Analytics over
#: weeks of leads move little in five minutes.
FIGURES_SECONDS = 300
#: Feedback texts listed (the latest first).
FEEDBACK_LINES = 20
#: The longest search text.
MAX_SEARCH = 200

_MQL_OR_LATER = FUNNEL[FUNNEL.index(Stage.MQL) :]
_SQL_OR_LATER = FUNNEL[FUNNEL.index(Stage.SQL) :]
_DECIDED = [Handoff.Status.ACCEPTED, Handoff.Status.REJECTED]
_WEIGHED_KINDS = (ScoringRule.Kind.FIT, ScoringRule.Kind.ENGAGEMENT)

OVER_WEIGHTED = "over-weighted"
UNDER_WEIGHTED = "under-weighted"

SDR = RejectionReason.Audience.SDR
SALES = RejectionReason.Audience.SALES


@dataclass(frozen=True)
class Comparison:
    """One outcome among the leads a rule fired on and among the rest."""

    fired: Rate
    rest: Rate

    @property
    def lift(self) -> Lift:
        return lift(self.fired, self.rest)


@dataclass(frozen=True)
class RuleRow:
    rule_id: int
    label: str
    kind: str
    points: Decimal
    #: Leads of the cohort it fired on, and the rest of the cohort.
    fired: int
    rest: int
    acceptance: Comparison
    sql: Comparison
    customer: Comparison
    #: OVER_WEIGHTED, UNDER_WEIGHTED or "".
    weight: str


@dataclass(frozen=True)
class Band:
    low: Decimal
    high: Decimal
    #: Of the cohort's leads in the band that reached MQL, those that reached SQL.
    mql_to_sql: Rate


@dataclass(frozen=True)
class ScoreQuality:
    threshold: Decimal
    auc_sql: Fraction | None
    auc_customer: Fraction | None
    sqls: int
    customers: int
    #: Of the cohort's leads scoring at or above the threshold, those at SQL.
    precision_at_threshold: Rate
    bands: list[Band]


@dataclass(frozen=True)
class ReasonColumn:
    reason_id: int
    code: str
    label: str
    audience: str


@dataclass(frozen=True)
class RejectionRow:
    key: Any
    label: str
    #: Per column of the table, in its order.
    counts: list[int]

    @property
    def total(self) -> int:
        return sum(self.counts)


@dataclass(frozen=True)
class RejectionPart:
    """The SDR reasons' or the sales reasons' columns of a table."""

    audience: str
    title: str
    columns: list[ReasonColumn]
    #: The table's rows with a count here, their counts these columns'.
    rows: list[RejectionRow]
    totals: list[int]

    @property
    def grand_total(self) -> int:
        return sum(self.totals)


_PART_TITLES = {SDR: "SDR rejections", SALES: "Sales send-backs"}


@dataclass(frozen=True)
class RejectionTable:
    key: str
    title: str
    heading: str
    columns: list[ReasonColumn]
    rows: list[RejectionRow]

    @property
    def totals(self) -> list[int]:
        return [
            sum(row.counts[i] for row in self.rows) for i in range(len(self.columns))
        ]

    @property
    def grand_total(self) -> int:
        return sum(row.total for row in self.rows)

    @property
    def parts(self) -> list[RejectionPart]:
        """The table split by audience (SDR first), for a page narrower than
        every reason side by side."""
        parts = []
        for audience in (SDR, SALES):
            indexes = [i for i, c in enumerate(self.columns) if c.audience == audience]
            if not indexes:
                continue
            rows = []
            for row in self.rows:
                counts = [row.counts[i] for i in indexes]
                if any(counts):
                    rows.append(RejectionRow(row.key, row.label, counts))
            if self.key != "week":
                rows.sort(key=lambda r: -r.total)
            parts.append(
                RejectionPart(
                    audience=audience,
                    title=_PART_TITLES[audience],
                    columns=[self.columns[i] for i in indexes],
                    rows=rows,
                    totals=[
                        sum(r.counts[j] for r in rows) for j in range(len(indexes))
                    ],
                )
            )
        return parts


@dataclass(frozen=True)
class FeedbackLine:
    at: dt.datetime
    audience: str
    reason: str
    text: str
    lead_id: int
    handoff_id: int | None


@dataclass(frozen=True)
class RuleAnalytics:
    model: ScoringModel
    start: dt.date
    end: dt.date
    search: str
    #: When the figures were counted (they are reused for FIGURES_SECONDS).
    counted_at: dt.datetime
    #: When the daily roll-up they were summed from was brought up to date;
    #: None when they were counted from the leads.
    as_of: dt.datetime | None
    #: The cohort's size, and its leads an SDR decided.
    leads: int
    decided: int
    median_points: Decimal | None
    rules: list[RuleRow]
    quality: ScoreQuality
    rejections: list[RejectionTable] = field(default_factory=list)
    feedback: list[FeedbackLine] = field(default_factory=list)


def analytics_models() -> QuerySet[ScoringModel]:
    """The models rule analytics may read: the active one and those published
    before it (archived); never a draft."""
    active_first = Case(
        When(status=ScoringModel.Status.ACTIVE, then=Value(0)), default=Value(1)
    )
    return ScoringModel.objects.exclude(status=ScoringModel.Status.DRAFT).order_by(
        active_first, F("published_at").desc(nulls_last=True), "-id"
    )


def _bounds(start: dt.date, end: dt.date) -> tuple[dt.datetime, dt.datetime]:
    return (
        dt.datetime.combine(start, dt.time.min, dt.UTC),
        dt.datetime.combine(end, dt.time.min, dt.UTC),
    )


_OUTCOMES = ("was_decided", "was_accepted", "reached_sql", "reached_customer")
_GROUP_COLUMNS = ("score_total", "reached_mql", *_OUTCOMES)


def _placeholders(values: tuple[str, ...]) -> str:
    return ", ".join(["%s"] * len(values))


def _cohort_sql(
    model_id: int | None, since: dt.datetime, until: dt.datetime
) -> tuple[str, list[Any]]:
    """The cohort's select list (``_GROUP_COLUMNS`` as 0/1 flags, the
    breakdown and gates, the score's model and the lead's ``created_at``)
    and FROM ... WHERE, with its parameters; ``model_id`` None: the scores
    under every model (the roll-up's rebuild). One definition for every
    path. A lead's handoffs are grouped once and joined (not a subquery per
    lead, which PostgreSQL would run again for every breakdown item it
    expands)."""
    score, lead, handoff = (
        LeadScore._meta.db_table,
        Lead._meta.db_table,
        Handoff._meta.db_table,
    )
    sql = (
        "SELECT s.lead_id AS lead_id, "  # nosec B608: names from model meta, values bound
        "s.total AS score_total, "
        f"CASE WHEN l.highest_stage IN ({_placeholders(_MQL_OR_LATER)}) "
        "THEN 1 ELSE 0 END "
        "AS reached_mql, "
        "CASE WHEN h.lead_id IS NULL THEN 0 ELSE 1 END AS was_decided, "
        "COALESCE(h.accepted, 0) AS was_accepted, "
        f"CASE WHEN l.highest_stage IN ({_placeholders(_SQL_OR_LATER)}) "
        "THEN 1 ELSE 0 END "
        "AS reached_sql, "
        "CASE WHEN l.highest_stage = %s THEN 1 ELSE 0 END AS reached_customer, "
        "s.breakdown AS items, s.gated_by AS gates, "
        "s.model_id AS model_id, l.created_at AS created_at "
        f"FROM {score} s JOIN {lead} l ON l.id = s.lead_id "
        "LEFT JOIN (SELECT lead_id, "
        "MAX(CASE WHEN status = %s THEN 1 ELSE 0 END) AS accepted "
        f"FROM {handoff} WHERE status IN (%s, %s) GROUP BY lead_id) h "
        "ON h.lead_id = s.lead_id "
        "WHERE l.created_at >= %s AND l.created_at < %s "
        "AND l.erased_at IS NULL"
    )
    params = [
        *_MQL_OR_LATER,
        *_SQL_OR_LATER,
        Stage.CUSTOMER,
        Handoff.Status.ACCEPTED,
        *_DECIDED,
        # As the ORM writes them: SQLite compares text, and a raw parameter
        # would read "...00:00:00+00:00", after a lead stored at midnight.
        connection.ops.adapt_datetimefield_value(since),
        connection.ops.adapt_datetimefield_value(until),
    ]
    if model_id is not None:
        sql += " AND s.model_id = %s"
        params.append(model_id)
    return sql, params


def _fetch(sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # The planner's estimate of a set-returning function's rows makes
            # these look costly enough to JIT-compile, which takes longer
            # than the query itself.
            cursor.execute("SET LOCAL jit = off")
        cursor.execute(sql, params)
        return cursor.fetchall()


def _groups(cohort: str, params: list[Any]) -> list[dict[str, Any]]:
    """The cohort's leads counted per total and outcome flags."""
    columns = ", ".join(_GROUP_COLUMNS)
    rows = _fetch(
        f"SELECT {columns}, count(*) FROM ({cohort}) c "  # nosec B608: names are constants, values bound
        f"GROUP BY {columns}",
        params,
    )
    return [
        {
            # SQLite returns the decimal column as a float: by its text.
            "score_total": Decimal(str(row[0])).quantize(Decimal("0.01")),
            **dict(zip(_GROUP_COLUMNS[1:], map(bool, row[1:-1]), strict=True)),
            "n": row[-1],
        }
        for row in rows
    ]


def _rule_counts(cohort: str, params: list[Any]) -> dict[int, list[int]]:
    """Per rule id: [leads, decided, accepted, sql, customer] it fired on."""
    if connection.vendor == "postgresql":
        sums = ", ".join(f"sum(c.{name})" for name in _OUTCOMES)
        rows = _fetch(
            f"SELECT (item ->> 'rule')::bigint, count(*), {sums} "  # nosec B608: names are constants, values bound
            f"FROM ({cohort}) c CROSS JOIN LATERAL jsonb_array_elements("
            "CASE WHEN jsonb_typeof(c.items) = 'array' THEN c.items ELSE '[]' END "
            "|| CASE WHEN jsonb_typeof(c.gates) = 'array' THEN c.gates ELSE '[]' END"
            ") item GROUP BY 1",
            params,
        )
        return {row[0]: [int(n) for n in row[1:]] for row in rows if row[0]}
    return _rule_counts_python(cohort, params)


def _rule_counts_python(cohort: str, params: list[Any]) -> dict[int, list[int]]:
    """``_rule_counts`` read lead by lead: the path of databases without
    jsonb (SQLite), and the PostgreSQL path's check in the tests."""
    counts: dict[int, list[int]] = defaultdict(lambda: [0] * 5)
    outcomes = ", ".join(f"c.{name}" for name in _OUTCOMES)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT c.items, c.gates, {outcomes} FROM ({cohort}) c",  # nosec B608: names are constants, values bound
            params,
        )
        while batch := cursor.fetchmany(2000):
            for items, gates, *flags in batch:
                rules = {
                    item.get("rule")
                    for item in [*_json_list(items), *_json_list(gates)]
                    if isinstance(item, dict)
                }
                for rule in rules - {None}:
                    row = counts[int(rule)]
                    row[0] += 1
                    for i, flag in enumerate(flags, start=1):
                        row[i] += int(flag)
    return dict(counts)


def _json_list(value: Any) -> list[Any]:
    """A stored JSON array, as the driver returns it (text on SQLite)."""
    if isinstance(value, str | bytes):
        value = json.loads(value)
    return value if isinstance(value, list) else []


def weight_flag(
    *, kind: str, points: Decimal, median: Decimal | None, sql: Lift
) -> str:
    """OVER_WEIGHTED, UNDER_WEIGHTED or "" for a rule (the module's docstring)."""
    if median is None or kind not in _WEIGHED_KINDS or points <= 0:
        return ""
    if sql.low is None or sql.high is None:
        return ""
    if points >= median and sql.low <= 1 and sql.high < CLEAR_LIFT:
        return OVER_WEIGHTED
    if points < median and sql.low > CLEAR_LIFT:
        return UNDER_WEIGHTED
    return ""


def _band_low(total: Decimal) -> Decimal:
    # floor, not //: Decimal's // rounds toward zero, so -5 would join 0-9.99.
    return Decimal(math.floor(total / BAND_POINTS) * BAND_POINTS)


#: Per whole point of the total (rounded down), the cohort's leads, how many
#: of them were decided, accepted and reached MQL, SQL and customer, and how
#: many scored at or above the MQL threshold with their SQLs: all the score's
#: figures need, at a size that does not grow with the leads (the roll-up
#: keeps them per day).
_SCORE_FIGURES = (
    "leads",
    "decided",
    "accepted",
    "mqls",
    "sqls",
    "customers",
    "at_threshold",
    "at_threshold_sqls",
)
_FIGURE_FLAGS = (
    None,
    "was_decided",
    "was_accepted",
    "reached_mql",
    "reached_sql",
    "reached_customer",
)


def whole_points(total: Decimal) -> int:
    """The whole point a total falls in, rounded down (-0.5 is -1)."""
    return math.floor(total)


def by_points_add(
    by_points: dict[int, list[int]],
    *,
    total: Decimal,
    threshold: Decimal,
    n: int,
    flags: dict[str, Any],
) -> None:
    """Add ``n`` leads of this total and outcome flags to ``by_points``."""
    row = by_points.setdefault(whole_points(total), [0] * len(_SCORE_FIGURES))
    for i, flag in enumerate(_FIGURE_FLAGS):
        if flag is None or flags[flag]:
            row[i] += n
    if total >= threshold:
        row[6] += n
        row[7] += n if flags["reached_sql"] else 0


def _by_points(
    groups: list[dict[str, Any]], threshold: Decimal
) -> dict[int, list[int]]:
    """The groups of ``_groups`` as ``_SCORE_FIGURES`` per whole point."""
    by_points: dict[int, list[int]] = {}
    for g in groups:
        by_points_add(
            by_points, total=g["score_total"], threshold=threshold, n=g["n"], flags=g
        )
    return by_points


def _quality(model: ScoringModel, by_points: dict[int, list[int]]) -> ScoreQuality:
    threshold = model.mql_threshold
    sql_groups, customer_groups = [], []
    above = [0, 0]
    bands: dict[Decimal, list[int]] = defaultdict(lambda: [0, 0])
    for points, figures in by_points.items():
        n, _decided, _accepted, mqls, sqls, customers, at_threshold, at_sqls = figures
        # Ranked by whole points: leads within one point tie (count one half).
        sql_groups.append((Decimal(points), sqls, n - sqls))
        customer_groups.append((Decimal(points), customers, n - customers))
        above[0] += at_sqls
        above[1] += at_threshold
        if mqls:
            # Bands start on whole points, so a point lies in one band; SQL or
            # later is MQL or later (``highest_stage``), so its SQLs are MQLs.
            band = bands[_band_low(Decimal(points))]
            band[0] += sqls
            band[1] += mqls
    return ScoreQuality(
        threshold=threshold,
        auc_sql=roc_auc(sql_groups),
        auc_customer=roc_auc(customer_groups),
        sqls=sum(g[1] for g in sql_groups),
        customers=sum(g[1] for g in customer_groups),
        precision_at_threshold=Rate(*above),
        bands=[
            Band(low, low + BAND_POINTS - Decimal("0.01"), Rate(*bands[low]))
            for low in sorted(bands)
        ],
    )


def _rule_rows(
    model: ScoringModel, counts: dict[int, list[int]], totals: list[int]
) -> tuple[list[RuleRow], Decimal | None]:
    rules = list(model.rules.order_by("position", "id"))
    weighed = [r.points for r in rules if r.kind in _WEIGHED_KINDS and r.points > 0]
    median = Decimal(statistics.median(weighed)) if weighed else None
    leads, decided, accepted, sqls, customers = totals
    rows = []
    for rule in rules:
        f_leads, f_decided, f_accepted, f_sql, f_customer = counts.get(rule.id, [0] * 5)
        acceptance = Comparison(
            Rate(f_accepted, f_decided),
            Rate(accepted - f_accepted, decided - f_decided),
        )
        sql = Comparison(Rate(f_sql, f_leads), Rate(sqls - f_sql, leads - f_leads))
        customer = Comparison(
            Rate(f_customer, f_leads), Rate(customers - f_customer, leads - f_leads)
        )
        rows.append(
            RuleRow(
                rule_id=rule.id,
                label=rule.label,
                kind=rule.kind,
                points=rule.points,
                fired=f_leads,
                rest=leads - f_leads,
                acceptance=acceptance,
                sql=sql,
                customer=customer,
                weight=weight_flag(
                    kind=rule.kind, points=rule.points, median=median, sql=sql.lift
                ),
            )
        )
    return rows, median


def _cache_key(model: ScoringModel, start: dt.date, end: dt.date) -> str:
    published = model.published_at.isoformat() if model.published_at else ""
    return (
        f"rule-analytics:1:{model.id}:{model.status}:{published}:"
        f"{start.isoformat()}:{end.isoformat()}"
    )


def rule_analytics(
    *,
    model: ScoringModel,
    start: dt.date,
    end: dt.date,
    search: str = "",
    now: dt.datetime | None = None,
) -> RuleAnalytics:
    """Rule analytics of ``model`` for the leads created in ``[start, end)``
    and the rejections made then (the module's docstring says what each
    figure counts). ``search``: only feedback containing it (case
    insensitive). Reads only; a fixed number of queries.

    The counts are kept in the cache for ``FIGURES_SECONDS`` per model (and
    its status and publication) and period, so that searching the feedback
    or coming back to the page does not count them again; ``counted_at``
    says when they were counted. The feedback is read every time.
    """
    if end <= start:
        raise ValueError("The period ends before it starts.")
    search = search.strip()[:MAX_SEARCH]
    key = _cache_key(model, start, end)
    counted = cache.get(key)
    if counted is None:
        counted = _counted(model, start, end, now or timezone.now())
        cache.set(key, counted, FIGURES_SECONDS)
    since, until = _bounds(start, end)
    return replace(
        counted,
        search=search,
        feedback=feedback_lines(since=since, until=until, search=search),
    )


def _counted(
    model: ScoringModel, start: dt.date, end: dt.date, now: dt.datetime
) -> RuleAnalytics:
    """Every figure but the feedback, summed from the daily roll-up when it
    serves (``RULE_ROLLUP`` and built), else counted from the leads now."""
    since, until = _bounds(start, end)
    as_of = rule_rollup_as_of() if settings.RULE_ROLLUP else None
    if as_of is not None:
        by_points = rollup_by_points(model_id=model.id, start=start, end=end)
        counts = rollup_rule_counts(model_id=model.id, start=start, end=end)
        rejections = rejection_tables_from(
            rollup_rejection_counts(start=start, end=end)
        )
    else:
        cohort, params = _cohort_sql(model.id, since, until)
        with transaction.atomic():
            by_points = _by_points(_groups(cohort, params), model.mql_threshold)
            counts = _rule_counts(cohort, params)
        rejections = rejection_tables(since=since, until=until)
    sums = [sum(column) for column in zip(*by_points.values(), strict=True)]
    leads, decided, accepted, _mqls, sqls, customers, *_ = sums or [0] * 6
    totals = [leads, decided, accepted, sqls, customers]
    rules, median = _rule_rows(model, counts, totals)
    return RuleAnalytics(
        model=model,
        start=start,
        end=end,
        search="",
        counted_at=now,
        as_of=as_of,
        leads=totals[0],
        decided=totals[1],
        median_points=median,
        rules=rules,
        quality=_quality(model, by_points),
        rejections=rejections,
    )


# Rejections ---------------------------------------------------------------


def _first_touch_campaign() -> Subquery:
    return Subquery(
        Touchpoint.objects.filter(lead_id=OuterRef("lead_id"))
        .order_by("occurred_at", "id")
        .values("campaign_id")[:1]
    )


def _rejections(since: dt.datetime, until: dt.datetime) -> dict[str, QuerySet[Any]]:
    """The period's SDR rejections and sales send-backs, with the same columns:
    ``reason``, ``campaign``, ``sla``, ``grade``, ``week``, ``rules``."""
    sdr = Handoff.objects.filter(
        status=Handoff.Status.REJECTED, decided_at__gte=since, decided_at__lt=until
    ).annotate(
        why=F("reason_id"),
        campaign=_first_touch_campaign(),
        agreement=F("sla_id"),
        graded=F("grade"),
        week=TruncWeek("decided_at", tzinfo=dt.UTC),
        rules=F("score_breakdown"),
    )
    sales = SalesOutcome.objects.filter(
        reason__isnull=False, at__gte=since, at__lt=until
    ).annotate(
        why=F("reason_id"),
        campaign=_first_touch_campaign(),
        agreement=F("handoff__sla_id"),
        graded=F("handoff__grade"),
        week=TruncWeek("at", tzinfo=dt.UTC),
        rules=F("handoff__score_breakdown"),
    )
    return {SDR: sdr.order_by(), SALES: sales.order_by()}


def _rule_rejections(rows: QuerySet[Any]) -> Counter[tuple[str, int]]:
    """(rule label, reason id) -> rejections whose handoff's breakdown holds it."""
    if connection.vendor == "postgresql":
        inner, params = rows.values("id", "why", "rules").query.sql_with_params()
        sql = (
            # DISTINCT: a label twice in one breakdown counts its rejection once.
            "SELECT item ->> 'label', c.why, count(DISTINCT c.id) "  # nosec B608: Django's query, values bound
            f"FROM ({inner}) c CROSS JOIN LATERAL jsonb_array_elements("
            "CASE WHEN jsonb_typeof(c.rules) = 'array' THEN c.rules ELSE '[]' END"
            ") item GROUP BY 1, 2"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return Counter(
                {(label, why): n for label, why, n in cursor.fetchall() if label}
            )
    return _rule_rejections_python(rows)


def _rule_rejections_python(rows: QuerySet[Any]) -> Counter[tuple[str, int]]:
    """``_rule_rejections`` read rejection by rejection (SQLite; the tests'
    check of the PostgreSQL path)."""
    counts: Counter[tuple[str, int]] = Counter()
    for why, items in rows.values_list("why", "rules").iterator(chunk_size=2000):
        labels = {
            item.get("label")
            for item in _json_list(items)
            if isinstance(item, dict) and item.get("label")
        }
        for label in labels:
            counts[(label, why)] += 1
    return counts


#: Each table's key, title and row heading.
_DIMENSIONS = (
    ("campaign", "By first-touch campaign", "Campaign"),
    ("agreement", "By SLA", "SLA"),
    ("rule", "By rule that fired (at handoff)", "Rule"),
    ("graded", "By grade (at handoff)", "Grade"),
    ("week", "By week", "Week"),
)


#: The dimensions counted from the rejection's own columns (not the rule's).
PLAIN_DIMENSIONS = [key for key, *_ in _DIMENSIONS if key != "rule"]


def rejection_counts(
    *, since: dt.datetime, until: dt.datetime
) -> dict[str, Counter[tuple[Any, int]]]:
    """Per dimension key: (value, reason id) -> the period's rejections,
    counted from the handoffs and sales outcomes (the roll-up's reference)."""
    counted: dict[str, Counter[tuple[Any, int]]] = {
        key: Counter() for key, *_ in _DIMENSIONS
    }
    for rows in _rejections(since, until).values():
        # One grouped query per audience over every plain dimension at once
        # (a few thousand combinations at most); each table adds them up.
        for row in (
            rows.values(*PLAIN_DIMENSIONS, "why").annotate(n=Count("id")).order_by()
        ):
            for key in PLAIN_DIMENSIONS:
                counted[key][(row[key], row["why"])] += row["n"]
        counted["rule"].update(_rule_rejections(rows))
    return counted


def rejection_tables(*, since: dt.datetime, until: dt.datetime) -> list[RejectionTable]:
    """The period's rejections per reason by each dimension (the module's
    docstring); a table per dimension, its columns the reasons used (SDR
    reasons first), its rows largest first (weeks in order)."""
    return rejection_tables_from(rejection_counts(since=since, until=until))


def rejection_tables_from(
    counted: dict[str, Counter[tuple[Any, int]]],
) -> list[RejectionTable]:
    """``rejection_tables`` from counts per dimension (``rejection_counts``,
    or the roll-up's sums)."""
    reason_ids = {why for counter in counted.values() for _, why in counter}
    reasons = RejectionReason.objects.filter(id__in=reason_ids).order_by(
        "-audience", "position", "label"
    )
    columns = [ReasonColumn(r.id, r.code, r.label, r.audience) for r in reasons]
    labels = _dimension_labels(counted)
    tables = []
    for key, title, heading in _DIMENSIONS:
        by_value: dict[Any, list[int]] = {}
        for (value, why), n in counted[key].items():
            if key == "week":
                value = _week_start(value)
            elif key == "graded":
                # A send-back without a handoff has no grade, like a handoff
                # without one: one "No grade" row.
                value = value or ""
            row = by_value.setdefault(value, [0] * len(columns))
            row[next(i for i, c in enumerate(columns) if c.reason_id == why)] += n
        rows = [
            RejectionRow(value, labels[key](value), counts)
            for value, counts in by_value.items()
        ]
        if key == "week":
            rows.sort(key=lambda r: r.key)
        else:
            # The key last: two campaigns may share a name, and the order
            # must not depend on the order the counts were read in.
            rows.sort(key=lambda r: (-r.total, r.label, str(r.key)))
        tables.append(RejectionTable(key, title, heading, columns, rows))
    return tables


def _dimension_labels(counted: dict[str, Counter[tuple[Any, int]]]) -> dict[str, Any]:
    campaign_ids = {value for value, _ in counted["campaign"] if value is not None}
    campaigns = dict(
        Campaign.objects.filter(id__in=campaign_ids).values_list("id", "name")
    )
    sla_ids = {value for value, _ in counted["agreement"] if value is not None}
    slas = dict(
        ServiceLevelAgreement.objects.filter(id__in=sla_ids).values_list("id", "name")
    )
    return {
        "campaign": lambda v: campaigns.get(v, "No campaign") if v else "No campaign",
        "agreement": lambda v: slas.get(v, "No handoff") if v else "No handoff",
        "rule": str,
        "graded": lambda v: v or "No grade",
        "week": lambda v: f"Week of {v.day} {v:%b %Y}",
    }


def _week_start(value: dt.datetime | dt.date) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value


def feedback_lines(
    *, since: dt.datetime, until: dt.datetime, search: str = ""
) -> list[FeedbackLine]:
    """The latest FEEDBACK_LINES feedback texts of SDR decisions and sales
    moves in the period, containing ``search`` (case insensitive) if given."""
    handoffs = Handoff.objects.filter(
        decided_at__gte=since, decided_at__lt=until
    ).exclude(feedback="")
    moves = SalesOutcome.objects.filter(at__gte=since, at__lt=until).exclude(
        feedback=""
    )
    if search:
        handoffs = handoffs.filter(feedback__icontains=search)
        moves = moves.filter(feedback__icontains=search)
    lines = [
        FeedbackLine(
            h["decided_at"],
            SDR,
            h["reason__label"] or h["status"].title(),
            h["feedback"],
            h["lead_id"],
            h["id"],
        )
        for h in handoffs.order_by("-decided_at", "-id").values(
            "id", "lead_id", "decided_at", "status", "reason__label", "feedback"
        )[:FEEDBACK_LINES]
    ] + [
        FeedbackLine(
            m["at"],
            SALES,
            m["reason__label"] or f"Moved to {m['to_stage']}",
            m["feedback"],
            m["lead_id"],
            m["handoff_id"],
        )
        for m in moves.order_by("-at", "-id").values(
            "lead_id", "handoff_id", "at", "to_stage", "reason__label", "feedback"
        )[:FEEDBACK_LINES]
    ]
    lines.sort(key=lambda line: line.at, reverse=True)
    return lines[:FEEDBACK_LINES]


# The daily roll-up (``crm.marketing.rule_rollup`` builds it) -----------------

_ROLLUP_STATE_ID = 1


def rule_rollup_as_of() -> dt.datetime | None:
    """When the roll-up was last brought up to date (None: never built)."""
    return (
        RuleRollupState.objects.filter(id=_ROLLUP_STATE_ID)
        .values_list("refreshed_at", flat=True)
        .first()
    )


def rollup_by_points(
    *, model_id: int, start: dt.date, end: dt.date
) -> dict[int, list[int]]:
    """``_by_points`` for ``[start, end)``, summed from the roll-up."""
    rows = (
        RuleCohortScore.objects.filter(model_id=model_id, day__gte=start, day__lt=end)
        .values_list("points")
        .annotate(*(Sum(name) for name in _SCORE_FIGURES))
        .order_by()
    )
    return {points: [int(n) for n in figures] for points, *figures in rows}


def rollup_rule_counts(
    *, model_id: int, start: dt.date, end: dt.date
) -> dict[int, list[int]]:
    """``_rule_counts`` for ``[start, end)``, from the roll-up."""
    rows = (
        RuleCohortCount.objects.filter(model_id=model_id, day__gte=start, day__lt=end)
        .values_list("rule_id")
        .annotate(
            Sum("leads"), Sum("decided"), Sum("accepted"), Sum("sqls"), Sum("customers")
        )
        .order_by()
    )
    return {rule: [int(n) for n in figures] for rule, *figures in rows}


def rollup_rejection_counts(
    *, start: dt.date, end: dt.date
) -> dict[str, Counter[tuple[Any, int]]]:
    """``rejection_counts`` for ``[start, end)``, from the roll-up; a week's
    count is its days' sum."""
    counted: dict[str, Counter[tuple[Any, int]]] = {
        key: Counter() for key, *_ in _DIMENSIONS
    }
    rows = RuleRejectionCount.objects.filter(day__gte=start, day__lt=end)
    columns = {"campaign": "campaign_id", "agreement": "sla_id", "graded": "grade"}
    for key, column in columns.items():
        for value, why, n in (
            rows.values_list(column, "reason_id")
            .annotate(n=Sum("rejections"))
            .order_by()
        ):
            counted[key][value, why] += n
    for day, why, n in (
        rows.values_list("day", "reason_id").annotate(n=Sum("rejections")).order_by()
    ):
        counted["week"][day - dt.timedelta(days=day.weekday()), why] += n
    for label, why, n in (
        RuleRejectionRule.objects.filter(day__gte=start, day__lt=end)
        .values_list("label", "reason_id")
        .annotate(n=Sum("rejections"))
        .order_by()
    ):
        counted["rule"][label, why] += n
    return counted
