"""Candidate rules in Chromium at 1440x900 under ``page_watch``: a marketer
sets the minimum support, adds a candidate to a draft with one click, reads
the confirmation and follows its link to the draft."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from playwright.sync_api import expect

from crm.roles import MARKETING
from scoring.models import ScoringModel
from tests.browser import SCREENSHOTS, log_in, page_watch
from tests.crm.rule_candidates_data import build
from tests.factories import UserFactory

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]
VIEWPORT = {"width": 1440, "height": 900}


def test_a_marketer_adds_a_candidate_rule_to_a_draft(browser, live_server):
    cache.clear()
    build()
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
            page.fill("#id_min_support", "3")
            page.click("text=Apply")
            page.wait_for_load_state("networkidle")

            rows = page.locator("#candidate-table tbody tr")
            expect(rows).to_have_count(21)
            row = page.locator('tr[data-candidate="attribute:plan:pro"]')
            expect(row.locator("td").nth(7)).to_have_text("+3")
            page.locator("#candidates").screenshot(
                path=str(SCREENSHOTS / "rule-candidates.png")
            )
            row.get_by_role("button", name="Add to draft").click()
            page.wait_for_load_state("networkidle")

            draft = ScoringModel.objects.get(status=ScoringModel.Status.DRAFT)
            message = page.locator(".messages .message")
            expect(message).to_contain_text(
                "Rule “attributes.plan is “pro”” added with 3 points to draft "
                "Cand v2 (a new draft, cloned from the active model)."
            )
            # Back on the same period and support, at the candidates.
            assert page.url.endswith("&min_support=3#candidates")
            expect(rows).to_have_count(21)
            message.get_by_role("link", name="Cand v2").click()
            page.wait_for_load_state("networkidle")
            assert page.url == f"{live_server.url}/scoring/{draft.id}/"
            expect(page.get_by_text("attributes.plan is “pro”").first).to_be_visible()
    finally:
        context.close()
        cache.clear()
