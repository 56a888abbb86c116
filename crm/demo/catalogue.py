"""The curated catalogue of the demo data, loaded once from ``data/*.json``.

Names by nationality, countries, company name parts, job titles, pages,
campaign pairs, e-mail subjects and the texts SDRs and reps write live in the
JSON files beside this module; JSON lists come back as tuples, as the
generation code expects. Weighted choices, reason codes and the maps that name
model choices (industries, channels, lead sources) stay here in code.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any, Generic, TypeVar

from handoff.models import ContactAttempt
from leads.models import Campaign, Industry, Lead

T = TypeVar("T")
Channel = Campaign.Channel


def _tuples(value: Any) -> Any:
    """``value`` with every JSON list turned into a tuple, recursively."""
    if isinstance(value, list):
        return tuple(_tuples(item) for item in value)
    if isinstance(value, dict):
        return {key: _tuples(item) for key, item in value.items()}
    return value


@functools.cache
def catalogue_load(name: str) -> Any:
    """The data file ``data/<name>.json`` of this package, lists as tuples."""
    path = resources.files(__package__).joinpath("data", f"{name}.json")
    return _tuples(json.loads(path.read_text(encoding="utf-8")))


class _Choice(Generic[T]):
    """A weighted choice over a fixed list, drawn with a caller's Random."""

    def __init__(self, pairs: Sequence[tuple[T, float]]):
        self.values: list[T] = [value for value, _ in pairs]
        self.cum: list[float] = list(itertools.accumulate(w for _, w in pairs))

    def pick(self, rng: random.Random) -> T:
        return self.values[bisect.bisect_right(self.cum, rng.random() * self.cum[-1])]


@functools.cache
def _choice(pairs: tuple[tuple[T, float], ...]) -> _Choice[T]:
    """The _Choice for a constant tuple of pairs, built once."""
    return _Choice(pairs)


@dataclass(frozen=True)
class _Country:
    code: str
    weight: float
    utc_offset: float  # hours, for plausible local business hours
    names: tuple[tuple[str, float], ...]  # name pool -> weight
    tlds: tuple[tuple[str, float], ...]
    phone: tuple[str, ...]  # "#" is a random digit
    freemail: tuple[tuple[str, float], ...] = ()
    legal: tuple[str, ...] = ()  # company suffixes used there


# Names by nationality: pool -> (first names, last names).
_NAME_POOLS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = catalogue_load(
    "names"
)

# North America and Europe hold ~86% of the weight, the rest of the world ~14%.
# Phones use the fictional ranges where there are some (555-01xx, 7946 0xxx).
_COUNTRIES: tuple[_Country, ...] = tuple(
    _Country(**country) for country in catalogue_load("countries")["countries"]
)
_COUNTRY_BY_CODE = {c.code: c for c in _COUNTRIES}
_COUNTRY_CHOICE = _Choice([(c.code, c.weight) for c in _COUNTRIES])

# Everybody's free-mail; countries add their own (see _Country.freemail).
_FREEMAIL_COMMON: tuple[tuple[str, float], ...] = catalogue_load("countries")[
    "freemail_common"
]

# Company names: "<Prefix><root>" ("Northwind"), "<Prefix> <Noun>" ("Blue
# Harbor"), coined words ("Kalora") and founders' names ("Keller & Brandt").
_COMPANIES = catalogue_load("companies")
_PREFIXES: tuple[str, ...] = _COMPANIES["prefixes"]
_ROOTS: tuple[str, ...] = _COMPANIES["roots"]
_NOUNS: tuple[str, ...] = _COMPANIES["nouns"]
_COINED_STARTS: tuple[str, ...] = _COMPANIES["coined_starts"]
_COINED_ENDS: tuple[str, ...] = _COMPANIES["coined_ends"]
_FOUNDER_NAMES = _NAME_POOLS["en"][1] + _NAME_POOLS["de"][1][:20]

