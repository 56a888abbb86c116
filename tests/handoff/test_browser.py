"""The SAL queue, a handoff's page, the pipeline and the lead page in Chromium.

Screenshots land in var/screenshots/handoff-*.png for people to look at
(LEADFLOW_SCREENSHOTS=<dir> puts them elsewhere).
"""

from __future__ import annotations

import datetime as dt
import importlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify
from playwright.sync_api import expect

from crm.roles import SALES, SDR
from handoff import services
from handoff.models import ContactAttempt, Handoff, SalesProfile, ServiceLevelAgreement
from handoff.services.follow_up import follow_up_places_rebuild
from leads.models import Lead, Stage
from scoring.selectors import model_active
from scoring.services import lead_rescore
from tests.browser import collect_errors, log_in
from tests.factories import (
    AccountFactory,
    CalendarFactory,
    LeadFactory,
    SlaFactory,
    TeamFactory,
    TeamMemberFactory,
    TouchpointFactory,
    UserFactory,
)

SHOTS = Path(
    os.environ.get("LEADFLOW_SCREENSHOTS")
    or Path(__file__).resolve().parents[2] / "var" / "screenshots"
)
pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]

# (first, last, title, seniority, company, employees, industry, country,
#  region, touchpoints as (kind, hours before the handoff, URL path),
#  hours since the handoff, SDR). The SLA gives 10 hours, at risk after 7.5.
# fmt: off
LEADS = [
    ("Amara", "Okafor", "Director of Demand Generation", "director",
     "Helix Telecom", 12000, "telecom", "GB", "europe",
     [("demo_request", 0.2, ""), ("page_view", 0.5, "/pricing"),
      ("email_click", 20, "")], 9.1, "ada"),
    ("Grace", "Hopper", "VP Marketing", "vp", "Cobalt Analytics", 850,
     "software", "US", "north_america",
     [("demo_request", 0.3, ""), ("page_view", 1, "/pricing"),
      ("webinar_attended", 50, "")], 7.6, "ada"),
    ("Jonas", "Richter", "Sales Director", "director", "Kraftwerk Logistik",
     2300, "logistics", "DE", "europe",
     [("demo_request", 0.2, ""), ("page_view", 0.4, "/pricing")], 10.5, "ada"),
    ("Linus", "Berg", "Head of Revenue Operations", "director", "Nordvik Bank",
     4200, "financial_services", "SE", "europe",
     [("trial_signup", 0.1, ""), ("email_click", 18, ""),
      ("content_download", 70, "")], 2.5, "ada"),
    ("Tomás", "Ferreira", "Marketing Manager", "manager", "Lumen Consulting",
     320, "professional_services", "PT", "europe",
     [("demo_request", 0.1, ""), ("content_download", 26, ""),
      ("page_view", 27, "/pricing")], 0.6, "ada"),
    ("Mei", "Tanaka", "CMO", "executive", "Brightline Software", 640,
     "software", "CA", "north_america",
     [("demo_request", 0.2, ""), ("webinar_attended", 100, "")], 3.8, "bo"),
    ("Olivia", "Nguyen", "Growth Marketing Lead", "manager", "Parcel Pilot", 410,
     "retail", "US", "north_america",
     [("demo_request", 0.5, ""), ("page_view", 2, "/pricing")], 8.2, "bo"),
]
#: Leads the rep owns: (first, last, title, company, where they are now).
PIPELINE = [
    ("Priya", "Raman", "VP Growth", "Orbit Payments", Stage.SAL),
    ("Henrik", "Dahl", "Head of Marketing", "Fjord Media", Stage.SAL),
    ("Sofia", "Marino", "Director of Sales", "Vela Insurance", Stage.SQL),
    ("Daniel", "Osei", "CRO", "Kestrel Cloud", Stage.OPPORTUNITY),
    ("Chloé", "Martin", "Marketing Director", "Atelier Retail", Stage.CUSTOMER),
    ("Marcus", "Lee", "Head of Sales Operations", "Quartz Labs", Stage.NURTURE),
]
# fmt: on
FORWARD = [Stage.SQL, Stage.OPPORTUNITY, Stage.CUSTOMER]
#: What opening an opportunity and closing it won record.
DEALS = {
    Stage.OPPORTUNITY: {"amount": "48000", "expected_close_in": 45},
    Stage.CUSTOMER: {"amount": "45500"},
}


