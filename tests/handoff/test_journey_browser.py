"""Journeys through the handoff screens in Chromium, as people walk them.

An SDR accepts an MQL for a sales rep of their choosing and the rep works it
to a closed deal; a manager hands a rep's lead to another rep; people who may
not see a handoff get the product's page when they open it. Every page runs
at 1440x900 under ``page_watch``: a console error, an uncaught exception, a
failed request, an answer of 400 or more the journey did not expect, or a
page wider than the window fails the journey. Screenshots land in
var/screenshots/journey-*.png (LEADFLOW_SCREENSHOTS=<dir> puts them elsewhere).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from crm.roles import SALES, SDR
from handoff import services
from handoff.models import SalesProfile
from leads.models import Lead, Stage
from tests.browser import SCREENSHOTS, PageWatch, log_in, page_watch
from tests.factories import (
    CalendarFactory,
    SlaFactory,
    TeamFactory,
    TeamMemberFactory,
    UserFactory,
    mql_handoff_open,
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]
VIEWPORT = {"width": 1440, "height": 900}
#: What Django's own debug pages say, never shown to a person.
DEBUG_PAGE = ("Django tried these URL patterns", "Using the URLconf", "Traceback")
#: Words only code uses: a stage, reason or routing code (sales_team, sal).
CODE = re.compile(r"\b[a-z]+_[a-z_]+\b|\b(?:mql|sal|sql)\b")


@pytest.fixture
def people(browser, live_server) -> Iterator[Callable[..., tuple[Any, PageWatch]]]:
    """Opens a watched 1440x900 page for a person and logs them in;
    ``start_status``: what their start page answers, if not a page.

    Each page's watch is asserted when the journey ends.
    """
    with ExitStack() as stack:

        def open_page(
            username: str, *, start_status: int | None = None
        ) -> tuple[Any, PageWatch]:
            context = browser.new_context(viewport=VIEWPORT)
            stack.callback(context.close)
            page = context.new_page()
            watch = stack.enter_context(page_watch(page))
            with ExitStack() as start:
                if start_status:
                    start.enter_context(watch.expecting(start_status, "/"))
                log_in(page, live_server, username)
            return page, watch

        yield open_page


def _person(username: str, first: str, last: str, role: str) -> Any:
    return UserFactory(
        username=username, first_name=first, last_name=last, roles=[role]
    )


@pytest.fixture
def team() -> dict[str, Any]:
    """An SDR and the sales team her SLA hands its accepted leads to.

    Usernames differ from the names, so a page that shows one is caught.
    """
    people = {
        "ada": _person("sdr.ada", "Ada", "Park", SDR),
        "rita": _person("rep.rita", "Rita", "Alvarez", SALES),
        "sam": _person("rep.sam", "Sam", "Reed", SALES),
        "mona": _person("mgr.mona", "Mona", "Berg", SALES),
    }
    SalesProfile.objects.create(user=people["mona"], is_manager=True)
    sdrs = TeamFactory(name="SDR Europe")
    TeamMemberFactory(team=sdrs, user=people["ada"])
    sales = TeamFactory(name="Sales West")
    # Round robin suggests Sam, the first of the team.
    for rep in ("sam", "rita"):
        TeamMemberFactory(team=sales, user=people[rep])
    SlaFactory(
        name="Inbound demo requests",
        team=sdrs,
        sales_team=sales,
        calendar=CalendarFactory(
            name="Round the clock",
            saturday=True,
            sunday=True,
            day_start=dt.time(0),
            day_end=dt.time(23, 59, 59, 999999),
        ),
        accept_within_hours=10,
        follow_up_within_hours=16,
    )
    return people


def _mql(first: str, last: str, company: str, *, hours_ago: float) -> Any:
    return mql_handoff_open(
        timezone.now() - dt.timedelta(hours=hours_ago),
        first_name=first,
        last_name=last,
        email=f"{first.lower()}.{last.lower()}@{company.lower()}.example",
        job_title="VP Marketing",
    )


def _nav(page: Any) -> Any:
    return page.get_by_role("navigation", name="Main")


def _section(page: Any, title: str) -> Any:
    """A part of a page (a pipeline column, a card), by its heading."""
    return page.locator("section", has=page.get_by_role("heading", name=title))


def _card(page: Any, name: str) -> Any:
    return page.get_by_role("article", name=name)


def _page_text(page: Any) -> str:
    return page.locator("main").inner_text()


def _shot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"journey-{name}.png"), full_page=True)


def _assert_in_peoples_words(text: str, team: dict[str, Any]) -> None:
    for user in team.values():
        assert user.username not in text, f"{user.username} shown"
    assert not CODE.findall(text), f"codes shown: {CODE.findall(text)}"


def test_an_sdr_accepts_for_a_rep_who_works_the_lead_to_a_closed_deal(
    people, team, live_server
):
    _mql("Linus", "Berg", "Nordvik", hours_ago=2)
    _mql("Grace", "Hopper", "Cobalt", hours_ago=1)
    sdr, _ = people("sdr.ada")
    sdr.clock.install()
    sdr.reload()
    mine = sdr.locator("section", has=sdr.get_by_role("heading", name="Mine"))
    expect(mine.get_by_role("heading", name="Mine")).to_have_text("Mine 2")

    row = mine.get_by_role("article", name="Linus Berg")
    # The accept form, with the SLA's suggested rep, is fetched when opened.
    row.get_by_text("Accept…").click()
    picker = row.get_by_label("Sales rep")
    expect(picker.locator("option:checked")).to_have_text("Sam Reed")
    picker.select_option(label="Rita Alvarez")
    row.get_by_role("button", name="Accept").click()
    expect(mine).to_contain_text(
        "Accepted — Linus Berg is now a SAL owned by Rita Alvarez."
    )
    _shot(sdr, "queue-accepted")
    # The queue's own refresh, 30 seconds on: the row is gone, the count follows.
    sdr.clock.run_for("00:31")
    expect(mine.get_by_role("heading", name="Mine")).to_have_text("Mine 1")
    expect(mine.get_by_role("article", name="Linus Berg")).to_have_count(0)
    expect(mine.get_by_role("article", name="Grace Hopper")).to_be_visible()

    rep, _ = people("rep.rita")
    expect(_nav(rep).get_by_role("link", name="Pipeline (1 new)")).to_be_visible()
    accepted = _section(rep, "Accepted (SAL)")
    card = _card(accepted, "Linus Berg")
    # The SLA gives the rep 16 business hours, round the clock.
    expect(card).to_contain_text(re.compile(r"Follow up within (15 h 5\d min|16 h)"))
    _shot(rep, "pipeline-new")

    with rep.expect_navigation() as opened:
        card.get_by_role("link", name=re.compile(r"^handoff #")).click()
    assert opened.value.status == 200
    expect(rep.get_by_role("heading", level=1)).to_contain_text("Linus Berg")
    attempts = _section(rep, "Contact attempts")
    attempts.get_by_label("Channel").select_option(label="Call")
    attempts.get_by_label("Outcome").select_option(label="Connected")
    attempts.get_by_label("Note").fill("Booked a discovery call for Thursday.")
    attempts.get_by_role("button", name="Log attempt").click()
    expect(rep.get_by_role("status")).to_have_text("Logged: Call, connected.")
    expect(attempts).to_contain_text("Booked a discovery call for Thursday.")
    _shot(rep, "handoff-attempt")

    _nav(rep).get_by_role("link", name="Pipeline").click()
    expect(_nav(rep).get_by_role("link", name="Pipeline", exact=True)).to_be_visible()
    linus = rep.get_by_role("article", name="Linus Berg")
    # A card's forms are fetched when opened.
    linus.locator("summary", has_text="Qualify (SQL)").click()
    linus.get_by_role("button", name="Qualify (SQL)").click()
    expect(_card(_section(rep, "Qualified (SQL)"), "Linus Berg")).to_be_visible()
    linus.locator("summary", has_text="Open opportunity").click()
    linus.get_by_label("Deal amount ($)").fill("30000")
    linus.get_by_label("Expected close date").fill(
        (timezone.localdate() + dt.timedelta(days=30)).isoformat()
    )
    linus.get_by_role("button", name="Open opportunity").click()
    opportunity = _card(_section(rep, "Opportunity"), "Linus Berg")
    expect(opportunity).to_contain_text("$30,000 · closes")
    opportunity.locator("summary", has_text="Closed won").click()
    expect(opportunity.get_by_label("Amount won ($)")).to_have_value("30000")
    opportunity.get_by_label("Amount won ($)").fill("28500")
    opportunity.get_by_role("button", name="Closed won").click()
    closed = _section(rep, "Recently closed")
    expect(closed).to_contain_text("Linus Berg")
    expect(closed).to_contain_text("Customer")
    expect(closed).to_contain_text("$28,500")
    _shot(rep, "pipeline-closed")

    closed.get_by_role("link", name="Linus Berg").click()
    expect(rep.get_by_role("heading", level=1)).to_have_text("Linus Berg")
    timeline = _section(rep, "Timeline").get_by_role("listitem")
    for entry, (moved, by) in enumerate(
        [
            ("Opportunity → Customer", "Rita Alvarez · Closed won"),
            ("Sales-qualified (SQL) → Opportunity", "Rita Alvarez"),
            ("Sales-accepted (SAL) → Sales-qualified (SQL)", "Rita Alvarez"),
            ("Marketing-qualified (MQL) → Sales-accepted (SAL)", "Ada Park"),
        ]
    ):
        expect(timeline.nth(entry)).to_contain_text(moved)
        expect(timeline.nth(entry)).to_contain_text(by)
    expect(timeline.nth(0)).to_contain_text("$28,500")
    expect(timeline.nth(1)).to_contain_text("$30,000 · closes")
    rep.get_by_text("Events and attempts").click()
    events = _section(rep, "Handoffs")
    for seen in (
        "Accepted · Ada Park",
        "Now owned by Rita Alvarez",
        "Handed to sales · Ada Park",
        "Ada Park chose Rita Alvarez",
        "Contact attempt · Rita Alvarez",
        "Booked a discovery call for Thursday.",
    ):
        expect(events).to_contain_text(seen)
    text = _page_text(rep)
    assert re.search(r"Highest stage reached\s+Customer", text)
    _assert_in_peoples_words(text, team)
    _shot(rep, "lead-customer")
    lead = Lead.objects.get(first_name="Linus")
    assert (lead.stage, lead.owner) == (Stage.CUSTOMER, team["rita"])


def _accepted(first: str, last: str, company: str, *, sdr: Any, rep: Any) -> Any:
    """A lead the SDR accepted for ``rep``: a SAL in the rep's pipeline."""
    handoff = _mql(first, last, company, hours_ago=5)
    services.handoff_accept(handoff_id=handoff.id, actor=sdr, owner=rep)
    return handoff.lead


