"""The marketer's and the sales rep's journeys in Chromium at 1440x900 under
``page_watch``: the dashboard's modes and filters down to the lead list, and
a deal opened with its amount and closed won in the pipeline, then read on the
lead's page and, as revenue, on the campaign that touched the lead.
Screenshots land in var/screenshots/marketer-*.png."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from crm.roles import MARKETING, SALES, SDR
from crm.tasks import rebuild_attribution_task
from handoff import services
from handoff.models import SalesOutcome
from leads import lifecycle
from leads.models import Campaign, Lead, Stage
from tests.browser import SCREENSHOTS, log_in, page_watch
from tests.factories import (
    CalendarFactory,
    CampaignFactory,
    LeadFactory,
    SlaFactory,
    TeamFactory,
    TeamMemberFactory,
    TouchpointFactory,
    UserFactory,
    mql_handoff_open,
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]
VIEWPORT = {"width": 1440, "height": 900}


def _shot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"marketer-{name}.png"), full_page=True)


def _open(browser: Any) -> tuple[Any, Any]:
    context = browser.new_context(viewport=VIEWPORT)
    return context, context.new_page()


def test_the_marketer_filters_the_funnel_and_follows_a_count_to_its_leads(
    browser, live_server
):
    UserFactory(
        username="mkt.mia", first_name="Mia", last_name="Park", roles=[MARKETING]
    )
    webinar = CampaignFactory(name="Spring webinar", channel=Campaign.Channel.WEBINAR)
    CampaignFactory(name="Newsletter", channel=Campaign.Channel.EMAIL)
    now = timezone.now()
    # Created an hour ago so "this month" holds them on any day of the month:
    # three came through the webinar (two of them MQLs), three did not (one MQL).
    for number in range(6):
        lead = LeadFactory(created_at=now - dt.timedelta(hours=1))
        if number < 3:
            TouchpointFactory(
                lead=lead, campaign=webinar, occurred_at=now - dt.timedelta(hours=1)
            )
        if number in (0, 1, 4):
            lifecycle.lead_move(
                lead_id=lead.id, to_stage=Stage.MQL, system_actor="scoring", now=now
            )
    context, page = _open(browser)
    try:
        with page_watch(page):
            log_in(page, live_server, "mkt.mia")
            page.goto(f"{live_server.url}/marketing/")
            funnel = page.locator("table.dash-funnel tbody tr")
            expect(page.locator("#funnel-title")).to_have_text(
                "Funnel, this month (cohort)"
            )
            expect(funnel.nth(1).locator("td a").first).to_have_text("3")

            page.get_by_label("Count").select_option("flow")
            page.get_by_role("button", name="Apply").click()
            expect(page.locator("#funnel-title")).to_have_text(
                "Funnel, this month (flow)"
            )
            expect(funnel.nth(1).locator("td a").first).to_have_text("3")

            page.get_by_label("Campaign").select_option(label="Spring webinar")
            page.get_by_role("button", name="Apply").click()
            expect(page.get_by_test_id("filter-summary")).to_have_text(
                "Filtered: campaign Spring webinar."
            )
            expect(page.locator("#funnel-title")).to_have_text(
                "Funnel, this month (flow)"
            )
            expect(
                page.get_by_label("Campaign").locator("option:checked")
            ).to_have_text("Spring webinar")
            expect(funnel.nth(0).locator("td a").first).to_have_text("3")
            mqls = funnel.nth(1).locator("td a").first
            expect(mqls).to_have_text("2")
            _shot(page, "dashboard-filtered")

            mqls.click()
            page.wait_for_load_state("networkidle")
            expect(page.get_by_role("heading", level=1)).to_have_text("Leads")
            expect(page.locator(".notice").first).to_contain_text("that entered MQL")
            expect(page.locator(".notice").first).to_contain_text(
                "with a touchpoint of the campaign Spring webinar"
            )
            expect(page.locator("table.lead-table tbody tr")).to_have_count(2)
            _shot(page, "lead-list-from-funnel")
    finally:
        context.close()


def test_a_rep_closes_a_deal_won_and_the_revenue_reaches_its_campaign(
    browser, live_server
):
    ada = UserFactory(
        username="sdr.ada", first_name="Ada", last_name="Park", roles=[SDR]
    )
    rita = UserFactory(
        username="rep.rita", first_name="Rita", last_name="Alvarez", roles=[SALES]
    )
    sdrs, sales = TeamFactory(name="SDR Europe"), TeamFactory(name="Sales West")
    TeamMemberFactory(team=sdrs, user=ada)
    TeamMemberFactory(team=sales, user=rita)
    SlaFactory(
        name="Inbound",
        team=sdrs,
        sales_team=sales,
        calendar=CalendarFactory(
            saturday=True,
            sunday=True,
            day_start=dt.time(0),
            day_end=dt.time(23, 59, 59, 999999),
        ),
    )
    handoff = mql_handoff_open(
        timezone.now() - dt.timedelta(hours=3),
        first_name="Linus",
        last_name="Berg",
        email="linus.berg@nordvik.example",
    )
    webinar = CampaignFactory(name="Nordic webinar", channel=Campaign.Channel.WEBINAR)
    TouchpointFactory(
        lead=handoff.lead,
        campaign=webinar,
        occurred_at=timezone.now() - dt.timedelta(hours=4),
    )
    UserFactory(
        username="mkt.mia", first_name="Mia", last_name="Park", roles=[MARKETING]
    )
    services.handoff_accept(handoff_id=handoff.id, actor=ada, owner=rita)
    close_on = timezone.localdate() + dt.timedelta(days=45)

    context, page = _open(browser)
    try:
        with page_watch(page):
            log_in(page, live_server, "rep.rita")
            page.goto(f"{live_server.url}/pipeline/")
            card = page.get_by_role("article", name="Linus Berg")
            # A card's forms are fetched when opened.
            card.locator("summary", has_text="Qualify (SQL)").click()
            card.get_by_role("button", name="Qualify (SQL)").click()
            card.locator("summary", has_text="Open opportunity").click()
            card.get_by_label("Deal amount ($)").fill("42000")
            card.get_by_label("Expected close date").fill(close_on.isoformat())
            card.get_by_role("button", name="Open opportunity").click()
            opportunity = page.locator(
                "section", has=page.get_by_role("heading", name="Opportunity")
            ).get_by_role("article", name="Linus Berg")
            expect(opportunity).to_contain_text("$42,000 · closes")
            opportunity.locator("summary", has_text="Closed won").click()
            expect(opportunity.get_by_label("Amount won ($)")).to_have_value("42000")
            _shot(page, "pipeline-opportunity")

            opportunity.get_by_label("Amount won ($)").fill("39500")
            opportunity.get_by_role("button", name="Closed won").click()
            closed = page.locator(
                "section", has=page.get_by_role("heading", name="Recently closed")
            )
            expect(closed).to_contain_text("$39,500")
            closed.get_by_role("link", name="Linus Berg").click()
            expect(page.get_by_role("heading", level=1)).to_have_text("Linus Berg")
            timeline = page.locator(
                "section", has=page.get_by_role("heading", name="Timeline")
            ).get_by_role("listitem")
            expect(timeline.nth(0)).to_contain_text("Opportunity → Customer")
            expect(timeline.nth(0)).to_contain_text("$39,500")
            expect(timeline.nth(1)).to_contain_text(
                re.compile(r"\$42,000 · closes \d{1,2} \w{3} \d{4}")
            )
            _shot(page, "lead-won")
    finally:
        context.close()

    # The campaigns' roll-up, as the beat's minute task brings it up to date.
    rebuild_attribution_task()
    context, page = _open(browser)
    try:
        with page_watch(page):
            log_in(page, live_server, "mkt.mia")
            page.goto(f"{live_server.url}/campaigns/")
            row = page.locator("table.campaign-roi tbody tr", has_text="Nordic webinar")
            expect(row).to_contain_text("$39,500")
            row.get_by_role("link", name="Nordic webinar").click()
            expect(page.get_by_role("heading", level=1)).to_have_text("Nordic webinar")
            expect(page.locator("table.campaign-roi")).to_contain_text("$39,500")
            _shot(page, "campaign-revenue")
    finally:
        context.close()

    lead = Lead.objects.get(first_name="Linus")
    assert lead.stage == Stage.CUSTOMER
    assert [
        (o.to_stage, o.amount, o.expected_close_on)
        for o in SalesOutcome.objects.filter(handoff=handoff).order_by("at", "id")
    ] == [
        (Stage.SQL, None, None),
        (Stage.OPPORTUNITY, 42000, close_on),
        (Stage.CUSTOMER, 39500, None),
    ]
