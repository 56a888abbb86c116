"""Suggested points fitted from outcomes: the fit, its refusals, the command,
the API, the page, and publish_model. (The background run on its
``ModelSuggestion`` row: tests/scoring/test_suggestion_runs.py.)

The hand-built dataset: 500 leads created an hour apart, each with one page
view (no information: every lead has it). Lead ``i`` requested a demo when
``i % 4 == 0`` (125 leads) and reached SQL when ``i % 8 == 0`` (half of the
demo leads: 63) or ``i % 10 == 3`` (50 leads, none with a demo: those ``i``
are odd). Training leads are the first 400 (90 reached SQL), test leads the
last 100: 25 demo leads (13 reached SQL) and 75 others (10 reached SQL).
A score that only tells demo leads apart ranks the 23 successes above the 77
others with AUC (13*65 + (13*12 + 10*65)/2) / (23*77) = 1248/1771.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from crm.roles import SDR
from leads.models import Lead, StageTransition, Touchpoint
from scoring import services
from scoring.exceptions import SuggestionRefused
from scoring.models import ModelSuggestion, ScoringModel
from scoring.selectors import model_active
from scoring.services.suggestions import (
    model_suggest,
    suggestion_request,
    suggestion_wait,
)
from scoring.suggestion import (
    MAX_RULES,
    RECENT_DAYS,
    Population,
    SuggestedRule,
    Suggestion,
    best_f1_threshold,
    explanation_text,
    f1_at,
    population_read,
    rows_replace,
    validation_plan,
)
from scoring.validation import NOTES_MAX
from tests.clients import token_client
from tests.factories import LeadFactory, UserFactory

pytestmark = pytest.mark.django_db

START = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
UNTIL = dt.datetime(2026, 3, 23, tzinfo=dt.UTC)  # after the 500th hour
NEUTRAL_AUC = 0.5
DEMO_ONLY_AUC = 1248 / 1771


def neutral_active_model() -> ScoringModel:
    """Publish a model that gives every lead the same score (a page view)."""
    draft = services.model_clone(model=model_active())
    for rule in draft.rules.all():
        services.rule_delete(rule=rule)
    services.rule_create(
        model=draft,
        kind="engagement",
        label="Any page view",
        points=1,
        touchpoint_kind="page_view",
        max_occurrences=1,
        half_life_days=1_000_000_000,
    )
    return services.model_publish(model_id=draft.id)


def demo_dataset(count: int = 500) -> list[Lead]:
    leads = []
    touches = []
    for i in range(count):
        created = START + dt.timedelta(hours=i)
        reached = i % 8 == 0 or i % 10 == 3
        lead = LeadFactory(highest_stage="sql" if reached else "lead")
        Lead.objects.filter(id=lead.id).update(created_at=created)
        touches.append(Touchpoint(lead=lead, kind_id="page_view", occurred_at=created))
        if i % 4 == 0:
            touches.append(
                Touchpoint(
                    lead=lead,
                    kind_id="demo_request",
                    occurred_at=created + dt.timedelta(minutes=5),
                )
            )
        leads.append(lead)
    Touchpoint.objects.bulk_create(touches)
    return leads


@pytest.fixture
def dataset() -> list[Lead]:
    neutral_active_model()
    return demo_dataset()


def _rules(model: ScoringModel) -> list[tuple]:
    return list(
        model.rules.order_by("position").values_list(
            "kind", "label", "points", "touchpoint_kind", "attribute", "value"
        )
    )


def test_a_demo_request_drives_the_suggestion(dataset):
    result = model_suggest(outcome="sql", until=UNTIL, name="Fitted")

    draft = result.model
    assert (draft.name, draft.version, draft.status) == ("Fitted", 1, "draft")
    assert (result.train_leads, result.test_leads) == (400, 100)
    assert result.auc_active == NEUTRAL_AUC
    assert result.auc_suggested == pytest.approx(DEMO_ONLY_AUC)
    rules = _rules(draft)
    # Every rule the fit kept is about the demo request, the only signal.
    assert {r[3] for r in rules} == {"demo_request"}
    top = max(rules, key=lambda r: r[2])
    assert top[3] == "demo_request"
    assert result.rules == len(rules)
    assert draft.mql_threshold == sum(r[2] for r in rules)
    assert "Demo request" in draft.notes
    assert f"this suggestion {DEMO_ONLY_AUC:.3f}" in draft.notes
    assert "the active model Default v2 0.500" in draft.notes
    assert "50.0% of them reached sql vs 13.3% of the others" in draft.notes


def test_the_same_data_gives_the_same_suggestion(dataset):
    first = model_suggest(outcome="sql", until=UNTIL)
    second = model_suggest(outcome="sql", until=UNTIL)

    assert (first.model.version, second.model.version) == (1, 2)
    assert _rules(first.model) == _rules(second.model)
    assert first.model.mql_threshold == second.model.mql_threshold


def test_a_suggested_draft_publishes_and_scores_demo_leads_higher(
    dataset, django_capture_on_commit_callbacks
):
    result = model_suggest(outcome="sql", until=UNTIL)
    out = StringIO()

    with django_capture_on_commit_callbacks(execute=True):
        call_command("publish_model", str(result.model.id), stdout=out)

    active = model_active()
    assert active.id == result.model.id
    demo, other = dataset[0], dataset[1]
    assert (
        out.getvalue() == f"Published {active} (id {active.id}); rescoring 500 leads.\n"
    )
    # Scored today, the demo requests are no longer recent.
    lasting = active.rules.exclude(label__contains=f"in the last {RECENT_DAYS} days")
    assert demo.scores.get(model=active).total == sum(r.points for r in lasting)
    assert other.scores.get(model=active).total == 0


@pytest.mark.parametrize(
    ("outcome", "until", "message"),
    [
        ("won", UNTIL, "Unknown outcome 'won': choose sql or customer"),
        ("sql", START, "No leads were created before 2026-03-01"),
        (
            "customer",
            UNTIL,
            "None of the 500 leads created before 2026-03-23 reached customer",
        ),
        # The first 400 leads (those before hour 400) hold 50 + 40 successes;
        # the first 240 only 30 + 24 = 54, of which 43 train: too few.
        (
            "sql",
            START + dt.timedelta(hours=240),
            "Of the earliest 80% of the 240 "
            "leads created before 2026-03-11, 43 reached sql and 149 did not; a "
            "suggestion needs at least 50 of each there. Choose a later cut-off",
        ),
    ],
)
def test_a_window_that_cannot_be_fitted_is_refused(dataset, outcome, until, message):
    before = list(ScoringModel.objects.values_list("id", flat=True))

    with pytest.raises(SuggestionRefused, match="^" + message.replace("(", r"\(")):
        model_suggest(outcome=outcome, until=until)

    assert list(ScoringModel.objects.values_list("id", flat=True)) == before


def test_too_few_successes_among_the_latest_leads_is_refused():
    neutral_active_model()
    leads = demo_dataset()
    # The last 100 leads did not reach SQL yet.
    Lead.objects.filter(id__in=[lead.id for lead in leads[400:]]).update(
        highest_stage="lead"
    )

    with pytest.raises(SuggestionRefused, match="Choose an earlier cut-off date"):
        model_suggest(outcome="sql", until=UNTIL)

    assert ScoringModel.objects.filter(status="draft").count() == 0


def test_the_command_ends_with_the_figures_as_json(dataset):
    out = StringIO()

    call_command(
        "suggest_model",
        "--outcome",
        "sql",
        "--until",
        "2026-03-23",
        "--name",
        "From the command",
        stdout=out,
    )

    figures = json.loads(out.getvalue().strip().splitlines()[-1])
    draft = ScoringModel.objects.get(name="From the command")
    assert figures == {
        "id": draft.id,
        "name": "From the command",
        "version": 1,
        "outcome": "sql",
        "until": "2026-03-23",
        "train_leads": 400,
        "test_leads": 100,
        "auc_active": 0.5,
        "auc_suggested": round(DEMO_ONLY_AUC, 4),
        "rules": draft.rules.exclude(kind="disqualifying").count(),
        "mql_threshold": str(draft.mql_threshold),
    }


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--outcome", "lead"], "Unknown outcome 'lead'"),
        (
            ["--outcome", "sql", "--until", "23/03/2026"],
            "--until '23/03/2026' is not a date: write it as YYYY-MM-DD.",
        ),
    ],
)
def test_the_command_refuses_bad_input(dataset, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("suggest_model", *args, stdout=StringIO())

    assert ScoringModel.objects.filter(status="draft").count() == 0


def test_publish_model_refuses_what_it_cannot_publish(dataset):
    active = model_active()
    empty = services.model_clone(model=active)
    for rule in empty.rules.all():
        services.rule_delete(rule=rule)

    with pytest.raises(CommandError, match="No scoring model has id 999999"):
        call_command("publish_model", "999999")
    with pytest.raises(
        CommandError, match=r"Only a draft can be published; this model is active\."
    ):
        call_command("publish_model", str(active.id))
    with pytest.raises(CommandError, match="Add at least one rule before"):
        call_command("publish_model", str(empty.id))

    assert model_active().id == active.id


def test_the_api_suggests_a_draft_in_the_background(
    dataset, api, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            "/api/v1/scoring-models/suggest/?wait=0",
            {"outcome": "sql", "until": "2026-03-23", "name": "From the API"},
            format="json",
        )

    assert response.status_code == 202
    queued = response.json()
    suggestion = ModelSuggestion.objects.get()
    assert (queued["id"], queued["status"], queued["percent"]) == (
        suggestion.id,
        "queued",
        0,
    )
    assert queued["url"] == f"/api/v1/scoring-models/suggestions/{suggestion.id}/"
    # Celery is eager here: the run ended as the request committed.
    body = api.get(queued["url"]).json()
    draft = ScoringModel.objects.get(name="From the API")
    assert (body["status"], body["percent"], body["draft"]) == ("done", 100, draft.id)
    assert body["auc_active"] == 0.5
    assert body["auc_suggested"] == pytest.approx(DEMO_ONLY_AUC)
    assert (body["result"]["train_leads"], body["result"]["test_leads"]) == (400, 100)
    assert body["result"]["auc_suggested"] == round(DEMO_ONLY_AUC, 4)


@pytest.mark.parametrize(
    ("payload", "errors"),
    [
        (
            {"outcome": "won"},
            {
                "outcome": [
                    "Unknown outcome 'won': choose sql or customer (the stage a "
                    "lead must have reached to count as a success)."
                ]
            },
        ),
        (
            {"outcome": "sql", "until": "23/03/2026"},
            {
                "until": [
                    "Date has wrong format. Use one of these formats instead: "
                    "YYYY-MM-DD."
                ]
            },
        ),
        (
            {"outcome": "sql", "name": "x" * 121},
            {"name": ["Ensure this field has no more than 120 characters."]},
        ),
        ({}, {"outcome": ["This field is required."]}),
    ],
)
def test_the_api_says_which_field_to_change(dataset, api, payload, errors):
    response = api.post("/api/v1/scoring-models/suggest/", payload, format="json")

    assert response.status_code == 400
    assert response.json() == errors
    assert not ModelSuggestion.objects.exists()
    assert ScoringModel.objects.filter(status="draft").count() == 0


def test_the_api_reports_a_window_that_cannot_be_fitted(
    dataset, api, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            "/api/v1/scoring-models/suggest/?wait=0",
            {"outcome": "customer", "until": "2026-03-23"},
            format="json",
        )

    body = api.get(response.json()["url"]).json()
    assert (response.status_code, body["status"], body["draft"]) == (
        202,
        "failed",
        None,
    )
    assert body["error"].startswith(
        "None of the 500 leads created before 2026-03-23 reached customer"
    )
    assert ScoringModel.objects.filter(status="draft").count() == 0


@pytest.mark.django_db(transaction=True)
def test_the_api_waits_for_the_draft_and_answers_its_id_and_figures(marketer):
    # Committed for real: the eager task runs as the request commits.
    neutral_active_model()
    demo_dataset()

    response = token_client(marketer).post(
        "/api/v1/scoring-models/suggest/",
        {"outcome": "sql", "until": "2026-03-23", "name": "Waited for"},
        format="json",
    )

    assert response.status_code == 201
    body = response.json()
    draft = ScoringModel.objects.get(name="Waited for")
    assert (body["status"], body["draft"]) == ("done", draft.id)
    assert body["auc_active"] == 0.5
    assert body["auc_suggested"] == pytest.approx(DEMO_ONLY_AUC)
    assert (body["result"]["id"], body["result"]["rules"]) == (
        draft.id,
        draft.rules.count(),
    )


@pytest.mark.django_db(transaction=True)
def test_the_api_answers_400_when_the_run_fails_within_the_wait(marketer):
    neutral_active_model()
    demo_dataset()

    response = token_client(marketer).post(
        "/api/v1/scoring-models/suggest/",
        {"outcome": "customer", "until": "2026-03-23"},
        format="json",
    )

    assert response.status_code == 400
    body = response.json()
    assert body["detail"].startswith(
        "None of the 500 leads created before 2026-03-23 reached customer"
    )
    assert (body["suggestion"]["status"], body["suggestion"]["draft"]) == (
        "failed",
        None,
    )
    assert ScoringModel.objects.filter(status="draft").count() == 0


def test_the_api_answers_202_at_once_when_its_run_waits_for_a_commit(dataset, api):
    # Inside the test's transaction the run is only enqueued at its commit:
    # waiting could not see it finish.
    started = time.monotonic()
    response = api.post(
        "/api/v1/scoring-models/suggest/", {"outcome": "sql"}, format="json"
    )

    assert time.monotonic() - started < 5
    assert response.status_code == 202
    assert response.json()["status"] == "queued"


@pytest.mark.django_db(transaction=True)
def test_waiting_for_a_run_that_does_not_finish_ends_at_the_bound():
    queued = suggestion_request(outcome="sql", enqueue=False)

    started = time.monotonic()
    seen = suggestion_wait(queued.id, seconds=0.6)

    assert 0.6 <= time.monotonic() - started < 3
    assert seen.status == "queued"


@pytest.mark.parametrize("wait", ["26", "-1", "soon"])
def test_the_api_says_how_long_it_may_wait(dataset, api, wait):
    response = api.post(
        f"/api/v1/scoring-models/suggest/?wait={wait}",
        {"outcome": "sql"},
        format="json",
    )

    assert response.status_code == 400
    assert response.json()["wait"][0].startswith("Give whole seconds from 0 to 25")
    assert not ModelSuggestion.objects.exists()


def test_only_marketing_and_admin_may_suggest(dataset):
    sdr = token_client(UserFactory(username="sdr-api", roles=[SDR]))

    response = sdr.post(
        "/api/v1/scoring-models/suggest/", {"outcome": "sql"}, format="json"
    )

    assert response.status_code == 403


def test_the_page_suggests_and_shows_the_draft(
    dataset, marketer_client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = marketer_client.post(
            reverse("scoring:suggest"),
            {"outcome": "sql", "until": "2026-03-23", "name": "From the page"},
        )

    assert response.status_code == 302
    assert response.url == reverse("scoring:list") + "#suggest"
    draft = ScoringModel.objects.get(name="From the page")
    suggestion = ModelSuggestion.objects.get()
    assert (suggestion.status, suggestion.draft_id) == ("done", draft.id)
    page = marketer_client.get(reverse("scoring:list")).content.decode()
    assert reverse("scoring:detail", args=[draft.id]) in page
    assert f"AUC on later leads {DEMO_ONLY_AUC:.3f}" in page
    assert "(active model 0.500)" in page
    assert "hx-get" not in page.split('id="suggest"')[1].split(">")[0]
    detail = marketer_client.get(reverse("scoring:detail", args=[draft.id]))
    assert "Demo request" in detail.content.decode()


def test_the_page_shows_why_a_suggestion_failed(
    dataset, marketer_client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        marketer_client.post(
            reverse("scoring:suggest"), {"outcome": "customer", "until": "2026-03-23"}
        )

    page = marketer_client.get(reverse("scoring:list")).content.decode()
    assert "Last suggestion failed: None of the 500 leads" in page
    assert not ScoringModel.objects.filter(status="draft").exists()


def test_a_marketer_sees_the_suggest_form(marketer_client):
    page = marketer_client.get(reverse("scoring:list")).content.decode()

    assert '<button type="submit" class="btn">Suggest points</button>' in page
    assert f'action="{reverse("scoring:suggest")}"' in page


def test_other_roles_cannot_suggest_from_the_page(client):
    client.force_login(UserFactory(username="sdr-page", roles=[SDR]))

    response = client.post(reverse("scoring:suggest"), {"outcome": "sql"})

    assert response.status_code == 403
    assert not ModelSuggestion.objects.exists()


@given(
    st.lists(
        st.tuples(st.integers(min_value=0, max_value=20), st.booleans()),
        min_size=1,
        max_size=40,
    )
)
def test_the_threshold_is_the_highest_cut_with_the_best_f1(pairs):
    scores = [score for score, _ in pairs]
    outcomes = [int(won) for _, won in pairs]

    cut = best_f1_threshold(scores, outcomes)

    best = max(f1_at(scores, outcomes, c) for c in set(scores))
    assert f1_at(scores, outcomes, cut) == best
    assert cut == max(c for c in set(scores) if f1_at(scores, outcomes, c) == best)


def test_an_explanation_fits_the_notes_however_long_the_labels():
    rules = [
        SuggestedRule(
            fields={"label": f"{n:02d}" + "x" * 198, "points": Decimal(5)},
            coefficient=0.5,
            support=40,
            rate_with=0.5,
            rate_without=0.1,
        )
        for n in range(MAX_RULES)
    ]
    population = Population(ids=list(range(500)), outcomes=[0, 1] * 250, train=400)
    suggestion = Suggestion(
        outcome="sql",
        until=UNTIL,
        population=population,
        rules=rules,
        disqualifying=[],
        scale=10.0,
        candidates=40,
        threshold_reference=Decimal(60),
    )

    text = explanation_text(
        suggestion=suggestion,
        threshold=Decimal(60),
        train_f1=0.5,
        auc_active=0.6,
        auc_suggested=0.7,
        active_name="Default v1",
    )

    assert len(text) <= NOTES_MAX
    shown = text.count("x" * 198)
    assert 0 < shown < MAX_RULES
    assert text.endswith(
        f"... and {MAX_RULES - shown} more rules: see the rules below."
    )


def collinear_dataset(count: int = 600) -> list[Lead]:
    """Two rules about nearly the same leads, each predictive on its own:
    every fifth lead requests a demo and downloads content, every other fifth
    only downloads content. Half of both groups reach SQL (lead ``i`` when
    ``i % 10`` is 0 or 1), and one in twenty of the rest (``i % 20 == 3``)."""
    leads, touches = [], []
    for i in range(count):
        created = START + dt.timedelta(hours=i)
        demo = i % 5 == 0
        content = i % 5 in (0, 1)
        reached = i % 10 in (0, 1) or i % 20 == 3
        lead = LeadFactory(highest_stage="sql" if reached else "lead")
        Lead.objects.filter(id=lead.id).update(created_at=created)
        touches.append(Touchpoint(lead=lead, kind_id="page_view", occurred_at=created))
        for kind, does in (("demo_request", demo), ("content_download", content)):
            if does:
                touches.append(
                    Touchpoint(
                        lead=lead,
                        kind_id=kind,
                        occurred_at=created + dt.timedelta(minutes=5),
                    )
                )
        leads.append(lead)
    Touchpoint.objects.bulk_create(touches)
    return leads


def test_two_rules_marking_the_same_leads_both_get_points():
    # An L1 penalty keeps one of two such rules and gives the other nothing,
    # which reads as "it does not matter".
    neutral_active_model()
    collinear_dataset()

    result = model_suggest(outcome="sql", until=START + dt.timedelta(hours=600))

    points = dict(
        result.model.rules.filter(label__endswith=": at least once").values_list(
            "touchpoint_kind", "points"
        )
    )
    assert points.get("demo_request", 0) > 0
    assert points.get("content_download", 0) > 0
    assert "L2-regularised (ridge) logistic regression" in result.model.notes


@pytest.mark.parametrize(
    ("qualified_after", "calls_count"),
    [
        (dt.timedelta(days=1), False),
        # Qualified hours after its demo request, the same day: the request
        # still counts, the call after it does not.
        (dt.timedelta(hours=3), False),
        # An import without stage dates puts the outcome at the moment the lead
        # was created: nothing says when it came, so every call counts.
        (dt.timedelta(0), True),
    ],
)
def test_what_sales_logs_once_a_lead_is_qualified_gets_no_points(
    qualified_after, calls_count
):
    # Most leads that reached SQL got a rep's call an hour after they did: a
    # sign of the outcome, and no sign of what was coming.
    neutral_active_model()
    demo_dataset()
    calls, moves = [], []
    reached = Lead.objects.filter(highest_stage="sql").order_by("id")
    for n, (lead_id, created) in enumerate(reached.values_list("id", "created_at")):
        qualified = created + qualified_after
        moves.append(
            StageTransition(
                lead_id=lead_id,
                from_stage="sal",
                to_stage="sql",
                at=qualified,
                system_actor="sales",
            )
        )
        if n % 4:
            calls.append(
                Touchpoint(
                    lead_id=lead_id,
                    kind_id="call",
                    occurred_at=qualified + dt.timedelta(hours=1),
                )
            )
    assert len(moves) == 113
    # Reps call three in four of them, and some of the others (every fifth):
    # a strong sign, not a perfect one.
    others = Lead.objects.exclude(highest_stage="sql").order_by("id")
    for lead_id, created in others.values_list("id", "created_at")[::5]:
        calls.append(
            Touchpoint(
                lead_id=lead_id,
                kind_id="call",
                occurred_at=created + dt.timedelta(hours=1),
            )
        )
    StageTransition.objects.bulk_create(moves)
    Touchpoint.objects.bulk_create(calls)

    result = model_suggest(outcome="sql", until=UNTIL + dt.timedelta(days=2))

    kinds = {r[3] for r in _rules(result.model)}
    assert ("call" in kinds) is calls_count
    if not calls_count:
        assert "demo_request" in kinds
        assert "from the moment it reached the outcome on" in result.model.notes


def test_the_penalty_is_chosen_on_leads_as_young_as_the_test_leads():
    neutral_active_model()
    demo_dataset(count=1200)  # 50 days of leads, an hour apart
    until = START + dt.timedelta(hours=1200)

    population = population_read(outcome="sql", until=until)
    seen, moved = validation_plan(population)

    boundary = START + dt.timedelta(hours=960)  # the first test lead's creation
    assert population.created_at[population.ids[population.train]] == boundary
    day = dt.timedelta(days=1)
    for lead_id in population.train_ids:
        created = population.created_at[lead_id]
        start_of_day = created.replace(hour=0)
        assert seen[lead_id] == min(start_of_day + 31 * day, boundary)
        # With the real cut-off, every training lead is seen 31 days after
        # the day it was created (all of them are older than that).
        assert population.seen_at[lead_id] == min(start_of_day + 31 * day, until)
    assert moved == [
        i for i in population.train_ids if seen[i] != population.seen_at[i]
    ]
    assert moved  # the latest training leads are cut short


def test_rows_replace_swaps_the_rows_it_is_given_and_keeps_the_others():
    from scipy import sparse

    matrix = sparse.csr_matrix([[1.0, 0.0], [0.0, 2.0], [3.0, 3.0]])
    rows = sparse.csr_matrix([[7.0, 7.0], [0.0, 5.0]])

    result = rows_replace(matrix, [2, 0], rows)

    assert result.toarray().tolist() == [[0.0, 5.0], [0.0, 2.0], [7.0, 7.0]]
