"""A suggestion of points run in the background on its ``ModelSuggestion`` row:
the request (one at a time), the claim, the stages and progress, the draft
stored with the row's "done" in one transaction, retries and duplicate
deliveries, the page's polled section, the API and the command.

The leads are those of tests/scoring/test_suggestion.py (500 leads, demo
requests drive SQL).
"""

from __future__ import annotations

import datetime as dt
import json
from io import StringIO

import pytest
from django.contrib.messages import get_messages
from django.core.management import CommandError, call_command
from django.db import OperationalError
from django.urls import reverse
from django.utils import timezone

from crm.roles import SDR
from scoring.exceptions import SuggestionRunning
from scoring.models import ModelSuggestion, ScoringModel
from scoring.services.suggestions import (
    _claim,
    suggestion_request,
    suggestion_run,
)
from scoring.tasks import suggest_model_task
from tests.clients import token_client
from tests.factories import UserFactory
from tests.scoring.test_suggestion import (
    DEMO_ONLY_AUC,
    UNTIL,
    demo_dataset,
    neutral_active_model,
)
from tests.threads import run_rounds

pytestmark = pytest.mark.django_db

STAGES = ["reading", "candidates", "fitting", "validating", "drafting"]


@pytest.fixture
def dataset() -> None:
    neutral_active_model()
    demo_dataset()


def _queued(**fields) -> ModelSuggestion:
    return suggestion_request(
        outcome=fields.pop("outcome", "sql"),
        until=fields.pop("until", UNTIL),
        name=fields.pop("name", "Run"),
        enqueue=False,
        **fields,
    )


def _drafts() -> list[int]:
    return list(
        ScoringModel.objects.filter(status="draft").values_list("id", flat=True)
    )


def test_a_run_tells_each_stage_and_its_progress_as_it_goes(dataset):
    suggestion = _queued()
    seen = []

    def listener(stage, done, total):
        # What a poller reads at that moment.
        seen.append(
            ModelSuggestion.objects.values_list("status", "stage", "done", "total").get(
                id=suggestion.id
            )
        )

    finished = suggestion_run(
        suggestion_id=suggestion.id, worker="w1", listener=listener
    )

    assert list(dict.fromkeys(stage for _, stage, _, _ in seen)) == STAGES
    assert {status for status, *_ in seen} == {"running"}
    reading = [(d, t) for _, stage, d, t in seen if stage == "reading" and t]
    assert reading[-1] == (500, 500)
    scored = [(d, t) for _, stage, d, t in seen if stage == "candidates"]
    # Every lead, then the 400 training leads again as they stood when the
    # training period ended (the penalty's validation): all of them were
    # younger than the observation period then.
    assert scored[0] == (0, 900)
    assert scored[-1] == (900, 900)
    fits = [(d, t) for _, stage, d, t in seen if stage == "fitting"]
    assert fits[-1][0] == fits[-1][1]
    # The draft's 500 leads, then the active model's 100 test leads.
    validating = [(d, t) for _, stage, d, t in seen if stage == "validating"]
    assert validating[-1] == (600, 600)
    draft = ScoringModel.objects.get(status="draft")
    assert (finished.status, finished.draft_id, finished.in_progress) == (
        "done",
        draft.id,
        None,
    )
    assert finished.percent == 100
    assert finished.auc_active == 0.5
    assert finished.auc_suggested == pytest.approx(DEMO_ONLY_AUC)
    assert finished.result["id"] == draft.id
    assert (finished.claims, finished.worker) == (1, "w1")


