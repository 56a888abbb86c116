"""Formatting for the handoff pages: SLA clocks, score reasons, rejection reasons.

The clocks count business hours of the SLA's calendar, so "3 h left" on a
Friday evening means three working hours, not three hours of wall time.
Where a clock stands comes from ``handoff.clock`` (pure, so tests pass fixed
times); ``sla_badge`` and ``follow_up_badge`` word it and pick its colour.
The template tags take ``now`` from the view's context.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django import template
from django.template.defaultfilters import pluralize
from django.utils.timesince import timesince

from handoff import business_hours, clock, rejections
from handoff.clock import ClockReading, ClockState
from handoff.models import Handoff, RejectionReason
from leads.models import Stage
from scoring.selectors import rule_sentences
from scoring.sentences import breakdown_reasons

register = template.Library()

#: Score reasons shown with each row of the SAL queue.
TOP_REASONS = 3

ON_TRACK = "on-track"
AT_RISK = "at-risk"
BREACHED = "breached"
DONE = "done"
NONE = "none"


@dataclass(frozen=True)
class Clock:
    """What a clock badge says, and its colour (``state`` is a CSS suffix)."""

    text: str
    state: str
    due_at: dt.datetime | None = None


#: The badge colour of each running clock state.
_CSS_STATE = {
    ClockState.ON_TRACK: ON_TRACK,
    ClockState.AT_RISK: AT_RISK,
    ClockState.BREACHED: BREACHED,
}


def duration_text(seconds: float) -> str:
    """Working seconds as "3 h 20 min", "45 min", "2 h"; under a minute is "<1 min"."""
    minutes = int(abs(seconds) // 60)
    if minutes < 1:
        return "<1 min"
    hours, minutes = divmod(minutes, 60)
    if not hours:
        return f"{minutes} min"
    if not minutes:
        return f"{hours} h"
    return f"{hours} h {minutes} min"


def _running_badge(reading: ClockReading, left: str, overdue: str) -> Clock:
    """A running clock's badge; ``left`` and ``overdue`` word the duration."""
    seconds = reading.seconds_left or 0.0
    if reading.state == ClockState.BREACHED:
        text = overdue.format(duration_text(-seconds))
    else:
        text = left.format(duration_text(seconds))
    return Clock(text, _CSS_STATE[reading.state], reading.due_at)


def sla_badge(reading: ClockReading) -> Clock:
    """The SDR's clock of a pending handoff (``handoff.clock.sla_clock``),
    worded: business time left, or how long overdue."""
    return _running_badge(reading, "{} left", "{} overdue")