def test_a_manager_hands_a_reps_lead_to_another_rep_with_a_reason(
    people, team, live_server
):
    ada, rita, sam = team["ada"], team["rita"], team["sam"]
    _accepted("Priya", "Raman", "Orbit", sdr=ada, rep=rita)
    henrik = _accepted("Henrik", "Dahl", "Fjord", sdr=ada, rep=rita)
    services.lead_sales_move(lead_id=henrik.id, actor=rita, to_stage=Stage.SQL)
    _accepted("Sofia", "Marino", "Vela", sdr=ada, rep=sam)
    manager, _ = people("mgr.mona")

    _nav(manager).get_by_role("link", name="Team pipeline").click()
    expect(_card(manager, "Sofia Marino")).to_be_visible()
    manager.get_by_label("Rep").select_option(label="Rita Alvarez")
    manager.get_by_role("button", name="Show").click()
    expect(_card(manager, "Sofia Marino")).to_have_count(0)
    expect(_card(_section(manager, "Qualified (SQL)"), "Henrik Dahl")).to_be_visible()
    card = _card(_section(manager, "Accepted (SAL)"), "Priya Raman")
    expect(card).to_contain_text("Owner: Rita Alvarez")

    card.get_by_text("Reassign…").click()
    card.get_by_label("New owner").select_option(label="Sam Reed")
    card.get_by_label("Reason").fill("Rita is on leave until the 20th.")
    card.get_by_role("button", name="Reassign", exact=True).click()
    expect(card.get_by_role("status")).to_have_text(
        "Handed over — Priya Raman is now Sam Reed's lead."
    )
    expect(card).to_contain_text("Owner: Sam Reed")
    _shot(manager, "team-reassigned")

    card.get_by_role("link", name="Priya Raman").click()
    expect(manager.get_by_role("heading", level=1)).to_have_text("Priya Raman")
    timeline = _section(manager, "Timeline")
    expect(timeline).to_contain_text("Handed to Sam Reed from Rita Alvarez")
    expect(timeline).to_contain_text("Mona Berg · Rita is on leave until the 20th.")
    _assert_in_peoples_words(_page_text(manager), team)
    _shot(manager, "lead-reassigned")

    new_rep, _ = people("rep.sam")
    for name in ("Priya Raman", "Sofia Marino"):
        expect(_card(_section(new_rep, "Accepted (SAL)"), name)).to_be_visible()
    old_rep, _ = people("rep.rita")
    expect(_card(old_rep, "Henrik Dahl")).to_be_visible()
    expect(_card(old_rep, "Priya Raman")).to_have_count(0)
    assert Lead.objects.get(first_name="Priya").owner == sam