# "{}" is the name part. Several per industry, so 100k+ accounts stay unique.
_INDUSTRY_NAMES: dict[str, tuple[str, ...]] = _COMPANIES["industry_names"]
# No legal suffix and no founders' names for these.
_PUBLIC_INDUSTRIES = (Industry.GOVERNMENT, Industry.EDUCATION, Industry.NONPROFIT)
_INDUSTRY_CHOICE = _Choice(
    [
        (Industry.SOFTWARE, 25),
        (Industry.FINANCIAL_SERVICES, 10),
        (Industry.HEALTHCARE, 8),
        (Industry.MANUFACTURING, 9),
        (Industry.RETAIL, 8),
        (Industry.EDUCATION, 5),
        (Industry.GOVERNMENT, 3),
        (Industry.MEDIA, 5),
        (Industry.TELECOM, 4),
        (Industry.PROFESSIONAL_SERVICES, 10),
        (Industry.LOGISTICS, 5),
        (Industry.ENERGY, 3),
        (Industry.NONPROFIT, 2),
        (Industry.OTHER, 3),
    ]
)
# Revenue per employee in thousands of US dollars (low, high); None: no revenue.
_REVENUE_PER_EMPLOYEE: dict[str, tuple[int, int] | None] = _COMPANIES[
    "revenue_per_employee"
]
# Employee size bands (low, high, weight): skewed to small and mid-sized companies.
_SIZE_BANDS = _Choice(
    [
        ((1, 10), 14),
        ((11, 50), 24),
        ((51, 200), 25),
        ((201, 500), 14),
        ((501, 1_000), 9),
        ((1_001, 5_000), 8),
        ((5_001, 10_000), 3.5),
        ((10_001, 150_000), 2.5),
    ]
)

# Job titles by level, with each level's share of leads (percent); the titles of
# a level share it equally. Seniority and department come from leads.titles.
_TITLE_LEVELS: tuple[tuple[float, tuple[str, ...]], ...] = catalogue_load("titles")
_TITLE_WEIGHTS: tuple[tuple[str, float], ...] = tuple(
    (title, share / len(titles)) for share, titles in _TITLE_LEVELS for title in titles
)
_TITLES = _Choice(_TITLE_WEIGHTS)
# Free-mail leads: more freelancers, small business owners, students, no title.
_FREEMAIL_TITLES = _Choice(
    [
        *_TITLE_WEIGHTS,
        ("Freelance Consultant", 5),
        ("Independent Consultant", 3),
        ("Owner", 4),
        ("Student", 3),
        ("MBA Student", 1),
        ("Marketing Intern", 2),
        ("", 5),
    ]
)

_SITE = "https://leadflow.example"
_WEB = catalogue_load("web")
_BLOG_POSTS: tuple[str, ...] = _WEB["blog_posts"]
_PRODUCT_PAGES: tuple[str, ...] = _WEB["product_pages"]
_CAREER_PAGES: tuple[str, ...] = _WEB["career_pages"]
_ORGANIC_REFERRERS = _Choice(
    [
        ("", 45),
        ("https://www.google.com/", 30),
        ("https://www.bing.com/", 5),
        ("https://www.linkedin.com/", 10),
        ("https://news.ycombinator.com/", 3),
        ("https://www.g2.com/", 7),
    ]
)
# Referrer of a page view that a campaign brought in.
_CAMPAIGN_REFERRERS: dict[str, str] = _WEB["campaign_referrers"]
# Which campaigns (by key) bring which touchpoints; None: no campaign (direct).
_PRICING_CAMPAIGNS: tuple[tuple[str | None, float], ...] = _WEB["pricing_campaigns"]
_HOME_CAMPAIGNS: tuple[tuple[str | None, float], ...] = _WEB["home_campaigns"]
_BLOG_CAMPAIGNS: tuple[tuple[str | None, float], ...] = _WEB["blog_campaigns"]
_PRODUCT_CAMPAIGNS: tuple[tuple[str | None, float], ...] = _WEB["product_campaigns"]
_INTENT_CAMPAIGNS: tuple[tuple[str | None, float], ...] = _WEB["intent_campaigns"]
# Downloads: (title, path, campaign, weight).
_ASSETS: tuple[tuple[str, str, str | None, float], ...] = _WEB["assets"]
_ASSET_CHOICE = _Choice([(asset, asset[3]) for asset in _ASSETS])
_NEWSLETTER_SUBJECTS: tuple[str, ...] = _WEB["newsletter_subjects"]
_CHAT_TOPICS: tuple[str, ...] = _WEB["chat_topics"]
_TECH_STACKS: tuple[str, ...] = _WEB["tech_stacks"]
_SEARCH_TERMS: tuple[str, ...] = _WEB["search_terms"]
_AD_VARIANTS: tuple[str, ...] = _WEB["ad_variants"]


