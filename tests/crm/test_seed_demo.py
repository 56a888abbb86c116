"""The seed_demo command and the demo data it writes (crm.demo)."""

from __future__ import annotations

import io
import itertools
import json
import random
import re
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import transaction
from django.db.models import Min

from crm import demo
from crm.demo import seeding, writing
from crm.demo.defaults import DEMO_NAMES
from crm.demo.sales import _deal_amount
from crm.marketing.funnel import funnel
from crm.models import FunnelCohortCount, FunnelRollupState
from crm.selectors import lead_score_chart
from handoff import business_hours
from handoff.clock import ClockState, follow_up_clock
from handoff.models import (
    BusinessCalendar,
    ContactAttempt,
    Handoff,
    HandoffEvent,
    Holiday,
    RejectionReason,
    SalesOutcome,
    SalesProfile,
    ServiceLevelAgreement,
    Team,
    TeamMember,
)
from handoff.selectors import follow_up_place_live
from leads.freemail import is_freemail
from leads.lifecycle import ALLOWED_MOVES, FUNNEL, stage_rank
from leads.models import (
    Account,
    Campaign,
    CampaignSpend,
    Lead,
    LeadRank,
    OwnerChange,
    StageTransition,
    Touchpoint,
)
from scoring.bulk import model_rescore_all
from scoring.models import LeadScore, LeadScoreHistory, RescoreChunk, ScoringModel

User = get_user_model()

#: Demo logins by the full name the history writes.
USERNAMES = {name: username for username, name in DEMO_NAMES.items()}


@pytest.fixture(autouse=True)
def _debug_on(settings):
    """seed_demo runs in development (DEBUG on); the test runner turns it off."""
    settings.DEBUG = True


TODAY = "2026-03-01"
END = datetime(2026, 3, 1, tzinfo=UTC)
START = END - timedelta(days=90)
LEADS = "300"
#: A seed whose 300 leads go through every funnel stage and leave the SAL
#: queue with handoffs on track, at risk and overdue.
SEED = "11"

LOGINS = (
    "Demo logins at http://127.0.0.1:8000/accounts/login/\n"
    "  username      role       password\n"
    "  marketer      Marketing  leadflow-demo\n"
    "  sdr1          SDR        leadflow-demo\n"
    "  sdr2          SDR        leadflow-demo\n"
    "  sdr3          SDR        leadflow-demo\n"
    "  sdr4          SDR        leadflow-demo\n"
    "  manager       SDR        leadflow-demo\n"
    "  rep1          Sales      leadflow-demo\n"
    "  rep2          Sales      leadflow-demo\n"
    "  rep3          Sales      leadflow-demo\n"
    "  salesmanager  Sales      leadflow-demo\n"
    "  admin         Admin      leadflow-demo\n"
)
SDRS = ("sdr1", "sdr2", "sdr3", "sdr4")
REPS = ("rep1", "rep2", "rep3")
#: What the handoff migrations create: the demo leaves it as it is.
MIGRATION_SLAS = ["Standard MQL", "Territory review"]
DEMO_SLAS = ["Demo requests", "Enterprise EMEA", "EMEA", "North America"]
NOTHING = {
    "Account": 0,
    "Campaign": 0,
    "Lead": 0,
    "Touchpoint": 0,
    "StageTransition": 0,
    "User": 0,
    "Handoff": 0,
    "ContactAttempt": 0,
    "HandoffEvent": 0,
    "SalesOutcome": 0,
    "ServiceLevelAgreement": 2,
    "Team": 1,
    "TeamMember": 0,
    "BusinessCalendar": 1,
}


def seed_demo(*args: str, stderr: io.StringIO | None = None, **options) -> str:
    """Run the command as ``manage.py seed_demo *args`` would; return its stdout."""
    out = io.StringIO()
    call_command(
        "seed_demo", *args, stdout=out, stderr=stderr or io.StringIO(), **options
    )
    return out.getvalue()


def seed_small(*args: str) -> str:
    return seed_demo("--leads", LEADS, "--seed", SEED, "--today", TODAY, *args)


def row_counts() -> dict[str, int]:
    models = (
        Account,
        Campaign,
        Lead,
        Touchpoint,
        StageTransition,
        User,
        Handoff,
        ContactAttempt,
        HandoffEvent,
        SalesOutcome,
        ServiceLevelAgreement,
        Team,
        TeamMember,
        BusinessCalendar,
    )
    return {model.__name__: model.objects.count() for model in models}


def _json(value: dict) -> str:
    return json.dumps(value, sort_keys=True)


def canonical_dump() -> dict[str, list[tuple]]:
    """Every demo row without primary keys, in a stable order."""
    leads = [
        (*row[:-1], _json(row[-1]))
        for row in Lead.objects.values_list(
            "email", "first_name", "last_name", "job_title", "seniority",
            "department", "phone", "country", "region", "source", "utm_source",
            "utm_medium", "utm_campaign", "utm_term", "utm_content", "stage",
            "highest_stage", "stage_changed_at", "entered_lead_at",
            "entered_mql_at", "entered_sal_at", "entered_customer_at",
            "account__domain", "owner__username", "do_not_email", "do_not_call",
            "created_at", "updated_at", "attributes",
        )
    ]  # fmt: skip
    touchpoints = [
        (email, kind, at, received_at, source, external_id, campaign or "", _json(p))
        for email, kind, at, received_at, source, external_id, campaign, p in (
            Touchpoint.objects.values_list(
                "lead__email", "kind", "occurred_at", "received_at", "source",
                "external_id", "campaign__name", "properties",
            )
        )
    ]  # fmt: skip
    # An acceptance names its handoff by id; ids are not part of the promise.
    transitions = [
        (*row[:4], re.sub(r"handoff \d+", "handoff #", row[4]), *row[5:])
        for row in StageTransition.objects.values_list(
            "lead__email", "from_stage", "to_stage", "at", "reason", "system_actor",
            "actor__username",
        )
    ]  # fmt: skip
    accounts = list(
        Account.objects.values_list(
            "domain", "name", "industry", "employee_count", "annual_revenue",
            "country", "owner__username", "created_at", "updated_at",
        )
    )  # fmt: skip
    campaigns = list(
        Campaign.objects.values_list(
            "name", "channel", "utm_source", "utm_medium", "utm_campaign", "budget",
            "starts_on", "ends_on", "created_at",
        )
    )  # fmt: skip
    return {
        "leads": sorted(leads),
        "touchpoints": sorted(touchpoints),
        "transitions": sorted(transitions, key=repr),
        "accounts": sorted(accounts, key=lambda row: row[0]),
        "campaigns": sorted(campaigns),
        **handoff_dump(),
    }


