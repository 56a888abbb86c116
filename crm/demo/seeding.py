"""The top level: counting and deleting demo data, demo logins, ``demo_seed``."""

from __future__ import annotations

import dataclasses
import itertools
import logging
import math
import os
import random
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.db import connection, transaction
from django.db.models import Count, F
from django.utils import timezone

from crm.common import roles
from crm.demo.accounts import _accounts_build
from crm.demo.bulk_load import LoadWindow, rows_insert
from crm.demo.campaigns import _campaigns_build, _sends_build, _spend_build
from crm.demo.defaults import (
    DEFAULT_LEADS,
    DEFAULT_SEED,
    DEMO_PASSWORD,
    DEMO_USERS,
    HISTORY_DAYS,
    LEAD_CHUNK_SIZE,
    LEADS_PER_ACCOUNT,
    MAX_LEADS,
    MIN_ACCOUNTS,
    OWNER_UPDATE_BATCH,
    DemoDataPresent,
    DemoSummary,
    Stage,
)
from crm.demo.handoff_setup import (
    _handoff_config_delete,
    _handoff_setup,
    _team_members_write,
)
from crm.demo.lead_plans import _lead_plan
from crm.demo.scoring_model import demo_model_activate
from crm.demo.showcase import _showcase_slots
from crm.demo.teams import DEMO_SLAS
from crm.demo.world import _World
from crm.demo.writing import _chunk_write, _commitments_set, _handoffs_open_present
from crm.marketing.attribution_rollup import attribution_all_rebuild
from crm.marketing.rollup import funnel_rollup_rebuild
from crm.marketing.rule_rollup import rule_rollup_rebuild
from crm.models import AttributionDay, CampaignCredit
from handoff.models import (
    ContactAttempt,
    Handoff,
    HandoffEvent,
    SalesOutcome,
    SalesProfile,
    ServiceLevelAgreement,
)
from handoff.services.follow_up import follow_up_places_rebuild
from leads.models import (
    Account,
    AttributionMark,
    Campaign,
    CampaignSpend,
    Lead,
    OwnerChange,
    StageTransition,
    Touchpoint,
)
from scoring.bulk import model_rescore_all
from scoring.models import AccountScore, LeadScore, LeadScoreHistory, RescoreChunk
from scoring.services import SYSTEM_ACTOR as SCORING_ACTOR

logger = logging.getLogger("crm.demo")

#: The tables the seed fills in bulk: loaded without their foreign keys and
#: secondary indexes (``LoadWindow``), which come back at the end.
LOADED_MODELS = (
    Account,
    Lead,
    Touchpoint,
    StageTransition,
    LeadScore,
    LeadScoreHistory,
    Handoff,
    HandoffEvent,
    ContactAttempt,
    SalesOutcome,
    OwnerChange,
)


def demo_data_counts() -> dict[str, int]:
    """How many leads, accounts, campaigns and handoffs the database holds."""
    return {
        "leads": Lead.objects.count(),
        "accounts": Account.objects.count(),
        "campaigns": Campaign.objects.count(),
        "handoffs": Handoff.objects.count(),
    }


def demo_data_delete() -> dict[str, int]:
    """Delete every touchpoint, stage transition, lead, account and campaign.

    Also the scores of leads and accounts and the chunks of bulk rescores
    (their id ranges name leads that are gone), every handoff with its
    contact attempts, events and sales outcomes, and the demo's calendars,
    teams and SLAs with the demo SDRs' team memberships. Users (demo or not)
    and their sales profiles, groups, touchpoint kinds, scoring models and
    what the handoff migrations create (reasons, the default calendar, team
    and SLAs) stay. Deletes child tables first with one plain DELETE each,
    bypassing Django's collector, which would load every lead to cascade by
    hand. A later model that points at these tables must be added to the
    order here, before its parent. Call inside a transaction; returns the
    rows deleted per table.
    """
    deleted = {}
    for model in (
        HandoffEvent,
        ContactAttempt,
        SalesOutcome,
        Handoff,
        OwnerChange,
        Touchpoint,
        StageTransition,
        LeadScore,
        LeadScoreHistory,
        AccountScore,
        RescoreChunk,
        Lead,
        Account,
        CampaignCredit,
        AttributionDay,
        AttributionMark,
        CampaignSpend,
        Campaign,
    ):
        queryset = model.objects.all()
        deleted[model._meta.label] = queryset._raw_delete(queryset.db)
    deleted.update(_handoff_config_delete())
    logger.info("demo data deleted: %s", deleted)
    return deleted


