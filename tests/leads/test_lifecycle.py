"""The lifecycle: every allowed and forbidden move, bookkeeping, the signal."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import transaction

from leads import lifecycle
from leads.exceptions import InvalidStageTransition, StageChangedConcurrently
from leads.lifecycle import ALLOWED_MOVES, HistoryStep, history_replay, lead_move
from leads.models import Lead, Stage, StageTransition
from leads.signals import lead_stage_changed
from tests.factories import LeadFactory, UserFactory

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
ALL_STAGES = [s.value for s in Stage]
ALLOWED_PAIRS = [
    (a, b) for a, targets in ALLOWED_MOVES.items() for b in sorted(targets)
]
FORBIDDEN_PAIRS = [
    (a, b) for a in ALL_STAGES for b in ALL_STAGES if b not in ALLOWED_MOVES[a]
]


def test_the_move_table_covers_every_stage_and_only_known_stages():
    assert set(ALLOWED_MOVES) == set(ALL_STAGES)
    for targets in ALLOWED_MOVES.values():
        assert targets <= set(ALL_STAGES)


def test_allowed_moves_are_exactly_the_documented_funnel():
    assert {a: set(b) for a, b in ALLOWED_MOVES.items()} == {
        "lead": {"mql", "nurture", "disqualified"},
        "mql": {"sal", "nurture", "disqualified"},
        "sal": {"sql", "nurture", "disqualified"},
        "sql": {"opportunity", "nurture", "disqualified"},
        "opportunity": {"customer", "nurture", "disqualified"},
        "customer": set(),
        "nurture": {"mql", "disqualified"},
        "disqualified": {"nurture"},
    }


@pytest.mark.django_db
@pytest.mark.parametrize(("from_stage", "to_stage"), ALLOWED_PAIRS)
def test_allowed_move_changes_stage_and_writes_one_transition(from_stage, to_stage):
    lead = LeadFactory(stage=from_stage, highest_stage=from_stage)
    user = UserFactory()

    transition = lead_move(
        lead_id=lead.id, to_stage=to_stage, actor=user, reason="Checked", now=T0
    )

    lead.refresh_from_db()
    assert lead.stage == to_stage
    assert lead.stage_changed_at == T0
    assert StageTransition.objects.get(lead=lead) == transition
    assert (transition.from_stage, transition.to_stage) == (from_stage, to_stage)
    assert (transition.actor, transition.system_actor, transition.at) == (user, "", T0)
    assert transition.reason == "Checked"


@pytest.mark.django_db
@pytest.mark.parametrize(("from_stage", "to_stage"), FORBIDDEN_PAIRS)
def test_forbidden_move_raises_and_changes_nothing(from_stage, to_stage):
    lead = LeadFactory(stage=from_stage, highest_stage=from_stage)

    with pytest.raises(InvalidStageTransition) as excinfo:
        lead_move(lead_id=lead.id, to_stage=to_stage, system_actor="test", reason="x")

    assert (excinfo.value.from_stage, excinfo.value.to_stage) == (from_stage, to_stage)
    assert str(lead.id) in str(excinfo.value)
    lead.refresh_from_db()
    assert lead.stage == from_stage
    assert lead.stage_changed_at is None
    assert not StageTransition.objects.exists()


@pytest.mark.django_db
def test_unknown_stage_is_refused_with_the_list_of_stages():
    lead = LeadFactory()
    with pytest.raises(InvalidStageTransition, match="Unknown stage 'won'; use one of"):
        lead_move(lead_id=lead.id, to_stage="won", system_actor="test")
    assert not StageTransition.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("from_stage", "to_stage"),
    [("mql", "nurture"), ("sal", "disqualified"), ("disqualified", "nurture")],
)
def test_moves_out_of_the_funnel_need_a_reason(from_stage, to_stage):
    lead = LeadFactory(stage=from_stage)
    with pytest.raises(InvalidStageTransition, match="Give a reason"):
        lead_move(lead_id=lead.id, to_stage=to_stage, system_actor="test", reason=" ")
    lead.refresh_from_db()
    assert lead.stage == from_stage
    assert not StageTransition.objects.exists()


@pytest.mark.django_db
def test_move_needs_exactly_one_actor():
    lead = LeadFactory()
    with pytest.raises(ValueError, match="exactly one"):
        lead_move(lead_id=lead.id, to_stage="mql")
    with pytest.raises(ValueError, match="exactly one"):
        lead_move(
            lead_id=lead.id, to_stage="mql", actor=UserFactory(), system_actor="x"
        )
    assert not StageTransition.objects.exists()


@pytest.mark.django_db
def test_missing_lead_raises_does_not_exist():
    with pytest.raises(Lead.DoesNotExist):
        lead_move(lead_id=987654, to_stage="mql", system_actor="scoring")


@pytest.mark.django_db
def test_recycled_lead_keeps_highest_stage_and_first_entry_dates():
    lead = LeadFactory()
    days = [T0 + dt.timedelta(days=n) for n in range(5)]
    lead_move(lead_id=lead.id, to_stage="mql", system_actor="scoring", now=days[0])
    lead_move(lead_id=lead.id, to_stage="sal", system_actor="sdr", now=days[1])
    lead_move(
        lead_id=lead.id,
        to_stage="nurture",
        system_actor="sdr",
        reason="Bad timing",
        now=days[2],
    )
    lead_move(lead_id=lead.id, to_stage="mql", system_actor="scoring", now=days[3])

    lead.refresh_from_db()
    assert lead.stage == "mql"
    assert lead.highest_stage == "sal"
    assert lead.entered_mql_at == days[0]  # first entry, not the re-entry
    assert lead.entered_sal_at == days[1]
    assert lead.entered_nurture_at == days[2]
    assert lead.entered_sql_at is None
    assert lead.stage_changed_at == days[3]
    assert list(
        StageTransition.objects.filter(lead=lead)
        .order_by("at")
        .values_list("from_stage", "to_stage")
    ) == [("lead", "mql"), ("mql", "sal"), ("sal", "nurture"), ("nurture", "mql")]


@pytest.mark.django_db
def test_expected_stage_mismatch_raises_stage_changed_concurrently():
    lead = LeadFactory(stage="sal")
    with pytest.raises(StageChangedConcurrently, match="moved to Sales-accepted"):
        lead_move(
            lead_id=lead.id, to_stage="sal", expected_stage="mql", system_actor="sdr"
        )
    assert not StageTransition.objects.exists()


@pytest.mark.django_db
def test_signal_is_sent_once_after_commit_with_the_move(
    django_capture_on_commit_callbacks,
):
    lead = LeadFactory()
    received: list[dict] = []

    def receiver(sender, **kwargs):
        received.append(kwargs)

    lead_stage_changed.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            transition = lead_move(
                lead_id=lead.id, to_stage="mql", system_actor="scoring", now=T0
            )
        assert received == []  # nothing before commit
        for callback in callbacks:
            callback()
    finally:
        lead_stage_changed.disconnect(receiver)

    assert len(received) == 1
    assert {k: v for k, v in received[0].items() if k != "signal"} == {
        "lead_id": lead.id,
        "transition_id": transition.id,
        "from_stage": "lead",
        "to_stage": "mql",
        "actor_id": None,
        "system_actor": "scoring",
        "at": T0,
    }


@pytest.mark.django_db
def test_no_signal_for_a_rolled_back_move(django_capture_on_commit_callbacks):
    lead = LeadFactory()

    def move_then_fail():
        with transaction.atomic():
            lead_move(lead_id=lead.id, to_stage="mql", system_actor="scoring")
            raise RuntimeError("rolled back")

    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
    ):
        move_then_fail()
    assert callbacks == []
    lead.refresh_from_db()
    assert lead.stage == "lead"
    assert not StageTransition.objects.exists()


@pytest.mark.django_db
def test_failing_receiver_does_not_break_the_committed_move(
    django_capture_on_commit_callbacks, caplog
):
    lead = LeadFactory()

    def broken(sender, **kwargs):
        raise ConnectionError("broker down")

    lead_stage_changed.connect(broken)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            lead_move(lead_id=lead.id, to_stage="mql", system_actor="scoring")
    finally:
        lead_stage_changed.disconnect(broken)

    lead.refresh_from_db()
    assert lead.stage == "mql"
    assert "broker down" in caplog.text


@pytest.mark.django_db
def test_history_replay_builds_transitions_and_stage_fields():
    lead = Lead(email="h@acme.example", entered_lead_at=T0)
    steps = [
        HistoryStep("mql", T0 + dt.timedelta(days=1)),
        HistoryStep("sal", T0 + dt.timedelta(days=2)),
        HistoryStep("nurture", T0 + dt.timedelta(days=3), reason="No budget"),
    ]

    transitions = history_replay(lead, steps, system_actor="import")

    assert [(t.from_stage, t.to_stage, t.at) for t in transitions] == [
        ("lead", "mql", steps[0].at),
        ("mql", "sal", steps[1].at),
        ("sal", "nurture", steps[2].at),
    ]
    assert all(t.system_actor == "import" and t.actor is None for t in transitions)
    assert (lead.stage, lead.highest_stage) == ("nurture", "sal")
    assert lead.entered_sal_at == steps[1].at
    assert lead.stage_changed_at == steps[2].at


@pytest.mark.parametrize(
    "steps",
    [
        [HistoryStep("sql", T0)],  # skips mql and sal
        [HistoryStep("mql", T0 + dt.timedelta(days=2)), HistoryStep("sal", T0)],
    ],
)
def test_history_replay_refuses_bad_history_and_leaves_the_lead_alone(steps):
    lead = Lead(email="h@acme.example", entered_lead_at=T0 - dt.timedelta(days=1))
    with pytest.raises(InvalidStageTransition):
        history_replay(lead, steps, system_actor="import")
    assert (lead.stage, lead.highest_stage, lead.stage_changed_at) == (
        "lead",
        "lead",
        None,
    )
    assert lead.entered_mql_at is None


def test_stage_rank_orders_the_funnel_and_excludes_side_stages():
    assert [lifecycle.stage_rank(s) for s in lifecycle.FUNNEL] == [0, 1, 2, 3, 4, 5]
    assert lifecycle.stage_rank("nurture") == -1
    assert lifecycle.stage_rank("disqualified") == -1
