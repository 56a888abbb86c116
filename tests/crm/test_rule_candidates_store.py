"""Candidate rules off the request path: the stored counts, the task that
makes them and its claim, and the page's fragment and the API's
``candidates`` in each state (counting, ready, stale), on the hand-built
world of ``rule_candidates_data``."""

from __future__ import annotations

import datetime as dt
import threading
from unittest import mock

import pytest
from django.core.cache import cache, caches
from django.utils import timezone

from crm.marketing import rule_candidates
from crm.marketing.rule_candidates import (
    COUNTING,
    READY,
    STALE,
    candidate_counts_refresh,
    candidates_state,
)
from crm.roles import MARKETING
from crm.tasks import count_rule_candidates_task
from scoring.models import ScoringModel
from tests.clients import token_client
from tests.crm.rule_candidates_data import build
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PAGE = "/scoring/analytics/"
FRAGMENT = "/scoring/analytics/candidates/"
URL = "/api/v1/reports/rules/"
JANUARY = {
    "period": "custom",
    "date_from": "2026-01-01",
    "date_to": "2026-01-31",
    "min_support": "3",
}
API_JANUARY = {"start": "2026-01-01", "end": "2026-02-01", "min_support": 3}
START, END = dt.date(2026, 1, 1), dt.date(2026, 2, 1)


