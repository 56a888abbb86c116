"""The world generation reads: the clock, campaigns, accounts, users and SLAs."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from crm.demo.campaigns import _Send
from crm.demo.handoff_plans import _HandoffWorld
from leads.models import Account, Campaign


@dataclass
class _World:
    """Everything generation reads: the clock, campaigns, accounts, users, SLAs."""

    rng: random.Random
    start: datetime  # the first moment of the touchpoint window
    end: datetime  # midnight (UTC) starting "today": nothing happens from here on
    year: int
    campaigns: dict[str, Campaign]
    sends: list[_Send]
    send_times: list[datetime]
    users: dict[str, int]  # username -> id
    handoff: _HandoffWorld
    accounts: list[Account] = field(default_factory=list)
    account_cum: list[float] = field(default_factory=list)
    used_emails: set[str] = field(default_factory=set)
    #: MQLs undecided at the end, by lead id: when their handoff opened.
    waiting: dict[int, datetime] = field(default_factory=dict)

    def campaign_on(self, key: str | None, day: date) -> str | None:
        """``key`` when that campaign runs on ``day``, else None."""
        if key is None:
            return None
        campaign = self.campaigns[key]
        if campaign.starts_on <= day and (
            campaign.ends_on is None or day <= campaign.ends_on
        ):
            return key
        return None

    def webinar_at(self, key: str) -> datetime:
        ends_on = self.campaigns[key].ends_on
        return datetime(ends_on.year, ends_on.month, ends_on.day, 16, tzinfo=UTC)