def _deal_terms(to_stage: str, now: dt.datetime) -> dict[str, Any]:
    terms = dict(DEALS.get(to_stage, {}))
    if days := terms.pop("expected_close_in", None):
        terms["expected_close_on"] = now.date() + dt.timedelta(days=days)
    return terms


@dataclass
class World:
    users: dict[str, Any] = field(default_factory=dict)
    handoffs: dict[str, Handoff] = field(default_factory=dict)


def _lead(first, last, title, seniority, company, employees, industry, country, region):
    domain = f"{slugify(company).replace('-', '')}.example"
    account = AccountFactory(
        name=company,
        domain=domain,
        employee_count=employees,
        industry=industry,
        country=country,
    )
    return LeadFactory(
        first_name=first,
        last_name=last,
        email=f"{slugify(first)}.{slugify(last)}@{domain}",
        job_title=title,
        seniority=seniority,
        account=account,
        country=country,
        region=region,
        attributes={
            "hs_lead_status": "Open",
            "Company_Size__c": "201-500",
            "utm_campaign": "spring-webinar",
            "annual_revenue": 12000000,
        },
    )


def _hand_over(lead, touches, *, opened: dt.datetime, sdr, team_users) -> Handoff:
    """Score the lead into an MQL and hand it over at ``opened``, to ``sdr``."""
    for kind, hours, url in touches:
        TouchpointFactory(
            lead=lead,
            kind_id=kind,
            occurred_at=opened - dt.timedelta(hours=hours),
            properties={"url": f"https://leadflow.example{url}"} if url else {},
        )
    # Round robin would alternate; the others are away for a moment instead.
    others = [u for u in team_users if u != sdr]
    for other in others:
        services.availability_set(user=other, is_away=True)
    with transaction.atomic():
        lead_rescore(lead_id=lead.id, model=model_active(), now=opened)
        handoff = services.handoff_open(lead_id=lead.id, now=opened)
    for other in others:
        services.availability_set(user=other, is_away=False)
    assert handoff is not None
    assert handoff.assigned_to == sdr
    return handoff


def _world() -> World:
    now = timezone.now()
    world = World()
    world.users = {
        "ada": UserFactory(
            username="ada", first_name="Ada", last_name="Park", roles=[SDR]
        ),
        "bo": UserFactory(
            username="bo", first_name="Bo", last_name="Lindqvist", roles=[SDR]
        ),
        "rita": UserFactory(
            username="rita", first_name="Rita", last_name="Alvarez", roles=[SALES]
        ),
    }
    # Round the clock, so the clocks read the same whenever the test runs.
    calendar = CalendarFactory(
        name="Round the clock (UTC)",
        saturday=True,
        sunday=True,
        day_start=dt.time(0),
        day_end=dt.time(23, 59, 59, 999999),
    )
    team = TeamFactory(name="SDR Europe & Americas")
    sdrs = [world.users["ada"], world.users["bo"]]
    for user in sdrs:
        TeamMemberFactory(team=team, user=user)
    SlaFactory(
        name="Inbound demo requests",
        team=team,
        calendar=calendar,
        accept_within_hours=10,
        at_risk_percent=75,
        follow_up_within_hours=16,
    )
    for spec in LEADS:
        *fields, touches, hours, sdr = spec
        lead = _lead(*fields)
        world.handoffs[lead.first_name] = _hand_over(
            lead,
            touches,
            opened=now - dt.timedelta(hours=hours),
            sdr=world.users[sdr],
            team_users=sdrs,
        )
    ada, rita = world.users["ada"], world.users["rita"]
    for i, (first, last, title, company, stage) in enumerate(PIPELINE):
        lead = _lead(
            first,
            last,
            title,
            "director",
            company,
            900,
            "software",
            "US",
            "north_america",
        )
        # Priya was accepted 3 hours ago; the others earlier, one day apart.
        opened = now - dt.timedelta(hours=4 + 24 * i)
        handoff = _hand_over(
            lead,
            [("demo_request", 2, ""), ("page_view", 3, "/pricing")],
            opened=opened,
            sdr=ada,
            team_users=sdrs,
        )
        accepted = opened + dt.timedelta(hours=1)
        services.handoff_accept(
            handoff_id=handoff.id, actor=ada, owner=rita, now=accepted
        )
        world.handoffs[first] = handoff
        steps = FORWARD[: FORWARD.index(stage) + 1] if stage in FORWARD else []
        for step, to_stage in enumerate(steps):
            services.lead_sales_move(
                lead_id=lead.id,
                actor=rita,
                to_stage=to_stage,
                now=accepted + dt.timedelta(hours=2 + step),
                **_deal_terms(to_stage, now),
            )
        if stage == Stage.NURTURE:
            services.lead_sales_move(
                lead_id=lead.id,
                actor=rita,
                reason="sales_went_dark",
                feedback="No reply to three calls and two e-mails since the demo.",
                now=accepted + dt.timedelta(hours=5),
            )
    # Henrik's follow-up is late: his clock shows red.
    Handoff.objects.filter(id=world.handoffs["Henrik"].id).update(
        follow_up_due_at=now - dt.timedelta(hours=3)
    )
    follow_up_places_rebuild()
    services.attempt_log(
        handoff_id=world.handoffs["Grace"].id,
        actor=ada,
        channel=ContactAttempt.Channel.CALL,
        outcome=ContactAttempt.Outcome.VOICEMAIL,
        note="Left a voicemail; she asked for pricing on the webinar.",
        now=now,
    )
    return world


