"""Leads scripted so that every demo rep's pipeline shows each kind of work.

The random journeys give a big demo plenty of sales work, but a small one
may leave a rep with no SAL, no follow-up at risk or nothing closed lately.
So the first leads of a demo (one in ``SHOWCASE_EVERY``, up to every rep
times every scenario) follow a script instead: a North American lead that
reads a few pages, becomes an MQL, is accepted by the SDR the round robin
gives it and handed to the rep, and then reaches the scenario's stage at a
moment chosen relative to the end of the history, so that at 00:00 UTC on
"today" the rep has:

- SAL leads whose follow-up clock is on track, at risk and overdue;
- an SQL, and an opportunity the sales manager handed over from another rep;
- a deal closed won, one lost to nurture and one disqualified by sales in
  the last 30 days.

They are recorded exactly as the random journeys are (and as the services
would have), and written with them.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from crm.demo.catalogue import _OPPORTUNITY_LOST, _REASSIGN_REASONS
from crm.demo.defaults import DEMO_REPS, Stage
from crm.demo.handoff_history import (
    _account_rep,
    _handoff_open_plan,
    _note,
    _sla_time,
)
from crm.demo.handoff_plans import _Attempt
from crm.demo.journeys import _business_time, _Journey, _workday
from crm.demo.sales import _hand_to_sales, _reassign, _sales_back, _sales_forward
from crm.demo.teams import SYSTEM_DELAY_SECONDS
from crm.demo.world import _World
from handoff import business_hours
from handoff.models import ContactAttempt, Handoff, ServiceLevelAgreement
from leads.models import Account

#: One lead in this many (of the first ones) is scripted.
SHOWCASE_EVERY = 10
#: A scenario: (the stage it ends in, the follow-up clock of a SAL).
FOLLOW_UP_ON_TRACK = "follow_up_on_track"
FOLLOW_UP_AT_RISK = "follow_up_at_risk"
FOLLOW_UP_OVERDUE = "follow_up_overdue"
QUALIFIED = "qualified"
OPPORTUNITY = "opportunity"
WON = "won"
LOST = "lost"
DISQUALIFIED = "disqualified"
#: In the order a small demo gives them out: each rep gets the first first.
SCENARIOS = (
    FOLLOW_UP_ON_TRACK,
    WON,
    FOLLOW_UP_AT_RISK,
    OPPORTUNITY,
    FOLLOW_UP_OVERDUE,
    QUALIFIED,
    LOST,
    DISQUALIFIED,
)
#: Share of the follow-up window used up at the end of the history: on
#: track leaves most of it, at risk a fifth (at risk from a quarter left).
_FOLLOW_UP_USED = {FOLLOW_UP_ON_TRACK: 0.3, FOLLOW_UP_AT_RISK: 0.8}
#: Business hours past the follow-up due time at the end, for the overdue one.
_FOLLOW_UP_LATE_HOURS = 12
#: Days before the end of the history that each scripted deal was accepted.
_ACCEPTED_DAYS_AGO = {
    QUALIFIED: 12,
    OPPORTUNITY: 32,
    WON: 60,
    LOST: 48,
    DISQUALIFIED: 24,
}


@dataclass(frozen=True)
class _Showcase:
    """One scripted lead: the rep whose pipeline it fills, and its scenario."""

    rep: str
    scenario: str

    @property
    def handed_over(self) -> bool:
        """Accepted for another rep, then handed to this one by the manager."""
        return self.scenario == OPPORTUNITY


def _showcase_slots(leads: int) -> list[_Showcase]:
    """The scripted leads of a demo of ``leads`` leads, in the order written."""
    slots = [_Showcase(rep, scenario) for scenario in SCENARIOS for rep in DEMO_REPS]
    return slots[: leads // SHOWCASE_EVERY]


def _showcase_account(world: _World, showcase: _Showcase) -> Account | None:
    """A North American account the rep owns; None for a free-mail lead.

    A lead handed over by the manager has no account (the round robin, not
    an owner, picked its first rep); so has one whose rep owns no such
    account in a small demo.
    """
    if showcase.handed_over:
        return None
    owned = [
        account
        for account in world.accounts
        if account.country in ("US", "CA")
        and _rep_of_domain(account.domain) == showcase.rep
    ]
    return world.rng.choice(owned) if owned else None


def _rep_of_domain(domain: str) -> str:
    """The rep ``_account_rep`` gives an account's leads (without recording it)."""
    return DEMO_REPS[zlib.crc32(domain.encode()) % len(DEMO_REPS)]


