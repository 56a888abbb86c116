"""The synthetic data every measurement runs on: one generator for all.

``seed_leads`` writes leads, accounts and touchpoints straight to the
database (120 days of the kinds and properties the default model's rules
count), in time order as ingestion stores them; ``bench_scoring`` times
scoring on it and the reliability harness seeds its stacks with it.
``api_user_token``, ``lead_pool`` and ``api_touchpoint`` are what a run
through the HTTP API needs (``bench_ingest``, the harness's load): a user
with a token, leads to post to, and the body of one touchpoint.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone
from rest_framework.authtoken.models import Token

from crm.bench.rows import WRITE_BATCH, RowWriter
from leads.geo import region_for_country
from leads.ingestion import leads_for_emails
from leads.models import Account, Industry, Lead, Touchpoint
from leads.titles import department_from_title, seniority_from_title

#: Touchpoints fall in this many days before the scoring time.
HISTORY_DAYS = 120
#: Bench data is recognisable by these e-mail domains (and only it is deleted).
BENCH_DOMAIN = "bench.example"
FREE_DOMAIN = f"free.{BENCH_DOMAIN}"
#: One account per this many leads; a fifth of the leads have none (free-mail).
LEADS_PER_ACCOUNT = 8
FREEMAIL_SHARE = 0.2
#: The scoring time: fixed, so two runs with the same seed score the same.
NOW = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
#: The kinds a touchpoint posted through the API has.
API_KINDS = ("page_view", "email_open", "email_click", "content_download", "chat")

_SITE = "https://leadflow.example"
_TITLES = (
    ("Chief Marketing Officer", 2),
    ("CEO", 2),
    ("VP Sales", 3),
    ("VP of Marketing", 3),
    ("Director of Demand Generation", 5),
    ("Head of Revenue Operations", 4),
    ("Marketing Manager", 10),
    ("Sales Manager", 8),
    ("IT Manager", 6),
    ("Software Engineer", 15),
    ("Account Executive", 8),
    ("Growth Marketer", 8),
    ("Finance Analyst", 6),
    ("Operations Specialist", 6),
    ("Marketing Intern", 3),
    ("Student", 3),
    ("", 8),
)
_COUNTRIES = (
    ("US", 30),
    ("CA", 5),
    ("GB", 10),
    ("DE", 10),
    ("FR", 6),
    ("NL", 4),
    ("SE", 3),
    ("BR", 8),
    ("MX", 3),
    ("IN", 9),
    ("AU", 5),
    ("JP", 4),
    ("ZA", 3),
)
# Share of cold, warm and hot leads, and what each kind of lead does.
_PROFILES = ((0, 70), (1, 25), (2, 5))
_BLOG = tuple(f"{_SITE}/blog/post-{n}" for n in range(40))
_PRODUCT = tuple(f"{_SITE}/product/{p}" for p in ("scoring", "routing", "sla", "api"))
_PRICING = (f"{_SITE}/pricing", f"{_SITE}/pricing/enterprise")
_CAREERS = (f"{_SITE}/careers", f"{_SITE}/careers/sdr-berlin")
_ACTIVITY: dict[int, tuple[tuple[str, Any, int], ...]] = {
    # profile: (kind, url pool or property dict, weight)
    0: (
        ("page_view", _BLOG, 330),
        ("page_view", _PRODUCT, 60),
        ("page_view", _PRICING, 25),
        ("page_view", _CAREERS, 15),
        ("email_open", {"email": "newsletter"}, 330),
        ("email_click", {"email": "newsletter"}, 100),
        ("content_download", {"asset": "state-of-lead-scoring"}, 50),
        ("webinar_registered", {"webinar": "sla-basics"}, 30),
        ("form_submit", {"form": "newsletter"}, 30),
        ("unsubscribe", {}, 10),
        ("email_bounce", {}, 10),
        ("chat", {}, 10),
    ),
    1: (
        ("page_view", _BLOG, 240),
        ("page_view", _PRODUCT, 120),
        ("page_view", _PRICING, 80),
        ("page_view", _CAREERS, 10),
        ("email_open", {"email": "nurture"}, 200),
        ("email_click", {"email": "nurture"}, 150),
        ("content_download", {"asset": "roi-calculator"}, 80),
        ("webinar_registered", {"webinar": "scoring-101"}, 40),
        ("webinar_attended", {"webinar": "scoring-101"}, 30),
        ("form_submit", {"form": "contact"}, 30),
        ("chat", {}, 15),
        ("trial_signup", {}, 5),
    ),
    2: (
        ("page_view", _BLOG, 120),
        ("page_view", _PRODUCT, 150),
        ("page_view", _PRICING, 180),
        ("email_open", {"email": "nurture"}, 100),
        ("email_click", {"email": "nurture"}, 120),
        ("content_download", {"asset": "buyers-guide"}, 80),
        ("webinar_registered", {"webinar": "routing-live"}, 40),
        ("webinar_attended", {"webinar": "routing-live"}, 60),
        ("chat", {}, 30),
        ("cart_add", {"plan": "growth"}, 20),
        ("demo_request", {"form": "demo"}, 40),
        ("trial_signup", {}, 30),
    ),
}
#: Size of each profile's lookup table of (kind, properties): a power of two,
#: so drawing a touch is one ``getrandbits``.
_TABLE_BITS = 10


def _table(pairs: Sequence[tuple[Any, float]], bits: int) -> list[Any]:
    """A lookup table of 2**bits entries, each value repeated by its weight."""
    size = 1 << bits
    total = sum(weight for _, weight in pairs)
    table: list[Any] = []
    for value, weight in pairs:
        table.extend([value] * round(weight * size / total))
    return (table + [pairs[0][0]] * size)[:size]


def _touch_tables() -> dict[int, list[tuple[str, dict[str, Any]]]]:
    """Per profile: 1024 (kind, properties) to draw touches from."""
    tables = {}
    for profile, activity in _ACTIVITY.items():
        pairs: list[tuple[tuple[str, dict[str, Any]], float]] = []
        for kind, pool, weight in activity:
            if isinstance(pool, tuple):  # page views: one URL of the pool each
                pairs.extend(((kind, {"url": url}), weight / len(pool)) for url in pool)
            else:
                pairs.append(((kind, pool), weight))
        tables[profile] = _table(pairs, _TABLE_BITS)
    return tables


# The synthetic data
# ------------------------------------------------------------------------------


def seed_leads(
    *, leads: int, per_lead: int, seed: int, say: Callable[[str], None]
) -> dict[str, int]:
    """Insert ``leads`` leads with ``per_lead`` touchpoints each; return counts."""
    rng = random.Random(seed)
    start = NOW - dt.timedelta(days=HISTORY_DAYS)
    titles = [
        (t, seniority_from_title(t), department_from_title(t))
        for t in _table(_TITLES, 10)
    ]
    countries = _table(_COUNTRIES, 10)
    profiles_table = _table(_PROFILES, 7)
    industries = list(Industry.values)

    accounts = [
        Account(
            name=f"Bench {n}",
            domain=f"co{n}.{BENCH_DOMAIN}",
            industry=rng.choice(industries),
            employee_count=int(10 ** rng.uniform(0.7, 4.7)),
            country=rng.choice(countries),
        )
        for n in range(max(1, leads // LEADS_PER_ACCOUNT))
    ]
    Account.objects.bulk_create(accounts, batch_size=WRITE_BATCH)

    profiles = bytearray(leads)

    def lead_rows() -> Iterator[dict[str, Any]]:
        for n in range(leads):
            title, seniority, department = titles[rng.getrandbits(10)]
            country = countries[rng.getrandbits(10)]
            profiles[n] = profiles_table[rng.getrandbits(7)]
            account = None
            if rng.random() >= FREEMAIL_SHARE:
                account = accounts[rng.randrange(len(accounts))]
            domain = account.domain if account else FREE_DOMAIN
            created = start + dt.timedelta(seconds=rng.randrange(86_400 * 30))
            yield {
                "email": f"lead{n}@{domain}",
                "first_name": "Bench",
                "last_name": f"Lead {n}",
                "job_title": title,
                "seniority": seniority,
                "department": department,
                "country": country,
                "region": region_for_country(country),
                "account_id": account.id if account else None,
                "created_at": created,
                "entered_lead_at": created,
                "stage_changed_at": created,
            }

    template = Lead(
        email="", created_at=start, updated_at=start, attributes={}, grade=""
    )
    began = time.monotonic()
    RowWriter(Lead, template).write(lead_rows())
    ids = list(
        Lead.objects.filter(email__endswith=BENCH_DOMAIN)
        .order_by("id")
        .values_list("id", flat=True)
    )
    say(f"  {len(ids):,} leads, {len(accounts):,} accounts")

    tables = _touch_tables()
    span = HISTORY_DAYS * 86_400 // per_lead
    shift = max(1, len(ids).bit_length())
    mask = (1 << shift) - 1
    written = 0

    def touch_rows(round_: int) -> Iterator[dict[str, Any]]:
        # Round r gives every lead one touch in the r-th slice of the 120 days,
        # sorted by time: a lead's rows end up spread over the whole table.
        keys = [(rng.randrange(span) << shift) | i for i in range(len(ids))]
        keys.sort()
        base = start + dt.timedelta(seconds=round_ * span)
        for key in keys:
            i = key & mask
            kind, props = tables[profiles[i]][rng.getrandbits(_TABLE_BITS)]
            at = base + dt.timedelta(seconds=key >> shift)
            yield {
                "lead_id": ids[i],
                "kind_id": kind,
                "occurred_at": at,
                "properties": props,
                "received_at": at,
            }

    tp_template = Touchpoint(
        lead_id=0, kind_id="page_view", occurred_at=start, source="bench"
    )
    writer = RowWriter(Touchpoint, tp_template)
    for round_ in range(per_lead):
        written += writer.write(touch_rows(round_))
        say(
            f"  {written:,} touchpoints ({time.monotonic() - began:.0f} s, "
            f"round {round_ + 1}/{per_lead})"
        )
    return {"leads": len(ids), "touchpoints": written}


# Through the API
# ------------------------------------------------------------------------------


def api_user_token(username: str, group: str, *, email: str = "") -> str:
    """The API token of user ``username`` (created when missing), in ``group``
    alone; running it twice reuses both."""
    user, _ = get_user_model().objects.get_or_create(
        username=username, defaults={"email": email}
    )
    user.groups.set(Group.objects.filter(name=group))
    token, _ = Token.objects.get_or_create(user=user)
    return token.key


def lead_pool(count: int, *, domain: str, local: str = "lead") -> list[int]:
    """The ids of leads ``<local><n>@<domain>`` for n below ``count``, created
    through ingestion when missing."""
    emails = [f"{local}{n}@{domain}" for n in range(count)]
    found, _ = leads_for_emails(emails, now=timezone.now())
    return sorted(lead.id for lead in found.values())


def api_touchpoint(
    *,
    external_id: str,
    kind: str,
    url: str,
    lead: int | None = None,
    lead_email: str | None = None,
) -> dict[str, Any]:
    """The body of one touchpoint POSTed to the API, for a lead by id or e-mail."""
    body: dict[str, Any] = {
        "kind": kind,
        "external_id": external_id,
        "properties": {"url": url},
    }
    if lead is not None:
        body["lead"] = lead
    if lead_email is not None:
        body["lead_email"] = lead_email
    return body
