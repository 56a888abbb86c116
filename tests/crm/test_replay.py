"""A draft model replayed on history next to the active model.

The hand-built world: the period is [Mon 2 March 2026, Mon 16 March 2026),
two weeks. Every lead was created on 1 February and is a director unless
said otherwise.

Active model "Now": threshold 30; fit "Director" 20 points; engagement
"Page view" 10 points a page view, half-life 30 days.
Draft "Next": threshold 25; fit "Director" 10 points; engagement "Demo" 20
points a demo request, half-life 1 day (0.5 ** age in whole days).

===== ==================================== ================ ================
lead  touchpoints                          draft            active
===== ==================================== ================ ================
L1    demo 4 Mar                            10+20=30: 4 Mar  20: never
L2    demo 3 Mar, demo 6 Mar (a manager)    6 Mar: 2.5+20 =  0: never
                                            22.5 (decay)
L3    page view 9 Mar, demo 10 Mar          10 Mar (30)      9 Mar (20+10)
L4    page view 12 Mar                      10: never        12 Mar (30)
L5    two page views 2 Mar                  10: never        2 Mar, the first
                                                             day (20+19.9)
L6    demo 4 Mar, erased                    left out         left out
L7    demo 17 Mar (after the period)        never            never
L8    created 20 Mar, demo 21 Mar           left out         left out
L9    two page views 27 Feb                 10: never        left out: already
                                                             38.7 at the start
L10   demo 1 Mar 20:00, demo 2 Mar          left out:        20: never
                                            already 30 at
                                            the start
===== ==================================== ================ ================

A lead counts only when it would cross the threshold during the period: L9
and L10 would qualify on the first day, but were already qualified under
that model when the period began.

Week of 2 March: draft L1 (accepted, reached sql); active L5 (accepted,
customer). Week of 9 March: draft L3 (rejected: No budget); active L3 and L4
(L4 rejected: Wrong person). Newly qualifying: L1; no longer: L5, L4 (by MQL
day).
"""

from __future__ import annotations

import datetime as dt
import json
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm.marketing import replay as replays
from handoff.models import Handoff, RejectionReason
from scoring import services
from scoring.engine import evaluate_touches
from scoring.models import ModelReplay, ScoringModel
from scoring.selectors import model_spec
from scoring.store import (
    ACCOUNT_COLUMNS,
    LEAD_COLUMNS,
    facts_from_row,
    touches_by_lead,
)
from tests.factories import LeadFactory, SlaFactory, TouchpointFactory

pytestmark = pytest.mark.django_db

START = dt.date(2026, 3, 2)
END = dt.date(2026, 3, 16)


def at(day: int, month: int = 3, hour: int = 10) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, tzinfo=dt.UTC)


def _models() -> tuple[ScoringModel, ScoringModel]:
    ScoringModel.objects.filter(status="active").update(status="archived")
    now = ScoringModel.objects.create(name="Now", version=1, mql_threshold=30)
    services.rule_create(
        model=now,
        kind="fit",
        label="Director",
        points=20,
        attribute="seniority",
        operator="equals",
        value="director",
    )
    services.rule_create(
        model=now,
        kind="engagement",
        label="Page view",
        points=10,
        touchpoint_kind="page_view",
        half_life_days=30,
    )
    ScoringModel.objects.filter(id=now.id).update(status="active")
    draft = ScoringModel.objects.create(name="Next", version=1, mql_threshold=25)
    services.rule_create(
        model=draft,
        kind="fit",
        label="Director",
        points=10,
        attribute="seniority",
        operator="equals",
        value="director",
    )
    services.rule_create(
        model=draft,
        kind="engagement",
        label="Demo",
        points=20,
        touchpoint_kind="demo_request",
        half_life_days=1,
    )
    return ScoringModel.objects.get(id=now.id), draft


def _lead(touches: list[tuple[str, dt.datetime]], **fields: Any) -> Any:
    fields.setdefault("created_at", at(1, month=2))
    lead = LeadFactory(**fields)
    for kind, occurred_at in touches:
        TouchpointFactory(lead=lead, kind_id=kind, occurred_at=occurred_at)
    return lead


