"""The SAL queue's pages, their order, the totals after a decision, taking a
handoff and why a lead below today's threshold is queued.

The views read the time from ``django.utils.timezone.now``; the fixtures pin
it, so the order and the clocks' texts are exact.
"""

from __future__ import annotations

import datetime as dt
import random
import re
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from crm.roles import SALES
from handoff import business_hours, clock, selectors, services
from handoff.models import Handoff, SalesProfile, TeamMember
from leads import lifecycle
from leads.models import Lead, Stage
from scoring.models import LeadScoreHistory, ScoringModel
from scoring.selectors import model_active
from tests.factories import (
    CalendarFactory,
    LeadFactory,
    SlaFactory,
    TeamMemberFactory,
    UserFactory,
    mql_handoff_open,
)

pytestmark = pytest.mark.django_db

# Monday 2026-03-02 14:00 UTC; the SLA calendar is Monday-Friday 09:00-17:00.
NOW = dt.datetime(2026, 3, 2, 14, 0, tzinfo=dt.UTC)
# Friday 2026-02-27 16:00 UTC: one working hour left in the UTC calendar.
FRIDAY_4PM = dt.datetime(2026, 2, 27, 16, 0, tzinfo=dt.UTC)
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def frozen(monkeypatch):
    monkeypatch.setattr(timezone, "now", lambda: NOW)
    return NOW


def opened(user, *, due: dt.datetime | None = None, sla=None, **lead_fields):
    """A pending handoff assigned to ``user`` (None: unassigned), due ``due``."""
    handoff = mql_handoff_open(NOW - dt.timedelta(hours=1), **lead_fields)
    changes = {"assigned_to": user}
    if sla is not None:
        changes.update(sla=sla, team=sla.team)
    if due is not None:
        changes.update(due_at=due, at_risk_at=due - dt.timedelta(minutes=30))
    Handoff.objects.filter(id=handoff.id).update(**changes)
    return Handoff.objects.get(id=handoff.id)


def ids(html: str) -> list[int]:
    return [
        int(i)
        for i in re.findall(r'<article class="queue-row" id="handoff-(\d+)"', html)
    ]


# Pages
# ------------------------------------------------------------------------------


def test_each_section_shows_20_rows_a_page_and_its_total(client, frozen, sdr):
    handoffs = [opened(sdr, due=NOW + dt.timedelta(minutes=i + 1)) for i in range(22)]
    client.force_login(sdr)

    first = client.get("/queue/")
    second = client.get("/queue/?mine=2&team=1")

    mine = first.context["sections"][0]
    assert (len(mine.rows), mine.total, mine.page.number, mine.page.pages) == (
        20,
        22,
        1,
        2,
    )
    html = first.content.decode()
    assert ids(html) == [h.id for h in handoffs[:20]]
    assert '<span class="count" id="queue-mine-count">22</span>' in html
    assert "1\u201320 of 22, least time left first" in html
    assert 'href="/queue/?mine=2&amp;team=1"' in html
    assert 'hx-get="/queue/rows/?section=mine&amp;mine=2&amp;team=1"' in html
    assert ids(second.content.decode()) == [h.id for h in handoffs[20:]]
    assert "21\u201322 of 22" in second.content.decode()


def test_a_section_link_answers_with_that_section_alone(client, frozen, sdr):
    handoffs = [opened(sdr, due=NOW + dt.timedelta(minutes=i + 1)) for i in range(21)]
    client.force_login(sdr)

    html = client.get(
        "/queue/rows/?section=mine&mine=2&team=1", **HTMX
    ).content.decode()

    assert html.startswith('<section class="card queue-section" id="queue-mine"')
    assert 'id="queue-team"' not in html
    assert ids(html) == [handoffs[-1].id]
    assert '<input type="hidden" class="queue-page" name="mine" value="2">' in html


