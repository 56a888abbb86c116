"""The pipeline boards' columns: a page each, in follow-up order, with "Show
more" for the next page that neither skips nor repeats a card when cards
move meanwhile, and the follow-up badge each card shows.

The views read the time from ``django.utils.timezone.now``; ``frozen`` pins
it. Pages hold two cards here (``small_pages``) so a few leads fill several.
"""

from __future__ import annotations

import datetime as dt
import html as html_lib
import importlib
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from crm.roles import SALES
from handoff import services
from handoff.models import ContactAttempt, Handoff
from handoff.services.follow_up import follow_up_places_rebuild
from leads.models import Stage
from tests.factories import (
    CalendarFactory,
    LeadFactory,
    SlaFactory,
    UserFactory,
    mql_handoff_open,
)

pytestmark = pytest.mark.django_db

# Monday 2026-03-02 14:00 UTC; the SLA calendar is Monday-Friday 09:00-17:00.
NOW = dt.datetime(2026, 3, 2, 14, 0, tzinfo=dt.UTC)
HTMX = {"HTTP_HX_REQUEST": "true"}
# The package exports the views under the modules' names, so import the modules.
pipeline_views = importlib.import_module("handoff.views.pipeline")
team_views = importlib.import_module("handoff.views.team")
ORDER = "Overdue and soonest due first, then longest since last contact"


@pytest.fixture
def frozen(monkeypatch):
    monkeypatch.setattr(timezone, "now", lambda: NOW)
    return NOW


@pytest.fixture
def small_pages(monkeypatch):
    monkeypatch.setattr(pipeline_views, "COLUMN_PAGE", 2)
    monkeypatch.setattr(team_views, "COLUMN_PAGE", 2)


@pytest.fixture
def rep(rita):
    return rita


@pytest.fixture
def manager(mona):
    return mona


def accepted_for(rep, admin, opened, name) -> Handoff:
    """A lead named ``name`` accepted for ``rep`` at ``opened``."""
    handoff = mql_handoff_open(opened, first_name=name, last_name="Test")
    services.handoff_accept(handoff_id=handoff.id, actor=admin, owner=rep, now=opened)
    return Handoff.objects.get(id=handoff.id)


def leads_due_in_turn(rep, admin, count) -> list[Handoff]:
    """``count`` SAL leads L1..Ln; the later the number, the earlier it is due."""
    return [
        accepted_for(rep, admin, NOW - dt.timedelta(hours=n), f"L{n}")
        for n in range(1, count + 1)
    ]


def names(html: str) -> list[str]:
    """The cards' lead names, in page order."""
    return re.findall(r'id="lead-\d+-name" href="[^"]+">(\w+) Test</a>', html)


def more_url(html: str, stage: str) -> str | None:
    """The address the column's "Show more" reads, or None without one."""
    block = re.search(
        rf'<div class="pipe-more" id="more-{stage}"[^>]*>(.*?)</div>', html, re.S
    )
    assert block, f"no Show more block for {stage}"
    url = re.search(r'hx-get="([^"]+)"', block.group(1))
    return html_lib.unescape(url.group(1)) if url else None


def count_of(html: str, stage: str) -> str:
    return re.search(
        rf'<span class="count" id="count-{stage}"[^>]*>(\d+)</span>', html
    ).group(1)


# Pages of a column
# ------------------------------------------------------------------------------


def test_a_column_shows_its_first_page_its_count_and_more_on_demand(
    client, frozen, small_pages, sdr, rep, admin
):
    leads_due_in_turn(rep, admin, 5)
    client.force_login(rep)

    page = client.get("/pipeline/").content.decode()
    second = client.get(more_url(page, "sal"), **HTMX).content.decode()
    third = client.get(more_url(second, "sal"), **HTMX).content.decode()

    assert names(page) == ["L5", "L4"]
    assert count_of(page, "sal") == "5"
    assert f'<p class="pipe-order muted small">{ORDER}</p>' in page
    assert names(second) == ["L3", "L2"]
    assert 'id="more-sal" hx-swap-oob="true"' in second
    assert count_of(second, "sal") == "5"
    assert names(third) == ["L1"]
    assert more_url(third, "sal") is None
    assert more_url(page, "sql") is None


def test_show_more_skips_no_card_when_a_shown_one_moved_out(
    client, frozen, small_pages, sdr, rep, admin
):
    handoffs = leads_due_in_turn(rep, admin, 5)
    client.force_login(rep)
    page = client.get("/pipeline/").content.decode()
    l4 = handoffs[3]

    services.lead_sales_move(lead_id=l4.lead_id, actor=rep, to_stage=Stage.SQL, now=NOW)
    second = client.get(more_url(page, "sal"), **HTMX).content.decode()

    # An offset would now skip L3: the column lost a card before the boundary.
    assert names(second) == ["L3", "L2"]
    assert count_of(second, "sal") == "4"


