"""The MQL planner in Chromium at 1440x900 under ``page_watch``: a marketer
works a plan out, saves it and makes it an SLA's volume commitment; the SLA
report then counts against the new commitment."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from crm.roles import ADMIN, MARKETING
from handoff.models import ServiceLevelAgreement
from leads import lifecycle
from leads.models import Stage
from tests.browser import SCREENSHOTS, log_in, page_watch
from tests.factories import LeadFactory, SlaFactory, UserFactory

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]
VIEWPORT = {"width": 1440, "height": 900}


def _previous_quarter_start(today: dt.date) -> dt.date:
    start = today.replace(month=3 * ((today.month - 1) // 3) + 1, day=1)
    before = start - dt.timedelta(days=1)
    return before.replace(month=3 * ((before.month - 1) // 3) + 1, day=1)


def _reference(start: dt.date) -> None:
    """The previous quarter: 4 leads, 2 MQLs, 2 SALs, 2 SQLs, 1 opportunity,
    1 customer. Two customers then need 2 opportunities, 4 SQLs, 4 SALs,
    4 MQLs and 8 leads."""
    base = dt.datetime.combine(start, dt.time(9), dt.UTC)
    path = [Stage.MQL, Stage.SAL, Stage.SQL, Stage.OPPORTUNITY, Stage.CUSTOMER]
    for number, stages in enumerate([path, path[:3], [], []]):
        lead = LeadFactory(created_at=base + dt.timedelta(hours=number))
        for step, stage in enumerate(stages, start=1):
            lifecycle.lead_move(
                lead_id=lead.id,
                to_stage=stage,
                system_actor="test",
                now=base + dt.timedelta(days=step, hours=number),
            )


def test_a_marketer_plans_saves_and_sets_an_slas_commitment(browser, live_server):
    today = timezone.now().astimezone(dt.UTC).date()
    _reference(_previous_quarter_start(today))
    UserFactory(username="mkt.mia", first_name="Mia", roles=[MARKETING])
    UserFactory(username="boss.bo", first_name="Bo", roles=[ADMIN])
    sla = SlaFactory(name="Inbound EMEA", volume_commitment=30, volume_period="month")
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    try:
        with page_watch(page) as watch:
            log_in(page, live_server, "mkt.mia")
            page.click("#nav-planner")
            page.wait_for_load_state("networkidle")
            page.fill("#id_target", "2")
            page.click("text=Work out the plan")
            page.wait_for_load_state("networkidle")

            expect(page.locator("#needed-mql")).to_have_text("4")
            expect(page.locator("#needed-lead")).to_have_text("8")
            drawn = page.evaluate(
                "Boolean(window.Chart && window.Chart.getChart('plan-chart'))"
            )
            assert drawn
            expect(page.locator("#plan-stages tbody tr")).to_have_count(6)
            page.screenshot(path=str(SCREENSHOTS / "planner.png"), full_page=True)

            page.fill("#id_name", "This quarter")
            page.click("text=Save plan")
            page.wait_for_load_state("networkidle")
            expect(page.locator("h1")).to_have_text("This quarter")
            expect(page.locator(".message")).to_have_text("Plan “This quarter” saved.")

            page.select_option("#id_sla", str(sla.id))
            page.click("text=Preview the change")
            page.wait_for_load_state("networkidle")
            expect(page.locator("#commit-old")).to_have_text("30 MQLs per month")
            # 4 MQLs x 30.4375 days / 90-92 plan days = 1.3 -> 2 a month.
            expect(page.locator("#commit-new")).to_contain_text("2 MQLs per month")
            page.screenshot(path=str(SCREENSHOTS / "plan-detail.png"), full_page=True)

            page.click("text=Set 2 per month")
            page.wait_for_load_state("networkidle")
            expect(page.locator(".message")).to_have_text(
                "SLA “Inbound EMEA”: volume commitment 30 → 2 MQLs per month."
            )
            with watch.expecting(400, "/planner/"):
                page.goto(f"{live_server.url}/planner/?target=0&target_kind=customers")
            expect(page.get_by_role("alert")).to_contain_text("fix it and try again")

            page.goto(f"{live_server.url}/accounts/login/")
        assert ServiceLevelAgreement.objects.get(id=sla.id).volume_commitment == 2

        boss = context.new_page()
        with page_watch(boss):
            log_in(boss, live_server, "boss.bo")
            boss.goto(f"{live_server.url}/reports/sla/")
            item = boss.locator(".volume-item", has_text="Inbound EMEA")
            expect(item).to_contain_text("of 2 MQLs so far")
            boss.screenshot(path=str(SCREENSHOTS / "plan-sla-report.png"))
    finally:
        context.close()
