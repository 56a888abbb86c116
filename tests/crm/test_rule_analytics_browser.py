"""Rule analytics in Chromium at 1440x900 under ``page_watch``: a marketer
opens the page from the navigation, picks January and the hand-built model,
sees the three charts drawn and searches the feedback."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from playwright.sync_api import expect

from crm.roles import MARKETING
from tests.browser import SCREENSHOTS, log_in, page_watch
from tests.crm.rule_analytics_data import build
from tests.factories import UserFactory

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]
VIEWPORT = {"width": 1440, "height": 900}
CHARTS = ("lift-chart", "band-chart", "week-chart")


def test_a_marketer_reads_rule_analytics_and_searches_the_feedback(
    browser, live_server
):
    cache.clear()
    world = build()
    UserFactory(username="mkt.mia", first_name="Mia", roles=[MARKETING])
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    try:
        with page_watch(page):
            log_in(page, live_server, "mkt.mia")
            page.click("#nav-rule_analytics")
            page.wait_for_load_state("networkidle")
            page.select_option("#id_period", "custom")
            page.fill("#id_date_from", "2026-01-01")
            page.fill("#id_date_to", "2026-01-31")
            page.select_option("#id_model", str(world.model.id))
            page.click("text=Apply")
            page.wait_for_load_state("networkidle")

            expect(page.locator("#stat-leads")).to_have_text("10")
            expect(page.locator("#stat-auc-sql")).to_have_text("0.92")
            expect(page.locator("#rule-table tbody tr")).to_have_count(3)
            drawn = page.evaluate(
                "ids => ids.map(id => Boolean(window.Chart.getChart(id)))",
                list(CHARTS),
            )
            assert drawn == [True, True, True]
            page.screenshot(
                path=str(SCREENSHOTS / "rule-analytics.png"), full_page=True
            )

            page.fill("#id_q", "BUDGET")
            page.click("#feedback-search button")
            page.wait_for_load_state("networkidle")
            expect(page.locator("#feedback-list li p")).to_have_text(
                ["Wants to revisit after the budget review", "Budget frozen until Q3"]
            )
            # The search kept the period and the model.
            expect(page.locator("#stat-leads")).to_have_text("10")
    finally:
        context.close()
        cache.clear()