def _decide(lead: Any, status: str, reason: RejectionReason | None = None) -> None:
    Handoff.objects.create(
        lead=lead,
        sla=SlaFactory(),
        status=status,
        mql_at=at(5),
        created_at=at(5),
        due_at=at(6),
        at_risk_at=at(6),
        decided_at=at(6),
        grade="A",
        score_breakdown=[],
        reason=reason,
    )


@pytest.fixture
def world() -> dict[str, Any]:
    active, draft = _models()
    budget = RejectionReason.objects.create(
        code="replay-budget", label="No budget", audience="sdr", action="recycle"
    )
    person = RejectionReason.objects.create(
        code="replay-person",
        label="Wrong person",
        audience="sdr",
        action="disqualify",
    )
    leads = {
        "L1": _lead([("demo_request", at(4))], highest_stage="sql"),
        "L2": _lead(
            [("demo_request", at(3)), ("demo_request", at(6))], seniority="manager"
        ),
        "L3": _lead([("page_view", at(9)), ("demo_request", at(10))]),
        "L4": _lead([("page_view", at(12))]),
        "L5": _lead(
            [("page_view", at(2, hour=8)), ("page_view", at(2, hour=9))],
            highest_stage="customer",
        ),
        "L6": _lead([("demo_request", at(4))], erased_at=at(20)),
        "L7": _lead([("demo_request", at(17))]),
        "L8": _lead([("demo_request", at(21))], created_at=at(20)),
        "L9": _lead(
            [("page_view", at(27, month=2)), ("page_view", at(27, month=2, hour=11))],
            highest_stage="mql",
        ),
        "L10": _lead(
            [("demo_request", at(1, hour=20)), ("demo_request", at(2))],
            highest_stage="mql",
        ),
    }
    _decide(leads["L1"], "accepted")
    _decide(leads["L3"], "rejected", budget)
    _decide(leads["L4"], "rejected", person)
    _decide(leads["L5"], "accepted")
    return {"active": active, "draft": draft, "leads": leads}


def _figures(mql=0, accepted=0, rejected=0, reasons=None, sql=0, customer=0):
    return {
        "mql": mql,
        "accepted": accepted,
        "rejected": rejected,
        "reasons": [{"reason": r, "count": n} for r, n in (reasons or {}).items()],
        "sql": sql,
        "customer": customer,
    }


def test_the_hand_built_world_replays_as_worked_out(world) -> None:
    leads = world["leads"]
    result = replays.replay_compute(
        draft=world["draft"], active=world["active"], start=START, end=END
    )

    assert result["weeks"] == [
        {
            "week": "2026-03-02",
            "draft": _figures(mql=1, accepted=1, sql=1),
            "active": _figures(mql=1, accepted=1, sql=1, customer=1),
        },
        {
            "week": "2026-03-09",
            "draft": _figures(mql=1, rejected=1, reasons={"No budget": 1}),
            "active": _figures(
                mql=2, rejected=2, reasons={"No budget": 1, "Wrong person": 1}
            ),
        },
    ]
    assert result["totals"]["draft"] == _figures(
        mql=2, accepted=1, rejected=1, reasons={"No budget": 1}, sql=1
    )
    assert result["totals"]["active"]["mql"] == 3
    newly = result["newly_qualifying"]
    assert newly["count"] == 1
    assert [(row["id"], row["mql_day"]) for row in newly["leads"]] == [
        (leads["L1"].id, "2026-03-04")
    ]
    assert newly["leads"][0]["url"] == f"/leads/{leads['L1'].id}/"
    lost = result["no_longer_qualifying"]
    assert [(row["id"], row["mql_day"]) for row in lost["leads"]] == [
        (leads["L5"].id, "2026-03-02"),
        (leads["L4"].id, "2026-03-12"),
    ]
    assert lost["count"] == 2


def test_decay_keeps_the_manager_short_and_the_days_are_the_first_crossings(
    world,
) -> None:
    leads = world["leads"]
    draft_days, active_days = replays.mql_days(
        specs=[model_spec(world["draft"]), model_spec(world["active"])],
        start=START,
        end=END,
    )

    assert draft_days == {
        leads["L1"].id: dt.date(2026, 3, 4),
        leads["L3"].id: dt.date(2026, 3, 10),
    }
    assert active_days == {
        leads["L5"].id: dt.date(2026, 3, 2),
        leads["L3"].id: dt.date(2026, 3, 9),
        leads["L4"].id: dt.date(2026, 3, 12),
    }


