"""Demo data: a realistic, reproducible data set for trying Leadflow.

``demo_seed`` fills an empty database with accounts, campaigns, leads, 90 days
of touchpoints and a lifecycle history for the leads that went somewhere. All
of it follows from one random seed and one "today": the same two give the same
rows (primary keys and the demo users aside). ``demo_users_ensure`` creates or
updates the demo logins (SDRs, reps, a manager and one per other role). The
``seed_demo`` management command is a thin caller of both.

The handoff side follows from the same journeys: SDR teams, business
calendars and SLAs; for every MQL in the history the handoffs an SDR worked
(contact attempts, the decision with its reason and feedback, breaches that
expired and were reassigned) and the sales outcomes after acceptance; and for
every lead that is an MQL at the end, one pending handoff opened through
``handoff.services.handoffs_open_many`` (what ``handoff_open`` stores for
each in turn, in bulk), so the SAL queue has work in it.

The lists below are curated by hand (no Faker): names by nationality, company
name parts, job titles, campaigns, pages and e-mails. Generation uses only its
own ``random.Random(seed)`` and iterates lists, never sets, so the output does
not depend on hash seeds or the global random state.

The package: ``defaults`` (public constants, demo logins, result types),
``catalogue`` (the curated lists, loaded from ``data/*.json``), ``campaigns``,
``accounts``, ``journeys`` and ``journey_paths`` (touchpoints and stages),
``lead_plans``, ``sales`` and ``handoff_history`` (what happened after MQL),
``teams``, ``handoff_plans`` and ``handoff_setup`` (SDR teams, calendars,
SLAs), ``scoring_model`` (the demo's B2B scoring model), ``writing`` (bulk
inserts) and ``seeding`` (``demo_seed``).
"""

from crm.demo.defaults import (
    DEFAULT_LEADS,
    DEFAULT_SEED,
    DEMO_PASSWORD,
    DEMO_USERS,
    MAX_LEADS,
    DemoDataPresent,
    DemoSummary,
    DemoUser,
)
from crm.demo.seeding import (
    demo_data_counts,
    demo_data_delete,
    demo_seed,
    demo_users_ensure,
)
from leads.geo import region_for_country
from leads.titles import department_from_title, seniority_from_title

__all__ = [
    "DEFAULT_LEADS",
    "DEFAULT_SEED",
    "DEMO_PASSWORD",
    "DEMO_USERS",
    "MAX_LEADS",
    "DemoDataPresent",
    "DemoSummary",
    "DemoUser",
    "demo_data_counts",
    "demo_data_delete",
    "demo_seed",
    "demo_users_ensure",
    "department_from_title",
    "region_for_country",
    "seniority_from_title",
]
