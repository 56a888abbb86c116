"""The seed_demo command and the demo data it writes (crm.demo)."""

from __future__ import annotations

import io
import json
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import transaction
from django.db.models import Min

from crm import demo
from leads.freemail import is_freemail
from leads.lifecycle import ALLOWED_MOVES, FUNNEL, stage_rank
from leads.models import Account, Campaign, Lead, StageTransition, Touchpoint
from scoring.bulk import model_rescore_all
from scoring.models import LeadScore, LeadScoreHistory, RescoreChunk, ScoringModel

User = get_user_model()


@pytest.fixture(autouse=True)
def _debug_on(settings):
    """seed_demo runs in development (DEBUG on); the test runner turns it off."""
    settings.DEBUG = True


TODAY = "2026-03-01"
END = datetime(2026, 3, 1, tzinfo=UTC)
START = END - timedelta(days=90)
LEADS = "300"

LOGINS = (
    "Demo logins at http://127.0.0.1:8000/accounts/login/\n"
    "  username  role       password\n"
    "  marketer  Marketing  leadflow-demo\n"
    "  sdr1      SDR        leadflow-demo\n"
    "  sdr2      SDR        leadflow-demo\n"
    "  rep1      Sales      leadflow-demo\n"
    "  admin     Admin      leadflow-demo\n"
)
NOTHING = {
    "Account": 0,
    "Campaign": 0,
    "Lead": 0,
    "Touchpoint": 0,
    "StageTransition": 0,
    "User": 0,
}


def seed_demo(*args: str, stderr: io.StringIO | None = None, **options) -> str:
    """Run the command as ``manage.py seed_demo *args`` would; return its stdout."""
    out = io.StringIO()
    call_command(
        "seed_demo", *args, stdout=out, stderr=stderr or io.StringIO(), **options
    )
    return out.getvalue()


def seed_small(*args: str) -> str:
    return seed_demo("--leads", LEADS, "--seed", "7", "--today", TODAY, *args)


def row_counts() -> dict[str, int]:
    models = (Account, Campaign, Lead, Touchpoint, StageTransition, User)
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
    transitions = list(
        StageTransition.objects.values_list(
            "lead__email", "from_stage", "to_stage", "at", "reason", "system_actor"
        )
    )
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
        "transitions": sorted(transitions),
        "accounts": sorted(accounts, key=lambda row: row[0]),
        "campaigns": sorted(campaigns),
    }


# Determinism ------------------------------------------------------------------


@pytest.mark.django_db
def test_same_seed_and_today_give_identical_data_and_another_seed_does_not():
    seed_small()
    first = canonical_dump()

    seed_small("--reset")
    again = canonical_dump()
    seed_demo("--leads", LEADS, "--seed", "8", "--today", TODAY, "--reset")
    other = canonical_dump()

    assert len(first["leads"]) == 300
    assert len(first["accounts"]) == 37
    assert len(first["campaigns"]) == 14
    assert again == first
    assert other["leads"] != first["leads"]
    assert other["touchpoints"] != first["touchpoints"]


