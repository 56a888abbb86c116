"""Ingestion under concurrent requests on PostgreSQL (real threads, the API).

- 20 POSTs of one touchpoint with one ``external_id`` at once store one row:
  one 201, nineteen 200 with the same touchpoint (the unique index on
  ``(source, external_id)`` is the backstop, the loser reads the winner's row);
- 20 lead creates of one e-mail written in 20 letter cases store one lead:
  one 201, nineteen 200 (the unique index on the lower-cased e-mail);
- 20 web-form submissions of one new e-mail in 20 letter cases make one lead
  with the first one's name, the others' names kept on their touchpoints;
- two batches over the same 200 leads in opposite orders, with new leads and
  repeated external ids, never deadlock, never answer 5xx, and store every
  touchpoint and lead once.

"Forced" variants hold every request after its lookup until all 20 have
looked and found nothing, so all of them take the insert-and-conflict path;
the plain variants race as they come. SQLite serialises writers: PostgreSQL
only.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

import leads.ingestion
import leads.services
from crm.roles import MARKETING
from leads.capture import FormSubmission, form_submission_capture
from leads.models import Account, Lead, Touchpoint, WebForm
from tests.factories import LeadFactory, UserFactory
from tests.threads import run_rounds, run_together

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

LEADS = "/api/v1/leads/"
TOUCHPOINTS = "/api/v1/touchpoints/"
BATCH = "/api/v1/touchpoints/batch/"
PARALLEL = 20


@pytest.fixture
def token() -> str:
    user = UserFactory(username="ingest-bot", roles=[MARKETING])
    return Token.objects.create(user=user).key


def _poster(token: str) -> Callable[[str, dict[str, Any]], Any]:
    def post(url: str, body: dict[str, Any]) -> Any:
        client = APIClient()  # one per request: a client is not thread-safe
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        return client.post(url, body, format="json")

    return post


def _hold_after(module: Any, name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``module.name`` wait, once it has run, until all PARALLEL callers have."""
    barrier = threading.Barrier(PARALLEL)
    original = getattr(module, name)

    def held(*args: Any, **kwargs: Any) -> Any:
        found = original(*args, **kwargs)
        barrier.wait(timeout=30)
        return found

    monkeypatch.setattr(module, name, held)


def _responses(results: list[tuple[str, Any]]) -> list[Any]:
    assert [kind for kind, _ in results] == ["ok"] * len(results), results
    return [response for _, response in results]


@pytest.mark.parametrize("forced", [False, True], ids=["as-they-come", "forced"])
def test_20_posts_with_one_external_id_store_one_touchpoint(token, monkeypatch, forced):
    # Given a lead and 20 senders of the same touchpoint
    lead = LeadFactory()
    if forced:
        # Every request has looked the external_id up and found nothing.
        _hold_after(leads.ingestion, "_known_external_ids", monkeypatch)
    post = _poster(token)
    body = {
        "lead": lead.id,
        "kind": "webinar_attended",
        "occurred_at": "2026-03-02T10:00:00Z",
        "external_id": "webinar-42:attendee-7",
        "properties": {"webinar": "Pipeline 101"},
    }

    # When all 20 post it at the same moment
    responses = _responses(run_together(*[lambda: post(TOUCHPOINTS, body)] * 20))

    # Then one row is stored; one answer is 201, the others 200 with that row
    stored = Touchpoint.objects.get()
    assert (stored.lead_id, stored.external_id, stored.kind_id) == (
        lead.id,
        "webinar-42:attendee-7",
        "webinar_attended",
    )
    assert Counter(r.status_code for r in responses) == {201: 1, 200: PARALLEL - 1}
    assert {(r.json()["id"], r.json()["lead"]) for r in responses} == {
        (stored.id, lead.id)
    }


def _casings(address: str, n: int) -> list[str]:
    """``n`` spellings of ``address`` differing only in letter case."""
    letters = [i for i, c in enumerate(address) if c.isalpha()]
    spellings = []
    for k in range(n):
        chars = list(address)
        for bit, i in enumerate(letters):
            chars[i] = chars[i].upper() if (k >> bit) & 1 else chars[i].lower()
        spellings.append("".join(chars))
    assert len(set(spellings)) == n
    return spellings