@transaction.atomic
def demo_users_ensure() -> dict[str, int]:
    """Create or update the demo users; return their ids by username.

    Idempotent: each run sets names, e-mail, flags, the one role group and
    the password ``leadflow-demo`` of the users in DEMO_USERS, creating the
    missing ones, and the manager flag of the SDRs' and reps' sales profiles
    (whether someone is away is demo data: ``demo_seed`` sets it). Other
    users are left alone. The role groups must exist (the ``crm`` migrations
    create them).
    """
    user_model = get_user_model()
    # One hash for all: hashing is deliberately slow, the password is public.
    password = make_password(DEMO_PASSWORD)
    groups = {group.name: group for group in Group.objects.filter(name__in=roles.ROLES)}
    ids = {}
    for spec in DEMO_USERS:
        user, _ = user_model.objects.get_or_create(username=spec.username)
        user.first_name = spec.first_name
        user.last_name = spec.last_name
        user.email = spec.email
        user.is_active = True
        user.is_staff = spec.is_staff
        user.is_superuser = spec.is_superuser
        user.password = password
        user.save()
        user.groups.set([groups[spec.role]])
        if spec.role in (roles.SDR, roles.SALES):
            SalesProfile.objects.update_or_create(
                user=user, defaults={"is_manager": spec.is_manager}
            )
        ids[spec.username] = user.id
    return ids


def demo_seed(
    *,
    leads: int = DEFAULT_LEADS,
    seed: int = DEFAULT_SEED,
    today: date,
    reset: bool = False,
    progress: Callable[[int], object] | None = None,
) -> DemoSummary:
    """Fill the database with a reproducible demo data set; return what was written.

    The same ``seed`` and ``today`` give the same rows (ids aside). Writes
    about one account per 8 leads, the demo campaigns, ``leads`` leads with
    90 days of touchpoints before ``today`` (UTC) and the stage history of
    those that moved, plus the demo users (``demo_users_ensure``). The
    handoff side: the demo calendars, SDR teams and SLAs (``DEMO_SLAS``,
    next to the migration's), one SDR away, and for every MQL of the history
    its handoffs with contact attempts, events, the decision and the sales
    outcomes after acceptance, as the handoff services would have recorded
    them. Everything happens in one transaction: on any error nothing is
    written.

    Raises DemoDataPresent (nothing written) when leads, accounts, campaigns
    or handoffs exist, unless ``reset`` is true: then those and all
    touchpoints, transitions and handoffs are deleted first
    (``demo_data_delete``), in the same transaction. Raises ValueError for
    ``leads`` outside 1..MAX_LEADS or a negative ``seed``, RuntimeError when
    the handoff migrations' default SLA or standard reasons are missing.
    ``progress`` is called with the number of leads written after each
    chunk. The history sends no signals and enqueues no tasks: it is past,
    it triggers no present-day work.

    Last, the demo's B2B model becomes the active scoring model
    (``crm.demo.scoring_model``: kept when a version of it is active already)
    and every lead is scored under it as of the end
    of the history (00:00 UTC on ``today``) with the bulk path, so the demo
    opens with scores and breakdowns; leads that qualify move to ``mql``
    through the lifecycle (system actor ``scoring``), and those moves, being
    present-day, announce themselves after commit like any promotion. Then
    every MQL gets its one pending handoff as ``handoff_open`` would give it,
    in bulk (``handoffs_open_many``), as of the end of the history for the
    ones scoring promoted, as of when they became MQLs for the older ones, so
    the SAL queue holds work on track, at risk and overdue; the handoff task
    the promotions enqueue after commit finds it and opens none. At the very
    end the funnel's roll-up is rebuilt (``crm.marketing.rollup``), so the
    dashboard reads the new history.
    """
    if not 1 <= leads <= MAX_LEADS:
        raise ValueError(f"leads must be between 1 and {MAX_LEADS:,}, not {leads}.")
    if seed < 0:
        raise ValueError(f"seed must not be negative, not {seed}.")
    started = time.monotonic()
    with transaction.atomic():
        counts = demo_data_counts()
        if any(counts.values()):
            if not reset:
                raise DemoDataPresent(**counts)
            demo_data_delete()
        users = demo_users_ensure()
        summary = _seed(
            leads=leads, seed=seed, today=today, users=users, progress=progress
        )
        # The history's handoffs were written in bulk, past the services that
        # keep each lead's place in its pipeline column.
        follow_up_places_rebuild()
    # The campaign pages' figures: the roll-up of every day with conversions.
    attribution_all_rebuild(now=timezone.now(), workers=_workers())
    _planner_statistics_refresh(vacuum=True)
    funnel_rollup_rebuild()
    rule_rollup_rebuild()
    elapsed = round(time.monotonic() - started, 1)
    logger.info(
        "demo data seeded: seed %s, today %s, %s leads, %s touchpoints, "
        "%s transitions, %s MQLs from scoring in %.1f s",
        seed,
        today,
        summary.leads,
        summary.touchpoints,
        summary.transitions,
        summary.mqls_from_scoring,
        elapsed,
    )
    return dataclasses.replace(summary, elapsed_seconds=elapsed)