def handoff_dump() -> dict[str, list[tuple]]:
    """Every handoff row and the demo's SLA set-up, without primary keys."""
    handoffs = [
        (*row[:-1], [(i["label"], i["points"], i["occurrences"]) for i in row[-1]])
        for row in Handoff.objects.values_list(
            "lead__email", "sequence", "previous__sequence", "sla__name",
            "team__name", "assigned_to__username", "status", "mql_at", "created_at",
            "due_at", "at_risk_at", "reminded_at", "expired_at", "first_attempt_at",
            "decided_at", "decided_by__username", "reason__code", "feedback",
            "owner__username", "follow_up_due_at", "followed_up_at",
            "follow_up_breached_at", "score", "fit_score", "engagement_score",
            "grade", "scoring_model", "score_breakdown",
        )
    ]  # fmt: skip
    attempts = list(
        ContactAttempt.objects.values_list(
            "handoff__lead__email", "handoff__sequence", "user__username",
            "channel", "outcome", "note", "at",
        )
    )  # fmt: skip
    events = list(
        HandoffEvent.objects.values_list(
            "handoff__lead__email", "handoff__sequence", "kind", "at",
            "actor__username", "detail",
        )
    )  # fmt: skip
    outcomes = list(
        SalesOutcome.objects.values_list(
            "lead__email", "handoff__sequence", "from_stage", "to_stage",
            "reason__code", "feedback", "actor__username", "at", "amount",
            "expected_close_on",
        )
    )  # fmt: skip
    slas = [
        (*row[:-1], _json(row[-1]))
        for row in ServiceLevelAgreement.objects.values_list(
            "name", "priority", "is_default", "reroute_only", "team__name",
            "calendar__name", "accept_within_hours", "at_risk_percent",
            "follow_up_within_hours", "escalation_email", "volume_commitment",
            "volume_period", "notes", "created_at", "updated_at", "conditions",
        )
    ]  # fmt: skip
    members = list(
        TeamMember.objects.values_list(
            "team__name", "team__turn", "user__username", "assigned_count",
            "last_turn", "last_assigned_at",
        )
    )  # fmt: skip
    holidays = list(Holiday.objects.values_list("calendar__name", "date", "name"))
    return {
        "handoffs": sorted(handoffs, key=repr),
        "attempts": sorted(attempts, key=repr),
        "events": sorted(events, key=repr),
        "outcomes": sorted(outcomes, key=repr),
        "slas": sorted(slas, key=repr),
        "members": sorted(members, key=repr),
        "holidays": sorted(holidays),
    }


# Determinism ------------------------------------------------------------------


@pytest.mark.django_db
def test_same_seed_and_today_give_identical_data_and_another_seed_does_not():
    seed_small()
    first = canonical_dump()
    handoffs = Handoff.objects.count()

    seed_small("--reset")
    again = canonical_dump()
    seed_demo("--leads", LEADS, "--seed", "8", "--today", TODAY, "--reset")
    other = canonical_dump()

    assert len(first["leads"]) == 300
    assert len(first["accounts"]) == 37
    assert len(first["campaigns"]) == 14
    assert len(first["handoffs"]) == handoffs > 0
    assert again == first
    assert other["leads"] != first["leads"]
    assert other["touchpoints"] != first["touchpoints"]
    assert other["handoffs"] != first["handoffs"]


@pytest.mark.django_db
def test_chunk_size_does_not_change_the_data(monkeypatch):
    seed_small()
    whole = canonical_dump()
    monkeypatch.setattr(seeding, "LEAD_CHUNK_SIZE", 70)
    progress: list[int] = []

    demo.demo_seed(
        leads=300,
        seed=int(SEED),
        today=date(2026, 3, 1),
        reset=True,
        progress=progress.append,
    )

    assert progress == [70, 70, 70, 70, 20]
    assert canonical_dump() == whole


# Refusals ---------------------------------------------------------------------


@pytest.mark.django_db
def test_second_run_without_reset_is_refused_and_changes_nothing():
    seed_small()
    before = canonical_dump()

    with pytest.raises(CommandError) as excinfo:
        seed_demo("--leads", "50", "--today", TODAY)

    assert str(excinfo.value) == (
        "The database already holds 300 leads (and 37 accounts, 14 campaigns); "
        "nothing was changed. Run seed_demo again with --reset to delete them and "
        "seed demo data, or with --if-empty to keep them."
    )
    assert canonical_dump() == before


@pytest.mark.django_db
def test_if_empty_on_a_seeded_database_keeps_the_data_and_prints_the_logins():
    seed_small()
    before = canonical_dump()
    sdr2 = User.objects.get(username="sdr2")
    sdr2.groups.clear()
    sdr2.set_password("changed")
    sdr2.save()

    out = seed_demo("--if-empty", "--leads", "50", "--today", TODAY)

    assert out == (
        "Demo data is already present (300 leads, 37 accounts, 14 campaigns); "
        "not seeding.\n" + LOGINS
    )
    assert canonical_dump() == before
    sdr2.refresh_from_db()
    assert [group.name for group in sdr2.groups.all()] == ["SDR"]
    assert sdr2.check_password("leadflow-demo")
    assert User.objects.count() == len(demo.DEMO_USERS)


@pytest.mark.django_db
def test_if_empty_on_an_empty_database_seeds():
    out = seed_demo("--if-empty", "--leads", "40", "--today", TODAY)

    assert Lead.objects.count() == 40
    assert out.endswith(LOGINS)


@pytest.mark.django_db
def test_reset_replaces_the_data_but_keeps_the_users():
    seed_small()
    marketer_id = User.objects.get(username="marketer").id

    seed_demo("--leads", "25", "--today", TODAY, "--reset")

    assert Lead.objects.count() == 25
    assert Touchpoint.objects.exclude(lead__in=Lead.objects.all()).count() == 0
    # The rows loaded (by COPY on PostgreSQL) and scored have their copy for
    # the lists sorted by score, and the deleted ones none.
    assert sorted(LeadRank.objects.values_list("lead_id", "stage", "score")) == sorted(
        Lead.objects.values_list("id", "stage", "score")
    )
    assert User.objects.get(username="marketer").id == marketer_id
    assert User.objects.count() == len(demo.DEMO_USERS) == 11


@pytest.mark.parametrize(
    ("args", "options", "message"),
    [
        (
            ["--leads", "0"],
            {},
            "Error: argument --leads: 0 is out of range; give between 1 and "
            "1,000,000 leads.",
        ),
        (
            ["--leads", "1000001"],
            {},
            "Error: argument --leads: 1,000,001 is out of range; give between 1 "
            "and 1,000,000 leads.",
        ),
        (
            ["--leads", "abc"],
            {},
            "Error: argument --leads: 'abc' is not a whole number; give the number "
            "of leads, e.g. --leads 2000.",
        ),
        (
            ["--seed", "-1"],
            {},
            "Error: argument --seed: '-1' is not a non-negative whole number; use "
            "e.g. --seed 42.",
        ),
        (
            ["--today", "2026-02-30"],
            {},
            "Error: argument --today: '2026-02-30' is not a valid date; write it "
            "as YYYY-MM-DD, e.g. --today 2026-03-01.",
        ),
        (
            ["--today", "1.3.2026"],
            {},
            "Error: argument --today: '1.3.2026' is not a valid date; write it "
            "as YYYY-MM-DD, e.g. --today 2026-03-01.",
        ),
        (
            ["--reset", "--if-empty"],
            {},
            "Error: argument --if-empty: not allowed with argument --reset",
        ),
        # Keyword options skip argparse; the command checks them again.
        (
            [],
            {"leads": 0},
            "Error: argument --leads: 0 is out of range; give between 1 and "
            "1,000,000 leads.",
        ),
        (
            [],
            {"seed": -1},
            "Error: argument --seed: '-1' is not a non-negative whole number; use "
            "e.g. --seed 42.",
        ),
        (
            [],
            {"today": 20260301},
            "Error: argument --today: '20260301' is not a valid date; write it "
            "as YYYY-MM-DD, e.g. --today 2026-03-01.",
        ),
        (
            [],
            {"reset": True, "if_empty": True},
            "Error: --reset and --if-empty cannot be combined; --reset replaces "
            "existing data, --if-empty keeps it.",
        ),
    ],
)
@pytest.mark.django_db
def test_bad_options_are_refused_and_nothing_is_written(args, options, message):
    with pytest.raises(CommandError) as excinfo:
        seed_demo(*args, **options)

    assert str(excinfo.value) == message
    assert row_counts() == NOTHING