@pytest.mark.parametrize("forced", [False, True], ids=["as-they-come", "forced"])
def test_20_creates_of_one_email_in_different_cases_make_one_lead(
    token, monkeypatch, forced
):
    # Given 20 spellings of one new address (in a new company's domain)
    spellings = _casings("grace.hopper@navy-labs.example", PARALLEL)
    if forced:
        # Every request has looked the address up and found no lead.
        _hold_after(leads.services, "normalize_email", monkeypatch)
    post = _poster(token)

    def create(email: str) -> Any:
        body = {"email": email, "first_name": "Grace", "job_title": "VP Engineering"}
        return email, post(LEADS, body)

    # When all 20 are posted at the same moment
    results = run_together(*[lambda e=email: create(e) for email in spellings])

    # Then one lead holds the address: one 201, nineteen 200 with its id
    answers = _responses(results)
    lead = Lead.objects.get()
    assert Counter(r.status_code for _, r in answers) == {201: 1, 200: PARALLEL - 1}
    assert {r.json()["id"] for _, r in answers} == {lead.id}
    # stored as the winner spelled it, with the domain lower-cased (the local
    # part keeps its case: leads.emails.normalize_email)
    (winner,) = [email for email, r in answers if r.status_code == 201]
    local, _, domain = winner.rpartition("@")
    assert lead.email == f"{local}@{domain.lower()}"
    assert lead.email.lower() == "grace.hopper@navy-labs.example"
    assert (lead.first_name, lead.job_title) == ("Grace", "VP Engineering")
    account = Account.objects.get()
    assert (account.domain, lead.account_id) == ("navy-labs.example", account.id)


@pytest.mark.parametrize("forced", [False, True], ids=["as-they-come", "forced"])
def test_20_form_submissions_of_one_new_email_make_one_lead_and_keep_the_rest(
    monkeypatch, forced
):
    # Given 20 submissions of one new address in 20 letter cases, each with
    # its own first name
    form = WebForm.objects.create(key="contact", name="Contact", kind_id="form_submit")
    spellings = _casings("ada.lovelace@engines.example", PARALLEL)
    if forced:
        # Every submission has looked the address up and found no lead.
        _hold_after(leads.services, "normalize_email", monkeypatch)

    def submit(n: int, email: str) -> Touchpoint:
        return form_submission_capture(
            form=form,
            data=FormSubmission(email=email, first_name=f"Ada{n}"),
            ip="203.0.113.9",
        )

    # When all 20 arrive at the same moment
    results = run_together(
        *[lambda n=n, e=email: submit(n, e) for n, email in enumerate(spellings)]
    )

    # Then one lead holds the first name of the one that created it; each
    # other submission kept its name on its touchpoint, for review
    assert [kind for kind, _ in results] == ["ok"] * PARALLEL, results
    lead = Lead.objects.get()
    touchpoints = list(Touchpoint.objects.filter(lead=lead).order_by("id"))
    assert len(touchpoints) == PARALLEL
    kept = sorted(
        t.properties["differs"]["first_name"]
        for t in touchpoints
        if "differs" in t.properties
    )
    assert sorted([*kept, lead.first_name]) == sorted(
        f"Ada{n}" for n in range(PARALLEL)
    )
    assert len(kept) == PARALLEL - 1


ROUNDS = 10
LEADS_PER_BATCH = 200


def _batch(round_no: int, emails: list[str], side: str) -> list[dict[str, Any]]:
    """Per lead: a touchpoint both batches send (same external_id) and one of
    this batch's own, in the order of ``emails``."""
    items = []
    for email in emails:
        n = email.split("@")[0]
        items.append(
            {
                "lead_email": email,
                "kind": "email_click",
                "occurred_at": "2026-03-02T10:00:00Z",
                "external_id": f"r{round_no}:shared:{n}",
            }
        )
        items.append(
            {
                "lead_email": email,
                "kind": "page_view",
                "occurred_at": "2026-03-02T10:01:00Z",
                "properties": {"url": "https://leadflow.test/pricing"},
                "external_id": f"r{round_no}:{side}:{n}",
            }
        )
    return items