@pytest.fixture
def new_page(browser):
    contexts = []
    errors: list[str] = []

    def make(width: int = 1280, height: int = 900):
        context = browser.new_context(viewport={"width": width, "height": height})
        contexts.append(context)
        page = context.new_page()
        # A refused decision is a 4xx by design; htmx swaps its fragment.
        collect_errors(page, errors, ignore=lambda text: "status of 422" in text)
        return page

    yield make
    for context in contexts:
        context.close()
    assert errors == []


def test_an_sdr_rejects_one_lead_with_a_reason_and_accepts_another(
    new_page, live_server
):
    world = _world()
    page = new_page()
    log_in(page, live_server, "ada")
    assert page.url == f"{live_server.url}/queue/"
    # Survives only if nothing reloads the page.
    page.evaluate("window.leadflowMarker = 'no reload'")
    amara = world.handoffs["Amara"]
    linus = world.handoffs["Linus"]

    row = page.locator(f"#handoff-{amara.id}")
    row.locator("summary", has_text="Reject").click()
    # The form is fetched when the row opens it.
    expect(row.locator("select[name=reason]")).to_be_visible()
    duplicate = row.locator("[data-duplicate-field]")
    expect(duplicate).to_be_hidden()
    row.locator("select[name=reason]").select_option("duplicate")
    expect(duplicate).to_be_visible()
    row.locator("select[name=reason]").select_option("no_fit")
    expect(duplicate).to_be_hidden()
    expect(row.locator("[data-reason-hint]")).to_have_text("Disqualified.")
    row.locator("button", has_text="Reject").click()
    # Refused (feedback missing): the row comes back with the message.
    expect(row.locator(".field-error")).to_have_text(
        "“No fit” needs feedback: tell marketing why."
    )
    SHOTS.mkdir(parents=True, exist_ok=True)
    row.screenshot(path=str(SHOTS / "handoff-queue-row-refused.png"))
    assert Handoff.objects.get(id=amara.id).status == "pending"
    row.locator("textarea[name=feedback]").fill(
        "Telecom operator, buys through a reseller; not our segment."
    )
    row.locator("button", has_text="Reject").click()
    expect(row).to_contain_text("Rejected: No fit — Amara Okafor is now disqualified.")

    linus_row = page.locator(f"#handoff-{linus.id}")
    # The accept form is fetched when the row opens it.
    linus_row.locator("summary", has_text="Accept").click()
    linus_row.locator("button", has_text="Accept").click()
    expect(page.locator(f"#handoff-{linus.id}")).to_contain_text(
        "Accepted — Linus Berg is now your SAL."
    )

    page.screenshot(path=str(SHOTS / "handoff-queue-decided.png"), full_page=True)
    # The refresh waits while a row is being edited, then drops decided rows.
    refresh = (
        "htmx.ajax('GET', '/queue/rows/', "
        "{source: '#queue-sections', target: '#queue-sections'})"
    )
    tomas = page.locator(f"#handoff-{world.handoffs['Tomás'].id}")
    tomas.locator("summary", has_text="Log attempt").click()
    expect(tomas.locator("select[name=channel]")).to_be_visible()
    tomas.screenshot(path=str(SHOTS / "handoff-queue-row-attempt.png"))
    page.evaluate(refresh)
    expect(page.locator(".queue-updated")).to_have_text(
        "Refresh paused while you edit a row."
    )
    expect(page.locator(f"#handoff-{linus.id}")).to_contain_text("Accepted")
    tomas.locator("summary", has_text="Log attempt").click()
    page.evaluate(refresh)
    expect(page.locator(f"#handoff-{linus.id}")).to_have_count(0)
    expect(page.locator(f"#handoff-{amara.id}")).to_have_count(0)
    expect(page.locator("#queue-mine .count")).to_have_text("3")

    assert page.evaluate("window.leadflowMarker") == "no reload"
    rejected = Handoff.objects.get(id=amara.id)
    assert (rejected.status, rejected.reason.code, rejected.decided_by) == (
        "rejected",
        "no_fit",
        world.users["ada"],
    )
    assert rejected.feedback.startswith("Telecom operator")
    assert Lead.objects.get(id=amara.lead_id).stage == Stage.DISQUALIFIED
    accepted = Handoff.objects.get(id=linus.id)
    assert accepted.status == "accepted"
    lead = Lead.objects.get(id=linus.lead_id)
    assert (lead.stage, lead.owner) == (Stage.SAL, world.users["ada"])