def _workers() -> int:
    """Processes for the work after the load that can share the cores."""
    return max(1, min(4, os.cpu_count() or 1))


def _planner_statistics_refresh(*, vacuum: bool = False) -> None:
    """Give PostgreSQL's planner statistics of the tables just filled.

    Without them (autovacuum may not have run yet, or is off) the planner
    guesses and reads whole tables where an index would do: the SAL queue's
    touchpoints took 26 ms instead of 0.4 ms on a fresh 100,000-lead demo.

    Only the project's own tables: a bare ``ANALYZE`` also samples the
    shared catalogs (``pg_authid``, ``pg_database``), whose lock every other
    database's ``ANALYZE`` on the server waits for.

    With ``vacuum`` (after the load has committed) the tables are vacuumed
    too, which marks their pages all-visible: the dashboard's counts read
    their covering indexes alone (index-only scans) from the first request.
    Inside a transaction (a test's) VACUUM cannot run; it analyses only.
    """
    if connection.vendor == "postgresql":
        tables = sorted(connection.introspection.django_table_names(True))
        command = "VACUUM (ANALYZE) " if vacuum else "ANALYZE "
        if connection.in_atomic_block:
            command = "ANALYZE "
        with connection.cursor() as cursor:
            cursor.execute(
                command + ", ".join(connection.ops.quote_name(t) for t in tables)
            )


