"""The funnel after MQL: SDR decisions, sales steps forward and back, recycling."""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal

from crm.demo.catalogue import (
    _FORWARD_FEEDBACK,
    _HANDOVER_REASONS,
    _OPPORTUNITY_LOST,
    _REASSIGN_REASONS,
    _SAL_BACK,
    _SDR_DISQUALIFY,
    _SDR_RECYCLE,
    _SQL_BACK,
    _STUDENT,
)
from crm.demo.defaults import (
    DEMO_MANAGER,
    DEMO_NAMES,
    DEMO_REPS,
    DEMO_SALES_MANAGER,
    MQL_PENDING_DAYS,
    Stage,
)
from crm.demo.handoff_history import (
    _account_rep,
    _feedback,
    _follow_up_plan,
    _sdr_decides,
    _text,
)
from crm.demo.handoff_plans import _HandoffPlan, _Outcome, _OwnerMove
from crm.demo.journeys import _Journey
from crm.demo.teams import DEMO_SALES_TEAM, REASSIGN_SHARE
from handoff.rejections import (
    account_owner_label,
    decision_label,
    rejection_destination,
    send_back_destination,
)


def _sales_funnel(j: _Journey, *, accept: float, student: bool, recycle: bool) -> None:
    """From MQL: the SDR's handoff and decision, then sales and the deal."""
    rng = j.rng
    # Pending MQLs fill the SAL queue: most of the last few days' and a few
    # stale ones an SDR never got to (overdue under any SLA).
    recent = j.world.end - j.now < timedelta(days=MQL_PENDING_DAYS)
    if rng.random() < (0.7 if recent else 0.03):
        j.wait()
        return
    roll = rng.random()
    feedback = None
    if student:
        code: str | None = "competitor_spam"
        feedback = _STUDENT
    elif roll >= accept:
        if roll < accept + (1 - accept) * 0.7:
            code = _SDR_RECYCLE.pick(rng)
        else:
            code = _SDR_DISQUALIFY.pick(rng)
            if code == "existing_customer" and j.lead.account is None:
                code = "no_fit"  # no account, so nobody else owns the person
    else:
        code = None
    handoff = _sdr_decides(j, code, feedback)
    if handoff is None:  # not decided by today: still in the SAL queue
        j.wait()
        return
    hw = j.world.handoff
    if code is None:
        j.move(
            Stage.SAL,
            "Accepted from a handoff",  # names the handoff once it has an id
            actor=handoff.decided_by,
            handoff=handoff,
        )
        _sales_cycle(j, handoff, recycle=recycle)
        return
    reason = hw.reasons[handoff.reason]
    destination = rejection_destination(reason)
    if destination.to_account_owner:
        rep = _account_rep(j)
        j.move(
            destination.to_stage,
            account_owner_label(DEMO_NAMES[rep]),
            actor=handoff.decided_by,
        )
        j.owner = rep
        return
    label = decision_label("Rejected by SDR", reason, handoff.feedback)
    j.move(
        destination.to_stage,
        label,
        actor=handoff.decided_by,
        hold_days=destination.hold_days,
    )
    if destination.recycles:
        _recycle(j, recycle)


def _sales_cycle(j: _Journey, handoff: _HandoffPlan, *, recycle: bool) -> None:
    """After acceptance: the SLA's sales routing hands the lead to a rep, who
    works the deal; a lead the SDR kept goes to the account's rep soon after."""
    rng = j.rng
    j.accepted = handoff
    _hand_to_sales(j, handoff)
    _follow_up_plan(j, handoff)
    if handoff.handed_rule == "" and j.later(0, 2):
        _reassign(j, _account_rep(j), _HANDOVER_REASONS)
    if not j.later(1, 8):
        return
    roll = rng.random()
    if roll < 0.25:
        _sales_back(j, _SAL_BACK.pick(rng), recycle=recycle)
        return
    if roll < 0.3:
        _sales_back(j, "sales_no_fit", recycle=recycle)
        return
    if roll < 0.4:
        return  # still being worked
    _sales_forward(j, Stage.SQL)
    if rng.random() < 0.4 and j.later(1, 5):
        j.page_view(rng.choice(("/pricing", "/security", "/integrations/salesforce")))
    if rng.random() < REASSIGN_SHARE and j.later(1, 6):
        _reassign(j, _other_rep(j), _REASSIGN_REASONS)
    if not j.later(2, 12):
        return
    roll = rng.random()
    if roll < 0.12:
        _sales_back(j, _SQL_BACK.pick(rng), recycle=False)
        return
    if roll < 0.22:
        return
    _sales_forward(j, Stage.OPPORTUNITY)
    _buyer_research(j)
    # A deal closes weeks later, won more often than lost (it got this far);
    # recent opportunities have not closed yet, so about 25-35 per cent of a
    # period's opportunities end as customers.
    if not j.later(5, 26):
        return
    roll = rng.random()
    if roll < 0.6:
        _sales_forward(j, Stage.CUSTOMER)
    elif roll < 0.85:
        _sales_back(j, _OPPORTUNITY_LOST.pick(rng), recycle=False)