def test_a_rep_qualifies_a_lead_on_the_pipeline(new_page, live_server):
    world = _world()
    page = new_page()
    log_in(page, live_server, "rita")
    assert page.url == f"{live_server.url}/pipeline/"
    page.evaluate("window.leadflowMarker = 'no reload'")
    priya = world.handoffs["Priya"]

    card = page.locator(f"#lead-{priya.lead_id}")
    # The card's forms are fetched when opened.
    card.locator("summary", has_text="Qualify (SQL)").click()
    card.locator("button", has_text="Qualify (SQL)").click()

    expect(page.locator("#stage-sql")).to_contain_text("Priya Raman")
    expect(page.locator("#count-sql")).to_have_text("2")
    assert page.evaluate("window.leadflowMarker") == "no reload"
    assert Lead.objects.get(id=priya.lead_id).stage == Stage.SQL


def test_a_rep_opens_an_opportunity_with_its_deal_on_the_pipeline(
    new_page, live_server
):
    world = _world()
    page = new_page(width=1440, height=900)
    log_in(page, live_server, "rita")
    sofia = page.locator(f"#lead-{world.handoffs['Sofia'].lead_id}")
    expect(page.locator("#deal-total")).to_have_text("Deal value $48,000")

    sofia.locator("summary", has_text="Open opportunity").click()
    sofia.get_by_label("Deal amount ($)").fill("0")
    sofia.get_by_label("Expected close date").fill("2099-01-01")
    sofia.get_by_role("button", name="Open opportunity").click()

    expect(sofia).to_contain_text("The deal amount must be more than zero.")
    expect(sofia).to_contain_text(
        "The expected close date can be at most 3 years ahead."
    )
    SHOTS.mkdir(parents=True, exist_ok=True)
    sofia.screenshot(path=str(SHOTS / "handoff-pipeline-deal-refused.png"))
    close_on = timezone.localdate() + dt.timedelta(days=40)
    sofia.get_by_label("Deal amount ($)").fill("25000")
    sofia.get_by_label("Expected close date").fill(close_on.isoformat())
    sofia.get_by_role("button", name="Open opportunity").click()

    opportunity = page.locator("#stage-opportunity")
    closes = f"{close_on.day} {close_on:%b %Y}"
    expect(opportunity).to_contain_text(f"$25,000 · closes {closes}")
    expect(page.locator("#deal-total")).to_have_text("Deal value $73,000")
    expect(page.locator("#count-opportunity")).to_have_text("2")
    opportunity.locator("summary", has_text="Closed won").first.click()
    won = opportunity.get_by_label("Amount won ($)")
    expect(won.first).to_have_value(re.compile(r"^(25000|48000)$"))
    assert page.evaluate("document.documentElement.scrollWidth") <= 1440
    page.screenshot(path=str(SHOTS / "handoff-pipeline-deals-1440.png"), full_page=True)


