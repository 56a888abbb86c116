"""The demo campaigns, their monthly spend and the marketing e-mails sent to
the list."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from crm.demo.catalogue import _BLOG_POSTS, _NEWSLETTER_SUBJECTS, _SITE, catalogue_load
from leads.models import Campaign, CampaignSpend


@dataclass(frozen=True)
class _CampaignSpec:
    key: str
    name: str  # may use {quarter}, {year}, {city}
    channel: str
    utm_source: str
    utm_medium: str
    utm_campaign: str  # may use {quarter}, {year}, {city}
    budget: tuple[int, int]  # US dollars
    starts_ago: tuple[int, int]  # days before today
    days: tuple[int, int] | None  # running time; None: still running yesterday


_CAMPAIGNS = catalogue_load("campaigns")
# Per campaign: key, name, channel, utm source / medium / campaign, budget
# range (USD), start (days before today), running days (null: ongoing).
_CAMPAIGN_SPECS: tuple[_CampaignSpec, ...] = tuple(
    _CampaignSpec(**spec) for spec in _CAMPAIGNS["campaigns"]
)
_SUMMIT_CITIES: tuple[str, ...] = _CAMPAIGNS["summit_cities"]


_WEBINAR_KEYS = ("webinar_sla", "webinar_scoring", "webinar_routing")


@dataclass(frozen=True)
class _Send:
    """One marketing e-mail sent to the list."""

    at: datetime
    campaign: str
    email_id: str
    subject: str
    url: str


def _campaigns_build(rng: random.Random, today: date) -> list[tuple[str, Campaign]]:
    """The demo campaigns (unsaved), keyed; dates within ~120 days before today."""
    yesterday = today - timedelta(days=1)
    city = rng.choice(_SUMMIT_CITIES)
    built = []
    for spec in _CAMPAIGN_SPECS:
        starts_on = today - timedelta(days=rng.randint(*spec.starts_ago))
        ends_on = yesterday
        if spec.days is not None:
            ends_on = min(
                yesterday, starts_on + timedelta(days=rng.randint(*spec.days))
            )
        labels = {
            "quarter": f"Q{(starts_on.month - 1) // 3 + 1}",
            "year": str(starts_on.year),
            "city": city,
        }
        slugs = {k: v.lower() for k, v in labels.items()}
        budget = Decimal(rng.randrange(spec.budget[0], spec.budget[1] + 1, 50))
        campaign = Campaign(
            name=spec.name.format(**labels),
            channel=spec.channel,
            utm_source=spec.utm_source,
            utm_medium=spec.utm_medium,
            utm_campaign=spec.utm_campaign.format(**slugs),
            budget=budget,
            starts_on=starts_on,
            ends_on=ends_on,
        )
        built.append((spec.key, campaign))
    return built


def _sends_build(campaigns: dict[str, Campaign], end: datetime) -> list[_Send]:
    """The weekly newsletter (Tuesdays) and the two launch e-mails, by time."""
    sends = []
    newsletter = campaigns["newsletter"]
    day = newsletter.starts_on + timedelta(
        days=(1 - newsletter.starts_on.weekday()) % 7
    )
    while day <= newsletter.ends_on:
        year, week, _ = day.isocalendar()
        sends.append(
            _Send(
                at=datetime(day.year, day.month, day.day, 14, tzinfo=UTC),
                campaign="newsletter",
                email_id=f"newsletter-{year}-w{week:02d}",
                subject=_NEWSLETTER_SUBJECTS[week % len(_NEWSLETTER_SUBJECTS)],
                url=f"{_SITE}/blog/{_BLOG_POSTS[week % len(_BLOG_POSTS)]}",
            )
        )
        day += timedelta(days=7)
    launch = campaigns["launch"]
    subjects = (
        "New: SLA timers that keep sales honest",
        "Last chance: see SLA timers live this week",
    )
    for number, subject in enumerate(subjects, start=1):
        day = launch.starts_on + timedelta(days=6 * (number - 1))
        at = datetime(day.year, day.month, day.day, 15, tzinfo=UTC)
        if at < end:
            sends.append(
                _Send(
                    at=at,
                    campaign="launch",
                    email_id=f"sla-timers-launch-{number}",
                    subject=subject,
                    url=f"{_SITE}/features/sla-management",
                )
            )
    sends.sort(key=lambda s: (s.at, s.email_id))
    return sends


#: How far a month's actual spend strays from the budget's share of it:
#: most months land within 15%, about one in four overspends by up to 35%.
_SPEND_SPREAD = (0.85, 1.12)
_OVERSPEND = (1.12, 1.35)
_OVERSPEND_CHANCE = 0.25
_SPEND_NOTES = ("Platform invoice", "Agency fee", "Media buy", "Sponsorship", "")


def _month_starts(first: date, last: date) -> list[date]:
    """The first day of every month from ``first``'s through ``last``'s."""
    months, month = [], first.replace(day=1)
    while month <= last:
        months.append(month)
        month = (month + timedelta(days=32)).replace(day=1)
    return months


def _spend_build(
    rng: random.Random, campaigns: list[Campaign], start: date, today: date
) -> list[CampaignSpend]:
    """One spend line (unsaved) per campaign per month it ran in, over the
    months from ``start`` through ``today``: the budget's share for the days
    it ran that month, give or take (some months over, most a little under).
    Campaigns must be saved (their ids are set)."""
    lines = []
    for campaign in campaigns:
        run_days = (campaign.ends_on - campaign.starts_on).days + 1
        for month in _month_starts(start, today):
            following = (month + timedelta(days=32)).replace(day=1)
            first_day = max(month, campaign.starts_on, start)
            last_day = min(following - timedelta(days=1), campaign.ends_on, today)
            days = (last_day - first_day).days + 1
            if days <= 0 or not campaign.budget:
                continue
            spread = _OVERSPEND if rng.random() < _OVERSPEND_CHANCE else _SPEND_SPREAD
            share = campaign.budget * Decimal(days) / Decimal(run_days)
            amount = share * Decimal(str(round(rng.uniform(*spread), 3)))
            lines.append(
                CampaignSpend(
                    campaign_id=campaign.id,
                    month=month,
                    amount=amount.quantize(Decimal("0.01")),
                    note=rng.choice(_SPEND_NOTES),
                )
            )
    return lines