def test_the_poll_keeps_the_page_and_a_page_past_the_end_shows_the_last(
    client, frozen, sdr
):
    handoffs = [opened(sdr, due=NOW + dt.timedelta(minutes=i + 1)) for i in range(21)]
    client.force_login(sdr)

    page = client.get("/queue/").content.decode()
    polled = client.get("/queue/rows/?mine=2&team=1", **HTMX).content.decode()
    past_the_end = client.get("/queue/rows/?mine=9&team=x", **HTMX).content.decode()

    assert 'hx-include=".queue-page" hx-disinherit="hx-include"' in page
    assert ids(polled) == [handoffs[-1].id]
    assert '<input type="hidden" class="queue-page" name="mine" value="2">' in polled
    assert ids(past_the_end) == [handoffs[-1].id]
    assert '<input type="hidden" class="queue-page" name="team" value="1">' in (
        past_the_end
    )


# Order
# ------------------------------------------------------------------------------


def test_both_sections_read_what_their_rows_show_once(client, frozen, sla, sdr):
    teammate = TeamMemberFactory(team=sla.team, user__username="bo").user
    for hours in (1, 2):
        opened(sdr, due=NOW + dt.timedelta(hours=hours))
        opened(teammate, due=NOW + dt.timedelta(hours=hours))
    client.force_login(sdr)

    with CaptureQueriesContext(connection) as queries:
        response = client.get("/queue/")

    assert [len(s.rows) for s in response.context["sections"]] == [2, 2]
    tables = [
        "handoff_businesscalendar",
        "handoff_holiday",
        "leads_touchpoint",
        "handoff_contactattempt",
        "scoring_scoringmodel",
    ]
    read = {
        table: sum(f'FROM "{table}"' in q["sql"] for q in queries.captured_queries)
        for table in tables
    }
    assert read == dict.fromkeys(tables, 1)
    sql = [q["sql"] for q in queries.captured_queries]
    touchpoints = next(q for q in sql if 'FROM "leads_touchpoint"' in q)
    # A row shows a touchpoint's kind and time, never its properties.
    assert '"leads_touchpoint"."properties"' not in touchpoints
    rows_loaded = [
        q
        for q in queries.captured_queries
        if q["sql"].startswith('SELECT "handoff_handoff"."id", "handoff_handoff"."')
    ]
    assert len(rows_loaded) == 1
    # Their permissions, groups and manager flag in one statement (for the
    # access check, the manager check and the navigation), whether they are
    # away in one more.
    profiles = [q for q in sql if "handoff_salesprofile" in q]
    assert len(profiles) == 2
    groups = [q for q in sql if "auth_group" in q]
    assert len(groups) == 1
    assert groups[0].startswith("SELECT ARRAY(")
    assert groups[0] in profiles
    assert not [q for q in sql if "auth_permission" in q and q not in groups]


def test_the_rows_clocks_reuse_the_time_left_the_order_counted(
    client, frozen, monkeypatch, sdr
):
    handoff = opened(sdr, due=NOW + dt.timedelta(hours=2))

    def counted_again(*args, **kwargs):
        raise AssertionError("the time left was counted twice")

    monkeypatch.setattr(business_hours, "business_seconds_between", counted_again)
    client.force_login(sdr)

    response = client.get("/queue/")

    assert response.status_code == 200
    row = response.context["sections"][0].rows[0]
    assert (row.handoff.id, row.clock.text, row.clock.state) == (
        handoff.id,
        "2 h left",
        "on-track",
    )
    badge = '<span class="clock clock-on-track" title="Due Mon 2 Mar, 16:00 UTC">'
    assert f"{badge}2 h left</span>" in response.content.decode()


def test_business_seconds_from_agrees_with_one_call_per_moment():
    calendar = business_hours.Calendar(
        time_zone="Europe/Berlin",
        working_days=frozenset({0, 1, 2, 3, 4}),
        day_start=dt.time(8, 30),
        day_end=dt.time(17, 45),
        holidays=frozenset({dt.date(2026, 3, 30)}),
    )
    rng = random.Random(7)
    origin = dt.datetime(2026, 3, 27, 12, 0, tzinfo=dt.UTC)
    moments = [
        origin + dt.timedelta(minutes=rng.randint(-20_000, 20_000)) for _ in range(200)
    ]

    assert business_hours.business_seconds_from(origin, moments, calendar) == [
        business_hours.business_seconds_between(origin, m, calendar) for m in moments
    ]