def test_a_rep_pages_a_column_while_moving_its_cards(
    new_page, live_server, monkeypatch
):
    world = _world()
    monkeypatch.setattr(
        importlib.import_module("handoff.views.pipeline"), "COLUMN_PAGE", 1
    )
    henrik, priya = world.handoffs["Henrik"], world.handoffs["Priya"]
    page = new_page(width=1440, height=900)
    log_in(page, live_server, "rita")
    sal = page.locator("#stage-sal")
    # Henrik's follow-up is overdue, so he comes first.
    expect(sal.locator(".pipe-card")).to_have_count(1)
    expect(sal).to_contain_text("Henrik Dahl")
    expect(page.locator("#count-sal")).to_have_text("2")

    card = page.locator(f"#lead-{henrik.lead_id}")
    card.locator("summary", has_text="Qualify (SQL)").click()
    card.locator("button", has_text="Qualify (SQL)").click()
    expect(page.locator("#stage-sql")).to_contain_text("Henrik Dahl")
    expect(page.locator("#count-sal")).to_have_text("1")
    expect(page.locator("#count-sql")).to_have_text("2")
    page.locator("#more-sal").get_by_role("button", name="Show more").click()

    expect(sal).to_contain_text("Priya Raman")
    expect(page.locator("#more-sal button")).to_have_count(0)
    expect(page.locator("#count-sal")).to_have_text("1")
    ids = page.locator(".pipe-card").evaluate_all("cards => cards.map(c => c.id)")
    assert len(ids) == len(set(ids))
    assert f"lead-{priya.lead_id}" in ids
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "handoff-pipeline-paged-1440.png"), full_page=True)


def _nav_pipeline(page: Any) -> str:
    return page.locator("nav a", has_text="Pipeline").inner_text().strip()


def test_an_sdr_hands_a_lead_to_the_rep_they_pick_and_the_rep_sees_it(
    new_page, live_server
):
    world = _world()
    sales = TeamFactory(name="Sales West")
    sam = UserFactory(username="sam", first_name="Sam", last_name="Reed", roles=[SALES])
    for user in (sam, world.users["rita"]):
        TeamMemberFactory(team=sales, user=user)
    ServiceLevelAgreement.objects.update(sales_team=sales)
    linus = world.handoffs["Linus"]
    rep = new_page()
    log_in(rep, live_server, "rita")
    before = _nav_pipeline(rep)

    page = new_page()
    log_in(page, live_server, "ada")
    row = page.locator(f"#handoff-{linus.id}")
    expect(row.locator("select[name=owner]")).to_have_count(0)
    row.locator("summary", has_text="Accept").click()
    picker = row.locator("select[name=owner]")
    # The SLA's round robin suggests Sam (first in the team); Ada picks Rita.
    expect(picker.locator("option:checked")).to_have_text("Sam Reed")
    expect(row).to_contain_text("Round robin in Sales West picks Sam Reed")
    SHOTS.mkdir(parents=True, exist_ok=True)
    row.screenshot(path=str(SHOTS / "handoff-queue-rep-picker.png"))
    picker.select_option(label="Rita Alvarez")
    row.locator("button", has_text="Accept").click()
    expect(row).to_contain_text(
        "Accepted — Linus Berg is now a SAL owned by Rita Alvarez."
    )

    rep.reload()
    expect(rep.locator("#stage-sal")).to_contain_text("Linus Berg")
    new = int(before.split("(")[1].split()[0]) if "(" in before else 0
    assert _nav_pipeline(rep) == f"Pipeline ({new + 1} new)"
    rep.screenshot(path=str(SHOTS / "handoff-pipeline-new.png"), full_page=True)
    lead = Lead.objects.get(id=linus.lead_id)
    assert (lead.stage, lead.owner) == (Stage.SAL, world.users["rita"])


