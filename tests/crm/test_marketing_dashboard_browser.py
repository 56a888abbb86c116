"""The marketing dashboard in Chromium at 1440x900 under ``page_watch``: the
vendored charts draw under the CSP, a count opens the list of its leads, and
a bad period is answered with what to fix."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from crm.roles import MARKETING
from leads import lifecycle
from leads.models import Stage
from tests.browser import SCREENSHOTS, log_in, page_watch
from tests.factories import LeadFactory, UserFactory

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]
VIEWPORT = {"width": 1440, "height": 900}


def test_the_marketer_reads_the_funnel_and_opens_a_count(browser, live_server):
    UserFactory(
        username="mkt.mia", first_name="Mia", last_name="Park", roles=[MARKETING]
    )
    now = timezone.now()
    # Created an hour ago so "this month" holds them on any day of the month.
    for number in range(5):
        lead = LeadFactory(created_at=now - dt.timedelta(hours=1))
        if number < 2:
            lifecycle.lead_move(
                lead_id=lead.id, to_stage=Stage.MQL, system_actor="scoring", now=now
            )
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    try:
        with page_watch(page) as watch:
            log_in(page, live_server, "mkt.mia")
            page.goto(f"{live_server.url}/marketing/?period=month&mode=cohort")

            drawn = page.evaluate(
                "['funnel-chart', 'volume-chart'].map("
                "(id) => Boolean(window.Chart && window.Chart.getChart(id)))"
            )
            assert drawn == [True, True]
            rows = page.locator("table.dash-funnel tbody tr")
            expect(rows).to_have_count(6)
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(
                path=str(SCREENSHOTS / "marketing-dashboard.png"), full_page=True
            )

            rows.nth(1).locator("td a").first.click()
            page.wait_for_load_state("networkidle")
            expect(page.locator(".notice").first).to_contain_text(
                "that reached MQL or later"
            )
            expect(page.locator("table.lead-table tbody tr")).to_have_count(2)

            with watch.expecting(400, "/marketing/"):
                page.goto(
                    f"{live_server.url}/marketing/?date_from=2026-03-31"
                    "&date_to=2026-03-01"
                )
            expect(page.get_by_role("alert")).to_contain_text(
                "The to date comes before the from date."
            )
    finally:
        context.close()