# All or nothing ---------------------------------------------------------------


def _fail(*args, **kwargs):
    raise RuntimeError("disk full")


@pytest.mark.django_db
def test_an_error_midway_writes_nothing(monkeypatch):
    monkeypatch.setattr(writing, "_transitions_insert", _fail)

    with pytest.raises(RuntimeError, match="disk full"):
        seed_small()

    assert row_counts() == NOTHING


@pytest.mark.django_db
def test_an_error_during_reset_keeps_the_previous_data(monkeypatch):
    seed_small()
    before = canonical_dump()
    monkeypatch.setattr(writing, "_touchpoints_insert", _fail)

    with pytest.raises(RuntimeError, match="disk full"):
        seed_demo("--leads", "20", "--seed", "1", "--today", TODAY, "--reset")

    assert canonical_dump() == before


# Data shape -------------------------------------------------------------------


@pytest.mark.django_db
def test_free_mail_leads_have_no_account_and_others_use_their_account_domain():
    seed_small()
    leads = list(Lead.objects.select_related("account"))

    free_with_account = [
        lead.email for lead in leads if is_freemail(lead.email_domain) and lead.account
    ]
    wrong_domain = [
        lead.email
        for lead in leads
        if not is_freemail(lead.email_domain)
        and (lead.account is None or lead.account.domain != lead.email_domain)
    ]
    assert free_with_account == []
    assert wrong_domain == []
    assert Lead.objects.filter(account__isnull=True).count() == sum(
        is_freemail(lead.email_domain) for lead in leads
    )


@pytest.mark.django_db
def test_derived_lead_fields_follow_title_and_country():
    seed_small()

    wrong = [
        lead.email
        for lead in Lead.objects.all()
        if (lead.seniority, lead.department, lead.region)
        != (
            demo.seniority_from_title(lead.job_title),
            demo.department_from_title(lead.job_title),
            demo.region_for_country(lead.country),
        )
    ]
    assert wrong == []
    assert Lead.objects.filter(do_not_email=True).count() == (
        Touchpoint.objects.filter(kind="unsubscribe").values("lead").distinct().count()
    )


@pytest.mark.django_db
def test_stage_history_is_allowed_and_explains_each_lead_stage():
    seed_small()
    moves = defaultdict(list)
    for transition in StageTransition.objects.select_related("actor").order_by(
        "at", "id"
    ):
        moves[transition.lead_id].append(transition)

    problems = []
    for lead in Lead.objects.select_related("owner", "account__owner"):
        history = moves[lead.id]
        path = [Lead.Stage.LEAD, *(t.to_stage for t in history)]
        highest = max((s for s in path if s in FUNNEL), key=stage_rank)
        last_at = history[-1].at if history else lead.entered_lead_at
        previous_stage, previous_at = Lead.Stage.LEAD, lead.entered_lead_at
        handed_to = None
        for t in history:
            # The history is past; scoring's moves to mql close it, at END.
            scored = (t.at, t.system_actor, t.to_stage) == (END, "scoring", "mql")
            # SDRs decide MQLs, SDRs and reps move the leads they own; the
            # system moves the rest.
            by_person = t.from_stage in ("mql", "sal", "sql", "opportunity")
            who = (t.actor.username if t.actor else None, t.system_actor)
            if (
                t.from_stage != previous_stage
                or t.to_stage not in ALLOWED_MOVES[t.from_stage]
                or t.at < previous_at
                or (t.at >= END and not scored)
                or (by_person and (who[0] not in (*SDRS, *REPS) or who[1] != ""))
                or (not by_person and who != (None, "demo") and not scored)
                or (t.to_stage in ("nurture", "disqualified") and not t.reason)
            ):
                problems.append((lead.email, t.from_stage, t.to_stage, t.at))
            if t.reason.startswith("Existing customer or open deal: handed to "):
                handed_to = USERNAMES[t.reason.rpartition("handed to ")[2]]
            previous_stage, previous_at = t.to_stage, t.at
        owner = lead.owner.username if lead.owner else None
        if handed_to is not None:
            expected = (handed_to,)
            account_owner = lead.account.owner.username
            if account_owner != handed_to:
                problems.append((lead.email, "handed to", handed_to, account_owner))
        elif stage_rank(highest) >= stage_rank("sql"):
            expected = REPS
        elif highest == "sal":
            # The rep the SLA's sales routing picked, or the SDR who kept it.
            expected = (*SDRS, *REPS)
        else:
            expected = (None,)
        if (
            lead.stage != path[-1]
            or lead.highest_stage != highest
            or lead.stage_changed_at != last_at
            or owner not in expected
        ):
            problems.append((lead.email, lead.stage, lead.highest_stage, owner))
    assert problems == []
    reached = set(StageTransition.objects.values_list("to_stage", flat=True))
    assert {"mql", "sal", "sql", "nurture", "disqualified"} <= reached


@pytest.mark.django_db
def test_touchpoints_fall_in_the_90_days_before_today_after_the_lead_was_created():
    seed_small()

    assert (
        Touchpoint.objects.exclude(occurred_at__gte=START, occurred_at__lt=END)[
            :5
        ].count()
        == 0
    )
    first_touch = dict(
        Touchpoint.objects.values("lead__email")
        .annotate(first=Min("occurred_at"))
        .values_list("lead__email", "first")
    )
    wrong = [
        email
        for email, created_at, entered_at in Lead.objects.values_list(
            "email", "created_at", "entered_lead_at"
        )
        if not created_at == entered_at == first_touch.get(email)
    ]
    assert wrong == []
    odd = [
        (t.lead_id, t.kind_id)
        for t in Touchpoint.objects.all()
        if t.source != "demo"
        or t.external_id is not None
        or not timedelta(seconds=1)
        <= t.received_at - t.occurred_at
        <= timedelta(seconds=30)
    ]
    assert odd == []