@pytest.mark.parametrize("width", [1440, 390])
def test_screenshots_of_the_handoff_screens(new_page, live_server, width):
    world = _world()
    SHOTS.mkdir(parents=True, exist_ok=True)
    grace = world.handoffs["Grace"]

    page = new_page(width=width, height=900)
    log_in(page, live_server, "ada")
    page.screenshot(path=str(SHOTS / f"handoff-queue-{width}.png"), full_page=True)
    page.goto(f"{live_server.url}/handoffs/{grace.id}/")
    page.screenshot(path=str(SHOTS / f"handoff-detail-{width}.png"), full_page=True)
    page.goto(f"{live_server.url}/leads/{grace.lead_id}/")
    page.screenshot(path=str(SHOTS / f"handoff-lead-{width}.png"), full_page=True)

    rep = new_page(width=width, height=900)
    log_in(rep, live_server, "rita")
    rep.screenshot(path=str(SHOTS / f"handoff-pipeline-{width}.png"), full_page=True)


def test_a_manager_hands_a_lead_to_another_rep_on_the_team_pipeline(
    new_page, live_server
):
    world = _world()
    SHOTS.mkdir(parents=True, exist_ok=True)
    UserFactory(username="sam", first_name="Sam", last_name="Okafor", roles=[SALES])
    mona = UserFactory(
        username="mona", first_name="Mona", last_name="Berg", roles=[SALES]
    )
    SalesProfile.objects.create(user=mona, is_manager=True)
    priya = world.handoffs["Priya"]
    page = new_page(width=1440, height=900)
    log_in(page, live_server, "mona")

    page.get_by_role("link", name="Team pipeline").click()
    card = page.locator(f"#lead-{priya.lead_id}")
    expect(card).to_contain_text("Owner: Rita Alvarez")
    card.get_by_text("Reassign…").click()
    card.get_by_label("New owner").select_option(label="Sam Okafor")
    card.get_by_role("button", name="Reassign", exact=True).click()
    expect(card.locator(".field-error")).to_have_text("Say why the lead changes hands.")
    card.screenshot(path=str(SHOTS / "handoff-team-card-refused.png"))
    card.get_by_label("Reason").fill("Rita is on leave until the 20th.")
    page.screenshot(path=str(SHOTS / "handoff-team-pipeline-1440.png"), full_page=True)
    card.get_by_role("button", name="Reassign", exact=True).click()

    expect(card).to_contain_text("Priya Raman is now Sam Okafor's lead.")
    expect(card).to_contain_text("Owner: Sam Okafor")
    card.screenshot(path=str(SHOTS / "handoff-team-card-reassigned.png"))
    page.goto(f"{live_server.url}/leads/{priya.lead_id}/")
    timeline = page.locator("section", has=page.get_by_role("heading", name="Timeline"))
    expect(timeline).to_contain_text("Handed to Sam Okafor from Rita Alvarez")
    page.screenshot(
        path=str(SHOTS / "handoff-lead-reassigned-1440.png"), full_page=True
    )
    page.goto(f"{live_server.url}/pipeline/")
    page.screenshot(path=str(SHOTS / "handoff-pipeline-manager-1440.png"))
    sam = new_page(width=1440, height=900)
    log_in(sam, live_server, "sam")
    sam_card = sam.locator(f"#lead-{priya.lead_id}")
    expect(sam_card).to_contain_text("Priya Raman")
    sam.screenshot(path=str(SHOTS / "handoff-pipeline-new-owner-1440.png"))
    sam_card.get_by_role("link", name=f"handoff #{priya.id}").click()
    expect(sam.locator("h1")).to_contain_text("Priya Raman")
    sam.screenshot(
        path=str(SHOTS / "handoff-detail-new-owner-1440.png"), full_page=True
    )
    assert Lead.objects.get(id=priya.lead_id).owner.username == "sam"