def _two_calendars(team):
    """A UTC 09:00-17:00 SLA and a New York 09:00-17:00 one (14:00-22:00 UTC)."""
    utc = SlaFactory(team=team, calendar=CalendarFactory(time_zone="UTC"))
    new_york = SlaFactory(
        team=team, calendar=CalendarFactory(time_zone="America/New_York")
    )
    return utc, new_york


def test_rows_are_ordered_by_business_time_left_across_calendars(
    client, monkeypatch, sla, sdr
):
    """On Friday 16:00 UTC, a handoff due Monday 10:00 UTC has 2 working
    hours left, one due Friday 21:00 UTC in New York's hours has 5: the
    Monday one comes first in both sections, though due later."""
    monkeypatch.setattr(timezone, "now", lambda: FRIDAY_4PM)
    teammate = TeamMemberFactory(team=sla.team, user__username="bo").user
    utc, new_york = _two_calendars(sla.team)
    monday = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)
    friday = dt.datetime(2026, 2, 27, 21, 0, tzinfo=dt.UTC)
    mine_late = opened(sdr, due=friday, sla=new_york)
    mine_soon = opened(sdr, due=monday, sla=utc)
    theirs_late = opened(teammate, due=friday, sla=new_york)
    theirs_soon = opened(teammate, due=monday, sla=utc)
    client.force_login(sdr)

    response = client.get("/queue/")

    mine, team = response.context["sections"]
    assert [r.handoff.id for r in mine.rows] == [mine_soon.id, mine_late.id]
    assert [r.handoff.id for r in team.rows] == [theirs_soon.id, theirs_late.id]
    clocks = re.findall(
        r'class="clock clock-[a-z-]+"[^>]*>([^<]+)<', response.content.decode()
    )
    assert clocks == ["2 h left", "5 h left", "2 h left", "5 h left"]


def test_pages_across_calendars_follow_the_business_time_left_order(
    monkeypatch, sla, sdr
):
    """Each calendar's rows are read in due time order, as many as the pages
    up to the one asked hold; merged, each page is the slice of the order by
    business time left over the whole section, and only the rows read are
    counted."""
    utc, new_york = _two_calendars(sla.team)
    rng = random.Random(3)
    handoffs = [
        opened(
            sdr,
            due=FRIDAY_4PM + dt.timedelta(minutes=rng.randint(-600, 6000)),
            sla=rng.choice([utc, new_york]),
        )
        for _ in range(14)
    ]
    items = [(h.id, h.due_at, h.sla.calendar.spec()) for h in handoffs]
    expected = clock.by_time_left(items, now=FRIDAY_4PM)
    counted = []
    time_left = clock.time_left

    def spy(items, **kwargs):
        counted.append(len(items))
        return time_left(items, **kwargs)

    monkeypatch.setattr(clock, "time_left", spy)
    mine = selectors.handoff_list_queue(user=sdr, scope="mine")

    pages = [
        selectors.queue_pages({"mine": (mine, n)}, size=4, now=FRIDAY_4PM)["mine"]
        for n in (1, 2, 3, 4)
    ]

    assert [[h.id for h in page.handoffs] for page in pages] == [
        expected[0:4],
        expected[4:8],
        expected[8:12],
        expected[12:14],
    ]
    assert [(p.total, p.number, p.pages) for p in pages] == [
        (14, n, 4) for n in (1, 2, 3, 4)
    ]
    # At most 4 rows a page up to the one asked, of each calendar.
    assert all(n <= 2 * 4 * page for n, page in zip(counted, (1, 2, 3, 4), strict=True))
    assert counted[0] < len(handoffs)