@pytest.mark.django_db
def test_each_campaign_has_a_spend_line_per_month_it_ran_around_its_budget():
    seed_small()

    start, today = START.date(), END.date()
    ratios = []
    for campaign in Campaign.objects.all():
        run_days = (campaign.ends_on - campaign.starts_on).days + 1
        lines = list(CampaignSpend.objects.filter(campaign=campaign).order_by("month"))
        expected = sorted(
            {
                day.replace(day=1)
                for offset in range((today - start).days + 1)
                if campaign.starts_on
                <= (day := start + timedelta(days=offset))
                <= campaign.ends_on
            }
        )
        assert [line.month for line in lines] == expected, campaign.name
        for line in lines:
            following = (line.month + timedelta(days=32)).replace(day=1)
            first = max(line.month, campaign.starts_on, start)
            last = min(following - timedelta(days=1), campaign.ends_on)
            share = campaign.budget * ((last - first).days + 1) / run_days
            ratios.append(line.amount / share)
    assert all(Decimal("0.84") <= r <= Decimal("1.36") for r in ratios)
    assert any(r > Decimal("1.12") for r in ratios)
    assert any(r < 1 for r in ratios)


@pytest.mark.django_db
def test_a_reset_deletes_the_demo_spend_with_its_campaigns():
    seed_small()
    assert CampaignSpend.objects.exists()

    seed_demo("--leads", "20", "--seed", "3", "--today", TODAY, "--reset")

    assert set(CampaignSpend.objects.values_list("campaign_id", flat=True)) == set(
        Campaign.objects.values_list("id", flat=True)
    )


@pytest.mark.django_db
def test_campaigns_have_unique_utm_keys_and_their_touchpoints_fall_in_their_dates():
    seed_small()

    campaigns = list(Campaign.objects.all())
    utm_keys = {(c.utm_source, c.utm_medium, c.utm_campaign) for c in campaigns}
    assert len(utm_keys) == len(campaigns) == 14
    assert all(
        date(2026, 3, 1) - timedelta(days=120) <= c.starts_on <= c.ends_on
        and c.ends_on < date(2026, 3, 1)
        for c in campaigns
    )
    outside = [
        (t.campaign.name, t.occurred_at)
        for t in Touchpoint.objects.filter(campaign__isnull=False).select_related(
            "campaign"
        )
        if not t.campaign.starts_on <= t.occurred_at.date() <= t.campaign.ends_on
    ]
    assert outside == []
    assert len({c.channel for c in campaigns}) == 8


@pytest.mark.django_db
def test_demo_users_have_their_roles_and_can_log_in(client):
    seed_small()

    users = {
        user.username: (
            [group.name for group in user.groups.all()],
            user.is_staff,
            user.is_superuser,
            user.email,
        )
        for user in User.objects.prefetch_related("groups")
    }
    assert users == {
        "marketer": (["Marketing"], True, False, "maya.lindqvist@leadflow.example"),
        "sdr1": (["SDR"], False, False, "jordan.reyes@leadflow.example"),
        "sdr2": (["SDR"], False, False, "priya.nair@leadflow.example"),
        "sdr3": (["SDR"], False, False, "marcus.bell@leadflow.example"),
        "sdr4": (["SDR"], False, False, "lena.hoffmann@leadflow.example"),
        "manager": (["SDR"], False, False, "rosa.delgado@leadflow.example"),
        "rep1": (["Sales"], False, False, "daniel.okafor@leadflow.example"),
        "rep2": (["Sales"], False, False, "claire.dubois@leadflow.example"),
        "rep3": (["Sales"], False, False, "kenji.watanabe@leadflow.example"),
        "salesmanager": (
            ["Sales"],
            False,
            False,
            "helen.achterberg@leadflow.example",
        ),
        "admin": (["Admin"], True, True, "sam.whitfield@leadflow.example"),
    }
    profiles = {
        p.user.username: (p.is_manager, p.is_away, p.away_until)
        for p in SalesProfile.objects.select_related("user")
    }
    # sdr4 is on leave from three days before today until a week after it.
    assert profiles == {
        **dict.fromkeys(("sdr1", "sdr2", "sdr3", *REPS), (False, False, None)),
        "sdr4": (False, True, date(2026, 3, 8)),
        "manager": (True, False, None),
        "salesmanager": (True, False, None),
    }
    assert client.login(username="sdr1", password="leadflow-demo")
    assert client.login(username="manager", password="leadflow-demo")
    assert client.login(username="salesmanager", password="leadflow-demo")


# Output -----------------------------------------------------------------------


@pytest.mark.django_db
def test_output_summarises_what_was_written_and_lists_the_logins():
    stderr = io.StringIO()

    out = seed_demo("--leads", LEADS, "--seed", SEED, "--today", TODAY, stderr=stderr)

    lines = out.splitlines()
    assert lines[0].startswith("Seeded demo data (seed 11, today 2026-03-01) in ")
    counted = [
        ("accounts", Account),
        ("leads", Lead),
        ("campaigns", Campaign),
        ("touchpoints", Touchpoint),
        ("transitions", StageTransition),
        ("handoffs", Handoff),
        ("attempts", ContactAttempt),
        ("outcomes", SalesOutcome),
    ]
    assert lines[1:9] == [
        f"  {label:<14}{model.objects.count():>10,}" for label, model in counted
    ]
    assert lines[9] == "Leads per stage:"
    assert lines[10:18] == [
        f"  {stage:<14}{Lead.objects.filter(stage=stage).count():>10,}"
        for stage in Lead.Stage.values
    ]
    assert lines[18] == "Handoffs per status:"
    assert lines[19:23] == [
        f"  {status:<14}{Handoff.objects.filter(status=status).count():>10,}"
        for status in ("pending", "accepted", "rejected", "expired")
    ]
    mqls = StageTransition.objects.filter(system_actor="scoring").count()
    assert lines[23] == f"Scored every lead under B2B demo v1: {mqls:,} became MQLs."
    pending = Handoff.objects.filter(status="pending")
    on_track = pending.filter(at_risk_at__gt=END).count()
    at_risk = pending.filter(at_risk_at__lte=END, due_at__gt=END).count()
    overdue = pending.filter(due_at__lte=END).count()
    assert lines[24] == (
        f"SAL queue at 00:00 UTC on 2026-03-01: {on_track} on track, "
        f"{at_risk} at risk, {overdue} overdue."
    )
    assert "\n".join(lines[25:]) + "\n" == LOGINS
    assert "300/300" in stderr.getvalue()


@pytest.mark.django_db
def test_verbosity_zero_hides_the_progress_bar():
    stderr = io.StringIO()

    seed_demo("--leads", "30", "--today", TODAY, verbosity=0, stderr=stderr)

    assert stderr.getvalue() == ""


@pytest.mark.django_db
def test_refuses_to_run_with_debug_off_unless_allowed(settings):
    settings.DEBUG = False
    settings.EMBEDDED_DATABASE = False  # as on PostgreSQL
    with pytest.raises(CommandError, match="looks like a production database"):
        call_command("seed_demo", "--leads", "5", stdout=io.StringIO())
    assert not Lead.objects.exists()
    assert not User.objects.filter(username="admin").exists()

    call_command(
        "seed_demo",
        "--leads",
        "5",
        "--allow-production",
        stdout=io.StringIO(),
        verbosity=0,
    )
    assert Lead.objects.count() == 5


