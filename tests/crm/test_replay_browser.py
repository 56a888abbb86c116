"""The "Replay on history" section in Chromium under ``page_watch``: a
marketer replays the hand-built draft of ``test_replay.py`` from its page and
reads the weeks, then watches another replay's progress bar move by htmx
polling until its figures replace it."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from crm.marketing import replay as replays
from scoring.models import ModelReplay
from tests.browser import SCREENSHOTS, log_in, page_watch
from tests.crm.test_replay import END, START, world  # noqa: F401 (the fixture)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]
VIEWPORT = {"width": 1280, "height": 900}


def test_a_marketer_replays_a_draft_and_watches_the_progress(
    browser,
    live_server,
    world,  # noqa: F811
    marketer,
):
    draft = world["draft"]
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    try:
        with page_watch(page):
            log_in(page, live_server, marketer.username)
            page.goto(f"{live_server.url}/scoring/{draft.id}/")
            expect(page.locator("#replay .empty")).to_contain_text("Not replayed yet")
            page.fill("#id_replay_start", START.isoformat())
            page.fill("#id_replay_end", END.isoformat())
            page.click("#replay-form button")
            page.wait_for_load_state("networkidle")

            expect(page.locator("#replay-weeks tbody tr")).to_have_count(2)
            expect(page.locator("#replay-weeks tfoot")).to_contain_text("2")
            page.click("#replay-newly summary")
            expect(page.locator("#replay-newly tbody tr")).to_have_count(1)
            page.locator("#replay").screenshot(
                path=str(SCREENSHOTS / "replay-result.png")
            )

            running = replays.replay_request(
                draft=draft, start=START, end=END, enqueue=False
            )
            ModelReplay.objects.filter(id=running.id).update(
                status="running", total=8, done=2
            )
            page.reload()
            expect(page.locator("#replay-text")).to_have_text(
                "2 of 8 leads replayed (25%)."
            )
            page.locator("#replay").screenshot(
                path=str(SCREENSHOTS / "replay-progress.png")
            )
            ModelReplay.objects.filter(id=running.id).update(done=6)
            expect(page.locator("#replay-text")).to_have_text(
                "6 of 8 leads replayed (75%).", timeout=10_000
            )
            replays.replay_run(replay_id=running.id)
            expect(page.locator("#replay-weeks")).to_be_visible(timeout=10_000)
    finally:
        context.close()