@pytest.mark.parametrize("debug", [False, True], ids=["debug-off", "debug-on"])
@pytest.mark.parametrize(
    ("username", "role", "status", "heading", "says"),
    [
        pytest.param(
            "sdr.noor",
            SDR,
            404,
            "Page not found",
            "The address may be mistyped, or the record was removed.",
            id="sdr-of-another-team",
        ),
        pytest.param(
            "rep.noor",
            SALES,
            404,
            "Page not found",
            "The address may be mistyped, or the record was removed.",
            id="rep-not-given-it",
        ),
        pytest.param(
            "no.role",
            None,
            403,
            "This page is not for your role",
            "Handoffs are for the Marketing, SDR and Sales roles.",
            id="no-role",
        ),
    ],
)
def test_a_handoff_one_may_not_see_is_the_products_page(
    people, team, live_server, settings, debug, username, role, status, heading, says
):
    settings.DEBUG = debug
    visitor = UserFactory(
        username=username,
        first_name="Noor",
        last_name="Haddad",
        roles=[role] if role else [],
    )
    page_owner = visitor.get_full_name()
    handoff = _mql("Linus", "Berg", "Nordvik", hours_ago=1)
    path = f"/handoffs/{handoff.id}/"
    # Someone with no role starts on the page that says so (a 403).
    page, watch = people(username, start_status=None if role else 403)

    with watch.expecting(status, path):
        answer = page.goto(f"{live_server.url}{path}")

    assert answer.status == status
    expect(page.get_by_role("heading", level=1)).to_have_text(heading)
    expect(page.locator("main")).to_contain_text(says)
    # The product's own page: the person is still signed in, with a way on.
    expect(page.get_by_role("banner")).to_contain_text(page_owner)
    expect(page.get_by_role("link", name="Go to your start page")).to_be_visible()
    text = _page_text(page)
    assert not any(phrase in text for phrase in DEBUG_PAGE)
    # Nothing tells who holds the handoff or whose lead it is.
    for name in ("Linus", "Ada Park"):
        assert name not in text