def test_by_time_left_breaks_ties_by_due_time():
    calendar = business_hours.DEFAULT_CALENDAR
    saturday = dt.datetime(2026, 2, 28, 12, 0, tzinfo=dt.UTC)
    friday_end = dt.datetime(2026, 2, 27, 17, 0, tzinfo=dt.UTC)
    monday_start = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)

    order = clock.by_time_left(
        [("monday", monday_start, calendar), ("friday", friday_end, calendar)],
        now=saturday,
    )

    assert order == ["friday", "monday"]


# Totals after a decision
# ------------------------------------------------------------------------------


def test_a_decision_sends_the_new_totals_out_of_band(client, frozen, sdr):
    first = opened(sdr, due=NOW + dt.timedelta(hours=1))
    second = opened(sdr, due=NOW + dt.timedelta(hours=2))
    unassigned = opened(None, due=NOW + dt.timedelta(hours=3))
    client.force_login(sdr)

    accepted = client.post(f"/handoffs/{first.id}/accept/", {"source": "queue"}, **HTMX)
    rejected = client.post(
        f"/handoffs/{second.id}/reject/",
        {"source": "queue", "reason": "no_budget"},
        **HTMX,
    )
    taken = client.post(
        f"/handoffs/{unassigned.id}/claim/", {"source": "queue"}, **HTMX
    )

    def totals(response) -> dict[str, str]:
        return dict(
            re.findall(
                r'<span class="count" id="queue-(\w+)-count" hx-swap-oob="true">(\d+)<',
                response.content.decode(),
            )
        )

    assert totals(accepted) == {"mine": "1", "team": "1"}
    assert totals(rejected) == {"mine": "0", "team": "1"}
    assert totals(taken) == {"mine": "1", "team": "0"}


def test_an_accept_that_makes_a_sal_of_ones_own_updates_the_pipeline_count(
    client, frozen, sdr
):
    sdr.groups.add(Group.objects.get(name=SALES))
    handoff = opened(sdr, due=NOW + dt.timedelta(hours=1))
    client.force_login(sdr)

    page = client.get("/queue/").content.decode()
    response = client.post(
        f"/handoffs/{handoff.id}/accept/", {"source": "queue"}, **HTMX
    )

    assert '<a id="nav-pipeline" href="/pipeline/">Pipeline</a>' in page
    assert (
        '<a id="nav-pipeline" href="/pipeline/" hx-swap-oob="true">Pipeline (1 new)</a>'
        in response.content.decode()
    )


# Taking a handoff
# ------------------------------------------------------------------------------


def test_take_it_shows_on_the_rows_one_may_take_and_the_text_says_which(
    client, frozen, sla, sdr
):
    teammate = TeamMemberFactory(team=sla.team, user__username="bo").user
    unassigned = opened(None, due=NOW + dt.timedelta(hours=1))
    theirs = opened(teammate, due=NOW + dt.timedelta(hours=2))
    client.force_login(sdr)

    response = client.get("/queue/")

    team = response.context["sections"][1]
    assert [(r.handoff.id, r.can_claim) for r in team.rows] == [
        (unassigned.id, True),
        (theirs.id, False),
    ]
    html = response.content.decode()
    rows = html.split('<article class="queue-row"')
    assert ">Take it</button>" in rows[1]
    assert ">Take it</button>" not in rows[2]
    assert (
        "Your teammates&#x27; pending handoffs are theirs to decide. Those nobody "
        "could take yet are unassigned: take one of them to work it." in html
    )


def test_a_former_member_gets_no_take_it(client, frozen, sla, sdr):
    opened(None, due=NOW + dt.timedelta(hours=1))
    TeamMember.objects.filter(user=sdr).update(is_active=False)
    client.force_login(sdr)

    response = client.get("/queue/")

    assert [r.can_claim for r in response.context["sections"][1].rows] == [False]
    assert ">Take it</button>" not in response.content.decode()