def test_a_lead_already_qualified_when_the_period_began_never_newly_qualifies(
    world,
) -> None:
    leads = world["leads"]
    specs = [model_spec(world["draft"]), model_spec(world["active"])]

    draft_days, active_days = replays.mql_days(specs=specs, start=START, end=END)
    # A period starting on the day of their crossing counts them that day.
    earlier_draft, earlier_active = replays.mql_days(
        specs=specs, start=dt.date(2026, 3, 1), end=END
    )
    (from_feb,) = replays.mql_days(specs=specs[1:], start=dt.date(2026, 2, 27), end=END)

    assert leads["L10"].id not in draft_days
    assert leads["L9"].id not in active_days
    assert earlier_draft[leads["L10"].id] == dt.date(2026, 3, 1)
    assert leads["L9"].id not in earlier_active
    assert from_feb[leads["L9"].id] == dt.date(2026, 2, 27)


def _per_lead_every_day(spec, lead_ids, start, end) -> dict[int, dt.date]:
    """The per-lead engine, as of the end of every day of the period, leaving
    out the leads it already qualified at the period's start."""
    from leads.models import Lead

    found: dict[int, dt.date] = {}
    for lead_id in lead_ids:
        row = (
            Lead.objects.filter(id=lead_id)
            .values("id", "created_at", *LEAD_COLUMNS, *ACCOUNT_COLUMNS)
            .get()
        )
        touches = touches_by_lead(spec, lead_id, lead_id + 1).get(lead_id, [])
        start_at = dt.datetime.combine(start, dt.time(), tzinfo=dt.UTC)
        if row["created_at"] < start_at and (
            evaluate_touches(
                spec,
                facts_from_row(row, None),
                [t for t in touches if t.occurred_at < start_at],
                start_at,
            ).qualifies
        ):
            continue  # already qualified when the period began
        day = start
        while day < end:
            moment = dt.datetime.combine(
                day + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC
            )
            if row["created_at"] < moment:
                result = evaluate_touches(
                    spec,
                    facts_from_row(row, None),
                    [t for t in touches if t.occurred_at < moment],
                    moment,
                )
                if result.qualifies:
                    found[lead_id] = day
                    break
            day += dt.timedelta(days=1)
    return found


def test_the_replay_agrees_with_the_per_lead_engine_day_by_day(world) -> None:
    leads = world["leads"]
    # More leads, with touches scattered over the period and just before it.
    extra = [
        _lead(
            [
                (kind, at(1 + (n * 7 + k * 3) % 28, month=2 + (n + k) % 2, hour=n % 24))
                for k, kind in enumerate(
                    ["page_view", "demo_request", "page_view", "demo_request"][
                        : 1 + n % 4
                    ]
                )
            ],
            seniority=["director", "manager", "vp"][n % 3],
        )
        for n in range(24)
    ]
    ids = [lead.id for lead in [*leads.values(), *extra] if lead.erased_at is None]
    for model in (world["draft"], world["active"]):
        spec = model_spec(model)
        (replayed,) = replays.mql_days(specs=[spec], start=START, end=END, chunk_size=7)
        expected = _per_lead_every_day(spec, ids, START, END)
        assert replayed == expected
        assert expected  # the check compares something