@pytest.mark.django_db
def test_seeds_the_embedded_database_with_debug_off(settings):
    """DEBUG is off unless set; the embedded SQLite default still seeds."""
    settings.DEBUG = False
    settings.EMBEDDED_DATABASE = True

    call_command("seed_demo", "--leads", "5", stdout=io.StringIO(), verbosity=0)

    assert Lead.objects.count() == 5
    assert User.objects.filter(username="admin").exists()


# Scores -----------------------------------------------------------------------


@pytest.mark.django_db
def test_every_lead_is_scored_under_the_active_model_and_qualifying_leads_are_mqls():
    seed_small()

    model = ScoringModel.objects.get(status="active")
    scores = {score.lead_id: score for score in LeadScore.objects.filter(model=model)}
    leads = list(Lead.objects.all())
    assert sorted(scores) == sorted(lead.id for lead in leads)
    assert LeadScore.objects.exclude(model=model).count() == 0
    columns_differ = [
        lead.email
        for lead in leads
        if (lead.score, lead.fit_score, lead.engagement_score, lead.grade)
        != (
            scores[lead.id].total,
            scores[lead.id].fit_score,
            scores[lead.id].engagement_score,
            scores[lead.id].grade,
        )
        or (lead.scored_at, scores[lead.id].computed_at) != (END, END)
    ]
    assert columns_differ == []

    def qualifies(lead_id: int) -> bool:
        score = scores[lead_id]
        return score.total >= model.mql_threshold and score.gated_by == []

    moves = list(
        StageTransition.objects.filter(system_actor="scoring").values_list(
            "lead_id", "from_stage", "to_stage", "at"
        )
    )
    promoted = [lead_id for lead_id, *_ in moves]
    assert promoted  # the demo opens with fresh MQLs
    assert {move[1:] for move in moves} <= {
        ("lead", "mql", END),
        ("nurture", "mql", END),
    }
    assert [lead_id for lead_id in promoted if not qualifies(lead_id)] == []
    assert set(
        Lead.objects.filter(id__in=promoted).values_list("stage", flat=True)
    ) == {"mql"}
    # No lead that qualifies is left behind in a stage scoring promotes from,
    # unless a rejection's cool-down still holds it in nurture.
    left_behind = [
        lead.email
        for lead in leads
        if lead.stage in ("lead", "nurture")
        and qualifies(lead.id)
        and not (lead.recycle_until and lead.recycle_until > END)
    ]
    assert left_behind == []


@pytest.mark.django_db
def test_scoring_the_demo_again_changes_nothing():
    seed_small()
    transitions = StageTransition.objects.count()
    history = LeadScoreHistory.objects.count()

    model_rescore_all(model=ScoringModel.objects.get(status="active"), now=END)

    assert StageTransition.objects.count() == transitions
    assert LeadScoreHistory.objects.count() == history > Lead.objects.count()


@pytest.mark.django_db
def test_reset_deletes_the_scores_of_the_previous_demo():
    seed_small()
    RescoreChunk.objects.create(
        model=ScoringModel.objects.get(status="active"), low=1, high=5_001
    )
    history = LeadScoreHistory.objects.count()

    with transaction.atomic():
        deleted = demo.demo_data_delete()

    assert {label: deleted[label] for label in deleted if "scoring." in label} == {
        "scoring.LeadScore": 300,
        "scoring.LeadScoreHistory": history,
        "scoring.AccountScore": 0,
        "scoring.RescoreChunk": 1,
    }
    assert (LeadScore.objects.count(), LeadScoreHistory.objects.count()) == (0, 0)
    assert RescoreChunk.objects.count() == 0
    assert ScoringModel.objects.filter(status="active").count() == 1


# Handoffs ---------------------------------------------------------------------


def _transition_at(lead_id: int, at: datetime) -> StageTransition | None:
    return StageTransition.objects.filter(lead_id=lead_id, at=at).first()


@pytest.mark.django_db
def test_the_demo_has_slas_calendars_and_teams_next_to_the_migrations_ones():
    seed_small()

    slas = {
        sla.name: sla
        for sla in ServiceLevelAgreement.objects.select_related("team", "calendar")
    }
    assert sorted(slas) == sorted([*MIGRATION_SLAS, *DEMO_SLAS])
    rows = {
        name: (
            sla.priority,
            sla.team.name,
            sla.calendar.name,
            sla.calendar.time_zone,
            sla.accept_within_hours,
            sla.escalation_email,
        )
        for name, sla in slas.items()
    }
    assert rows == {
        "Demo requests": (
            10,
            "Sales development",
            "Business days",
            "UTC",
            Decimal(1),
            "rosa.delgado@leadflow.example",
        ),
        "Enterprise EMEA": (
            20,
            "SDR EMEA",
            "EMEA business days",
            "Europe/Berlin",
            Decimal(4),
            "rosa.delgado@leadflow.example",
        ),
        "EMEA": (
            50,
            "SDR EMEA",
            "EMEA business days",
            "Europe/Berlin",
            Decimal(8),
            "rosa.delgado@leadflow.example",
        ),
        "North America": (
            50,
            "SDR North America",
            "North America business days",
            "America/New_York",
            Decimal(8),
            "rosa.delgado@leadflow.example",
        ),
        # The migration's SLAs are left as they were.
        "Standard MQL": (1000, "Sales development", "Business days", "UTC", 8, ""),
        "Territory review": (
            2000,
            "Sales development",
            "Business days",
            "UTC",
            16,
            "",
        ),
    }
    assert slas["Enterprise EMEA"].conditions == [
        {"attribute": "region", "operator": "equals", "value": "europe"},
        {"attribute": "account.employee_count", "operator": "at_least", "value": 1000},
    ]
    assert all(slas[name].volume_commitment >= 5 for name in DEMO_SLAS)
    members = defaultdict(list)
    for team, user in TeamMember.objects.order_by("id").values_list(
        "team__name", "user__username"
    ):
        members[team].append(user)
    assert members == {
        "SDR North America": ["sdr1", "sdr3"],
        "SDR EMEA": ["sdr2", "sdr4"],
        "Sales development": ["sdr1", "sdr2", "sdr3", "sdr4"],
        "Sales reps": ["rep1", "rep2", "rep3"],
    }
    # Each demo SLA hands accepted leads to the account's rep, else to the
    # reps in turn; the migration's SLAs keep theirs with the accepting SDR.
    assert {
        sla.name: (sla.sales_routing, sla.sales_team and sla.sales_team.name)
        for sla in ServiceLevelAgreement.objects.select_related("sales_team")
    } == {
        **dict.fromkeys(DEMO_SLAS, ("account_owner", "Sales reps")),
        **dict.fromkeys(MIGRATION_SLAS, ("sales_team", None)),
    }
    assert Team.objects.get(name="Sales reps").strategy == "round_robin"
    holidays = set(Holiday.objects.values_list("calendar__name", "date", "name"))
    assert ("North America business days", date(2026, 2, 16), "Presidents' Day") in (
        holidays
    )
    assert ("EMEA business days", date(2026, 4, 3), "Good Friday") in holidays
    assert ("EMEA business days", date(2025, 12, 26), "Boxing Day") in holidays