def _seed(
    *,
    leads: int,
    seed: int,
    today: date,
    users: dict[str, int],
    progress: Callable[[int], object] | None,
) -> DemoSummary:
    rng = random.Random(seed)
    end = datetime(today.year, today.month, today.day, tzinfo=UTC)
    start = end - timedelta(days=HISTORY_DAYS)

    # The demo's story needs its B2B model (gates included), whatever model
    # the install had: the history's scores and the final rescore use it.
    model = demo_model_activate(now=end)
    handoff_world = _handoff_setup(today=today, start=start, end=end, users=users)
    keyed = _campaigns_build(rng, today)
    Campaign.objects.bulk_create([c for _, c in keyed])
    # Its own random stream: the spend leaves the rest of the demo as it was.
    CampaignSpend.objects.bulk_create(
        _spend_build(random.Random(seed), [c for _, c in keyed], start.date(), today)
    )
    campaigns = dict(keyed)
    sends = _sends_build(campaigns, end)
    world = _World(
        rng=rng,
        start=start,
        end=end,
        year=today.year,
        campaigns=campaigns,
        sends=sends,
        send_times=[s.at for s in sends],
        users=users,
        handoff=handoff_world,
    )

    # The bulk tables' keys and secondary indexes wait until the rows are in.
    window = LoadWindow(LOADED_MODELS)
    window.open()
    accounts = _accounts_build(rng, max(MIN_ACCOUNTS, leads // LEADS_PER_ACCOUNT))
    rows_insert(Account, accounts)
    world.accounts = accounts
    # Bigger companies have more people who find us.
    world.account_cum = list(
        itertools.accumulate(
            1 + math.log(a.employee_count) if a.employee_count else 3.0
            for a in accounts
        )
    )

    stages: Counter[str] = Counter()
    touchpoint_count = transition_count = 0
    # The first leads are scripted so every rep's pipeline shows each kind of work.
    showcase = _showcase_slots(leads)
    for chunk_start in range(0, leads, LEAD_CHUNK_SIZE):
        size = min(LEAD_CHUNK_SIZE, leads - chunk_start)
        plans = [
            _lead_plan(world, showcase[i] if i < len(showcase) else None)
            for i in range(chunk_start, chunk_start + size)
        ]
        stages.update(plan.lead.stage for plan in plans)
        touches, transitions = _chunk_write(world, plans)
        touchpoint_count += touches
        transition_count += transitions
        if progress is not None:
            progress(size)
    window.indexes_restore()
    # The bulk load left the planner without statistics of what it wrote;
    # the scoring, handoff and clean-up statements below need them.
    _planner_statistics_refresh()
    _team_members_write(world.handoff)
    # Accounts with a deal in the works (or whose lead an SDR handed over)
    # belong to the rep who works them.
    _account_owners_write(world)

    promoted = 0
    # As of the end of the history, so the same seed scores the same.
    model_rescore_all(model=model, now=end)
    moves = (
        StageTransition.objects.filter(system_actor=SCORING_ACTOR)
        .values_list("from_stage")
        .annotate(count=Count("id"))
        .order_by()
    )
    for from_stage, count in moves:
        stages[from_stage] -= count
        stages[Stage.MQL] += count
        promoted += count
    # The scores and the history's handoffs were written after the first
    # statistics: without fresh ones, opening each handoff below looks its
    # lead's score up through the wrong index (200 ms a handoff at 1M leads).
    _planner_statistics_refresh()
    # After scoring, so each MQL's handoff keeps its score.
    _handoffs_open_present(world)
    _commitments_set(world)
    # After scoring: a lifecycle move stamps updated_at with the wall clock.
    _timestamps_fix(world, keyed)
    # Last: adding the keys back checks every row written above.
    window.close()
    statuses = dict(
        Handoff.objects.values_list("status").annotate(n=Count("id")).order_by()
    )
    return DemoSummary(
        accounts=len(accounts),
        leads=leads,
        campaigns=len(keyed),
        touchpoints=touchpoint_count,
        transitions=transition_count + promoted,
        leads_per_stage={stage.value: stages[stage.value] for stage in Stage},
        elapsed_seconds=0.0,
        scoring_model=str(model),
        mqls_from_scoring=promoted,
        handoffs_per_status={
            status: statuses.get(status, 0) for status in Handoff.Status.values
        },
        contact_attempts=ContactAttempt.objects.count(),
        sales_outcomes=SalesOutcome.objects.count(),
        queue=_queue_counts(end),
    )


def _account_owners_write(world: _World) -> None:
    """Give each account a rep worked with its owner (``_account_rep``)."""
    by_rep: dict[str, list[str]] = {}
    for domain, rep in world.handoff.account_reps.items():
        by_rep.setdefault(rep, []).append(domain)
    for rep, domains in sorted(by_rep.items()):
        for low in range(0, len(domains), OWNER_UPDATE_BATCH):
            Account.objects.filter(
                domain__in=domains[low : low + OWNER_UPDATE_BATCH]
            ).update(owner_id=world.users[rep])


def _queue_counts(now: datetime) -> dict[str, int]:
    """Pending handoffs by how they stand at ``now``: on track, at risk, overdue."""
    pending = Handoff.objects.filter(status=Handoff.Status.PENDING)
    return {
        "on track": pending.filter(at_risk_at__gt=now).count(),
        "at risk": pending.filter(at_risk_at__lte=now, due_at__gt=now).count(),
        "overdue": pending.filter(due_at__lte=now).count(),
    }


def _timestamps_fix(world: _World, keyed: list[tuple[str, Campaign]]) -> None:
    """Replace the auto_now(_add) stamps of this run with dates from the story.

    bulk_create stamps created_at/updated_at with the wall clock, which would
    make two runs differ and put every account's creation after its leads.
    UPDATE does not touch auto_now fields, so set them here.
    """
    for _, campaign in keyed:
        day = campaign.starts_on - timedelta(days=7)
        Campaign.objects.filter(id=campaign.id).update(
            created_at=datetime(day.year, day.month, day.day, 9, tzinfo=UTC)
        )
    # Set-based: one aggregate over the leads, not a subquery per account,
    # which the planner can turn into a walk of the created-at index per row.
    Account.objects.update(created_at=world.start, updated_at=world.start)
    account_table, lead_table = Account._meta.db_table, Lead._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {account_table} SET created_at = f.first, updated_at = f.first "  # nosec B608: names from model meta
            f"FROM (SELECT account_id, MIN(created_at) AS first FROM {lead_table} "
            "WHERE account_id IS NOT NULL GROUP BY account_id) AS f "
            f"WHERE {account_table}.id = f.account_id"
        )
    # Only the leads whose row was stamped otherwise: on PostgreSQL the load
    # wrote this value already, and scoring's moves stamped the wall clock.
    Lead.objects.exclude(updated_at=F("stage_changed_at")).update(
        updated_at=F("stage_changed_at")
    )
    # The demo SLAs were agreed a week before the history starts.
    agreed = world.start - timedelta(days=7) + timedelta(hours=9)
    ServiceLevelAgreement.objects.filter(
        name__in=[spec.name for spec in DEMO_SLAS]
    ).update(created_at=agreed, updated_at=agreed)
