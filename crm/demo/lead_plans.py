"""One demo lead planned: person, contact data, journey and attribution."""

from __future__ import annotations

import bisect
import functools
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from crm.demo.accounts import _ascii
from crm.demo.catalogue import (
    _AD_VARIANTS,
    _COUNTRY_BY_CODE,
    _COUNTRY_CHOICE,
    _FREEMAIL_COMMON,
    _FREEMAIL_TITLES,
    _NAME_POOLS,
    _SEARCH_TERMS,
    _SOURCE_BY_CHANNEL,
    _SOURCE_BY_REFERRER,
    _TECH_STACKS,
    _TITLES,
    _choice,
    _Country,
)
from crm.demo.defaults import DEMO_SOURCE, FREEMAIL_SHARE, HISTORY_DAYS, Channel, Stage
from crm.demo.handoff_history import _handoffs_finish
from crm.demo.handoff_plans import _HandoffPlan, _OwnerMove
from crm.demo.journey_paths import (
    _journey_cold,
    _journey_hot,
    _journey_job_seeker,
    _journey_warm,
)
from crm.demo.journeys import _business_time, _Journey, _Touch, _workday
from crm.demo.showcase import _Showcase, _showcase_account, _showcase_journey
from crm.demo.world import _World
from leads.geo import region_for_country
from leads.lifecycle import history_replay
from leads.models import Account, Lead, StageTransition
from leads.titles import department_from_title, seniority_from_title
from scoring.engine import Touch


@functools.cache
def _title_classes(title: str) -> tuple[str, str]:
    return seniority_from_title(title), department_from_title(title)


def _phone(rng: random.Random, country: _Country) -> str:
    template = rng.choice(country.phone)
    return "".join(str(rng.randrange(10)) if ch == "#" else ch for ch in template)


def _unique_email(world: _World, local: str, domain: str) -> str:
    """``local@domain``, or ``local2@domain``, ``local3@`` ... when taken."""
    email = f"{local}@{domain}"
    number = 1
    while email in world.used_emails:
        number += 1
        email = f"{local}{number}@{domain}"
    world.used_emails.add(email)
    return email


def _freemail_local(rng: random.Random, first: str, last: str) -> str:
    pattern = rng.randrange(5)
    if pattern == 0:
        return f"{first}.{last}"
    if pattern == 1:
        return f"{first}{last}"
    if pattern == 2:
        return f"{first}_{last}{rng.randint(1, 99)}"
    if pattern == 3:
        return f"{first[0]}{last}{rng.randint(70, 99) if rng.random() < 0.6 else ''}"
    return f"{first}.{last}{rng.randint(1960, 2005)}"


def _attributes(rng: random.Random, segment: str) -> dict:
    """A few free-form attributes from forms and enrichment (~25% of leads)."""
    if rng.random() >= (0.6 if segment == "hot" else 0.22):
        return {}
    attributes: dict = {}
    if rng.random() < 0.6:
        plans = ("starter", "growth", "enterprise")
        weights = (1, 3, 3) if segment == "hot" else (3, 3, 1)
        attributes["plan_interest"] = rng.choices(plans, weights)[0]
    if rng.random() < 0.5:
        attributes["tech_stack"] = rng.choice(_TECH_STACKS)
    if rng.random() < 0.35:
        attributes["team_size"] = rng.choice(("1-5", "6-20", "21-50", "51-200", "200+"))
    if rng.random() < 0.25:
        attributes["use_case"] = rng.choice(
            ("lead scoring", "mql handoff", "sla tracking", "attribution")
        )
    if not attributes:
        attributes["newsletter_opt_in"] = True
    return attributes


def _segment(rng: random.Random, seniority: str, freemail: bool) -> str:
    """How engaged this lead is: cold, warm, hot, or a job seeker."""
    hot, warm, job_seeker = 0.1, 0.20, 0.02
    if seniority in ("student", "entry"):
        hot, warm, job_seeker = 0.02, 0.12, 0.10
    elif seniority in ("executive", "vp", "director"):
        hot, warm = 0.14, 0.24
    if freemail:
        hot, job_seeker = hot / 2, job_seeker * 2
    roll = rng.random()
    if roll < hot:
        return "hot"
    if roll < hot + warm:
        return "warm"
    if roll < hot + warm + job_seeker:
        return "job_seeker"
    return "cold"


@dataclass
class _LeadPlan:
    lead: Lead
    touches: list[_Touch]
    transitions: list[StageTransition]
    handoffs: list[_HandoffPlan] = field(default_factory=list)
    #: Transitions to SAL with the handoff whose acceptance they record.
    accepted_steps: list[tuple[StageTransition, _HandoffPlan]] = field(
        default_factory=list
    )
    #: For an MQL undecided at the end: when its handoff opened.
    waiting_since: datetime | None = None
    #: A manager's reassignments of the lead in the sales pipeline.
    owner_moves: list[_OwnerMove] = field(default_factory=list)
    #: The touchpoints as the engine sees them, parallel to ``touches``, once
    #: written (with their ids).
    touchpoints: list[Touch] = field(default_factory=list)