def test_a_manager_may_take_an_unassigned_handoff_from_everyone_else(
    client, frozen, sdr
):
    unassigned = opened(None, due=NOW + dt.timedelta(hours=1))
    assigned = opened(sdr, due=NOW + dt.timedelta(hours=2))
    manager = UserFactory(roles=[SALES])
    SalesProfile.objects.create(user=manager, is_manager=True)
    client.force_login(manager)

    page = client.get("/queue/")
    taken = client.post(
        f"/handoffs/{unassigned.id}/claim/", {"source": "queue"}, **HTMX
    )

    rows = page.context["sections"][1].rows
    assert [(r.handoff.id, r.can_claim) for r in rows] == [
        (unassigned.id, True),
        (assigned.id, False),
    ]
    assert page.content.decode().count(">Take it</button>") == 1
    assert taken.status_code == 200
    assert Handoff.objects.get(id=unassigned.id).assigned_to == manager


# Why a lead below today's threshold is queued
# ------------------------------------------------------------------------------


def _note(client, user, handoff) -> str:
    client.force_login(user)
    rows = client.get("/queue/").context["sections"][0].rows
    return next(r.queued_note for r in rows if r.handoff.id == handoff.id)


def _scored(handoff, model, *, total, fit="20.00", at=None) -> None:
    LeadScoreHistory.objects.create(
        lead_id=handoff.lead_id,
        model=model,
        total=Decimal(total),
        fit_score=Decimal(fit),
        engagement_score=Decimal(total) - Decimal(fit),
        at=at or handoff.mql_at - dt.timedelta(seconds=1),
    )


def test_a_lead_that_decayed_says_what_it_qualified_at(client, frozen, sdr):
    model = model_active()
    handoff = opened(sdr)
    _scored(handoff, model, total="64.00")
    # A later score, after it became an MQL, is not what it qualified at.
    _scored(handoff, model, total="58.00", at=handoff.mql_at + dt.timedelta(days=1))
    Lead.objects.filter(id=handoff.lead_id).update(
        score=Decimal("52.00"), fit_score=Decimal("20.00")
    )

    assert _note(client, sdr, handoff) == (
        f"Qualified at 64.0 under {model}; now 52.0 after decay, below the MQL "
        f"threshold of {model.mql_threshold:.1f}."
    )


def test_a_lead_scored_lower_by_a_new_model_says_which_model_it_qualified_under(
    client, frozen, sdr
):
    model = model_active()
    earlier = ScoringModel.objects.create(
        name="Default", version=0, status="archived", mql_threshold=50
    )
    handoff = opened(sdr)
    _scored(handoff, earlier, total="55.00")
    Lead.objects.filter(id=handoff.lead_id).update(score=Decimal("31.50"))

    assert _note(client, sdr, handoff) == (
        f"Qualified at 55.0 under Default v0; {model} scores it 31.5, below its MQL "
        f"threshold of {model.mql_threshold:.1f}."
    )


def test_a_lead_moved_to_mql_by_a_person_says_who(client, frozen, sdr):
    marketer = UserFactory(first_name="Mia", last_name="Marketer")
    lead = LeadFactory()
    lifecycle.lead_move(
        lead_id=lead.id,
        to_stage=Stage.MQL,
        actor=marketer,
        now=NOW - dt.timedelta(hours=1),
    )
    handoff = services.handoff_open(lead_id=lead.id, now=NOW - dt.timedelta(hours=1))
    threshold = f"{model_active().mql_threshold:.1f}"

    assert _note(client, sdr, handoff) == (
        "Moved to MQL by Mia Marketer on 2 Mar 2026, not by its score; now 0.0, "
        f"below the MQL threshold of {threshold}."
    )


def test_a_lead_at_the_threshold_says_nothing_more(client, frozen, sdr):
    handoff = opened(sdr)
    Lead.objects.filter(id=handoff.lead_id).update(score=model_active().mql_threshold)

    assert _note(client, sdr, handoff) == ""
    client.force_login(sdr)
    assert 'class="small queue-note"' not in client.get("/queue/").content.decode()