def _showcase_journey(j: _Journey, showcase: _Showcase) -> None:
    """Play the scripted lead's touchpoints, handoff and sales steps."""
    world = j.world
    sla = world.handoff.match(j.sla_facts())
    calendar = world.handoff.calendar(sla)
    accepted_at = _acceptance(j, showcase, sla, calendar)
    mql_at = accepted_at - timedelta(minutes=j.rng.randint(30, 90))
    _first_touches(j, mql_at)
    j._move_to(mql_at)
    j.move(Stage.MQL)
    plan = _handoff_open_plan(
        j,
        sla=sla,
        mql_at=mql_at,
        created_at=mql_at + timedelta(seconds=j.rng.randint(*SYSTEM_DELAY_SECONDS)),
    )
    sdr = plan.assigned_to
    call = ContactAttempt.Channel.CALL
    outcome = j.rng.choice(
        (ContactAttempt.Outcome.CONNECTED, ContactAttempt.Outcome.MEETING)
    )
    called_at = plan.created_at + (accepted_at - plan.created_at) * 0.6
    plan.attempts.append(
        _Attempt(
            sdr, call, outcome, _note(j, outcome), called_at.replace(microsecond=0)
        )
    )
    plan.status = Handoff.Status.ACCEPTED
    plan.decided_at = accepted_at
    plan.decided_by = sdr
    j.handoffs.append(plan)
    j._move_to(accepted_at)
    j.move(Stage.SAL, "Accepted from a handoff", actor=sdr, handoff=plan)
    j.accepted = plan
    first_rep = showcase.rep
    if showcase.handed_over:
        first_rep = DEMO_REPS[(DEMO_REPS.index(showcase.rep) + 1) % len(DEMO_REPS)]
    elif j.lead.account is not None:
        _account_rep(j)  # the account belongs to the rep
    _hand_to_sales(j, plan, rep=first_rep)
    plan.follow_up_due_at = business_hours.add_business_hours(
        accepted_at, sla.follow_up_within_hours, calendar
    )
    if showcase.scenario in _ACCEPTED_DAYS_AGO:
        plan.follow_up_at = _sla_time(j, sla, accepted_at, j.rng.uniform(0.5, 3))
    _sales_steps(j, showcase)


def _acceptance(
    j: _Journey,
    showcase: _Showcase,
    sla: ServiceLevelAgreement,
    calendar: business_hours.Calendar,
) -> datetime:
    """When the SDR accepts, so that the scenario stands as planned at the end."""
    end = j.world.end
    window = float(sla.follow_up_within_hours) * 3600
    if showcase.scenario in _FOLLOW_UP_USED:
        used = window * _FOLLOW_UP_USED[showcase.scenario]
        return _business_before(end, used, calendar)
    if showcase.scenario == FOLLOW_UP_OVERDUE:
        return _business_before(end, window + _FOLLOW_UP_LATE_HOURS * 3600, calendar)
    return _day_before(j, _ACCEPTED_DAYS_AGO[showcase.scenario])


def _business_before(
    end: datetime, seconds: float, calendar: business_hours.Calendar
) -> datetime:
    """The latest whole second with ``seconds`` of business time before ``end``."""
    low, high = end - timedelta(days=60), end
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if business_hours.business_seconds_between(middle, end, calendar) >= seconds:
            low = middle
        else:
            high = middle
    return low.replace(microsecond=0)


def _day_before(j: _Journey, days: int) -> datetime:
    """A business moment of the lead's on the workday ``days`` before the end."""
    day = _workday(j.rng, j.world.end.date() - timedelta(days=days))
    return _business_time(j.rng, day, j.utc_offset)


def _first_touches(j: _Journey, mql_at: datetime) -> None:
    """A product page some days before the MQL, a download, then pricing."""
    first = mql_at - timedelta(days=j.rng.randint(4, 12), hours=j.rng.randint(1, 6))
    j.now = max(first, j.world.start)
    j.product_view()
    j._move_to(j.now + (mql_at - j.now) * 0.5)
    j.download()
    j._move_to(mql_at - timedelta(minutes=j.rng.randint(5, 25)))
    j.pricing_view()


def _step(j: _Journey, days: int) -> bool:
    """Move the clock to a business moment ``days`` before the end (or later)."""
    at = _day_before(j, days)
    if at <= j.now:
        at = j.now + timedelta(hours=j.rng.randint(2, 20))
    return j._move_to(at)


def _sales_steps(j: _Journey, showcase: _Showcase) -> None:
    """The rep's moves after acceptance, ending where the scenario does."""
    scenario = showcase.scenario
    days = _ACCEPTED_DAYS_AGO.get(scenario)
    if days is None:
        return  # a SAL whose follow-up clock runs
    rng = j.rng
    _step(j, days - rng.randint(4, 6))
    _sales_forward(j, Stage.SQL)
    if scenario == QUALIFIED:
        return
    if scenario == DISQUALIFIED:
        _step(j, rng.randint(2, 10))
        _sales_back(j, "sales_no_fit", recycle=False)
        return
    if showcase.handed_over:
        _step(j, days - rng.randint(9, 12))
        _reassign(j, showcase.rep, _REASSIGN_REASONS)
    _step(j, days - rng.randint(14, 20))
    _sales_forward(j, Stage.OPPORTUNITY)
    if scenario == WON:
        _step(j, rng.randint(4, 20))
        _sales_forward(j, Stage.CUSTOMER)
    elif scenario == LOST:
        _step(j, rng.randint(2, 15))
        _sales_back(j, _OPPORTUNITY_LOST.pick(rng), recycle=False)