@pytest.mark.django_db
def test_every_mql_has_exactly_one_pending_handoff_and_only_mqls_have_one():
    seed_small()

    mqls = set(Lead.objects.filter(stage="mql").values_list("id", flat=True))
    pending = list(
        Handoff.objects.filter(status="pending").values_list("lead_id", flat=True)
    )
    assert mqls  # the SAL queue has work in it
    assert sorted(pending) == sorted(mqls)
    # Opened as handoff_open opens: assigned by the service, the score kept.
    for handoff in Handoff.objects.filter(status="pending").select_related("lead"):
        event = HandoffEvent.objects.get(handoff=handoff)
        assert (event.kind, event.at) == ("assigned", handoff.created_at)
        assert handoff.assigned_to.username in ("sdr1", "sdr2", "sdr3")  # sdr4 away
        assert handoff.mql_at == handoff.lead.stage_changed_at <= handoff.created_at
        assert handoff.score == handoff.lead.score
        assert handoff.previous is None


@pytest.mark.django_db
def test_the_sal_queue_has_work_on_track_at_risk_and_overdue():
    seed_small()

    pending = Handoff.objects.filter(status="pending")
    assert pending.filter(at_risk_at__gt=END).exists()
    assert pending.filter(at_risk_at__lte=END, due_at__gt=END).exists()
    assert pending.filter(due_at__lte=END).exists()


@pytest.mark.django_db
def test_decided_handoffs_carry_reasons_feedback_and_contact_attempts():
    seed_small()

    rejected = Handoff.objects.filter(status="rejected").select_related("reason")
    assert rejected.exists()
    assert all(h.reason.audience == "sdr" for h in rejected)
    assert rejected.exclude(feedback="").exists()
    required = rejected.filter(reason__feedback_required=True)
    assert required.filter(feedback="").count() == 0
    for handoff in rejected:
        assert handoff.attempts.count() >= handoff.reason.min_attempts
    assert (
        Handoff.objects.filter(status="accepted", attempts__isnull=False)
        .distinct()
        .count()
        == Handoff.objects.filter(status="accepted").count()
    )
    assert ContactAttempt.objects.exclude(note="").exists()
    # first_attempt_at is the first logged attempt, as attempt_log sets it.
    for handoff in Handoff.objects.exclude(first_attempt_at=None):
        assert handoff.first_attempt_at == min(a.at for a in handoff.attempts.all())
    assert (
        Handoff.objects.filter(attempts__isnull=True)
        .filter(first_attempt_at__isnull=False)
        .count()
        == 0
    )


def rejection_problems() -> list[int]:
    """Rejected handoffs whose lead did not go where the reason says."""
    where = {
        "recycle": "nurture",
        "disqualify": "disqualified",
        "account_owner": "nurture",
    }
    problems = []
    for handoff in Handoff.objects.filter(status="rejected").select_related(
        "reason", "decided_by", "lead__owner", "lead__account__owner"
    ):
        transition = _transition_at(handoff.lead_id, handoff.decided_at)
        if handoff.reason.action == "reroute":
            # The lead stays an MQL; the reason's SLA gets a new handoff.
            following = handoff.next
            if (
                transition is not None
                or following.sla_id != handoff.reason.reroute_sla_id
                or following.created_at != handoff.decided_at
                or following.assigned_to_id == handoff.assigned_to_id
            ):
                problems.append(handoff.id)
            continue
        if (
            transition is None
            or transition.from_stage != "mql"
            or transition.to_stage != where[handoff.reason.action]
            or transition.actor != handoff.decided_by
        ):
            problems.append(handoff.id)
        elif handoff.reason.action == "account_owner":
            owner = handoff.lead.account.owner
            if transition.reason != (
                f"Existing customer or open deal: handed to {owner.get_full_name()}"
            ):
                problems.append(handoff.id)
        else:
            label = f"Rejected by SDR: {handoff.reason.label}"
            feedback = f" ({handoff.feedback[:200]})" if handoff.feedback else ""
            if transition.reason != label + feedback:
                problems.append(handoff.id)
    return problems


@pytest.mark.django_db
def test_rejections_move_the_lead_where_their_reason_says():
    seed_small()

    assert Handoff.objects.filter(status="rejected").exists()
    assert rejection_problems() == []


@pytest.mark.django_db
def test_a_bigger_demo_has_every_kind_of_rejection_each_where_it_belongs():
    seed_demo("--leads", "3000", "--seed", "9", "--today", TODAY)

    codes = set(
        Handoff.objects.filter(status="rejected").values_list("reason__code", flat=True)
    )
    assert codes == {
        "unable_to_reach",
        "bad_contact_data",
        "not_decision_maker",
        "no_need",
        "no_budget",
        "bad_timing",
        "no_fit",
        "wrong_region",
        "existing_customer",
        "competitor_spam",
    }
    assert rejection_problems() == []
    unreachable = Handoff.objects.filter(reason__code="unable_to_reach")
    assert {h.attempts.count() for h in unreachable} == {3}
    assert set(
        ContactAttempt.objects.filter(handoff__in=unreachable).values_list(
            "outcome", flat=True
        )
    ) <= {"no_answer", "voicemail", "sent"}
    # The territory team disqualifies what it receives, with the reason why.
    rerouted = Handoff.objects.filter(previous__reason__code="wrong_region")
    assert {(h.sla.name, h.reason.code) for h in rerouted} == {
        ("Territory review", "no_fit")
    }


@pytest.mark.django_db
def test_accepted_handoffs_move_their_lead_to_sal_and_start_the_follow_up():
    seed_small()

    accepted = Handoff.objects.filter(status="accepted").select_related("sla")
    assert accepted.exists()
    for handoff in accepted:
        transition = _transition_at(handoff.lead_id, handoff.decided_at)
        assert (transition.from_stage, transition.to_stage) == ("mql", "sal")
        assert transition.actor == handoff.decided_by
        assert transition.reason == f"Accepted under the {handoff.sla.name} SLA"
        calendar = handoff.sla.calendar.spec()
        assert handoff.follow_up_due_at == business_hours.add_business_hours(
            handoff.decided_at, handoff.sla.follow_up_within_hours, calendar
        )
        if handoff.followed_up_at is not None:
            assert handoff.followed_up_at >= handoff.decided_at