@pytest.fixture(autouse=True)
def _empty_store():
    """The store and its claims live in the cache, by model id, which tests
    reuse."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def world():
    return build()


@pytest.fixture
def no_worker():
    """Enqueued counts wait for a worker that never comes (Celery is eager
    in the tests, which would count at once)."""
    with mock.patch.object(count_rule_candidates_task, "delay") as delay:
        yield delay


@pytest.fixture
def marketer_client(client):
    client.force_login(UserFactory(roles=[MARKETING]))
    return client


def _text(response) -> str:
    return response.content.decode()


def _count_at(world, moment: dt.datetime) -> None:
    candidate_counts_refresh(model_id=world.model.id, start=START, end=END, now=moment)


# The claim and the task -----------------------------------------------------


def test_two_requests_with_nothing_stored_start_one_count(world, no_worker):
    first = candidates_state(model=world.model, start=START, end=END, min_support=3)
    second = candidates_state(model=world.model, start=START, end=END, min_support=3)

    assert (first.status, second.status) == (COUNTING, COUNTING)
    assert first.report is None
    no_worker.assert_called_once_with(world.model.id, "2026-01-01", "2026-02-01")


@pytest.mark.redis
def test_concurrent_requests_on_redis_start_one_count(world, no_worker):
    """The claim is Redis's atomic SET NX: of eight requests at once, one
    enqueues the count."""
    assert "Redis" in type(caches["default"]).__name__
    barrier = threading.Barrier(8)
    states = []

    def request() -> None:
        barrier.wait()
        states.append(
            candidates_state(model=world.model, start=START, end=END, min_support=3)
        )

    threads = [threading.Thread(target=request) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert [state.status for state in states] == [COUNTING] * 8
    no_worker.assert_called_once()


def test_the_task_stores_the_counts_and_releases_the_claim(world, no_worker):
    candidates_state(model=world.model, start=START, end=END, min_support=3)

    count_rule_candidates_task(world.model.id, "2026-01-01", "2026-02-01")
    ready = candidates_state(model=world.model, start=START, end=END, min_support=3)

    assert ready.status == READY
    assert len(ready.report.candidates) == 21
    assert no_worker.call_count == 1
    # Released: once the counts go stale, the next request starts a count.
    later = timezone.now() + dt.timedelta(minutes=16)
    stale = candidates_state(
        model=world.model, start=START, end=END, min_support=3, now=later
    )
    assert stale.status == STALE
    assert no_worker.call_count == 2


def test_a_count_that_fails_releases_the_claim(world, no_worker):
    candidates_state(model=world.model, start=START, end=END, min_support=3)

    with (
        mock.patch.object(rule_candidates, "_count", side_effect=RuntimeError),
        pytest.raises(RuntimeError),
    ):
        count_rule_candidates_task(world.model.id, "2026-01-01", "2026-02-01")
    candidates_state(model=world.model, start=START, end=END, min_support=3)

    assert no_worker.call_count == 2


def test_a_stale_count_is_shown_while_one_recount_starts(world, no_worker):
    counted = timezone.now() - dt.timedelta(minutes=20)
    _count_at(world, counted)

    first = candidates_state(model=world.model, start=START, end=END, min_support=3)
    second = candidates_state(model=world.model, start=START, end=END, min_support=3)

    assert (first.status, second.status) == (STALE, STALE)
    assert first.counted_at == counted
    assert first.age >= dt.timedelta(minutes=20)
    assert len(first.report.candidates) == 21
    no_worker.assert_called_once()


def test_a_fresh_count_starts_nothing(world, no_worker):
    _count_at(world, timezone.now() - dt.timedelta(minutes=14))

    state = candidates_state(model=world.model, start=START, end=END, min_support=3)

    assert state.status == READY
    no_worker.assert_not_called()


def test_the_minimum_support_filters_one_stored_count(world, no_worker):
    _count_at(world, timezone.now())

    wide = candidates_state(model=world.model, start=START, end=END, min_support=3)
    narrow = candidates_state(model=world.model, start=START, end=END, min_support=11)

    assert len(wide.report.candidates) == 21
    assert len(narrow.report.candidates) < 21
    no_worker.assert_not_called()


# The page and its fragment --------------------------------------------------


def test_the_page_renders_while_the_candidates_are_counting(
    marketer_client, world, no_worker
):
    response = marketer_client.get(PAGE, JANUARY)

    assert response.status_code == 200
    text = _text(response)
    assert response.context["report"].leads == 20
    assert 'data-state="counting"' in text
    assert "Counting candidate rules…" in text
    assert 'hx-trigger="every 2s"' in text
    assert 'hx-get="/scoring/analytics/candidates/?period=custom' in text
    assert 'id="candidate-table"' not in text
    assert "vendor/htmx-2.0.11.min.js" in text
    no_worker.assert_called_once()


def test_the_page_with_counted_candidates_has_the_table_and_no_polling(
    marketer_client, world, no_worker
):
    _count_at(world, timezone.now())

    text = _text(marketer_client.get(PAGE, JANUARY))

    assert 'data-state="ready"' in text
    assert 'id="candidate-table"' in text
    assert "hx-get" not in text
    assert "vendor/htmx-2.0.11.min.js" not in text
    no_worker.assert_not_called()


def test_the_fragment_shows_the_table_when_ready(marketer_client, world, no_worker):
    _count_at(world, dt.datetime(2026, 12, 7, 9, 41, tzinfo=dt.UTC))

    with mock.patch.object(
        rule_candidates.timezone,
        "now",
        return_value=dt.datetime(2026, 12, 7, 9, 50, tzinfo=dt.UTC),
    ):
        response = marketer_client.get(FRAGMENT, JANUARY)

    assert response.status_code == 200
    text = _text(response)
    assert 'data-state="ready"' in text
    assert "hx-get" not in text
    assert "Counted at 09:41 UTC" in text
    assert 'id="candidate-table"' in text
    assert '<input type="hidden" name="candidate" value="attribute:plan:pro">' in text
    no_worker.assert_not_called()


def test_the_fragment_shows_a_stale_table_with_its_age_and_polls(
    marketer_client, world, no_worker
):
    _count_at(world, timezone.now() - dt.timedelta(minutes=40))

    response = marketer_client.get(FRAGMENT, JANUARY)

    text = _text(response)
    assert 'data-state="stale"' in text
    assert "40\xa0minutes ago</strong>; counting them again now" in text
    assert 'hx-trigger="every 2s"' in text
    assert 'id="candidate-table"' in text
    no_worker.assert_called_once()


def test_the_fragment_says_what_to_fix_in_a_bad_request(marketer_client, world):
    response = marketer_client.get(FRAGMENT, JANUARY | {"min_support": "1"})

    assert response.status_code == 400
    assert _text(response) == "The minimum support is at least 2 leads."


def test_adding_a_candidate_still_works_from_the_stored_counts(
    marketer_client, world, no_worker
):
    _count_at(world, timezone.now() - dt.timedelta(minutes=40))

    response = marketer_client.post(
        "/scoring/analytics/candidates/add/",
        JANUARY | {"candidate": "attribute:plan:pro"},
    )

    assert response.status_code == 302
    draft = ScoringModel.objects.get(status=ScoringModel.Status.DRAFT)
    assert draft.rules.get(label="attributes.plan is “pro”").points == 3
    no_worker.assert_not_called()


# The API --------------------------------------------------------------------


def test_the_api_answers_while_counting(world, no_worker):
    api = token_client(UserFactory(roles=[MARKETING]))

    body = api.get(URL, API_JANUARY).json()

    assert body["leads"] == 20
    assert body["candidates"] == {
        "status": "counting",
        "counted_at": None,
        "age_seconds": None,
        "min_support": 3,
        "candidates": [],
    }
    no_worker.assert_called_once()


def test_the_api_gives_ready_candidates_with_when_counted(world, no_worker):
    _count_at(world, timezone.now() - dt.timedelta(minutes=2))
    api = token_client(UserFactory(roles=[MARKETING]))

    candidates = api.get(URL, API_JANUARY).json()["candidates"]

    assert candidates["status"] == "ready"
    assert 120 <= candidates["age_seconds"] < 180
    assert candidates["counted_at"] is not None
    assert len(candidates["candidates"]) == 21


def test_the_api_gives_stale_candidates_while_recounting(world, no_worker):
    _count_at(world, timezone.now() - dt.timedelta(hours=2))
    api = token_client(UserFactory(roles=[MARKETING]))

    candidates = api.get(URL, API_JANUARY).json()["candidates"]

    assert candidates["status"] == "stale"
    assert candidates["age_seconds"] >= 7200
    assert len(candidates["candidates"]) == 21
    no_worker.assert_called_once()


def test_waiting_returns_the_candidates_once_counted(world, no_worker, monkeypatch):
    api = token_client(UserFactory(roles=[MARKETING]))
    # The worker finishes while the request waits (at its first look again).
    monkeypatch.setattr(
        rule_candidates.time, "sleep", lambda _: _count_at(world, timezone.now())
    )

    candidates = api.get(URL, API_JANUARY | {"candidates": "wait"}).json()["candidates"]

    assert candidates["status"] == "ready"
    assert len(candidates["candidates"]) == 21


def test_waiting_is_bounded(world, no_worker, monkeypatch):
    api = token_client(UserFactory(roles=[MARKETING]))
    monkeypatch.setattr(rule_candidates, "WAIT_SECONDS", 0.05)
    monkeypatch.setattr(rule_candidates, "WAIT_POLL_SECONDS", 0.01)

    body = api.get(URL, API_JANUARY | {"candidates": "wait"})

    assert body.status_code == 200
    assert body.json()["candidates"]["status"] == "counting"


def test_the_api_refuses_an_unknown_candidates_option(world):
    api = token_client(UserFactory(roles=[MARKETING]))

    response = api.get(URL, API_JANUARY | {"candidates": "now"})

    assert response.status_code == 400
    assert "candidates" in response.json()


def test_the_schema_documents_the_candidates_states(client):
    schema = client.get("/api/v1/schema/", HTTP_ACCEPT="application/json").json()

    operation = schema["paths"]["/api/v1/reports/rules/"]["get"]
    assert {"200", "400", "401", "403", "404"} <= set(operation["responses"])
    wait = next(p for p in operation["parameters"] if p["name"] == "candidates")
    assert wait["schema"]["enum"] == ["wait"]
    fields = schema["components"]["schemas"]["CandidateReport"]["properties"]
    assert set(fields) == {
        "status",
        "counted_at",
        "age_seconds",
        "min_support",
        "candidates",
    }