# Why leads leave the funnel: the codes of the standard rejection reasons
# (handoff migration 0002). The reason's action decides the lead's next stage,
# as handoff.services does: recycle -> nurture, disqualify -> disqualified,
# account owner -> nurture (owned by the account's rep), reroute -> another
# SLA's team, which here disqualifies the lead as no fit.
_SDR_RECYCLE = _Choice(
    [
        ("no_budget", 25),
        ("not_decision_maker", 20),
        ("no_need", 15),
        ("bad_timing", 20),
        ("unable_to_reach", 20),
    ]
)
_SDR_DISQUALIFY = _Choice(
    [
        ("competitor_spam", 25),
        ("bad_contact_data", 25),
        ("existing_customer", 20),
        ("wrong_region", 15),
        ("no_fit", 15),
    ]
)
# Sales reasons (audience "sales") for a step back, by the stage left.
_SAL_BACK = _Choice(
    [
        ("sales_no_budget", 30),
        ("sales_went_dark", 30),
        ("sales_bad_timing", 25),
        ("sales_no_need", 15),
    ]
)
_SQL_BACK = _Choice([("sales_bad_timing", 50), ("sales_no_budget", 50)])
_OPPORTUNITY_LOST = _Choice(
    [
        ("sales_lost_competitor", 45),
        ("sales_other", 35),
        ("sales_lost_price", 20),
    ]
)

# Feedback an SDR or a rep writes with a reason: (share of decisions that
# carry feedback, texts). Reasons that require feedback always get one.
# "{first}" is the lead's first name, "{rep}" the account's rep: feedback is
# free text about a person, which is why the erasure blanks it.
_TEXTS = catalogue_load("feedback")
_FEEDBACK: dict[str, tuple[float, tuple[str, ...]]] = _TEXTS["feedback"]
# Feedback on a student who reached MQL (their title says so).
_STUDENT: str = _TEXTS["student"]
# Feedback of the territory team disqualifying a lead rerouted to it.
_OUTSIDE_MARKETS: str = _TEXTS["outside_markets"]
# What a rep writes when moving a lead forward, by stage: (share with feedback,
# texts).
# Why a manager hands a pipeline lead on: from the SDR who kept it to the
# account's rep, or from one rep to another ("{previous}": the owner before).
_HANDOVER_REASONS: tuple[str, ...] = tuple(_TEXTS["handover_reasons"])
_REASSIGN_REASONS: tuple[str, ...] = tuple(_TEXTS["reassign_reasons"])
_FORWARD_FEEDBACK: dict[str, tuple[float, tuple[str, ...]]] = _TEXTS["forward_feedback"]
# Contact attempts: outcome -> notes an SDR or rep might write.
_ATTEMPT_NOTES: dict[str, tuple[str, ...]] = _TEXTS["attempt_notes"]
# The notes of the attempts before a rejection: the feedback says the rest.
_REJECTION_NOTES: dict[str, tuple[str, ...]] = _TEXTS["rejection_notes"]
# How an owner follows up after accepting: (channel, outcome).
_FOLLOW_UPS = (
    (ContactAttempt.Channel.CALL, ContactAttempt.Outcome.MEETING),
    (ContactAttempt.Channel.CALL, ContactAttempt.Outcome.CONNECTED),
    (ContactAttempt.Channel.CALL, ContactAttempt.Outcome.VOICEMAIL),
    (ContactAttempt.Channel.EMAIL, ContactAttempt.Outcome.SENT),
    (ContactAttempt.Channel.EMAIL, ContactAttempt.Outcome.REPLIED),
)
#: Share of contact attempts with a note.
ATTEMPT_NOTE_SHARE = 0.5

# The lead's source follows the channel of its first touchpoint's campaign.
_SOURCE_BY_CHANNEL = {
    Channel.PAID_SEARCH: Lead.Source.PAID_SEARCH,
    Channel.PAID_SOCIAL: Lead.Source.PAID_SOCIAL,
    Channel.EMAIL: Lead.Source.EMAIL,
    Channel.WEBINAR: Lead.Source.EVENT,
    Channel.EVENT: Lead.Source.EVENT,
    Channel.CONTENT: Lead.Source.REFERRAL,
    Channel.ORGANIC: Lead.Source.ORGANIC_SEARCH,
    Channel.PARTNER: Lead.Source.PARTNER,
    Channel.DISPLAY: Lead.Source.PAID_SOCIAL,
    Channel.OTHER: Lead.Source.OTHER,
}
_SOURCE_BY_REFERRER = {
    "https://www.google.com/": Lead.Source.ORGANIC_SEARCH,
    "https://www.bing.com/": Lead.Source.ORGANIC_SEARCH,
    "https://www.linkedin.com/": Lead.Source.SOCIAL,
    "https://news.ycombinator.com/": Lead.Source.SOCIAL,
    "https://www.g2.com/": Lead.Source.REFERRAL,
}