@pytest.mark.parametrize(
    ("stage", "done", "total", "percent", "text"),
    [
        ("", 0, 0, 0, "Waiting for the worker…"),
        ("reading", 250, 500, 2, "Reading the leads: 250 of 500 leads read"),
        (
            "candidates",
            3000,
            12000,
            18,
            "Scoring the candidate rules: 3,000 of 12,000 leads scored",
        ),
        ("fitting", 4, 8, 67, "Fitting the points: 4 of 8 fits"),
        ("validating", 0, 0, 75, "Validating on the later leads…"),
        ("drafting", 1, 2, 97, "Creating the draft: 1 of 2 rules"),
    ],
)
def test_the_bar_moves_on_through_the_stages(stage, done, total, percent, text):
    suggestion = ModelSuggestion(
        status="running" if stage else "queued",
        stage=stage,
        done=done,
        total=total,
    )

    assert (suggestion.percent, suggestion.progress_text) == (percent, text)


def test_a_second_request_while_one_runs_is_refused(dataset):
    first = _queued()

    with pytest.raises(SuggestionRunning) as refused:
        _queued(outcome="customer")

    assert refused.value.running == first
    assert str(refused.value) == (
        "A suggestion is already being fitted: wait for it to finish, then "
        "start another."
    )
    assert list(ModelSuggestion.objects.values_list("id", flat=True)) == [first.id]


def test_a_finished_or_failed_suggestion_does_not_block_the_next(dataset):
    done = _queued()
    suggestion_run(suggestion_id=done.id, worker="w1")
    failed = _queued(outcome="customer")
    suggestion_run(suggestion_id=failed.id, worker="w2")

    third = _queued()

    assert ModelSuggestion.objects.get(id=done.id).status == "done"
    assert ModelSuggestion.objects.get(id=failed.id).status == "failed"
    assert third.status == "queued"


@pytest.mark.parametrize(
    ("status", "started_minutes_ago", "created_minutes_ago"),
    [("running", 21, 21), ("queued", None, 121)],
)
def test_a_suggestion_lost_with_its_worker_does_not_block_the_next(
    dataset, status, started_minutes_ago, created_minutes_ago
):
    now = timezone.now()
    lost = _queued(now=now - dt.timedelta(minutes=created_minutes_ago))
    ModelSuggestion.objects.filter(id=lost.id).update(
        status=status,
        started_at=now - dt.timedelta(minutes=started_minutes_ago)
        if started_minutes_ago
        else None,
    )

    fresh = _queued(now=now)

    lost.refresh_from_db()
    assert (lost.status, lost.in_progress) == ("failed", None)
    assert lost.error == "The suggestion was lost with its worker: start it again."
    assert fresh.status == "queued"


def test_a_second_delivery_after_the_run_does_nothing(dataset):
    suggestion = _queued()
    suggestion_run(suggestion_id=suggestion.id, worker="w1")

    again = suggestion_run(suggestion_id=suggestion.id, worker="w1")
    other = suggestion_run(suggestion_id=suggestion.id, worker="w2")

    assert (again, other) == (None, None)
    assert len(_drafts()) == 1
    assert ModelSuggestion.objects.get(id=suggestion.id).claims == 1


def test_another_task_leaves_a_running_suggestion_alone(dataset):
    suggestion = _queued()
    assert _claim(suggestion.id, "w1", timezone.now()) == 1

    other = suggestion_run(suggestion_id=suggestion.id, worker="w2")

    assert other is None
    suggestion.refresh_from_db()
    assert (suggestion.status, suggestion.worker, suggestion.claims) == (
        "running",
        "w1",
        1,
    )
    assert _drafts() == []


def test_a_run_whose_claim_was_taken_over_stores_no_draft(dataset):
    # The broker redelivers the message while the first delivery still runs:
    # the second claims the row, so the first may no longer finish it.
    suggestion = _queued()

    def redelivered(stage, done, total):
        if stage == "validating" and done == 0:
            assert _claim(suggestion.id, "w1", timezone.now()) == 2

    first = suggestion_run(
        suggestion_id=suggestion.id, worker="w1", listener=redelivered
    )

    assert first is None
    assert _drafts() == []
    suggestion.refresh_from_db()
    assert (suggestion.status, suggestion.claims, suggestion.draft_id) == (
        "running",
        2,
        None,
    )

    second = suggestion_run(suggestion_id=suggestion.id, worker="w1")

    assert (second.status, second.claims) == ("done", 3)
    assert _drafts() == [second.draft_id]