def business_duration_text(seconds: float, day_seconds: float) -> str:
    """Working seconds in words, in working days of ``day_seconds`` once a
    day is reached: "1 business day 3 h", "4 business days" (hours are left
    out from three days on), else as ``duration_text``."""
    days = int(abs(seconds) // day_seconds) if day_seconds > 0 else 0
    if days < 1:
        return duration_text(seconds)
    text = f"{days} business day{pluralize(days)}"
    hours = int((abs(seconds) - days * day_seconds) // 3600)
    if days < 3 and hours:
        text += f" {hours} h"
    return text


def working_day_seconds(calendar: business_hours.Calendar) -> float:
    """How long one working day of ``calendar`` is, in seconds."""
    day = dt.date(2000, 1, 3)
    start = dt.datetime.combine(day, calendar.day_start)
    return (dt.datetime.combine(day, calendar.day_end) - start).total_seconds()


def follow_up_badge(
    reading: ClockReading,
    now: dt.datetime,
    *,
    day_seconds: float = 8 * 3600,
    last_contact_at: dt.datetime | None = None,
) -> Clock:
    """The sales rep's follow-up clock (``handoff.clock.follow_up_clock``),
    worded: "Follow up within 6 h", "Follow-up overdue by 3 business days"
    (``day_seconds`` is a working day of the SLA's calendar), or once done
    "Last contact 3 weeks ago" (``last_contact_at``, else the follow-up:
    "Followed up 2 hours ago")."""
    if reading.done_at is not None:
        if last_contact_at is not None:
            ago = timesince(max(last_contact_at, reading.done_at), now, depth=1)
            return Clock(f"Last contact {ago} ago", DONE)
        ago = timesince(reading.done_at, now, depth=1)
        return Clock(f"Followed up {ago} ago", DONE)
    if reading.state == ClockState.STOPPED:
        return Clock("No follow-up clock", NONE)
    seconds = reading.seconds_left or 0.0
    duration = business_duration_text(seconds, day_seconds)
    if reading.state == ClockState.BREACHED:
        text = f"Follow-up overdue by {duration}"
    else:
        text = f"Follow up within {duration}"
    return Clock(text, _CSS_STATE[reading.state], reading.due_at)


def follow_up_reading(
    handoff: Handoff, now: dt.datetime, calendar: business_hours.Calendar
) -> ClockReading:
    """Where an accepted handoff's follow-up clock stands at ``now``."""
    sla = handoff.sla
    return clock.follow_up_clock(
        now=now,
        due_at=handoff.follow_up_due_at,
        followed_up_at=handoff.followed_up_at,
        breached_at=handoff.follow_up_breached_at,
        calendar=calendar,
        window_hours=sla.follow_up_within_hours,
        at_risk_percent=sla.at_risk_percent,
    )


@register.inclusion_tag("handoff/partials/clock.html")
def sla_clock(handoff: Handoff, now: dt.datetime) -> dict[str, Any]:
    """The SDR's clock badge of a pending handoff (``{% sla_clock handoff now %}``).

    Reads ``handoff.sla.calendar.holidays``: prefetch them for lists.
    """
    if handoff.status != Handoff.Status.PENDING:
        return {"clock": Clock(handoff.get_status_display(), NONE)}
    reading = clock.sla_clock(
        now=now,
        due_at=handoff.due_at,
        at_risk_at=handoff.at_risk_at,
        calendar=handoff.sla.calendar.spec(),
    )
    return {"clock": sla_badge(reading)}


@register.inclusion_tag("handoff/partials/clock.html")
def follow_up_clock(handoff: Handoff | None, now: dt.datetime) -> dict[str, Any]:
    """The follow-up clock badge of an accepted handoff; none without one."""
    if handoff is None:
        return {"clock": Clock("No accepted handoff", NONE)}
    calendar = handoff.sla.calendar.spec()
    reading = follow_up_reading(handoff, now, calendar)
    badge = follow_up_badge(reading, now, day_seconds=working_day_seconds(calendar))
    return {"clock": badge}


def top_reasons(
    breakdown: list[dict[str, Any]] | None,
    sentences: dict[int, str] | None = None,
    limit: int = TOP_REASONS,
) -> list[dict[str, Any]]:
    """The largest positive contributions of a score breakdown, biggest first,
    each with ``sentence`` (``scoring.sentences.breakdown_reasons``).

    ``sentences`` maps rule ids to what the rule tests; ties keep the
    breakdown's order (fit rules before engagement).
    """
    items = breakdown_reasons(breakdown, sentences or {})
    return [item for item in items if item["points"] > 0][: int(limit)]


@register.simple_tag
def breakdown_with_sentences(breakdown: list[dict[str, Any]] | None) -> list[dict]:
    """Every item of a stored score breakdown, largest first, with what its
    rule tests (``{% breakdown_with_sentences handoff.score_breakdown as
    items %}``): one query for one breakdown, so not for lists."""
    rules = (item.get("rule") for item in breakdown or [] if isinstance(item, dict))
    return breakdown_reasons(breakdown, rule_sentences(rules))


@register.filter
def reason_needs(reason: RejectionReason) -> str:
    """What a reason asks for first: "needs feedback", "needs 3 attempts"."""
    needs = []
    if reason.feedback_required:
        needs.append("needs feedback")
    if reason.min_attempts:
        noun = "attempt" if reason.min_attempts == 1 else "attempts"
        needs.append(f"needs {reason.min_attempts} {noun}")
    return ", ".join(needs)


@register.filter
def reason_effect(reason: RejectionReason) -> str:
    """Where the lead goes after this reason, in a few words."""
    destination = rejections.rejection_destination(reason)
    if destination.merge:
        return "Merged into the lead it duplicates."
    if destination.to_account_owner:
        return "Handed to the account's owner."
    if destination.to_stage == Stage.NURTURE:
        if destination.hold_days:
            return f"Back to nurture; held for {destination.hold_days} days."
        return "Back to nurture."
    if destination.to_stage == Stage.DISQUALIFIED:
        return "Disqualified."
    if reason.action == RejectionReason.Action.REROUTE:
        target = reason.reroute_sla.name if reason.reroute_sla_id else "another SLA"
        return f"Rerouted to {target}; stays an MQL."
    return ""


@register.filter
def stage_label(code: str) -> str:
    """A stage code's label: ``nurture`` is "Nurture"."""
    try:
        return str(Stage(code).label)
    except ValueError:
        return code


@register.filter
def person(user: Any) -> str:
    """A user's full name, else the username; "nobody" for None."""
    if user is None:
        return "nobody"
    return user.get_full_name() or user.get_username()


@register.filter
def moved_by(transition: Any) -> str:
    """Who moved a lead between stages: a person by full name, or which part
    of Leadflow did ("Leadflow (scoring)")."""
    if transition.actor_id:
        return person(transition.actor)
    return f"Leadflow ({transition.system_actor.replace('_', ' ')})"
