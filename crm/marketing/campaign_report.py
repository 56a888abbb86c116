"""Campaign ROI over a period under one attribution model.

Definitions, for whole UTC days ``[start, end)``:

- Conversions are events in the period: a lead created, a lead first
  entering MQL, SQL or customer, and revenue, the amount of each deal won
  (a sales outcome to customer) in the period. Erased leads are left out.
- Each conversion's credit is split over the lead's touchpoints by the
  attribution model (``leads.attribution``), so a campaign earns fractions
  of leads, MQLs and revenue. Conversions whose touches have no campaign, or
  that have no touches, are "unattributed". The campaign rows and the
  unattributed row add up exactly to the total.
- Spend is the spend ledger (``CampaignSpend``, by month) with each month
  counted in proportion to its days inside the period (a whole month inside
  counts fully), rounded to the cent per campaign.
- Cost per lead, MQL, SQL or customer is spend over the credited count (None
  when the count is 0); the MQL-to-SQL rate is SQLs over MQLs (None without
  MQLs); ROI is (revenue - spend) / spend (None without spend).

The figures come from the daily roll-up (``crm.marketing.attribution_rollup``)
and the spend ledger only, so a report costs two grouped queries whatever
the number of leads; ``freshness`` says when the period's days were rebuilt.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from decimal import Decimal

from django.db.models import Count, Max, Min, Sum

from crm.models import AttributionDay, CampaignCredit
from leads.attribution import MODELS, PLACES, UnknownModel
from leads.models import AttributionMark, Campaign, CampaignSpend

#: The labels of the attribution models, in MODELS' order.
MODEL_LABELS = {
    "first_touch": "First touch",
    "last_touch": "Last touch",
    "linear": "Linear",
    "u_shaped": "U-shaped",
    "w_shaped": "W-shaped",
    "time_decay": "Time decay",
}
DEFAULT_MODEL = "linear"
CENT = Decimal("0.01")
#: Rates and ROI as fractions to four places (0.1234 = 12.34%).
RATE = Decimal("0.0001")
ZERO = Decimal(0)
_KIND_FIELD = {
    CampaignCredit.Kind.LEAD: "leads",
    CampaignCredit.Kind.MQL: "mqls",
    CampaignCredit.Kind.SQL: "sqls",
    CampaignCredit.Kind.CUSTOMER: "customers",
    CampaignCredit.Kind.REVENUE: "revenue",
}


@dataclass(frozen=True)
class Figures:
    """Spend and credited conversions of a row, and what follows from them."""

    spend: Decimal
    leads: Decimal
    mqls: Decimal
    sqls: Decimal
    customers: Decimal
    revenue: Decimal
    #: False for the unattributed row: no campaign, so no spend to divide
    #: (its costs are unknown, not zero).
    has_spend: bool = field(default=True, kw_only=True)

    def _per(self, count: Decimal) -> Decimal | None:
        if not self.has_spend or not count:
            return None
        return (self.spend / count).quantize(CENT)

    @property
    def cost_per_lead(self) -> Decimal | None:
        return self._per(self.leads)

    @property
    def cost_per_mql(self) -> Decimal | None:
        return self._per(self.mqls)

    @property
    def cost_per_sql(self) -> Decimal | None:
        return self._per(self.sqls)

    @property
    def cost_per_customer(self) -> Decimal | None:
        return self._per(self.customers)

    @property
    def mql_to_sql_rate(self) -> Decimal | None:
        """SQLs over MQLs, a fraction; None without MQLs."""
        return (self.sqls / self.mqls).quantize(RATE) if self.mqls else None

    @property
    def roi(self) -> Decimal | None:
        """(revenue - spend) / spend, a fraction; None without spend."""
        if not self.spend:
            return None
        return ((self.revenue - self.spend) / self.spend).quantize(RATE)


#: The figures' amounts (every field but ``has_spend``).
AMOUNTS = tuple(f.name for f in fields(Figures) if f.type == "Decimal")


def _figures(values: dict[str, Decimal]) -> dict[str, Decimal]:
    return {name: values.get(name, ZERO) for name in AMOUNTS}


def _sum(rows: list[Figures]) -> dict[str, Decimal]:
    return {name: sum((getattr(row, name) for row in rows), ZERO) for name in AMOUNTS}


@dataclass(frozen=True)
class CampaignRow(Figures):
    id: int
    name: str
    channel: str
    channel_label: str


@dataclass(frozen=True)
class ChannelRow(Figures):
    channel: str
    label: str


@dataclass(frozen=True)
class Freshness:
    """When the period's days were rebuilt: the oldest and newest rebuild
    among the days rebuilt, how many, and how many days wait for one."""

    as_of: dt.datetime | None
    latest: dt.datetime | None
    days_rebuilt: int
    days_pending: int


@dataclass(frozen=True)
class CampaignReport:
    start: dt.date
    end: dt.date
    model: str
    rows: list[CampaignRow]
    channels: list[ChannelRow]
    unattributed: Figures
    total: Figures
    freshness: Freshness

    @property
    def model_label(self) -> str:
        return MODEL_LABELS[self.model]

    def row(self, campaign_id: int) -> CampaignRow | None:
        return next((row for row in self.rows if row.id == campaign_id), None)


def _next_month(month: dt.date) -> dt.date:
    return (month + dt.timedelta(days=32)).replace(day=1)


def period_spend(*, start: dt.date, end: dt.date) -> dict[int, Decimal]:
    """Spend per campaign in ``[start, end)``: each month's ledger lines in
    proportion to the month's days inside the period, rounded to the cent."""
    lines = (
        CampaignSpend.objects.filter(month__gte=start.replace(day=1), month__lt=end)
        .values("campaign_id", "month")
        .annotate(total=Sum("amount"))
        .order_by()
    )
    spend: dict[int, Decimal] = defaultdict(Decimal)
    for line in lines:
        month = line["month"]
        inside = (min(end, _next_month(month)) - max(start, month)).days
        if inside <= 0:
            continue
        length = calendar.monthrange(month.year, month.month)[1]
        spend[line["campaign_id"]] += line["total"] * inside / length
    return {campaign_id: amount.quantize(CENT) for campaign_id, amount in spend.items()}