def test_a_card_moved_into_a_column_is_not_shown_twice(
    client, frozen, small_pages, sdr, rep, admin
):
    handoffs = leads_due_in_turn(rep, admin, 4)
    for handoff in handoffs[1:]:
        services.lead_sales_move(
            lead_id=handoff.lead_id,
            actor=rep,
            to_stage=Stage.SQL,
            now=NOW - dt.timedelta(hours=1),
        )
    client.force_login(rep)
    page = client.get("/pipeline/").content.decode()
    moved = handoffs[0]

    response = client.post(
        f"/pipeline/leads/{moved.lead_id}/move/", {"to_stage": "sql"}, **HTMX
    ).content.decode()
    url = more_url(page, "sql")
    again = client.get(url, **HTMX).content.decode()
    marked = client.get(f"{url}&shown={moved.lead_id}", **HTMX).content.decode()

    assert 'hx-swap-oob="afterbegin:#stage-sql"' in response
    assert f'id="lead-{moved.lead_id}" ' in response
    assert f'data-shown="{moved.lead_id}"' in response
    assert names(page) == ["L1", "L2", "L3"]  # L1 accepted, L2 and L3 qualified
    # Its move is its latest contact, so the next page has it last ...
    assert names(again) == ["L4", "L1"]
    # ... unless the page says it shows it already.
    assert names(marked) == ["L4"]


def test_a_column_is_sorted_by_what_the_rep_must_do_first(
    client, frozen, sdr, rep, admin
):
    accepted_for(rep, admin, NOW, "Later")
    accepted_for(rep, admin, NOW - dt.timedelta(hours=2), "Soon")
    accepted_for(rep, admin, NOW - dt.timedelta(days=10), "Overdue")
    called = accepted_for(rep, admin, NOW - dt.timedelta(days=10), "Called")
    Handoff.objects.filter(id=called.id).update(
        followed_up_at=NOW - dt.timedelta(days=8)
    )
    ContactAttempt.objects.create(
        handoff=called,
        user=rep,
        channel="call",
        outcome="connected",
        at=NOW - dt.timedelta(days=1),
    )
    waiting = accepted_for(rep, admin, NOW - dt.timedelta(days=10), "Waiting")
    Handoff.objects.filter(id=waiting.id).update(
        followed_up_at=NOW - dt.timedelta(days=3)
    )
    # Written past the services above: store the leads' places as they would.
    follow_up_places_rebuild()
    LeadFactory(
        first_name="Clockless",
        last_name="Test",
        stage=Stage.SAL,
        owner=rep,
        stage_changed_at=NOW - dt.timedelta(days=30),
    )
    client.force_login(rep)

    html = client.get("/pipeline/").content.decode()

    assert names(html) == [
        "Overdue",
        "Soon",
        "Later",
        "Waiting",
        "Called",
        "Clockless",
    ]
    clocks = re.findall(r'class="clock clock-([a-z-]+)"[^>]*>([^<]+)<', html)
    assert clocks == [
        ("breached", "Follow-up overdue by 4 business days"),
        ("on-track", "Follow up within 1 business day 6 h"),
        ("on-track", "Follow up within 2 business days"),
        ("done", "Last contact 3\xa0days ago"),
        ("done", "Last contact 1\xa0day ago"),
        ("none", "No accepted handoff"),
    ]


def test_across_calendars_the_deadline_that_comes_first_is_first(
    client, frozen, sdr, rep, admin
):
    # 14:00 UTC is 23:00 in Tokyo: its calendar's clock stands still tonight.
    utc = accepted_for(rep, admin, NOW, "Utc")
    tokyo = accepted_for(rep, admin, NOW, "Tokyo")
    Handoff.objects.filter(id=utc.id).update(
        follow_up_due_at=NOW + dt.timedelta(hours=2)
    )
    Handoff.objects.filter(id=tokyo.id).update(
        sla=SlaFactory(calendar=CalendarFactory(time_zone="Asia/Tokyo")),
        # Tuesday 09:30 in Tokyo: half a working hour away, ten hours of wall time.
        follow_up_due_at=dt.datetime(2026, 3, 3, 0, 30, tzinfo=dt.UTC),
    )
    follow_up_places_rebuild()
    client.force_login(rep)

    html = client.get("/pipeline/").content.decode()

    assert names(html) == ["Utc", "Tokyo"]
    clocks = re.findall(r'class="clock clock-[a-z-]+"[^>]*>([^<]+)<', html)
    assert clocks == ["Follow up within 2 h", "Follow up within 30 min"]


def test_the_board_costs_the_same_queries_however_many_cards(
    client, frozen, sdr, rep, admin
):
    leads_due_in_turn(rep, admin, 2)
    client.force_login(rep)
    client.get("/pipeline/")
    with CaptureQueriesContext(connection) as few:
        client.get("/pipeline/")
    leads_due_in_turn(rep, admin, 6)
    with CaptureQueriesContext(connection) as more:
        client.get("/pipeline/")

    assert len(more.captured_queries) == len(few.captured_queries)


