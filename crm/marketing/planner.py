"""The MQL planner: from a target for a period back to the leads it takes.

A marketer names a period ``[start, end)`` (whole UTC days) and a target,
either customers or revenue. Revenue becomes customers at an average deal
size: the one typed in, else the mean amount won (``SalesOutcome.amount`` of
moves to ``customer``) in the reference period.

The reference period gives the arithmetic, from the funnel selector in
cohort mode (the leads created in it, counted at every stage they reached):

- **needed**: working back from customers, each stage needs the next stage's
  need divided by the conversion from it (this stage's count over the
  previous one's, exact, not the rounded rate shown). Each need is rounded
  up before the step before it is worked out: nobody plans 0.3 of a customer.
  A step nobody took in the reference period cannot be worked back through;
  the planner says which instead of dividing by zero.
- **enter by**: customers by the plan's last day; every earlier stage by that
  day minus the sum of the median days between it and customer, rounded up
  to whole days. A step without a median (no lead did both) leaves the
  stages before it without a date.
- **spend**: the reference period's MQLs by channel of first touch (the
  campaigns page's figures under the first-touch model), as a mix, times the
  MQLs needed, at each channel's cost per MQL (spend over MQLs); the same for
  leads at cost per lead. A channel without spend counts at zero cost.

"So far" is the funnel in flow mode over the plan period up to today: how
many leads entered each stage, against the need pro rata to the days passed.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

from django.db.models import Avg, Count
from django.utils import timezone

from crm.marketing.campaign_report import campaign_report
from crm.marketing.funnel import FunnelStage, funnel
from crm.templatetags.crm_tags import stage_short
from handoff.models import SalesOutcome, ServiceLevelAgreement
from leads.lifecycle import FUNNEL
from leads.models import Stage

#: The most customers a plan works back from: beyond this a typo is likelier.
MAX_CUSTOMERS = 1_000_000
#: Days in the default reference period when the plan does not start on the
#: first day of a quarter.
REFERENCE_DAYS = 90
#: A month in days for a monthly SLA commitment: 365.25 / 12, so twelve
#: months are a year whatever the months.
DAYS_PER_MONTH = Fraction(1461, 48)
#: Days in each SLA volume period.
PERIOD_DAYS: dict[str, Fraction] = {
    ServiceLevelAgreement.Period.WEEK: Fraction(7),
    ServiceLevelAgreement.Period.MONTH: DAYS_PER_MONTH,
}
#: "So far" within this share of the pro-rata expectation is on pace (the
#: SLA report's volume pace uses the same band).
PACE_TOLERANCE = Fraction(1, 10)
#: The channel code of leads whose first touch names no campaign.
NO_CAMPAIGN = "none"
NO_CAMPAIGN_LABEL = "No campaign"

TARGET_KINDS = {"customers": "Customers", "revenue": "Revenue"}
REFERENCE_KINDS = {
    "previous_quarter": "the previous quarter",
    "last_90_days": f"the last {REFERENCE_DAYS} days before the plan starts",
    "custom": "dates you picked",
}
DEAL_SOURCES = {"history": "historical average", "typed": "typed in", "": ""}
_CENTS = Decimal("0.01")
_TENTH = Decimal("0.1")


def _percent(rate: Decimal | None) -> Decimal | None:
    if rate is None:
        return None
    return (rate * 100).quantize(_TENTH, rounding=ROUND_HALF_UP)


class PlanError(ValueError):
    """The plan cannot be worked out; the message says what to change."""


# Plain data
# ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReferenceStage:
    """A stage of the reference period's cohort funnel."""

    stage: str
    count: int
    rate: Decimal | None
    median_days: Decimal | None

    @property
    def rate_percent(self) -> Decimal | None:
        return _percent(self.rate)


@dataclass(frozen=True)
class PlannedStage:
    stage: str
    needed: int
    #: The conversion from the previous stage used (rounded to 4 places for
    #: showing; the arithmetic uses the exact counts). None for ``lead``.
    rate_used: Decimal | None
    #: Median days from the previous stage in the reference period.
    days_from_previous: Decimal | None
    #: The day by which ``needed`` leads must have entered this stage.
    enter_by: dt.date | None

    @property
    def label(self) -> str:
        return stage_short(self.stage)

    @property
    def rate_percent(self) -> Decimal | None:
        return _percent(self.rate_used)