def test_overlapping_batches_in_opposite_orders_never_deadlock(token, caplog):
    # Given, per round, 200 leads: in even rounds half of them are new (the
    # batches create them), in odd rounds all are known
    caplog.set_level(logging.WARNING)
    rounds = []
    post = _poster(token)
    for r in range(ROUNDS):
        emails = [f"r{r}-{i:03d}@co{i % 7}.example" for i in range(LEADS_PER_BATCH)]
        known = emails[::2] if r % 2 == 0 else emails
        Lead.objects.bulk_create(LeadFactory.build(email=email) for email in known)
        up = {"touchpoints": _batch(r, emails, "up")}
        down = {"touchpoints": _batch(r, emails[::-1], "down")}
        rounds.append([lambda b=up: post(BATCH, b), lambda b=down: post(BATCH, b)])

    # When two clients send their batches at once, ascending and descending
    results = run_rounds(rounds)

    # Then every request was answered 200 (no deadlock, no 5xx) ...
    for r in range(ROUNDS):
        answers = _responses(results[r])
        assert [a.status_code for a in answers] == [200, 200], [
            a.content[:300] for a in answers
        ]
        up, down = (a.json() for a in answers)
        assert [up["invalid"], down["invalid"]] == [0, 0]
        assert up["created"] + down["created"] == 3 * LEADS_PER_BATCH
        assert up["duplicates"] + down["duplicates"] == LEADS_PER_BATCH
        # ... both were told the same row for each shared touchpoint ...
        shared_up = [x["id"] for x in up["results"][::2]]
        shared_down = [x["id"] for x in down["results"][::2]][::-1]
        assert shared_up == shared_down
        # ... and every touchpoint is stored once, on its lead ...
        rows = Touchpoint.objects.filter(external_id__startswith=f"r{r}:")
        stored = Counter(rows.values_list("external_id", flat=True))
        assert len(stored) == 3 * LEADS_PER_BATCH
        assert set(stored.values()) == {1}
        assert all(
            external_id.rpartition(":")[2] == email.partition("@")[0]
            for external_id, email in rows.values_list("external_id", "lead__email")
        )
        assert sorted(
            Touchpoint.objects.filter(
                external_id__startswith=f"r{r}:shared:"
            ).values_list("id", flat=True)
        ) == sorted(shared_up)
        # ... as is every lead
        assert (
            Lead.objects.filter(email__startswith=f"r{r}-").count() == LEADS_PER_BATCH
        )
    assert Touchpoint.objects.count() == ROUNDS * 3 * LEADS_PER_BATCH
    # Nothing failed after commit either (the eager rescores of both batches).
    assert [rec.getMessage() for rec in caplog.records if rec.levelno >= 40] == []


# Two requests held at one step (the module's marks: PostgreSQL only)
# ------------------------------------------------------------------------------


def test_two_requests_with_one_external_id_store_one_touchpoint(token, monkeypatch):
    lead = LeadFactory()
    barrier = threading.Barrier(2)
    lookup = leads.ingestion._known_external_ids

    def lookup_then_wait(source: str, external_ids: set[str]) -> Any:
        # Both requests have looked and seen nothing before either inserts.
        found = lookup(source, external_ids)
        barrier.wait(timeout=10)
        return found

    monkeypatch.setattr(leads.ingestion, "_known_external_ids", lookup_then_wait)

    def post() -> Any:
        return _poster(token)(
            TOUCHPOINTS, {"lead": lead.id, "kind": "chat", "external_id": "race-1"}
        )

    responses = _responses(run_together(post, post))

    stored = Touchpoint.objects.get()
    assert sorted(r.status_code for r in responses) == [200, 201]
    assert [r.json()["id"] for r in responses] == [stored.id, stored.id]


def test_two_upserts_of_one_new_email_make_one_lead(token, monkeypatch):
    barrier = threading.Barrier(2)
    create = leads.services.lead_create

    def wait_then_create(**kwargs: Any) -> Lead:
        # Both requests found no lead before either creates one.
        barrier.wait(timeout=10)
        return create(**kwargs)

    monkeypatch.setattr(leads.services, "lead_create", wait_then_create)

    def post() -> Any:
        return _poster(token)(
            LEADS, {"email": "Twin@Race.example", "first_name": "Twin"}
        )

    responses = _responses(run_together(post, post))

    lead = Lead.objects.get()
    assert sorted(r.status_code for r in responses) == [200, 201]
    assert [r.json()["id"] for r in responses] == [lead.id, lead.id]
    assert (lead.email, lead.first_name) == ("Twin@race.example", "Twin")
    assert Account.objects.count() == 1


def test_two_leads_creating_one_new_account_both_succeed(token, monkeypatch):
    barrier = threading.Barrier(2)
    lock = threading.Lock()
    calls: list[int] = []
    full_clean = Account.full_clean

    def clean_then_wait(self: Account, *args: Any, **kwargs: Any) -> None:
        # Both requests looked the domain up and found nothing before either
        # inserts it (only the first round of each waits).
        full_clean(self, *args, **kwargs)
        with lock:
            calls.append(1)
            first_round = len(calls) <= 2
        if first_round:
            barrier.wait(timeout=10)

    monkeypatch.setattr(Account, "full_clean", clean_then_wait)
    emails = iter(["one@initech.example", "two@initech.example"])
    emails_lock = threading.Lock()

    def post() -> Any:
        with emails_lock:
            email = next(emails)
        account = {"domain": "initech.example", "name": "Initech"}
        return _poster(token)(LEADS, {"email": email, "account": account})

    responses = _responses(run_together(post, post))

    account = Account.objects.get()
    assert [r.status_code for r in responses] == [201, 201]
    assert {r.json()["account"]["id"] for r in responses} == {account.id}
    assert Lead.objects.filter(account=account).count() == 2