# The reject form's reason
# ------------------------------------------------------------------------------


def test_the_reason_placeholder_cannot_be_chosen(client, frozen, sdr):
    handoff = opened(sdr)
    client.force_login(sdr)

    html = client.get(f"/handoffs/{handoff.id}/reject/form/", **HTMX).content.decode()

    assert '<option value="" disabled hidden selected>Choose a reason…</option>' in html


# The forms a row fetches when opened
# ------------------------------------------------------------------------------


def test_a_row_fetches_its_reject_and_attempt_forms_when_opened(client, frozen, sdr):
    handoff = opened(sdr)
    client.force_login(sdr)

    row = client.get("/queue/").content.decode()

    assert (
        f'<details class="queue-more" hx-get="/handoffs/{handoff.id}/reject/form/" '
        'hx-trigger="toggle once"' in row
    )
    assert f'hx-get="/handoffs/{handoff.id}/attempts/form/"' in row
    # Without JavaScript the opened row leads to the handoff's page.
    assert f'<a href="/handoffs/{handoff.id}/">Reject it on its handoff page</a>' in row
    assert 'name="reason"' not in row
    assert 'name="channel"' not in row
    reject = client.get(f"/handoffs/{handoff.id}/reject/form/", **HTMX)
    attempt = client.get(f"/handoffs/{handoff.id}/attempts/form/", **HTMX)
    assert (reject.status_code, attempt.status_code) == (200, 200)
    reject_html, attempt_html = reject.content.decode(), attempt.content.decode()
    assert f'hx-post="/handoffs/{handoff.id}/reject/"' in reject_html
    assert '<input type="hidden" name="source" value="queue">' in reject_html
    assert 'hx-target="closest .queue-row"' in reject_html
    assert '<option value="no_fit" data-action="disqualify"' in reject_html
    assert f'hx-post="/handoffs/{handoff.id}/attempts/"' in attempt_html
    assert '<option value="call">Call</option>' in attempt_html
    assert '<input type="hidden" name="source" value="queue">' in attempt_html


def test_a_row_form_follows_the_posts_rules(client, frozen, sla, sdr):
    teammate = TeamMemberFactory(team=sla.team, user__username="bo").user
    theirs = opened(teammate)
    decided = opened(sdr)
    Handoff.objects.filter(id=decided.id).update(
        status=Handoff.Status.ACCEPTED, decided_at=NOW
    )
    hidden = opened(UserFactory(username="cy"))
    Handoff.objects.filter(id=hidden.id).update(team=SlaFactory().team)
    client.force_login(sdr)

    not_theirs = client.get(f"/handoffs/{theirs.id}/reject/form/", **HTMX)
    gone = client.get(f"/handoffs/{decided.id}/attempts/form/", **HTMX)
    missing = client.get(f"/handoffs/{hidden.id}/reject/form/", **HTMX)

    assert not_theirs.status_code == 403
    assert (
        "Only the SDR it is assigned to or a manager can decide this handoff."
        in not_theirs.content.decode()
    )
    assert 'name="reason"' not in not_theirs.content.decode()
    assert gone.status_code == 409
    assert "This handoff is accepted now." in gone.content.decode()
    assert missing.status_code == 404
    assert client.post(f"/handoffs/{theirs.id}/reject/form/").status_code == 405


def test_a_refused_reject_shows_the_row_with_its_form_open(client, frozen, sdr):
    handoff = opened(sdr)
    client.force_login(sdr)

    response = client.post(
        f"/handoffs/{handoff.id}/reject/",
        {"source": "queue", "reason": "no_fit", "feedback": ""},
        **HTMX,
    )

    html = response.content.decode()
    assert response.status_code == 422
    assert '<details class="queue-more" open>\n            <summary>Reject…' in html
    assert '<option value="no_fit" data-action="disqualify"' in html
    assert " selected>No fit" in html
    assert f'hx-get="/handoffs/{handoff.id}/attempts/form/"' in html