@dataclass(frozen=True)
class ChannelCosts:
    """One channel in the reference period: its spend, and the leads created
    in the period with their first touch in it (and how many became MQLs)."""

    channel: str
    label: str
    spend: Decimal
    leads: int
    mqls: int


@dataclass(frozen=True)
class ChannelSpend:
    channel: str
    label: str
    spend: Decimal
    leads: int
    mqls: int
    cost_per_lead: Decimal | None
    cost_per_mql: Decimal | None
    planned_leads: Decimal | None
    planned_mqls: Decimal | None
    spend_for_leads: Decimal | None
    spend_for_mqls: Decimal | None

    @property
    def has_spend(self) -> bool:
        return self.spend > 0


@dataclass(frozen=True)
class SpendPlan:
    channels: list[ChannelSpend]
    #: None when the reference period has no lead (or no MQL) to make a mix.
    total_for_leads: Decimal | None
    total_for_mqls: Decimal | None


@dataclass(frozen=True)
class Plan:
    start: dt.date
    end: dt.date
    reference_start: dt.date
    reference_end: dt.date
    reference_kind: str
    target_kind: str
    target_value: Decimal
    #: The average deal size a revenue target used; None for customers.
    average_deal: Decimal | None
    average_deal_source: str
    #: Deals won in the reference period behind a historical average.
    won_deals: int | None
    reference: list[ReferenceStage]
    stages: list[PlannedStage]
    spend: SpendPlan
    computed_at: dt.datetime

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    @property
    def last_day(self) -> dt.date:
        return self.end - dt.timedelta(days=1)

    @property
    def reference_last_day(self) -> dt.date:
        return self.reference_end - dt.timedelta(days=1)

    @property
    def reference_label(self) -> str:
        return REFERENCE_KINDS[self.reference_kind]

    def needed(self, stage: str) -> int:
        return next(s.needed for s in self.stages if s.stage == stage)


@dataclass(frozen=True)
class StandingRow:
    stage: str
    needed: int
    so_far: int
    #: The need pro rata to the plan's days passed, to one decimal.
    expected: Decimal
    #: "ahead", "on_pace", "behind" or "not_started".
    pace: str

    @property
    def label(self) -> str:
        return stage_short(self.stage)

    @property
    def pace_label(self) -> str:
        return {
            "ahead": "ahead",
            "on_pace": "on pace",
            "behind": "behind",
            "not_started": "not started",
        }[self.pace]


@dataclass(frozen=True)
class Standing:
    today: dt.date
    days_passed: int
    days: int
    rows: list[StandingRow]


# The arithmetic, over plain data
# ------------------------------------------------------------------------------


def _label(stage: str) -> str:
    return stage_short(stage)


def work_back(
    *, customers: int, reference: list[ReferenceStage], last_day: dt.date
) -> list[PlannedStage]:
    """The six funnel stages in order: how many leads each needs and by when,
    for ``customers`` by ``last_day`` at ``reference``'s conversions and
    median days. Raises PlanError at a step nobody took in the reference."""
    if not 1 <= customers <= MAX_CUSTOMERS:
        raise PlanError(f"Give a target of between 1 and {MAX_CUSTOMERS:,} customers.")
    counts = {row.stage: row.count for row in reference}
    needed = {FUNNEL[-1]: customers}
    for rank in range(len(FUNNEL) - 1, 0, -1):
        stage, previous = FUNNEL[rank], FUNNEL[rank - 1]
        if not counts[stage]:
            raise PlanError(
                f"No lead in the reference period went from {_label(previous)} "
                f"to {_label(stage)} (a conversion of 0%), so the plan cannot "
                f"work back through that step. Pick a longer or another "
                f"reference period."
            )
        needed[previous] = math.ceil(
            needed[stage] * Fraction(counts[previous], counts[stage])
        )
    by_stage = {row.stage: row for row in reference}
    stages: list[PlannedStage] = []
    for rank, stage in enumerate(FUNNEL):
        later = [by_stage[s].median_days for s in FUNNEL[rank + 1 :]]
        enter_by = None
        if all(days is not None for days in later):
            offset = math.ceil(sum(later, Decimal(0)))
            enter_by = last_day - dt.timedelta(days=offset)
        stages.append(
            PlannedStage(
                stage=stage,
                needed=needed[stage],
                rate_used=by_stage[stage].rate if rank else None,
                days_from_previous=by_stage[stage].median_days if rank else None,
                enter_by=enter_by,
            )
        )
    return stages