def test_the_task_stores_progress_and_the_result(
    world, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        replay = replays.replay_request(draft=world["draft"], start=START, end=END)

    replay.refresh_from_db()
    assert replay.status == ModelReplay.Status.DONE
    assert replay.active_id == world["active"].id
    assert replay.total == replay.done == 9  # the leads not erased
    assert replay.percent == 100
    assert replay.finished_at is not None
    assert replay.result["totals"]["draft"]["mql"] == 2
    assert replays.replay_latest(world["draft"]) == replay


def test_a_failure_is_stored_on_the_replay(world, monkeypatch) -> None:
    replay = replays.replay_request(
        draft=world["draft"], start=START, end=END, enqueue=False
    )

    def broken(**kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(replays, "replay_compute", broken)
    with pytest.raises(RuntimeError):
        replays.replay_run(replay_id=replay.id)
    replay.refresh_from_db()
    assert replay.status == ModelReplay.Status.FAILED
    assert replay.error == "The replay failed unexpectedly: start it again."
    assert replay.result is None


def test_the_command_ends_with_one_json_line(world) -> None:
    out = StringIO()
    call_command(
        "replay_model",
        str(world["draft"].id),
        "--start",
        "2026-03-02",
        "--end",
        "2026-03-16",
        stdout=out,
    )

    last = json.loads(out.getvalue().strip().splitlines()[-1])
    assert last["draft"] == world["draft"].id
    assert last["active"] == world["active"].id
    assert [w["week"] for w in last["weeks"]] == ["2026-03-02", "2026-03-09"]
    assert [w["draft"]["mql"] for w in last["weeks"]] == [1, 1]
    assert [w["active"]["mql"] for w in last["weeks"]] == [1, 2]
    assert last["newly_qualifying"] == 1
    assert last["no_longer_qualifying"] == 2
    assert ModelReplay.objects.get(id=last["replay"]).status == "done"


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        ("2026-03-16", "2026-03-02", "on or before it starts"),
        ("2026-03-02", "2026-03-02", "on or before it starts"),
        ("2025-01-01", "2026-03-16", "at most 366 days"),
        ("2026-03-02", "2099-01-01", "ends in the future"),
    ],
)
def test_the_command_refuses_a_bad_period(world, start, end, message) -> None:
    with pytest.raises(CommandError, match=message):
        call_command(
            "replay_model", str(world["draft"].id), "--start", start, "--end", end
        )
    assert not ModelReplay.objects.exists()


def test_only_a_draft_with_rules_is_replayed(world) -> None:
    with pytest.raises(replays.ReplayRefused, match="only a draft model"):
        replays.replay_request(draft=world["active"], start=START, end=END)
    empty = ScoringModel.objects.create(name="Empty", version=1)
    with pytest.raises(replays.ReplayRefused, match="has no rules"):
        replays.replay_request(draft=empty, start=START, end=END)
    with pytest.raises(CommandError, match="not a date"):
        call_command("replay_model", str(world["draft"].id), "--start", "March")
    assert not ModelReplay.objects.exists()


def test_a_period_of_366_days_ending_today_is_accepted(world) -> None:
    today = timezone.now().date()
    replay = replays.replay_request(
        draft=world["draft"],
        start=today - dt.timedelta(days=366),
        end=today,
        enqueue=False,
    )
    assert replay.status == ModelReplay.Status.PENDING