def _freshness(start: dt.date, end: dt.date) -> Freshness:
    rebuilt = AttributionDay.objects.filter(day__gte=start, day__lt=end).aggregate(
        as_of=Min("rebuilt_at"), latest=Max("rebuilt_at"), days=Count("day")
    )
    pending = (
        AttributionMark.objects.filter(day__gte=start, day__lt=end)
        .values("day")
        .distinct()
        .count()
    )
    return Freshness(
        as_of=rebuilt["as_of"],
        latest=rebuilt["latest"],
        days_rebuilt=rebuilt["days"],
        days_pending=pending,
    )


def campaign_report(*, start: dt.date, end: dt.date, model: str) -> CampaignReport:
    """Spend, credited conversions and their ratios per campaign, per channel,
    unattributed and in total over ``[start, end)`` under ``model``.

    Campaigns with neither spend nor credit in the period are left out;
    rows come by name. Credit of a campaign that no longer exists counts as
    unattributed, so the rows still add up to the total. Raises UnknownModel
    for a model not in ``leads.attribution.MODELS``.
    """
    if model not in MODELS:
        raise UnknownModel(model)
    credits: dict[int | None, dict[str, Decimal]] = defaultdict(dict)
    grouped = (
        CampaignCredit.objects.filter(model=model, day__gte=start, day__lt=end)
        .values("campaign_id", "kind")
        .annotate(total=Sum("amount"))
        .order_by()
    )
    for line in grouped:
        total = line["total"].quantize(PLACES)
        credits[line["campaign_id"]][_KIND_FIELD[line["kind"]]] = total
    spend = period_spend(start=start, end=end)
    wanted = {key for key in credits if key is not None} | set(spend)
    campaigns = Campaign.objects.filter(id__in=wanted).order_by("name", "id")
    rows: list[CampaignRow] = []
    for campaign in campaigns:
        values = credits.pop(campaign.id, {}) | {"spend": spend.get(campaign.id, ZERO)}
        rows.append(
            CampaignRow(
                id=campaign.id,
                name=campaign.name,
                channel=campaign.channel,
                channel_label=campaign.get_channel_display(),
                **_figures(values),
            )
        )
    # What is left: the unattributed credit, and that of deleted campaigns.
    left: dict[str, Decimal] = defaultdict(Decimal)
    for values in credits.values():
        for name, amount in values.items():
            left[name] += amount
    unattributed = Figures(**_figures({**left, "spend": ZERO}), has_spend=False)
    channels = []
    for code, label in Campaign.Channel.choices:
        members = [row for row in rows if row.channel == code]
        if members:
            channels.append(ChannelRow(channel=code, label=label, **_sum(members)))
    total = Figures(**_sum([*rows, unattributed]))
    return CampaignReport(
        start=start,
        end=end,
        model=model,
        rows=rows,
        channels=channels,
        unattributed=unattributed,
        total=total,
        freshness=_freshness(start, end),
    )