def test_each_column_picks_its_page_in_the_database(
    client, frozen, small_pages, sdr, rep, admin
):
    leads_due_in_turn(rep, admin, 5)
    client.force_login(rep)

    with CaptureQueriesContext(connection) as queries:
        page = client.get("/pipeline/").content.decode()

    assert names(page) == ["L5", "L4"]
    # One ordered query per column, limited to the page and one more card;
    # only the shown cards' leads are loaded whole.
    picks = [
        q["sql"]
        for q in queries.captured_queries
        if "ORDER BY" in q["sql"] and q["sql"].rstrip().endswith("LIMIT 3")
    ]
    assert len(picks) == 3
    assert all('FROM "leads_lead"' in sql for sql in picks)


def test_a_position_no_page_gave_is_refused_in_words(client, frozen, sdr, rep):
    client.force_login(rep)

    bad = client.get("/pipeline/stages/sal/?after=yesterday", **HTMX)
    missing = client.get("/pipeline/stages/sal/", **HTMX)
    shown = client.get("/pipeline/stages/sal/?after=0.0.1&shown=1,me", **HTMX)
    stage = client.get("/pipeline/stages/customer/?after=0.0.1", **HTMX)

    assert bad.status_code == missing.status_code == shown.status_code == 400
    assert bad.content.decode() == (
        "That part of the column could not be found. Reload the page to see it."
    )
    assert stage.status_code == 404


# The team pipeline's columns
# ------------------------------------------------------------------------------


def test_the_team_columns_page_within_the_rep_filter(
    client, frozen, small_pages, sdr, rep, manager, admin
):
    leads_due_in_turn(rep, admin, 3)
    other = UserFactory(first_name="Sam", last_name="Okafor", roles=[SALES])
    accepted_for(other, admin, NOW - dt.timedelta(hours=9), "Other")
    client.force_login(manager)

    everyone = client.get("/pipeline/team/").content.decode()
    page = client.get(f"/pipeline/team/?rep={rep.id}").content.decode()
    url = more_url(page, "sal")
    second = client.get(url, **HTMX).content.decode()

    assert names(everyone) == ["Other", "L3"]
    assert names(page) == ["L3", "L2"]
    assert f"rep={rep.id}" in url
    assert names(second) == ["L1"]
    assert "Owner: <strong>Rita Alvarez</strong>" in second
    client.force_login(rep)
    assert client.get(url, **HTMX).status_code == 403


def test_a_filter_on_someone_off_the_list_says_so(client, frozen, manager):
    client.force_login(manager)

    response = client.get("/pipeline/team/?rep=999999")

    assert response.context["rep_id"] is None
    assert "That rep is not one of the list; showing every rep." in (
        response.content.decode()
    )


def test_an_empty_filter_and_empty_columns_say_so(client, frozen, rep, manager):
    client.force_login(manager)

    html = client.get(f"/pipeline/team/?rep={rep.id}").content.decode()

    assert "Rita Alvarez has no accepted leads in the pipeline." in html
    assert html.count("No leads in this stage.") == 3


def test_a_reassignment_on_a_filtered_board_updates_its_counts(
    client, frozen, sdr, rep, manager, admin
):
    handoffs = leads_due_in_turn(rep, admin, 2)
    other = UserFactory(first_name="Sam", last_name="Okafor", roles=[SALES])
    client.force_login(manager)
    page = client.get(f"/pipeline/team/?rep={rep.id}").content.decode()
    lead_id = handoffs[0].lead_id
    form = client.get(
        f"/pipeline/leads/{lead_id}/reassign/form/?rep={rep.id}", **HTMX
    ).content.decode()

    response = client.post(
        f"/pipeline/leads/{lead_id}/reassign/",
        {
            "to_user": other.id,
            "reason": "Rita is on leave",
            "expected_owner_id": rep.id,
            "board_rep": rep.id,
        },
        **HTMX,
    ).content.decode()
    plain = client.post(
        f"/pipeline/leads/{handoffs[1].lead_id}/reassign/",
        {
            "to_user": other.id,
            "reason": "Rita is on leave",
            "expected_owner_id": rep.id,
            "board_rep": rep.id,
        },
    )

    assert f'hx-get="/pipeline/leads/{lead_id}/reassign/form/?rep={rep.id}"' in page
    assert f'<input type="hidden" name="board_rep" value="{rep.id}">' in form
    assert "Handed over — L1 Test is now Sam Okafor" in response
    assert '<span class="count" id="count-sal" hx-swap-oob="true">1</span>' in response
    assert plain.url == f"/pipeline/team/?rep={rep.id}"