def _lead_plan(world: _World, showcase: _Showcase | None = None) -> _LeadPlan:
    """One lead (unsaved, stage history applied), its touchpoints and transitions.

    Also the handoffs its MQL episodes went through (unsaved plans). A
    ``showcase`` lead follows its script (``crm.demo.showcase``) instead of
    a random journey.
    """
    rng = world.rng
    account: Account | None = None
    if showcase is not None:
        account = _showcase_account(world, showcase)
        country = _COUNTRY_BY_CODE[account.country if account else "US"]
    elif rng.random() < FREEMAIL_SHARE:
        country = _COUNTRY_BY_CODE[_COUNTRY_CHOICE.pick(rng)]
    else:
        account = world.accounts[
            bisect.bisect_right(world.account_cum, rng.random() * world.account_cum[-1])
        ]
        code = account.country if rng.random() < 0.85 else _COUNTRY_CHOICE.pick(rng)
        country = _COUNTRY_BY_CODE[code]
    first_names, last_names = _NAME_POOLS[_choice(country.names).pick(rng)]
    first, last = rng.choice(first_names), rng.choice(last_names)
    first_slug, last_slug = _ascii(first), _ascii(last)
    if account is None:
        domain = _choice(_FREEMAIL_COMMON + country.freemail).pick(rng)
        email = _unique_email(
            world, _freemail_local(rng, first_slug, last_slug), domain
        )
        title = _FREEMAIL_TITLES.pick(rng) if showcase is None else _TITLES.pick(rng)
    else:
        local = f"{first_slug}.{last_slug}"
        if rng.random() < 0.1:
            local = f"{first_slug[0]}{last_slug}"
        email = _unique_email(world, local, account.domain)
        title = _TITLES.pick(rng)
    seniority, department = _title_classes(title)
    segment = _segment(rng, seniority, account is None)
    # The person and company fields come first: SLA conditions test them
    # when the journey reaches MQL. Source and UTM keys follow the journey.
    lead = Lead(
        email=email,
        first_name=first,
        last_name=last,
        job_title=title,
        seniority=seniority,
        department=department,
        phone=_phone(rng, country) if rng.random() < 0.35 else "",
        country=country.code,
        region=region_for_country(country.code),
        account=account,
        do_not_call=rng.random() < 0.03,
        attributes=_attributes(rng, segment),
    )

    # Leads arrive a little faster lately (a growing pipeline): skew to recent days.
    day_index = min(HISTORY_DAYS - 1, int(HISTORY_DAYS * rng.random() ** 0.8))
    day = world.start.date() + timedelta(days=day_index)
    if (moved := _workday(rng, day)) < world.end.date():
        day = moved
    journey = _Journey(
        world, _business_time(rng, day, country.utc_offset), country.utc_offset, lead
    )
    student = seniority == "student"
    if showcase is not None:
        _showcase_journey(journey, showcase)
    elif segment == "hot":
        _journey_hot(journey, student=student)
    elif segment == "warm":
        _journey_warm(journey, student=student)
    elif segment == "job_seeker":
        _journey_job_seeker(journey)
    else:
        _journey_cold(journey, student=student)
    _handoffs_finish(journey)

    first_touch = journey.touches[0]
    (
        lead.source,
        lead.utm_source,
        lead.utm_medium,
        lead.utm_campaign,
        lead.utm_term,
        lead.utm_content,
    ) = _attribution(world, rng, first_touch)
    lead.do_not_email = journey.unsubscribed
    lead.created_at = lead.entered_lead_at = lead.stage_changed_at = first_touch.at
    transitions = history_replay(lead, journey.steps, system_actor=DEMO_SOURCE)
    accepted_steps = []
    for transition, (actor, handoff) in zip(
        transitions, journey.step_meta, strict=True
    ):
        if actor is not None:
            # A person's move, as lead_move records it: the actor, no system.
            transition.actor_id = world.users[actor]
            transition.system_actor = ""
        if handoff is not None:
            accepted_steps.append((transition, handoff))
    if journey.owner is not None:
        lead.owner_id = world.users[journey.owner]
    # A rejection or a step back with a cool-down holds the lead in nurture.
    if lead.stage == Stage.NURTURE:
        lead.recycle_until = journey.hold_until
    return _LeadPlan(
        lead,
        journey.touches,
        transitions,
        handoffs=journey.handoffs,
        accepted_steps=accepted_steps,
        waiting_since=journey.waiting_since if lead.stage == Stage.MQL else None,
        owner_moves=journey.owner_moves,
    )


def _attribution(
    world: _World, rng: random.Random, first: _Touch
) -> tuple[str, str, str, str, str, str]:
    """Source and UTM fields of a lead, from the campaign of its first touchpoint."""
    if first.campaign is None:
        referrer = first.properties.get("referrer", "")
        source = _SOURCE_BY_REFERRER.get(referrer, Lead.Source.DIRECT)
        return source, "", "", "", "", ""
    campaign = world.campaigns[first.campaign]
    term = rng.choice(_SEARCH_TERMS) if campaign.channel == Channel.PAID_SEARCH else ""
    content = (
        rng.choice(_AD_VARIANTS) if campaign.channel == Channel.PAID_SOCIAL else ""
    )
    return (
        _SOURCE_BY_CHANNEL[campaign.channel],
        campaign.utm_source,
        campaign.utm_medium,
        campaign.utm_campaign,
        term,
        content,
    )