#: Columns the campaign table sorts by: the ``sort`` parameter's value
#: (a leading "-" for highest first) -> the row's value.
SORTS: dict[str, Callable[[CampaignRow], object]] = {
    "name": lambda row: row.name.casefold(),
    "channel": lambda row: row.channel_label.casefold(),
    "spend": lambda row: row.spend,
    "leads": lambda row: row.leads,
    "mqls": lambda row: row.mqls,
    "sqls": lambda row: row.sqls,
    "customers": lambda row: row.customers,
    "revenue": lambda row: row.revenue,
    "cost_per_lead": lambda row: row.cost_per_lead,
    "cost_per_mql": lambda row: row.cost_per_mql,
    "cost_per_sql": lambda row: row.cost_per_sql,
    "cost_per_customer": lambda row: row.cost_per_customer,
    "mql_to_sql_rate": lambda row: row.mql_to_sql_rate,
    "roi": lambda row: row.roi,
}


def rows_sorted(rows: list[CampaignRow], *, sort: str) -> list[CampaignRow]:
    """``rows`` by a SORTS key ("-key": highest first); rows without a value
    (a cost with nothing to divide by) always last, then by name."""
    key = sort.removeprefix("-")
    value = SORTS[key]
    present = [row for row in rows if value(row) is not None]
    absent = [row for row in rows if value(row) is None]
    by_name = sorted(present, key=SORTS["name"])
    ordered = sorted(by_name, key=value, reverse=sort.startswith("-"))  # type: ignore[arg-type]
    return ordered + sorted(absent, key=SORTS["name"])


def campaign_by_model(
    *, campaign_id: int, start: dt.date, end: dt.date
) -> dict[str, Figures]:
    """One campaign's figures over ``[start, end)`` under every attribution
    model, in MODELS' order (one grouped query and the spend ledger)."""
    grouped = (
        CampaignCredit.objects.filter(
            campaign_id=campaign_id, day__gte=start, day__lt=end
        )
        .values("model", "kind")
        .annotate(total=Sum("amount"))
        .order_by()
    )
    per_model: dict[str, dict[str, Decimal]] = defaultdict(dict)
    for line in grouped:
        total = line["total"].quantize(PLACES)
        per_model[line["model"]][_KIND_FIELD[line["kind"]]] = total
    spend = period_spend(start=start, end=end).get(campaign_id, ZERO)
    return {
        model: Figures(**_figures(per_model[model] | {"spend": spend}))
        for model in MODELS
    }


def csv_rows(report: CampaignReport, rows: list[CampaignRow]) -> list[list[object]]:
    """The campaign table as CSV rows: a header, ``rows`` in their order, then
    Unattributed and Total. Money to the cent, credited counts as stored,
    rates and ROI as fractions; blank where undefined."""
    header = ["Campaign", "Channel", *(label for _key, label in CSV_COLUMNS)]

    def cell(key: str, value: Decimal | None) -> object:
        if value is None:
            return ""
        return value.quantize(CENT if key in _MONEY else PLACES)

    def line(name: str, channel: str, figures: Figures) -> list[object]:
        values = [cell(key, getattr(figures, key)) for key, _label in CSV_COLUMNS]
        return [name, channel, *values]

    return [
        header,
        *(line(row.name, row.channel_label, row) for row in rows),
        line("Unattributed", "", report.unattributed),
        line("Total", "", report.total),
    ]


#: Columns of money to the cent (the rest: credited counts, revenue, rates
#: and ROI to four places).
_MONEY = frozenset(
    {"spend", "cost_per_lead", "cost_per_mql", "cost_per_sql", "cost_per_customer"}
)
#: The figure columns of the campaign table, in order: attribute -> label.
CSV_COLUMNS = [
    ("spend", "Spend"),
    ("leads", "Leads"),
    ("mqls", "MQLs"),
    ("sqls", "SQLs"),
    ("customers", "Customers"),
    ("revenue", "Revenue"),
    ("cost_per_lead", "Cost per lead"),
    ("cost_per_mql", "Cost per MQL"),
    ("cost_per_sql", "Cost per SQL"),
    ("cost_per_customer", "Cost per customer"),
    ("mql_to_sql_rate", "MQL-to-SQL rate"),
    ("roi", "ROI"),
]