@pytest.mark.django_db
def test_chunk_size_does_not_change_the_data(monkeypatch):
    seed_small()
    whole = canonical_dump()
    monkeypatch.setattr(demo, "LEAD_CHUNK_SIZE", 70)
    progress: list[int] = []

    demo.demo_seed(
        leads=300, seed=7, today=date(2026, 3, 1), reset=True, progress=progress.append
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
    assert User.objects.count() == 5


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
    assert User.objects.get(username="marketer").id == marketer_id
    assert User.objects.count() == 5


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
    monkeypatch.setattr(demo, "_transitions_insert", _fail)

    with pytest.raises(RuntimeError, match="disk full"):
        seed_small()

    assert row_counts() == NOTHING


@pytest.mark.django_db
def test_an_error_during_reset_keeps_the_previous_data(monkeypatch):
    seed_small()
    before = canonical_dump()
    monkeypatch.setattr(demo, "_touchpoints_insert", _fail)

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
    for transition in StageTransition.objects.order_by("at", "id"):
        moves[transition.lead_id].append(transition)

    problems = []
    for lead in Lead.objects.select_related("owner"):
        history = moves[lead.id]
        path = [Lead.Stage.LEAD, *(t.to_stage for t in history)]
        highest = max((s for s in path if s in FUNNEL), key=stage_rank)
        last_at = history[-1].at if history else lead.entered_lead_at
        previous_stage, previous_at = Lead.Stage.LEAD, lead.entered_lead_at
        for t in history:
            # The history is past; scoring's moves to mql close it, at END.
            scored = (t.at, t.system_actor, t.to_stage) == (END, "scoring", "mql")
            if (
                t.from_stage != previous_stage
                or t.to_stage not in ALLOWED_MOVES[t.from_stage]
                or t.at < previous_at
                or (t.at >= END and not scored)
                or (t.system_actor != "demo" and not scored)
                or (t.to_stage in ("nurture", "disqualified") and not t.reason)
            ):
                problems.append((lead.email, t.from_stage, t.to_stage, t.at))
            previous_stage, previous_at = t.to_stage, t.at
        owner = lead.owner.username if lead.owner else None
        expected_owner = (
            "rep1"
            if stage_rank(highest) >= stage_rank("sql")
            else ("sdr1", "sdr2")
            if highest == "sal"
            else None
        )
        if (
            lead.stage != path[-1]
            or lead.highest_stage != highest
            or lead.stage_changed_at != last_at
            or (owner != expected_owner and owner not in (expected_owner or ()))
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
        "rep1": (["Sales"], False, False, "daniel.okafor@leadflow.example"),
        "admin": (["Admin"], True, True, "sam.whitfield@leadflow.example"),
    }
    assert client.login(username="sdr1", password="leadflow-demo")


# Output -----------------------------------------------------------------------


@pytest.mark.django_db
def test_output_summarises_what_was_written_and_lists_the_logins():
    stderr = io.StringIO()

    out = seed_demo("--leads", LEADS, "--seed", "7", "--today", TODAY, stderr=stderr)

    lines = out.splitlines()
    assert lines[0].startswith("Seeded demo data (seed 7, today 2026-03-01) in ")
    counted = [
        ("accounts", Account),
        ("leads", Lead),
        ("campaigns", Campaign),
        ("touchpoints", Touchpoint),
        ("transitions", StageTransition),
    ]
    assert lines[1:6] == [
        f"  {label:<14}{model.objects.count():>10,}" for label, model in counted
    ]
    assert lines[6] == "Leads per stage:"
    assert lines[7:15] == [
        f"  {stage:<14}{Lead.objects.filter(stage=stage).count():>10,}"
        for stage in Lead.Stage.values
    ]
    mqls = StageTransition.objects.filter(system_actor="scoring").count()
    assert lines[15] == f"Scored every lead under Default v1: {mqls:,} became MQLs."
    assert "\n".join(lines[16:]) + "\n" == LOGINS
    assert "300/300" in stderr.getvalue()


@pytest.mark.django_db
def test_verbosity_zero_hides_the_progress_bar():
    stderr = io.StringIO()

    seed_demo("--leads", "30", "--today", TODAY, verbosity=0, stderr=stderr)

    assert stderr.getvalue() == ""


@pytest.mark.django_db
def test_refuses_to_run_with_debug_off_unless_allowed(settings):
    settings.DEBUG = False
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
    # No lead that qualifies is left behind in a stage scoring promotes from.
    left_behind = [
        lead.email
        for lead in leads
        if lead.stage in ("lead", "nurture") and qualifies(lead.id)
    ]
    assert left_behind == []


@pytest.mark.django_db
def test_scoring_the_demo_again_changes_nothing():
    seed_small()
    transitions = StageTransition.objects.count()
    history = LeadScoreHistory.objects.count()

    model_rescore_all(model=ScoringModel.objects.get(status="active"), now=END)

    assert StageTransition.objects.count() == transitions
    assert LeadScoreHistory.objects.count() == history == Lead.objects.count()


@pytest.mark.django_db
def test_reset_deletes_the_scores_of_the_previous_demo():
    seed_small()
    RescoreChunk.objects.create(
        model=ScoringModel.objects.get(status="active"), low=1, high=5_001
    )

    with transaction.atomic():
        deleted = demo.demo_data_delete()

    assert {label: deleted[label] for label in deleted if "scoring." in label} == {
        "scoring.LeadScore": 300,
        "scoring.LeadScoreHistory": 300,
        "scoring.AccountScore": 0,
        "scoring.RescoreChunk": 1,
    }
    assert (LeadScore.objects.count(), LeadScoreHistory.objects.count()) == (0, 0)
    assert RescoreChunk.objects.count() == 0
    assert ScoringModel.objects.filter(status="active").count() == 1
