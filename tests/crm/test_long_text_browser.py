"""Long unbroken text wraps: no page grows wider than the window (Chromium).

A lead with a 5,000-character name, a long unbroken job title, account name,
attribute and contact-attempt note is opened on the lead page and on its
handoff's page at 1440x900. Screenshots land in var/screenshots/long-text-*.png
(LEADFLOW_SCREENSHOTS=<dir> puts them elsewhere).
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import transaction
from django.utils import timezone

from crm.roles import SDR
from handoff import services
from handoff.models import ContactAttempt
from leads.models import Account, Lead
from scoring.selectors import model_active
from scoring.services import lead_rescore
from tests.browser import SCREENSHOTS, collect_errors, log_in
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

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]
# As long as each column holds (PostgreSQL enforces max_length), with no
# space to break at.
LONG_NAME = ("Bartholomew" * 455)[: Lead._meta.get_field("first_name").max_length]
LONG_NOTE = "https://example.com/" + "a" * 1900  # a note may hold 2,000


@pytest.fixture
def long_handoff():
    """An SDR's pending handoff of a lead whose texts have nowhere to break."""
    now = timezone.now()
    sdr = UserFactory(username="ada", first_name="Ada", last_name="Park", roles=[SDR])
    team = TeamFactory(name="SDR team")
    TeamMemberFactory(team=team, user=sdr)
    calendar = CalendarFactory(
        name="Round the clock",
        saturday=True,
        sunday=True,
        day_start=dt.time(0),
        day_end=dt.time(23, 59, 59, 999999),
    )
    SlaFactory(name="Inbound", team=team, calendar=calendar, accept_within_hours=10)
    account = AccountFactory(
        name=("Acme" * 300)[: Account._meta.get_field("name").max_length],
        domain="acme.example",
        industry="software",
    )
    lead = LeadFactory(
        first_name=LONG_NAME,
        last_name="Q" * Lead._meta.get_field("last_name").max_length,
        email="long@acme.example",
        job_title=("VP" + "x" * 600)[: Lead._meta.get_field("job_title").max_length],
        seniority="vp",
        account=account,
        attributes={"hs_lead_status": "Open", "Company_Size__c": "z" * 2000},
    )
    for kind in ("demo_request", "page_view", "webinar_attended"):
        TouchpointFactory(
            lead=lead,
            kind_id=kind,
            occurred_at=now - dt.timedelta(hours=1),
            properties={"url": LONG_NOTE},
        )
    with transaction.atomic():
        lead_rescore(lead_id=lead.id, model=model_active(), now=now)
        handoff = services.handoff_open(lead_id=lead.id, now=now)
    assert handoff is not None
    services.attempt_log(
        handoff_id=handoff.id,
        actor=sdr,
        channel=ContactAttempt.Channel.EMAIL,
        outcome=ContactAttempt.Outcome.NO_ANSWER,
        note=LONG_NOTE,
    )
    return handoff


@pytest.mark.parametrize("page_name", ["lead", "handoff"])
def test_long_unbroken_text_wraps_within_the_window(
    browser, live_server, long_handoff, page_name
):
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    collect_errors(page, errors)
    log_in(page, live_server, "ada")
    path = {
        "lead": f"/leads/{long_handoff.lead_id}/",
        "handoff": f"/handoffs/{long_handoff.id}/",
    }[page_name]

    page.goto(f"{live_server.url}{path}")
    page.wait_for_load_state("networkidle")
    # Open the folded parts too, so their contents are measured.
    page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"long-text-{page_name}.png"))
    widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    text = page.inner_text("main")
    context.close()

    assert LONG_NAME in text.replace("\n", "")
    assert widths[0] <= widths[1], f"page is {widths[0]}px wide in {widths[1]}px"
    assert errors == []