def test_the_api_starts_a_replay_and_reports_it(
    world, api, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        answer = api.post(
            f"/api/v1/scoring-models/{world['draft'].id}/replay/",
            {"start": "2026-03-02", "end": "2026-03-16"},
            format="json",
        )

    assert answer.status_code == 202, answer.content
    assert answer.json()["status"] == "pending"
    replay_id = answer.json()["id"]
    assert answer.json()["url"] == f"/api/v1/scoring-models/replays/{replay_id}/"
    shown = api.get(f"/api/v1/scoring-models/replays/{replay_id}/").json()
    assert shown["status"] == "done"
    assert shown["percent"] == 100
    assert shown["result"]["newly_qualifying"]["count"] == 1
    assert shown["start"] == "2026-03-02"


def test_the_api_refuses_bad_input_and_stores_nothing(world, api) -> None:
    url = f"/api/v1/scoring-models/{world['draft'].id}/replay/"
    answer = api.post(url, {"start": "2026-03-16", "end": "2026-03-02"}, format="json")
    assert answer.status_code == 400
    assert "choose an end after the start" in answer.json()["detail"]
    answer = api.post(url, {"start": "soon"}, format="json")
    assert answer.status_code == 400
    assert "start" in answer.json()
    answer = api.post(
        f"/api/v1/scoring-models/{world['active'].id}/replay/", {}, format="json"
    )
    assert answer.status_code == 400
    assert "only a draft model" in answer.json()["detail"]
    assert not ModelReplay.objects.exists()


def test_the_model_page_starts_a_replay_and_shows_its_result(
    world, marketer_client, django_capture_on_commit_callbacks
) -> None:
    draft = world["draft"]
    page = marketer_client.get(f"/scoring/{draft.id}/")
    html = page.content.decode()
    assert 'id="replay-form"' in html
    today = timezone.now().date()
    assert f'value="{today - dt.timedelta(days=90):%Y-%m-%d}"' in html
    assert f'value="{today:%Y-%m-%d}"' in html
    assert "Not replayed yet" in html

    with django_capture_on_commit_callbacks(execute=True):
        answer = marketer_client.post(
            f"/scoring/{draft.id}/replay/", {"start": "2026-03-02", "end": "2026-03-16"}
        )
    assert answer.status_code == 302
    assert answer["Location"] == f"/scoring/{draft.id}/#replay"

    html = marketer_client.get(f"/scoring/{draft.id}/").content.decode()
    assert 'id="replay-weeks"' in html
    assert "2026-03-09" in html
    assert f'href="/leads/{world["leads"]["L1"].id}/"' in html
    assert "No budget 1" in html
    assert "hx-trigger" not in html  # done: nothing polls


def test_the_panel_polls_while_a_replay_runs(world, marketer_client) -> None:
    draft = world["draft"]
    replay = replays.replay_request(draft=draft, start=START, end=END, enqueue=False)
    ModelReplay.objects.filter(id=replay.id).update(
        status="running", total=200, done=50
    )

    page = marketer_client.get(f"/scoring/{draft.id}/").content.decode()
    assert "htmx-2.0.11.min.js" in page
    panel = marketer_client.get(f"/scoring/{draft.id}/replay/panel/").content.decode()
    assert f'hx-get="/scoring/{draft.id}/replay/panel/"' in panel
    assert 'hx-trigger="every 2s"' in panel
    assert 'value="25"' in panel
    assert "50 of 200 leads replayed (25%)" in panel

    replays.replay_run(replay_id=replay.id)
    panel = marketer_client.get(f"/scoring/{draft.id}/replay/panel/").content.decode()
    assert "hx-trigger" not in panel
    assert 'id="replay-newly"' in panel


def test_the_page_refuses_a_bad_period_and_stores_nothing(
    world, marketer_client
) -> None:
    draft = world["draft"]
    answer = marketer_client.post(
        f"/scoring/{draft.id}/replay/",
        {"start": "2026-03-16", "end": "2026-03-02"},
        follow=True,
    )
    assert "choose an end after the start" in answer.content.decode()
    answer = marketer_client.post(
        f"/scoring/{draft.id}/replay/", {"start": "", "end": "x"}, follow=True
    )
    assert "The replay was not started. From:" in answer.content.decode()
    assert not ModelReplay.objects.exists()


def test_the_publish_confirmation_shows_the_latest_replay(
    world, marketer_client
) -> None:
    draft = world["draft"]
    html = marketer_client.get(f"/scoring/{draft.id}/publish/").content.decode()
    assert "Not replayed on history yet" in html
    replay = replays.replay_request(draft=draft, start=START, end=END, enqueue=False)
    replays.replay_run(replay_id=replay.id)

    html = marketer_client.get(f"/scoring/{draft.id}/publish/").content.decode()
    assert (
        "2 MQLs under this draft against 3 under Now v1; 1 would newly qualify, "
        "2 no longer; of the draft's MQLs the SDRs accepted 1 and rejected 1."
    ) in " ".join(html.split())
    assert f'href="/scoring/{draft.id}/#replay"' in html


class _Rollback(Exception):
    """Undoes one generated example's rows."""


@given(
    touches=st.lists(
        st.tuples(
            st.sampled_from(["page_view", "demo_request"]),
            st.integers(min_value=0, max_value=30 * 24 - 1),
        ),
        max_size=8,
    ),
    seniority=st.sampled_from(["director", "manager"]),
    created_hours=st.integers(min_value=0, max_value=30 * 24 - 1),
)
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
def test_any_lead_replays_as_the_per_lead_engine_scores_it_every_day(
    world, touches, seniority, created_hours
) -> None:
    # Touches and creation anywhere from 20 February to 21 March: before,
    # inside and after the period.
    origin = at(20, month=2, hour=0)
    try:
        with transaction.atomic():
            lead = _lead(
                [(kind, origin + dt.timedelta(hours=h)) for kind, h in touches],
                seniority=seniority,
                created_at=origin + dt.timedelta(hours=created_hours),
            )
            for model in (world["draft"], world["active"]):
                spec = model_spec(model)
                (replayed,) = replays.mql_days(specs=[spec], start=START, end=END)
                expected = _per_lead_every_day(spec, [lead.id], START, END)
                assert replayed.get(lead.id) == expected.get(lead.id)
            raise _Rollback
    except _Rollback:
        pass
