"""Public constants of the demo data, the demo logins and what a seed returns."""

from __future__ import annotations

from dataclasses import dataclass, field

from crm.common import roles
from leads.models import Campaign, Lead

Stage = Lead.Stage
Channel = Campaign.Channel

DEMO_PASSWORD = "leadflow-demo"
DEFAULT_LEADS = 2_000
DEFAULT_SEED = 42
MAX_LEADS = 1_000_000
#: Touchpoints fall in this many days before "today".
HISTORY_DAYS = 90
#: ``system_actor`` of the demo stage transitions and ``source`` of its touchpoints.
DEMO_SOURCE = "demo"

#: One account per this many leads (at least MIN_ACCOUNTS).
LEADS_PER_ACCOUNT = 8
MIN_ACCOUNTS = 20
#: Share of leads on a free-mail address, with no account.
FREEMAIL_SHARE = 0.20
# MQLs from this many days before today are mostly still waiting for an SDR.
MQL_PENDING_DAYS = 5
# Leads generated, inserted and dropped together with their touchpoints and
# transitions: about 25,000 model instances, a few tens of MB, whatever --leads is.
LEAD_CHUNK_SIZE = 5_000
# Rows per INSERT. SQLite lowers it further (999 parameters per statement).
INSERT_BATCH_SIZE = 2_000
# Account domains per UPDATE of their owner: under SQLite's 999 parameters.
OWNER_UPDATE_BATCH = 500


@dataclass(frozen=True)
class DemoUser:
    """One demo login: a user in one role group."""

    username: str
    first_name: str
    last_name: str
    role: str
    is_staff: bool = False
    is_superuser: bool = False
    #: SalesProfile.is_manager: sees the SLA report and may decide any handoff.
    is_manager: bool = False

    @property
    def email(self) -> str:
        return f"{self.first_name}.{self.last_name}@leadflow.example".lower()


DEMO_USERS: tuple[DemoUser, ...] = (
    DemoUser("marketer", "Maya", "Lindqvist", roles.MARKETING, is_staff=True),
    DemoUser("sdr1", "Jordan", "Reyes", roles.SDR),
    DemoUser("sdr2", "Priya", "Nair", roles.SDR),
    DemoUser("sdr3", "Marcus", "Bell", roles.SDR),
    DemoUser("sdr4", "Lena", "Hoffmann", roles.SDR),
    DemoUser("manager", "Rosa", "Delgado", roles.SDR, is_manager=True),
    DemoUser("rep1", "Daniel", "Okafor", roles.SALES),
    DemoUser("rep2", "Claire", "Dubois", roles.SALES),
    DemoUser("rep3", "Kenji", "Watanabe", roles.SALES),
    DemoUser("salesmanager", "Helen", "Achterberg", roles.SALES, is_manager=True),
    DemoUser(
        "admin", "Sam", "Whitfield", roles.ADMIN, is_staff=True, is_superuser=True
    ),
)
#: Each demo login's full name, as the services write it in event details.
DEMO_NAMES = {u.username: f"{u.first_name} {u.last_name}" for u in DEMO_USERS}
#: Sales reps who take SQLs; each account belongs to one of them.
DEMO_REPS = ("rep1", "rep2", "rep3")
#: The manager of the SDR teams: told when a handoff breaches a demo SLA.
DEMO_MANAGER = "manager"
#: The sales manager: hands leads in the pipeline from one owner to another.
DEMO_SALES_MANAGER = "salesmanager"
#: The SDR on leave when the demo opens: away since a few days before today,
#: back a week after it, so the queue shows assignment skipping them.
DEMO_AWAY_SDR = "sdr4"
DEMO_AWAY_SINCE_DAYS = 3
DEMO_AWAY_FOR_DAYS = 7


@dataclass(frozen=True)
class DemoSummary:
    """What one ``demo_seed`` run wrote."""

    accounts: int
    leads: int
    campaigns: int
    touchpoints: int
    transitions: int
    #: Every stage code in funnel order, with its number of leads (0 included).
    leads_per_stage: dict[str, int]
    elapsed_seconds: float
    #: The active scoring model the leads were scored under ("" when none).
    scoring_model: str = ""
    #: Leads that scoring moved to ``mql`` at the end of the seed.
    mqls_from_scoring: int = 0
    #: Every handoff status code with its number of handoffs (0 included).
    handoffs_per_status: dict[str, int] = field(default_factory=dict)
    contact_attempts: int = 0
    sales_outcomes: int = 0
    #: The SAL queue as of the end of the history (00:00 UTC on today):
    #: pending handoffs on track, at risk and overdue.
    queue: dict[str, int] = field(default_factory=dict)

    @property
    def handoffs(self) -> int:
        return sum(self.handoffs_per_status.values())


class DemoDataPresent(Exception):
    """The database already holds leads, accounts, campaigns or handoffs.

    Nothing was written.
    """

    def __init__(self, *, leads: int, accounts: int, campaigns: int, handoffs: int = 0):
        self.leads = leads
        self.handoffs = handoffs
        self.accounts = accounts
        self.campaigns = campaigns
        super().__init__(
            f"The database already holds {leads:,} leads, {accounts:,} accounts "
            f"and {campaigns:,} campaigns."
        )