def customers_for_revenue(*, target: Decimal, average_deal: Decimal) -> int:
    """Customers a revenue target takes at an average deal size, rounded up."""
    if average_deal <= 0:
        raise PlanError("Give an average deal size above zero.")
    customers = math.ceil(Fraction(target) / Fraction(average_deal))
    if customers > MAX_CUSTOMERS:
        raise PlanError(
            f"This revenue at an average deal of {average_deal:,} is "
            f"{customers:,} customers; plan at most {MAX_CUSTOMERS:,}. Check "
            f"the target and the average deal size."
        )
    return customers


def _money(value: Fraction) -> Decimal:
    return (Decimal(value.numerator) / Decimal(value.denominator)).quantize(
        _CENTS, rounding=ROUND_HALF_UP
    )


def _tenth(value: Fraction) -> Decimal:
    return (Decimal(value.numerator) / Decimal(value.denominator)).quantize(
        _TENTH, rounding=ROUND_HALF_UP
    )


def spend_plan(
    *, channels: Iterable[ChannelCosts], leads_needed: int, mqls_needed: int
) -> SpendPlan:
    """What the needed leads and MQLs cost at the reference mix and costs.

    A channel's planned MQLs are its share of the reference period's MQLs
    times ``mqls_needed``; their spend is that times its cost per MQL (spend
    over MQLs): ``mqls_needed x spend / all MQLs``. The same for leads.
    Amounts are rounded to cents per channel; the totals add the rounded
    amounts. With no MQL (or lead) in the reference there is no mix and the
    MQL (or lead) columns are None.
    """
    rows = sorted(channels, key=lambda c: (-c.mqls, -c.leads, c.label))
    all_leads = sum(c.leads for c in rows)
    all_mqls = sum(c.mqls for c in rows)
    out: list[ChannelSpend] = []
    for c in rows:
        spend = Fraction(c.spend)
        planned_leads = (
            Fraction(leads_needed * c.leads, all_leads) if all_leads else None
        )
        planned_mqls = Fraction(mqls_needed * c.mqls, all_mqls) if all_mqls else None
        out.append(
            ChannelSpend(
                channel=c.channel,
                label=c.label,
                spend=c.spend,
                leads=c.leads,
                mqls=c.mqls,
                cost_per_lead=_money(spend / c.leads) if c.leads else None,
                cost_per_mql=_money(spend / c.mqls) if c.mqls else None,
                planned_leads=None if planned_leads is None else _tenth(planned_leads),
                planned_mqls=None if planned_mqls is None else _tenth(planned_mqls),
                spend_for_leads=(
                    None
                    if planned_leads is None
                    else _money(planned_leads * spend / c.leads if c.leads else 0)
                ),
                spend_for_mqls=(
                    None
                    if planned_mqls is None
                    else _money(planned_mqls * spend / c.mqls if c.mqls else 0)
                ),
            )
        )
    return SpendPlan(
        channels=out,
        total_for_leads=(
            sum((c.spend_for_leads for c in out), Decimal("0.00"))
            if all_leads
            else None
        ),
        total_for_mqls=(
            sum((c.spend_for_mqls for c in out), Decimal("0.00")) if all_mqls else None
        ),
    )


def commitment_for_period(*, mqls_needed: int, plan_days: int, period: str) -> int:
    """The plan's MQLs as an SLA commitment per ``period`` (week or month):
    MQLs needed x days in the period / plan days, rounded up."""
    if period not in PERIOD_DAYS:
        raise PlanError(f"An SLA's volume period is a week or a month, not {period!r}.")
    return math.ceil(mqls_needed * PERIOD_DAYS[period] / plan_days)