def _buyer_research(j: _Journey) -> None:
    """While a deal is open the buying group keeps reading: the newsletter and
    launch e-mails, the pricing page (where retargeting finds them), a report
    to download, a webinar."""
    rng = j.rng
    if j.later(0, 4):
        j.email(click=0.5)
    if rng.random() < 0.5 and j.later(0, 5):
        j.download()
    if rng.random() < 0.6 and j.later(0, 5):
        j.pricing_view()
    if rng.random() < 0.35 and j.later(0, 6):
        j.webinar()
    if rng.random() < 0.5 and j.later(0, 6):
        j.email(click=0.4)


def _hand_to_sales(j: _Journey, handoff: _HandoffPlan, rep: str | None = None) -> None:
    """Who owns the accepted lead, as ``handoff_accept`` decides it.

    Under a demo SLA (sales routing: the account owner's rep, else the
    sales team) the account's rep, or ``rep`` when given; a free-mail lead
    goes round the sales team. Under an SLA with no sales team the accepting
    SDR keeps the lead (``handed_rule`` stays empty).
    """
    sdr = handoff.decided_by or DEMO_MANAGER
    if handoff.sla.sales_team_id is None:
        handoff.owners = [(handoff.decided_at, sdr)]
        j.owner = sdr
        return
    rep = rep or _account_rep(j)
    if j.lead.account is not None:
        handoff.handed_rule = f"The account owner, {DEMO_NAMES[rep]}"
    else:
        handoff.handed_rule = (
            f"Round robin in {DEMO_SALES_TEAM} picks {DEMO_NAMES[rep]}"
        )
    handoff.owners = [(handoff.decided_at, rep)]
    j.owner = rep


def _other_rep(j: _Journey) -> str:
    """A rep other than the lead's owner, for a reassignment."""
    return j.rng.choice([rep for rep in DEMO_REPS if rep != j.owner])


def _reassign(j: _Journey, to_owner: str, reasons: tuple[str, ...]) -> None:
    """The sales manager hands the lead in the pipeline to ``to_owner`` now.

    As ``lead_reassign`` records it: an owner change with a reason, the lead
    and its accepted handoff (with the follow-up clock) moving to the new owner.
    """
    if not j.open or j.accepted is None or to_owner == j.owner:
        return
    previous = j.owner
    reason = j.rng.choice(reasons).format(
        rep=DEMO_NAMES[to_owner].split()[0],
        previous=DEMO_NAMES[previous].split()[0] if previous else "",
        first=j.lead.first_name,
    )
    j.owner_moves.append(
        _OwnerMove(j.now, DEMO_SALES_MANAGER, previous, to_owner, reason)
    )
    j.accepted.owners.append((j.now, to_owner))
    j.owner = to_owner


def _recycle(j: _Journey, allowed: bool) -> None:
    """Some nurtured leads come back weeks later and re-qualify (once)."""
    if not allowed or j.rng.random() >= 0.15 or not j.later(10, 30):
        return
    j.pricing_view()
    if j.rng.random() < 0.5 and j.soon(1, 20):
        j.high_intent()
    if j.soon(5, 120):
        j.move(Stage.MQL)
        _sales_funnel(j, accept=0.5, student=False, recycle=False)


