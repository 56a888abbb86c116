"""The campaign pages in Chromium at 1440x900 under ``page_watch``: the ROI
table and its chart under the CSP, switching the attribution model, sorting
by a column from the keyboard, and opening a campaign."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from crm.marketing.attribution_rollup import attribution_all_rebuild
from crm.roles import MARKETING
from leads.models import Campaign, CampaignSpend
from tests.browser import SCREENSHOTS, log_in, page_watch
from tests.factories import (
    CampaignFactory,
    LeadFactory,
    TouchpointFactory,
    UserFactory,
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]
VIEWPORT = {"width": 1440, "height": 900}


def test_the_marketer_switches_model_sorts_and_opens_a_campaign(browser, live_server):
    UserFactory(username="mkt.mia", roles=[MARKETING])
    now = timezone.now()
    alpha = CampaignFactory(name="Alpha Search", channel=Campaign.Channel.PAID_SEARCH)
    beta = CampaignFactory(name="Beta Mail", channel=Campaign.Channel.EMAIL)
    # Lead 1 touched by Alpha, then Beta; lead 2 by Beta only.
    first = LeadFactory(created_at=now - dt.timedelta(hours=1))
    TouchpointFactory(
        lead=first, campaign=alpha, occurred_at=now - dt.timedelta(hours=3)
    )
    TouchpointFactory(
        lead=first, campaign=beta, occurred_at=now - dt.timedelta(hours=2)
    )
    second = LeadFactory(created_at=now - dt.timedelta(hours=1))
    TouchpointFactory(
        lead=second, campaign=beta, occurred_at=now - dt.timedelta(hours=2)
    )
    month = now.astimezone(dt.UTC).date().replace(day=1)
    CampaignSpend.objects.create(campaign=alpha, month=month, amount=300)
    CampaignSpend.objects.create(campaign=beta, month=month, amount=30)
    attribution_all_rebuild(now=now)
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    try:
        with page_watch(page):
            log_in(page, live_server, "mkt.mia")
            page.goto(f"{live_server.url}/campaigns/?period=90d")

            assert page.evaluate(
                "Boolean(window.Chart && window.Chart.getChart('channel-chart'))"
            )
            names = page.locator("table.campaign-roi tbody th")
            expect(names).to_have_text(["Alpha Search", "Beta Mail"])
            leads = page.locator("table.campaign-roi tbody tr td:nth-child(4)")
            expect(leads).to_have_text(["0.5", "1.5"])
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / "campaigns.png"), full_page=True)

            page.select_option("#id_model", "first_touch")
            page.wait_for_url("**model=first_touch**")
            expect(page.locator("#roi-title")).to_contain_text("First touch")
            expect(leads).to_have_text(["1.0", "1.0"])

            header = page.locator("table.campaign-roi thead th", has_text="Spend")
            header.locator("a").focus()
            page.keyboard.press("Enter")
            page.wait_for_url("**order=-spend**")
            expect(header).to_have_attribute("aria-sort", "descending")
            expect(names).to_have_text(["Alpha Search", "Beta Mail"])
            header.locator("a").focus()
            page.keyboard.press("Enter")
            page.wait_for_url("**order=spend**")
            expect(names).to_have_text(["Beta Mail", "Alpha Search"])

            names.first.locator("a").click()
            page.wait_for_load_state("networkidle")
            expect(page.locator("h1")).to_have_text("Beta Mail")
            expect(page.locator("#id_model")).to_have_value("first_touch")
            expect(page.locator(".model-compare li")).to_have_count(6)
            expect(page.locator(".model-compare li.model-current")).to_contain_text(
                "First touch: 1.0 leads"
            )
            page.screenshot(
                path=str(SCREENSHOTS / "campaign-detail.png"), full_page=True
            )
    finally:
        context.close()