def test_a_retry_after_a_lost_connection_claims_the_run_back(dataset):
    suggestion = _queued()
    calls = []

    def connection_lost(stage, done, total):
        calls.append(stage)
        if stage == "fitting" and calls.count("fitting") == 1:
            raise OperationalError("server closed the connection unexpectedly")

    with pytest.raises(OperationalError):
        suggestion_run(
            suggestion_id=suggestion.id, worker="task-1", listener=connection_lost
        )
    suggestion.refresh_from_db()
    assert (suggestion.status, suggestion.stage, suggestion.error) == (
        "running",
        "fitting",
        "",
    )

    retried = suggestion_run(
        suggestion_id=suggestion.id, worker="task-1", listener=connection_lost
    )

    assert (retried.status, retried.claims) == ("done", 2)
    assert _drafts() == [retried.draft_id]


def test_an_unexpected_failure_is_stored_and_leaves_no_draft(dataset):
    suggestion = _queued()

    def broken(stage, done, total):
        if stage == "validating":
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        suggestion_run(suggestion_id=suggestion.id, worker="w1", listener=broken)

    suggestion.refresh_from_db()
    assert (suggestion.status, suggestion.in_progress) == ("failed", None)
    assert suggestion.error == (
        "The suggestion failed unexpectedly; the logs say why. Nothing was created."
    )
    assert _drafts() == []


def test_the_task_runs_the_suggestion(dataset):
    suggestion = _queued()

    suggest_model_task.delay(suggestion.id)

    suggestion.refresh_from_db()
    assert suggestion.status == "done"
    assert suggestion.worker != ""
    assert _drafts() == [suggestion.draft_id]