_FORWARD_LABELS = {
    Stage.SQL: "Qualified by sales",
    Stage.OPPORTUNITY: "Opportunity opened",
    Stage.CUSTOMER: "Closed won",
}


#: A deal's range by the account's size (employees up to the bound), before
#: the random spread; a lead with no account buys the smallest plan.
_DEAL_SIZES = (
    (50, 8_000, 20_000),
    (250, 15_000, 45_000),
    (1_000, 30_000, 80_000),
    (None, 50_000, 120_000),
)


#: How an industry's deals compare with the size's range: regulated and
#: large-ticket industries pay more, the public and non-profit sector less.
_INDUSTRY_FACTORS = {
    "financial_services": 1.35,
    "healthcare": 1.2,
    "telecom": 1.2,
    "energy": 1.15,
    "software": 1.0,
    "manufacturing": 1.0,
    "logistics": 0.95,
    "professional_services": 0.9,
    "retail": 0.9,
    "media": 0.85,
    "government": 0.8,
    "education": 0.65,
    "nonprofit": 0.55,
}


def _deal_amount(j: _Journey, rng: random.Random) -> Decimal:
    """A realistic deal amount for the lead's company, by its size and
    industry, rounded to 500 (in the ``CURRENCY`` setting's units)."""
    account = j.lead.account
    employees = (account.employee_count if account is not None else None) or 0
    low, high = next(
        (low, high)
        for bound, low, high in _DEAL_SIZES
        if bound is None or employees <= bound
    )
    industry = account.industry if account is not None else ""
    factor = _INDUSTRY_FACTORS.get(industry, 1.0)
    return Decimal(max(1, round(rng.uniform(low, high) * factor / 500)) * 500)


def _deal_terms(j: _Journey, to_stage: str) -> tuple[Decimal | None, date | None]:
    """What ``lead_sales_move`` needs for the move: the deal amount and the
    expected close date of an opened opportunity, the amount won (the deal
    amount, at times discounted) of a closed one.

    Drawn from a generator of their own (seeded by the lead and the moment),
    so the deals leave the rest of the demo exactly as it was without them.
    """
    rng = random.Random(f"deal:{j.lead.email}:{j.now.isoformat()}")
    if to_stage == Stage.OPPORTUNITY:
        close_on = (j.now + timedelta(days=rng.randint(14, 75))).date()
        return _deal_amount(j, rng), close_on
    if to_stage == Stage.CUSTOMER:
        opened = [o for o in j.accepted.outcomes if o.to_stage == Stage.OPPORTUNITY]
        deal = opened[-1].amount if opened and opened[-1].amount else None
        deal = deal or _deal_amount(j, rng)
        discount = rng.choice((1, 1, 1, 0.95, 0.9, 0.85))
        return Decimal(round(deal * Decimal(str(discount)) / 100) * 100), None
    return None, None


def _sales_forward(j: _Journey, to_stage: str) -> None:
    """The lead's owner moves it one funnel stage on (lead_sales_move)."""
    if not j.open or j.accepted is None:
        return
    feedback = _text(j, _FORWARD_FEEDBACK[to_stage], rep="")
    amount, close_on = _deal_terms(j, to_stage)
    j.accepted.outcomes.append(
        _Outcome(
            j.stage,
            to_stage,
            "",
            feedback,
            j.owner or DEMO_MANAGER,
            j.now,
            amount=amount,
            expected_close_on=close_on,
        )
    )
    j.move(to_stage, _FORWARD_LABELS[to_stage], actor=j.owner or DEMO_MANAGER)


def _sales_back(j: _Journey, code: str, *, recycle: bool) -> None:
    """The lead's owner sends it back with a sales reason (lead_sales_move)."""
    if not j.open or j.accepted is None:
        return
    reason = j.world.handoff.reasons[code]
    feedback = _feedback(j, code)
    label = decision_label("Sent back by sales", reason, feedback)
    actor = j.owner or DEMO_MANAGER
    destination = send_back_destination(reason)
    j.accepted.outcomes.append(
        _Outcome(j.stage, destination.to_stage, code, feedback, actor, j.now)
    )
    j.move(destination.to_stage, label, actor=actor, hold_days=destination.hold_days)
    if destination.recycles:
        _recycle(j, recycle)