def standing_rows(
    *, stages: list[PlannedStage], so_far: dict[str, int], days_passed: int, days: int
) -> list[StandingRow]:
    """Each stage's leads so far against its need pro rata to ``days_passed``
    of ``days``; within ``PACE_TOLERANCE`` of that is on pace."""
    share = Fraction(max(0, min(days_passed, days)), days)
    rows = []
    for stage in stages:
        expected = stage.needed * share
        count = so_far.get(stage.stage, 0)
        if not share:
            pace = "not_started"
        elif count < expected * (1 - PACE_TOLERANCE):
            pace = "behind"
        elif count > expected * (1 + PACE_TOLERANCE):
            pace = "ahead"
        else:
            pace = "on_pace"
        rows.append(
            StandingRow(
                stage=stage.stage,
                needed=stage.needed,
                so_far=count,
                expected=_tenth(expected),
                pace=pace,
            )
        )
    return rows


# Reading history
# ------------------------------------------------------------------------------


def _quarter_start(day: dt.date) -> dt.date:
    return day.replace(month=3 * ((day.month - 1) // 3) + 1, day=1)


def reference_default(start: dt.date) -> tuple[dt.date, dt.date, str]:
    """The reference period for a plan starting on ``start``: the previous
    quarter when the plan starts on a quarter's first day, else the last
    ``REFERENCE_DAYS`` days before it; and which of the two it is."""
    if start == _quarter_start(start):
        previous = _quarter_start(start - dt.timedelta(days=1))
        return previous, start, "previous_quarter"
    return start - dt.timedelta(days=REFERENCE_DAYS), start, "last_90_days"


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, dt.UTC)


def historical_average_deal(
    *, start: dt.date, end: dt.date
) -> tuple[Decimal | None, int]:
    """The mean amount of the deals won in ``[start, end)`` (to cents) and
    how many there were; (None, 0) when none was won with an amount."""
    won = SalesOutcome.objects.filter(
        to_stage=Stage.CUSTOMER,
        amount__isnull=False,
        at__gte=_midnight(start),
        at__lt=_midnight(end),
    ).aggregate(mean=Avg("amount"), n=Count("id"))
    if not won["n"]:
        return None, 0
    mean = Decimal(str(won["mean"])).quantize(_CENTS, rounding=ROUND_HALF_UP)
    return mean, won["n"]


def _days_inside(month: dt.date, start: dt.date, end: dt.date) -> tuple[int, int]:
    following = (month + dt.timedelta(days=32)).replace(day=1)
    inside = (min(following, end) - max(month, start)).days
    return max(inside, 0), (following - month).days


def reference_channel_costs(start: dt.date, end: dt.date) -> list[ChannelCosts]:
    """Per channel for ``[start, end)``, as the campaigns page counts them
    under the first-touch model: spend (each month's spend prorated by its
    days inside the period), the leads created in the period credited to a
    campaign of the channel by their first touch, and the MQLs of the period
    likewise. Leads whose first touch names no campaign, or who have no
    touchpoint, are one row of their own (``NO_CAMPAIGN``), at no cost."""
    report = campaign_report(start=start, end=end, model="first_touch")
    rows = [
        ChannelCosts(
            channel=row.channel,
            label=str(row.label),
            spend=row.spend.quantize(_CENTS, rounding=ROUND_HALF_UP),
            leads=int(row.leads),
            mqls=int(row.mqls),
        )
        for row in report.channels
        if row.spend or row.leads or row.mqls
    ]
    none = report.unattributed
    if none.leads or none.mqls:
        rows.append(
            ChannelCosts(
                channel=NO_CAMPAIGN,
                label=NO_CAMPAIGN_LABEL,
                spend=Decimal("0.00"),
                leads=int(none.leads),
                mqls=int(none.mqls),
            )
        )
    return sorted(rows, key=lambda row: row.channel)


def _reference_stages(stages: list[FunnelStage]) -> list[ReferenceStage]:
    return [
        ReferenceStage(
            s.stage, s.count, s.rate_from_previous, s.median_days_from_previous
        )
        for s in stages
    ]


def plan_build(
    *,
    start: dt.date,
    end: dt.date,
    reference_start: dt.date | None = None,
    reference_end: dt.date | None = None,
    target_customers: int | None = None,
    target_revenue: Decimal | None = None,
    average_deal: Decimal | None = None,
    now: dt.datetime | None = None,
) -> Plan:
    """Work out a plan for ``[start, end)`` (see the module's docstring).

    Exactly one of ``target_customers`` and ``target_revenue``. Without
    reference dates the default reference (``reference_default``) is used.
    Raises PlanError, with what to change, when the plan cannot be worked
    out: a zero conversion in the reference period, or a revenue target with
    no average deal size typed and no deal won in the reference period.
    """
    if end <= start:
        raise PlanError("The plan's end must come after its start.")
    if (target_customers is None) == (target_revenue is None):
        raise PlanError("Give either a customer target or a revenue target.")
    if reference_start is None or reference_end is None:
        reference_start, reference_end, kind = reference_default(start)
    else:
        kind = "custom"
        if reference_end <= reference_start:
            raise PlanError("The reference period's end must come after its start.")
    won = None
    source = ""
    if target_revenue is not None:
        if target_revenue <= 0:
            raise PlanError("Give a revenue target above zero.")
        if average_deal is not None:
            source = "typed"
        else:
            average_deal, won = historical_average_deal(
                start=reference_start, end=reference_end
            )
            source = "history"
            if average_deal is None:
                raise PlanError(
                    "No deal was won with an amount in the reference period, so "
                    "there is no average deal size to turn revenue into "
                    "customers. Type an average deal size or pick another "
                    "reference period."
                )
        customers = customers_for_revenue(
            target=target_revenue, average_deal=average_deal
        )
        target_kind, target_value = "revenue", target_revenue
    else:
        customers = target_customers
        target_kind, target_value = "customers", Decimal(target_customers)
        average_deal = None
    reference = _reference_stages(
        funnel(start=reference_start, end=reference_end, mode="cohort")
    )
    stages = work_back(
        customers=customers,
        reference=reference,
        last_day=end - dt.timedelta(days=1),
    )
    needed = {s.stage: s.needed for s in stages}
    spend = spend_plan(
        channels=reference_channel_costs(reference_start, reference_end),
        leads_needed=needed[Stage.LEAD],
        mqls_needed=needed[Stage.MQL],
    )
    return Plan(
        start=start,
        end=end,
        reference_start=reference_start,
        reference_end=reference_end,
        reference_kind=kind,
        target_kind=target_kind,
        target_value=target_value,
        average_deal=average_deal,
        average_deal_source=source,
        won_deals=won,
        reference=reference,
        stages=stages,
        spend=spend,
        computed_at=now or timezone.now(),
    )


def plan_standing(*, plan: Plan, today: dt.date) -> Standing:
    """Where the plan period stands on ``today`` (included): the funnel in
    flow mode from the plan's start to the end of today (or the plan's end),
    each stage against its need pro rata to the days passed."""
    upto = min(today + dt.timedelta(days=1), plan.end)
    days_passed = max(0, (upto - plan.start).days)
    so_far: dict[str, int] = {}
    if days_passed:
        so_far = {
            s.stage: s.count for s in funnel(start=plan.start, end=upto, mode="flow")
        }
    return Standing(
        today=today,
        days_passed=days_passed,
        days=plan.days,
        rows=standing_rows(
            stages=plan.stages, so_far=so_far, days_passed=days_passed, days=plan.days
        ),
    )


def standing_chart(standing: Standing) -> dict[str, Any]:
    """What the chart script draws: needed, expected by today and so far."""
    return {
        "labels": [row.label for row in standing.rows],
        "needed": [row.needed for row in standing.rows],
        "expected": [float(row.expected) for row in standing.rows],
        "so_far": [row.so_far for row in standing.rows],
    }


# Stored form (a saved plan, the API)
# ------------------------------------------------------------------------------


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _decimal(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def _date(value: str | None) -> dt.date | None:
    return None if value is None else dt.date.fromisoformat(value)


def plan_data(plan: Plan) -> dict[str, Any]:
    """``plan`` as JSON-safe data (decimals as strings, dates ISO): what a
    saved plan stores, so it never changes when history does."""
    return {
        "stages": [
            {
                "stage": s.stage,
                "needed": s.needed,
                "rate_used": _text(s.rate_used),
                "days_from_previous": _text(s.days_from_previous),
                "enter_by": s.enter_by.isoformat() if s.enter_by else None,
            }
            for s in plan.stages
        ],
        "reference": {
            "start": plan.reference_start.isoformat(),
            "end": plan.reference_end.isoformat(),
            "kind": plan.reference_kind,
            "average_deal": _text(plan.average_deal),
            "average_deal_source": plan.average_deal_source,
            "won_deals": plan.won_deals,
            "stages": [
                {
                    "stage": r.stage,
                    "count": r.count,
                    "rate": _text(r.rate),
                    "median_days": _text(r.median_days),
                }
                for r in plan.reference
            ],
        },
        "spend": {
            "total_for_leads": _text(plan.spend.total_for_leads),
            "total_for_mqls": _text(plan.spend.total_for_mqls),
            "channels": [
                {
                    "channel": c.channel,
                    "label": c.label,
                    "spend": _text(c.spend),
                    "leads": c.leads,
                    "mqls": c.mqls,
                    "cost_per_lead": _text(c.cost_per_lead),
                    "cost_per_mql": _text(c.cost_per_mql),
                    "planned_leads": _text(c.planned_leads),
                    "planned_mqls": _text(c.planned_mqls),
                    "spend_for_leads": _text(c.spend_for_leads),
                    "spend_for_mqls": _text(c.spend_for_mqls),
                }
                for c in plan.spend.channels
            ],
        },
    }


def plan_from_data(
    data: dict[str, Any],
    *,
    start: dt.date,
    end: dt.date,
    target_kind: str,
    target_value: Decimal,
    computed_at: dt.datetime,
) -> Plan:
    """A plan back from ``plan_data``'s output and the fields kept beside it."""
    ref = data["reference"]
    return Plan(
        start=start,
        end=end,
        reference_start=dt.date.fromisoformat(ref["start"]),
        reference_end=dt.date.fromisoformat(ref["end"]),
        reference_kind=ref["kind"],
        target_kind=target_kind,
        target_value=target_value,
        average_deal=_decimal(ref["average_deal"]),
        average_deal_source=ref["average_deal_source"],
        won_deals=ref["won_deals"],
        reference=[
            ReferenceStage(
                r["stage"],
                r["count"],
                _decimal(r["rate"]),
                _decimal(r["median_days"]),
            )
            for r in ref["stages"]
        ],
        stages=[
            PlannedStage(
                stage=s["stage"],
                needed=s["needed"],
                rate_used=_decimal(s["rate_used"]),
                days_from_previous=_decimal(s["days_from_previous"]),
                enter_by=_date(s["enter_by"]),
            )
            for s in data["stages"]
        ],
        spend=SpendPlan(
            channels=[
                ChannelSpend(
                    channel=c["channel"],
                    label=c["label"],
                    spend=Decimal(c["spend"]),
                    leads=c["leads"],
                    mqls=c["mqls"],
                    cost_per_lead=_decimal(c["cost_per_lead"]),
                    cost_per_mql=_decimal(c["cost_per_mql"]),
                    planned_leads=_decimal(c["planned_leads"]),
                    planned_mqls=_decimal(c["planned_mqls"]),
                    spend_for_leads=_decimal(c["spend_for_leads"]),
                    spend_for_mqls=_decimal(c["spend_for_mqls"]),
                )
                for c in data["spend"]["channels"]
            ],
            total_for_leads=_decimal(data["spend"]["total_for_leads"]),
            total_for_mqls=_decimal(data["spend"]["total_for_mqls"]),
        ),
        computed_at=computed_at,
    )