def test_a_request_enqueues_its_run_after_commit(
    dataset, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        suggestion = suggestion_request(outcome="sql", until=UNTIL)

    assert len(callbacks) == 1
    assert ModelSuggestion.objects.get(id=suggestion.id).status == "queued"
    callbacks[0]()
    assert ModelSuggestion.objects.get(id=suggestion.id).status == "done"


# The page


def test_the_page_shows_the_progress_bar_while_a_suggestion_runs(marketer_client):
    suggestion = _queued()
    ModelSuggestion.objects.filter(id=suggestion.id).update(
        status="running", stage="candidates", done=250, total=500
    )

    page = marketer_client.get(reverse("scoring:list")).content.decode()
    panel = marketer_client.get(reverse("scoring:suggest_panel"))

    for html in (page, panel.content.decode()):
        assert f'hx-get="{reverse("scoring:suggest_panel")}"' in html
        assert '<progress class="progress progress-large" max="100" value="32"' in html
        assert (
            "Scoring the candidate rules: 250 of 500 leads scored (32% in all)."
        ) in html
        # The form waits for this one to finish.
        assert (
            '<button type="submit" class="btn" disabled '
            'aria-describedby="suggest-one-at-a-time">Suggest points</button>'
        ) in html
    assert panel["Cache-Control"].startswith("max-age=0")
    assert "vendor/htmx-2.0.11.min.js" in page


def test_the_page_refuses_a_second_suggestion_while_one_runs(marketer_client):
    running = _queued()

    response = marketer_client.post(reverse("scoring:suggest"), {"outcome": "sql"})

    assert response.status_code == 302
    messages = [str(m) for m in get_messages(response.wsgi_request)]
    assert messages == [
        "A suggestion is already being fitted: wait for it to finish, then "
        "start another."
    ]
    assert list(ModelSuggestion.objects.values_list("id", flat=True)) == [running.id]


def test_the_panel_is_for_rule_editors_only(client):
    client.force_login(UserFactory(username="sdr-panel", roles=[SDR]))

    response = client.get(reverse("scoring:suggest_panel"))

    assert response.status_code == 403


# The API


def test_the_api_answers_409_while_one_runs(api):
    running = _queued()

    response = api.post(
        "/api/v1/scoring-models/suggest/", {"outcome": "sql"}, format="json"
    )

    assert response.status_code == 409
    body = response.json()
    assert body["detail"].startswith("A suggestion is already being fitted")
    assert (body["running"]["id"], body["running"]["status"]) == (
        running.id,
        "queued",
    )
    assert ModelSuggestion.objects.count() == 1


def test_the_api_shows_a_running_suggestion(api):
    suggestion = _queued()
    ModelSuggestion.objects.filter(id=suggestion.id).update(
        status="running", stage="fitting", done=4, total=8
    )

    body = api.get(f"/api/v1/scoring-models/suggestions/{suggestion.id}/").json()

    assert {
        key: body[key]
        for key in ("status", "stage", "done", "total", "percent", "draft", "result")
    } == {
        "status": "running",
        "stage": "fitting",
        "done": 4,
        "total": 8,
        "percent": 67,
        "draft": None,
        "result": None,
    }
    assert body["progress_text"] == "Fitting the points: 4 of 8 fits"


@pytest.mark.parametrize(
    ("who", "status"),
    [("anonymous", 401), ("sdr", 403), ("marketer", 404)],
)
def test_the_api_refuses_to_show_a_suggestion(api, api_client, who, status):
    suggestion = _queued()
    client = {
        "anonymous": api_client,
        "sdr": token_client(UserFactory(username="sdr-runs", roles=[SDR])),
        "marketer": api,
    }[who]
    suggestion_id = suggestion.id + 1 if who == "marketer" else suggestion.id

    response = client.get(f"/api/v1/scoring-models/suggestions/{suggestion_id}/")

    assert response.status_code == status


# The command


def test_the_command_runs_through_the_same_row(dataset):
    out = StringIO()

    call_command(
        "suggest_model", "--outcome", "sql", "--until", "2026-03-23", stdout=out
    )

    lines = out.getvalue().strip().splitlines()
    suggestion = ModelSuggestion.objects.get()
    assert suggestion.status == "done"
    assert suggestion.worker.startswith("command-")
    assert [line.split("…")[0] for line in lines[:5]] == [
        "Reading the leads",
        "Scoring the candidate rules",
        "Fitting the points",
        "Validating on the later leads",
        "Creating the draft",
    ]
    assert json.loads(lines[-1]) == suggestion.result


def test_the_command_waits_its_turn(dataset):
    _queued()

    with pytest.raises(CommandError, match="A suggestion is already being fitted"):
        call_command("suggest_model", "--outcome", "sql", stdout=StringIO())

    assert ModelSuggestion.objects.count() == 1


# PostgreSQL: concurrent requests and deliveries


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_deliveries_make_one_draft():
    neutral_active_model()
    demo_dataset()
    suggestion = _queued()

    (results,) = run_rounds(
        [
            [
                lambda: suggestion_run(suggestion_id=suggestion.id, worker="a"),
                lambda: suggestion_run(suggestion_id=suggestion.id, worker="b"),
            ]
        ]
    )

    assert [kind for kind, _ in results] == ["ok", "ok"]
    ran = [row for _, row in results if row is not None]
    assert len(ran) == 1
    assert ran[0].status == "done"
    assert _drafts() == [ran[0].draft_id]
    assert ModelSuggestion.objects.get(id=suggestion.id).claims == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_queue_one_suggestion():
    (results,) = run_rounds([[lambda: _queued(), lambda: _queued(), lambda: _queued()]])

    kinds = sorted(kind for kind, _ in results)
    assert kinds == ["error", "error", "ok"]
    assert {type(exc) for kind, exc in results if kind == "error"} == {
        SuggestionRunning
    }
    assert ModelSuggestion.objects.filter(in_progress=True).count() == 1