@pytest.mark.django_db
def test_handoff_times_follow_the_sla_and_each_other():
    seed_small()

    problems = []
    for handoff in Handoff.objects.select_related("sla__calendar"):
        calendar = handoff.sla.calendar.spec()
        hours = handoff.sla.accept_within_hours
        due = business_hours.add_business_hours(handoff.created_at, hours, calendar)
        at_risk = business_hours.add_business_hours(
            handoff.created_at, hours * handoff.sla.at_risk_percent / 100, calendar
        )
        times = [
            t
            for t in (handoff.first_attempt_at, handoff.decided_at, handoff.expired_at)
            if t is not None
        ]
        if (
            (handoff.due_at, handoff.at_risk_at) != (due, at_risk)
            or handoff.created_at < handoff.mql_at
            or any(t < handoff.created_at for t in times)
            or (handoff.decided_at and handoff.decided_at >= END)
            or (handoff.reminded_at and handoff.reminded_at < handoff.at_risk_at)
        ):
            problems.append(handoff.id)
        events = list(handoff.events.values_list("at", flat=True))
        if events != sorted(events) or events[0] != handoff.created_at:
            problems.append(handoff.id)
        for attempt in handoff.attempts.all():
            if attempt.at < handoff.created_at or attempt.at >= END:
                problems.append(handoff.id)
    assert problems == []


@pytest.mark.django_db
def test_breached_handoffs_expired_escalated_and_went_to_another_sdr():
    seed_small()

    expired = Handoff.objects.filter(status="expired").select_related("sla")
    assert expired.exists()
    for handoff in expired:
        following = handoff.next
        assert handoff.expired_at >= handoff.due_at
        assert handoff.expired_at - handoff.due_at < timedelta(minutes=1)
        assert following.created_at == handoff.expired_at
        assert following.sequence == handoff.sequence + 1
        assert following.assigned_to != handoff.assigned_to
        kinds = dict(handoff.events.values_list("kind", "detail"))
        assert kinds["expired"] == (
            f"Not decided by {handoff.due_at:%Y-%m-%d %H:%M} UTC by "
            f"{handoff.assigned_to.get_full_name()}"
        )
        assert kinds["escalated"] == (
            handoff.sla.escalation_email or "no escalation contact"
        )
        assert "reminded" in kinds
        assert handoff.decided_at is None


def _assert_deal_terms(outcome: SalesOutcome) -> None:
    """An opened opportunity has a deal of 4.5k-162k (8k-120k by company size,
    times 0.55-1.35 by industry) closing within weeks; a won one the amount
    won (the deal, at most 15% off); others neither."""
    if outcome.to_stage == "opportunity":
        assert 4_500 <= outcome.amount <= 162_000
        assert outcome.amount % 500 == 0
        days = (outcome.expected_close_on - outcome.at.date()).days
        assert 13 <= days <= 76
    elif outcome.to_stage == "customer":
        opened = SalesOutcome.objects.get(
            handoff=outcome.handoff, to_stage="opportunity"
        )
        assert opened.amount * Decimal("0.84") <= outcome.amount <= opened.amount
        assert outcome.expected_close_on is None
    else:
        assert (outcome.amount, outcome.expected_close_on) == (None, None)


@pytest.mark.parametrize(
    ("employees", "industry", "amount"),
    [
        # The same draw (seed 3: 0.23796 of the range) for every company:
        # 10,855.56 for up to 50 people, 66,657.52 for over 1,000, times the
        # industry's factor, rounded to 500.
        (40, "software", Decimal("11000")),
        (40, "financial_services", Decimal("14500")),  # 14,654.9
        (40, "nonprofit", Decimal("6000")),  # 5,970.6
        (5_000, "software", Decimal("66500")),
        (5_000, "education", Decimal("43500")),  # 43,327.4
    ],
)
def test_a_deal_grows_with_the_company_and_depends_on_its_industry(
    employees, industry, amount
):
    account = SimpleNamespace(employee_count=employees, industry=industry)
    journey = SimpleNamespace(lead=SimpleNamespace(account=account))

    assert _deal_amount(journey, random.Random(3)) == amount


@pytest.mark.django_db
def test_sales_outcomes_match_the_moves_after_acceptance():
    seed_small()

    outcomes = list(SalesOutcome.objects.select_related("reason", "handoff"))
    assert outcomes
    for outcome in outcomes:
        transition = _transition_at(outcome.lead_id, outcome.at)
        assert (transition.from_stage, transition.to_stage, transition.actor) == (
            outcome.from_stage,
            outcome.to_stage,
            outcome.actor,
        )
        assert outcome.handoff.status == "accepted"
        assert outcome.handoff.lead_id == outcome.lead_id
        assert outcome.at > outcome.handoff.decided_at
        if outcome.reason is None:
            assert (outcome.from_stage, outcome.to_stage) in {
                ("sal", "sql"),
                ("sql", "opportunity"),
                ("opportunity", "customer"),
            }
            _assert_deal_terms(outcome)
        else:
            assert (outcome.amount, outcome.expected_close_on) == (None, None)
            assert outcome.reason.audience == "sales"
            expected = (
                "disqualified" if outcome.reason.action == "disqualify" else ("nurture")
            )
            assert outcome.to_stage == expected
    # Every move a person made out of the sales stages has its outcome.
    moves = StageTransition.objects.filter(
        from_stage__in=["sal", "sql", "opportunity"]
    ).count()
    assert moves == len(outcomes)


@pytest.mark.django_db
def test_reset_leaves_no_handoff_rows_and_keeps_what_the_migrations_made():
    seed_small()
    reasons = list(RejectionReason.objects.values_list("code", "action", "label"))

    with transaction.atomic():
        deleted = demo.demo_data_delete()

    assert {
        model.__name__: model.objects.count()
        for model in (Handoff, ContactAttempt, HandoffEvent, SalesOutcome)
    } == {"Handoff": 0, "ContactAttempt": 0, "HandoffEvent": 0, "SalesOutcome": 0}
    assert deleted["handoff.Handoff"] > 0
    assert sorted(ServiceLevelAgreement.objects.values_list("name", flat=True)) == (
        MIGRATION_SLAS
    )
    assert list(Team.objects.values_list("name", flat=True)) == ["Sales development"]
    assert list(BusinessCalendar.objects.values_list("name", flat=True)) == [
        "Business days"
    ]
    assert (TeamMember.objects.count(), Holiday.objects.count()) == (0, 0)
    assert list(RejectionReason.objects.values_list("code", "action", "label")) == (
        reasons
    )

    seed_small()  # and a new demo goes in cleanly

    assert Handoff.objects.filter(status="pending").count() == (
        Lead.objects.filter(stage="mql").count()
    )


# Every role has work ---------------------------------------------------------


def _follow_up_states(handoffs) -> set[str]:
    return {
        follow_up_clock(
            now=END,
            due_at=h.follow_up_due_at,
            followed_up_at=h.followed_up_at,
            breached_at=h.follow_up_breached_at,
            calendar=h.sla.calendar.spec(),
            window_hours=h.sla.follow_up_within_hours,
            at_risk_percent=h.sla.at_risk_percent,
        ).state
        for h in handoffs
    }


