"""A lead's journey: the touchpoints and stage steps recorded for one lead."""

from __future__ import annotations

import bisect
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from crm.demo.campaigns import _WEBINAR_KEYS
from crm.demo.catalogue import (
    _ASSET_CHOICE,
    _BLOG_CAMPAIGNS,
    _BLOG_POSTS,
    _CAMPAIGN_REFERRERS,
    _INTENT_CAMPAIGNS,
    _ORGANIC_REFERRERS,
    _PRICING_CAMPAIGNS,
    _PRODUCT_CAMPAIGNS,
    _PRODUCT_PAGES,
    _SITE,
    _choice,
)
from crm.demo.defaults import Stage
from crm.demo.handoff_plans import _HandoffPlan, _OwnerMove
from crm.demo.teams import SYSTEM_DELAY_SECONDS
from crm.demo.world import _World
from leads.lifecycle import HistoryStep
from leads.models import Lead
from scoring.selectors import ACCOUNT_FACT_FIELDS, LEAD_FACT_FIELDS, facts_from_values


@dataclass(frozen=True)
class _Touch:
    kind: str
    at: datetime
    campaign: str | None
    properties: dict
    received_at: datetime


class _Journey:
    """Builds one lead's touchpoints and history steps along a moving clock.

    The clock starts at the first touchpoint and only moves forward. Once it
    reaches ``world.end`` (today) the journey is closed: later touches and
    steps are dropped, so recent leads are simply caught mid-journey.
    """

    def __init__(self, world: _World, start: datetime, utc_offset: float, lead: Lead):
        self.world = world
        self.rng = world.rng
        self.utc_offset = utc_offset
        self.lead = lead  # unsaved; its person and company fields are set
        self.now = start
        self.open = True
        self.touches: list[_Touch] = []
        self.steps: list[HistoryStep] = []
        # Per step: the demo user who made the move (None: the system) and the
        # handoff it decided, for the transition's actor and reason.
        self.step_meta: list[tuple[str | None, _HandoffPlan | None]] = []
        self.stage: str = Stage.LEAD
        self.owner: str | None = None
        # The handoffs worked in the history, and the one whose lead sales
        # is working now (sales outcomes attach to it).
        self.handoffs: list[_HandoffPlan] = []
        self.accepted: _HandoffPlan | None = None
        # A manager's reassignments of the lead in the sales pipeline.
        self.owner_moves: list[_OwnerMove] = []
        # An MQL nobody has decided by the end: when its handoff opened.
        self.waiting_since: datetime | None = None
        # A recycle cool-down started by the last move (any other move ends it).
        self.hold_until: datetime | None = None
        self.emailed = False
        self.bounced = False
        self.unsubscribed = False
        self.pricing_seen = False

    # The clock ------------------------------------------------------------

    def _move_to(self, at: datetime) -> bool:
        if not self.open or at >= self.world.end:
            self.open = False
            return False
        self.now = at
        return True

    def later(self, low: int, high: int) -> bool:
        """Move to business hours ``low``..``high`` days later (weekdays mostly)."""
        if not self.open:
            return False
        day = _workday(
            self.rng, self.now.date() + timedelta(days=self.rng.randint(low, high))
        )
        at = _business_time(self.rng, day, self.utc_offset)
        if at <= self.now:
            at = self.now + timedelta(minutes=self.rng.randint(10, 180))
        return self._move_to(at)

    def soon(self, low: int, high: int) -> bool:
        """Move ``low``..``high`` minutes on (the same visit or session)."""
        seconds = self.rng.randint(max(5, low * 60), max(5, high * 60))
        return self._move_to(self.now + timedelta(seconds=seconds))

    # Touchpoints ----------------------------------------------------------

    def touch(self, kind: str, properties: dict, campaign: str | None = None) -> None:
        if not self.open:
            return
        received_at = self.now + timedelta(seconds=self.rng.randint(1, 30))
        self.touches.append(_Touch(kind, self.now, campaign, properties, received_at))

    def _campaign(self, options: Sequence[tuple[str | None, float]]) -> str | None:
        key = _choice(tuple(options)).pick(self.rng)
        return self.world.campaign_on(key, self.now.date())

    def page_view(
        self, path: str, options: Sequence[tuple[str | None, float]] = ((None, 1),)
    ) -> None:
        campaign = self._campaign(options)
        referrer = (
            _CAMPAIGN_REFERRERS.get(campaign, "")
            if campaign
            else _ORGANIC_REFERRERS.pick(self.rng)
        )
        if path == "/pricing":
            self.pricing_seen = True
        self.touch("page_view", {"url": _SITE + path, "referrer": referrer}, campaign)

    def blog_view(self) -> None:
        self.page_view(f"/blog/{self.rng.choice(_BLOG_POSTS)}", _BLOG_CAMPAIGNS)

    def product_view(self) -> None:
        self.page_view(self.rng.choice(_PRODUCT_PAGES), _PRODUCT_CAMPAIGNS)

    def pricing_view(self) -> None:
        self.page_view("/pricing", _PRICING_CAMPAIGNS)

    def email(self, click: float = 0.1) -> None:
        """Open a recent marketing e-mail; maybe click, unsubscribe or bounce."""
        if not self.open or self.bounced or self.unsubscribed:
            return
        world = self.world
        last = bisect.bisect_right(world.send_times, self.now) - 1
        day = self.now.date()
        recent = [
            send
            for send in world.sends[max(0, last - 2) : last + 1]
            if self.now - send.at < timedelta(days=10)
            and world.campaign_on(send.campaign, day)
        ]
        if not recent:
            return
        send = self.rng.choice(recent)
        props = {"subject": send.subject, "email_id": send.email_id}
        first_email, self.emailed = not self.emailed, True
        if first_email and self.rng.random() < 0.03:
            self.bounced = True
            self.touch("email_bounce", {**props, "bounce": "hard"}, send.campaign)
            return
        self.touch("email_open", props, send.campaign)
        if self.rng.random() < 0.025:
            self.unsubscribed = True
            self.soon(0, 3)
            self.touch("unsubscribe", props, send.campaign)
        elif self.rng.random() < click:
            self.soon(0, 6)
            self.touch("email_click", {**props, "url": send.url}, send.campaign)
            self.soon(0, 1)
            self.touch("page_view", {"url": send.url, "referrer": ""}, send.campaign)

    def download(self) -> None:
        title, slug, key, _ = _ASSET_CHOICE.pick(self.rng)
        campaign = self.world.campaign_on(key, self.now.date())
        if campaign is None and self.rng.random() < 0.5:
            campaign = self.world.campaign_on("seo", self.now.date())
        props = {
            "asset": title.format(year=self.world.year),
            "url": f"{_SITE}/resources/{slug}",
        }
        self.touch("content_download", props, campaign)

    def webinar(self, attend: float = 0.55) -> bool:
        """Register for a webinar open for registration now; maybe attend it."""
        day = self.now.date()
        open_ones = [
            key
            for key in _WEBINAR_KEYS
            if self.world.campaign_on(key, day)
            and self.now < self.world.webinar_at(key)
        ]
        if not open_ones or not self.open:
            return False
        key = self.rng.choice(open_ones)
        name = self.world.campaigns[key].name.removeprefix("Webinar: ")
        self.touch("webinar_registered", {"webinar": name}, key)
        if self.rng.random() < attend:
            starts = self.world.webinar_at(key)
            if self._move_to(starts + timedelta(seconds=self.rng.randint(0, 600))):
                self.touch("webinar_attended", {"webinar": name}, key)
        return True

    def event_scan(self) -> bool:
        """A badge scan at the booth; sets the clock to the event (first touch only)."""
        summit = self.world.campaigns["summit"]
        days = (summit.ends_on - summit.starts_on).days + 1
        day = summit.starts_on + timedelta(days=self.rng.randrange(days))
        at = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(
            seconds=self.rng.randint(8 * 3600, 17 * 3600)
        )
        if self.touches or not self.world.start <= at < self.world.end:
            return False
        self.now = at
        self.touch(
            "form_submit", {"form": "event-badge-scan", "event": summit.name}, "summit"
        )
        return True

    def high_intent(self) -> None:
        """A demo request or a trial sign-up (sometimes both), maybe a cart."""
        campaign = self._campaign(_INTENT_CAMPAIGNS)
        if self.rng.random() < 0.6:
            self.touch(
                "demo_request",
                {"form": "demo-request", "url": f"{_SITE}/demo"},
                campaign,
            )
            if self.rng.random() < 0.2:
                self.later(0, 3)
                self._trial(campaign)
        else:
            self._trial(campaign)

    def _trial(self, campaign: str | None) -> None:
        plan = self.rng.choice(("starter", "growth", "growth", "enterprise"))
        self.touch("trial_signup", {"plan": plan, "url": f"{_SITE}/signup"}, campaign)
        if plan != "enterprise" and self.rng.random() < 0.15:
            self.later(2, 10)
            seats = self.rng.choice((3, 5, 5, 10, 25))
            self.touch(
                "cart_add", {"plan": plan, "seats": seats, "url": f"{_SITE}/checkout"}
            )

    # Stage history --------------------------------------------------------

    def move(
        self,
        to_stage: str,
        reason: str = "",
        *,
        actor: str | None = None,
        handoff: _HandoffPlan | None = None,
        hold_days: int = 0,
    ) -> None:
        """Record a stage move now, by ``actor`` (a demo username) or the system."""
        if self.open:
            self.steps.append(
                HistoryStep(to_stage=to_stage, at=self.now, reason=reason)
            )
            self.step_meta.append((actor, handoff))
            self.stage = to_stage
            self.waiting_since = None
            self.hold_until = (
                self.now + timedelta(days=hold_days) if hold_days else None
            )

    def wait(self) -> None:
        """The MQL stays undecided: its handoff opens a few minutes from now."""
        if self.open:
            delay = timedelta(seconds=self.rng.randint(*SYSTEM_DELAY_SECONDS))
            self.waiting_since = min(self.now + delay, self.world.end)

    def sla_facts(self) -> dict[str, Any]:
        """What an SLA condition tests (handoff.selectors.lead_sla_facts), now.

        From the lead's person and company fields and its latest touchpoint;
        the score facts are unknown in the history (conditions on them fail).
        """
        lead = self.lead
        account = None
        if lead.account is not None:
            account = {f: getattr(lead.account, f) for f in ACCOUNT_FACT_FIELDS}
        values = {f: getattr(lead, f) for f in (*LEAD_FACT_FIELDS, "attributes")}
        facts = facts_from_values(values, account, None)
        facts.update(
            grade="",
            score=None,
            fit_score=None,
            engagement_score=None,
            last_touchpoint_kind=self.touches[-1].kind if self.touches else "",
        )
        return facts


def _workday(rng: random.Random, day: date) -> date:
    """Mostly move a weekend day to the next Monday: B2B buyers rest at weekends."""
    if day.weekday() >= 5 and rng.random() < 0.75:
        return day + timedelta(days=7 - day.weekday())
    return day


def _business_time(rng: random.Random, day: date, utc_offset: float) -> datetime:
    """A moment on ``day`` (UTC date) that is business hours at ``utc_offset``."""
    local_hour = rng.triangular(7.0, 20.0, 10.5)
    seconds = int(((local_hour - utc_offset) % 24) * 3600)
    return datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(
        seconds=seconds
    )