@pytest.mark.django_db
def test_every_rep_has_leads_at_each_pipeline_stage_each_clock_and_recent_closes():
    seed_small()

    for username in REPS:
        rep = User.objects.get(username=username)
        stages = set(Lead.objects.filter(owner=rep).values_list("stage", flat=True))
        assert {"sal", "sql", "opportunity"} <= stages, username
        running = Handoff.objects.filter(
            status="accepted", owner=rep, lead__stage="sal"
        ).select_related("sla__calendar")
        assert {
            ClockState.ON_TRACK,
            ClockState.AT_RISK,
            ClockState.BREACHED,
        } <= _follow_up_states(running), username
        closed = SalesOutcome.objects.filter(
            actor=rep, at__gte=END - timedelta(days=30), at__lt=END
        ).select_related("reason")
        assert any(o.to_stage == "customer" for o in closed), username
        lost = [o for o in closed if o.to_stage in ("nurture", "disqualified")]
        assert lost, username
        assert all(o.reason.audience == "sales" for o in lost)
        assert {o.to_stage for o in lost} == {"nurture", "disqualified"}, username


@pytest.mark.django_db
def test_each_lead_stores_the_pipeline_place_its_handoffs_give():
    seed_small()

    group, at = follow_up_place_live()
    rows = Lead.objects.annotate(live_group=group, live_at=at).values_list(
        "follow_up_group", "follow_up_at", "live_group", "live_at"
    )

    assert [r for r in rows if r[:2] != r[2:]] == []
    # Every group is there: running clocks, followed up, none.
    assert {r[0] for r in rows} == {0, 1, 2}


@pytest.mark.django_db
def test_accepted_leads_are_handed_to_a_rep_as_the_accept_service_records_it():
    seed_small()

    reps = set(User.objects.filter(username__in=REPS).values_list("id", flat=True))
    accepted = Handoff.objects.filter(status="accepted").select_related(
        "sla", "lead__account", "decided_by"
    )
    handed = 0
    for handoff in accepted:
        events = {e.kind: e for e in handoff.events.all()}
        if handoff.sla.sales_team_id is None:
            # No sales team: the accepting SDR keeps the lead.
            assert "handed_to_sales" not in events
            assert events["accepted"].detail == ""
            continue
        handed += 1
        changes = OwnerChange.objects.filter(lead_id=handoff.lead_id).order_by("at")
        first = changes[0].from_owner if changes else handoff.owner
        assert first.id in reps
        name = first.get_full_name()
        rule = (
            f"The account owner, {name}"
            if handoff.lead.account_id
            else f"Round robin in Sales reps picks {name}"
        )
        handed_event = events["handed_to_sales"]
        assert (handed_event.at, handed_event.actor, handed_event.detail) == (
            handoff.decided_at,
            handoff.decided_by,
            rule,
        )
        assert events["accepted"].detail == f"now owned by {name}"
        if handoff.lead.stage in ("sal", "sql", "opportunity"):
            latest = handoff.lead.handoffs.filter(status="accepted").latest(
                "decided_at"
            )
            if latest == handoff:
                assert handoff.lead.owner_id == handoff.owner_id
    assert handed > 0
    # The follow-up call is the owner's.
    for handoff in accepted.exclude(followed_up_at=None):
        attempt = handoff.attempts.filter(at=handoff.followed_up_at).first()
        if attempt is not None:
            assert (
                attempt.user_id == handoff.owner_id
                or OwnerChange.objects.filter(lead_id=handoff.lead_id).exists()
            )


@pytest.mark.django_db
def test_the_sales_manager_opens_a_team_pipeline_with_past_reassignments(client):
    seed_small()

    manager = User.objects.get(username="salesmanager")
    assert (manager.get_full_name(), manager.sales_profile.is_manager) == (
        "Helen Achterberg",
        True,
    )
    changes = list(OwnerChange.objects.select_related("actor", "to_owner", "lead"))
    assert changes
    for change in changes:
        assert change.actor == manager
        assert change.to_owner.username in REPS
        assert change.from_owner != change.to_owner
        assert change.reason.strip()
        moved = _transition_at(change.lead_id, change.at)
        assert moved is None  # a reassignment is no stage move
        stages = StageTransition.objects.filter(
            lead_id=change.lead_id, at__lte=change.at
        ).order_by("-at")
        assert stages[0].to_stage in ("sal", "sql", "opportunity")
    assert client.login(username="salesmanager", password="leadflow-demo")
    start = client.get("/", follow=True)
    assert start.redirect_chain[-1][0] == "/pipeline/"
    assert b'href="/pipeline/team/"' in start.content
    team = client.get("/pipeline/team/")
    assert team.status_code == 200
    owners = {card.lead.owner.username for card in _team_cards(team)}
    assert set(REPS) <= owners


def _team_cards(response) -> list:
    return [card for column in response.context["columns"] for card in column.cards]


@pytest.mark.django_db
def test_every_demo_lead_has_a_score_history_ending_at_its_current_score():
    seed_small()

    model = ScoringModel.objects.get(status="active")
    history = defaultdict(list)
    for row in LeadScoreHistory.objects.order_by("lead_id", "at", "id"):
        assert row.model_id == model.id
        history[row.lead_id].append(row)
    scores = {s.lead_id: s for s in LeadScore.objects.filter(model=model)}
    created = dict(Lead.objects.values_list("id", "created_at"))
    assert set(history) == set(created)
    for lead_id, rows in history.items():
        totals = [(r.total, r.fit_score, r.engagement_score) for r in rows]
        current = scores[lead_id]
        assert totals[-1] == (
            current.total,
            current.fit_score,
            current.engagement_score,
        )
        assert rows[-1].at == END
        # A row only where the score moved, over the lead's life.
        assert all(a != b for a, b in itertools.pairwise(totals))
        assert all(created[lead_id] <= r.at <= END for r in rows)
    several = [rows for rows in history.values() if len(rows) >= 3]
    assert len(several) >= 30
    for lead in Lead.objects.all()[:50]:
        assert lead_score_chart(lead=lead, threshold=model.mql_threshold)


@pytest.mark.postgres
@pytest.mark.django_db
def test_the_demo_leaves_planner_statistics_on_postgresql():
    from django.db import connection

    def estimated_rows(table: str) -> float:
        with connection.cursor() as cursor:
            cursor.execute("SELECT reltuples FROM pg_class WHERE relname = %s", [table])
            return cursor.fetchone()[0]

    seed_small()

    # Never analysed, PostgreSQL estimates -1 rows; analysed, about the rows.
    assert estimated_rows("leads_lead") == Lead.objects.count()
    assert estimated_rows("leads_touchpoint") == Touchpoint.objects.count()


@pytest.mark.django_db
def test_the_demo_ends_with_the_funnel_rollup_built_from_its_leads(settings):
    seed_demo("--leads", "40", "--today", TODAY)
    settings.FUNNEL_ROLLUP = True
    start, end = date(2025, 1, 1), date(2027, 1, 1)
    from_rollup = funnel(start=start, end=end, mode="flow")
    settings.FUNNEL_ROLLUP = False

    assert FunnelRollupState.objects.count() == 1
    assert sum(FunnelCohortCount.objects.values_list("leads", flat=True)) == (
        Lead.objects.filter(erased_at__isnull=True).count()
    )
    assert from_rollup == funnel(start=start, end=end, mode="flow")
