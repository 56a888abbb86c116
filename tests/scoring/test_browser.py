"""The rule editor and publishing in a real browser (Debian Chromium, Playwright).

Screenshots land in var/screenshots/scoring-*.png for people to look at.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from crm.roles import MARKETING
from leads.models import Lead
from scoring import previews, services
from scoring.models import ModelSuggestion, PublishPreview, ScoringModel, ScoringRule
from scoring.selectors import model_active, model_spec
from tests.browser import collect_errors, log_in
from tests.factories import LeadFactory, TouchpointFactory, UserFactory

SHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def page(browser, live_server):
    UserFactory(username="maya", first_name="Maya", roles=[MARKETING])
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    collect_errors(page, errors)
    log_in(page, live_server, "maya")
    SHOTS.mkdir(parents=True, exist_ok=True)
    yield page
    context.close()
    assert errors == []


def test_add_a_rule_to_a_draft_and_publish_it(page, live_server):
    directors = LeadFactory.create_batch(3)
    LeadFactory(seniority="manager", job_title="Engineer")
    TouchpointFactory(
        lead=directors[0],
        kind_id="webinar_attended",
        occurred_at=timezone.now(),
        properties={"topic": "Lead scoring 101"},
    )

    page.click("nav.mainnav >> text=Scoring")
    assert page.locator("h1").inner_text() == "Scoring models"
    page.screenshot(path=str(SHOTS / "scoring-models.png"), full_page=True)
    page.click("text=New draft from Default v1")
    assert page.locator("h1").inner_text().startswith("Default v2")

    page.click("#rules-engagement >> text=Add engagement rule")
    page.wait_for_load_state()
    # The form shows only what an engagement rule uses (expect waits for the
    # page's script).
    assert page.is_checked("#id_kind_1")
    expect(page.locator("#id_attribute")).to_be_hidden()
    expect(page.locator("#id_touchpoint_kind")).to_be_visible()
    page.check("#id_kind_0")
    expect(page.locator("#id_attribute")).to_be_visible()
    expect(page.locator("#id_touchpoint_kind")).to_be_hidden()
    page.check("#id_kind_1")
    page.fill("#id_label", "Scoring webinar attended")
    page.fill("#id_points", "35")
    page.select_option("#id_touchpoint_kind", "webinar_attended")
    page.fill("#id_property_name", "topic")
    page.select_option("#id_property_operator", "contains")
    expect(page.locator("[data-value-for=id_property_operator] .help")).to_have_text(
        "Text the value contains, such as /pricing."
    )
    page.fill("#id_property_value", "scoring")
    page.fill("#id_max_occurrences", "1")
    page.screenshot(path=str(SHOTS / "scoring-rule-form.png"), full_page=True)
    page.click("button[type=submit] >> text=Add rule")

    draft = ScoringModel.objects.get(status="draft")
    rule = ScoringRule.objects.get(model=draft, label="Scoring webinar attended")
    assert page.url == f"{live_server.url}/scoring/{draft.id}/#rule-{rule.id}"
    row = page.locator(f"#rule-{rule.id}")
    assert row.locator("td").nth(1).inner_text() == (
        "Each webinar attendance where topic contains scoring"
    )
    page.screenshot(path=str(SHOTS / "scoring-draft.png"), full_page=True)

    page.click("text=Publish…")
    # The webinar attendee under the neutral default: director 15, plus 12
    # (the default webinar rule) and 35 (the new rule) = 62: an MQL.
    assert page.inner_text("#sim-scored") == "4"
    assert page.inner_text("#sim-new-mqls") == "1"
    page.screenshot(path=str(SHOTS / "scoring-publish.png"), full_page=True)
    page.click("text=Publish and rescore 4 leads")

    assert page.url == f"{live_server.url}/scoring/{draft.id}/"
    assert page.inner_text(".messages") == (
        "Default v2 is now the active scoring model. Every lead is being rescored "
        "under it."
    )
    expect(page.locator("#rescore")).to_have_attribute("data-state", "finished")
    assert page.inner_text("#rescore-text").startswith("Rescored 4 leads; finished ")
    assert model_active().id == draft.id
    attendee = Lead.objects.get(id=directors[0].id)
    assert (attendee.score, attendee.stage) == (62, "mql")
    page.screenshot(path=str(SHOTS / "scoring-published.png"), full_page=True)


def test_the_model_page_follows_a_running_rescore(page, live_server):
    active = model_active()
    ScoringModel.objects.filter(id=active.id).update(
        rescore_total=4, rescore_done=1, published_at=timezone.now()
    )

    page.goto(f"{live_server.url}/scoring/{active.id}/")
    assert page.inner_text("#rescore-text") == "Rescoring: 1 of 4 leads (25%)."
    page.screenshot(path=str(SHOTS / "scoring-rescore-running.png"), full_page=True)
    ScoringModel.objects.filter(id=active.id).update(
        rescore_done=4, rescore_finished_at=timezone.now()
    )

    expect(page.locator("#rescore")).to_have_attribute(
        "data-state", "finished", timeout=5_000
    )
    assert page.inner_text("#rescore-text").startswith("Rescored 4 leads; finished ")
    assert page.eval_on_selector("#rescore progress", "el => el.value") == 100


def test_the_publish_page_follows_its_preview_until_the_counts_are_ready(
    page, live_server
):
    # Given a draft whose preview is still being counted by the bulk worker
    LeadFactory.create_batch(4)
    draft = services.model_clone(model=model_active())
    preview = PublishPreview.objects.create(
        model=draft,
        active=model_active(),
        fingerprint=previews.spec_fingerprint(model_spec(draft)),
        scored_at=timezone.now(),
        total=4,
        done=1,
    )

    # When the publish page is opened, it says so and follows the progress
    page.goto(f"{live_server.url}/scoring/{draft.id}/publish/")
    assert page.inner_text("#preview-text") == "Calculating: 1 of 4 leads (25%)."
    page.screenshot(path=str(SHOTS / "scoring-publish-calculating.png"), full_page=True)
    for chunk_id in previews.publish_preview_plan(preview_id=preview.id):
        previews.publish_preview_chunk_run(chunk_id=chunk_id)

    # Then, once the counts are ready, it shows them
    expect(page.locator("#sim-scored")).to_have_text("4", timeout=5_000)
    expect(page.locator("#sim-new-mqls")).to_have_text("0")
    expect(page.locator("button.btn-primary")).to_have_text(
        "Publish and rescore 4 leads"
    )
    assert PublishPreview.objects.filter(model=draft).count() == 1


def test_a_refused_pattern_and_a_failed_publish_on_the_page(page, live_server):
    LeadFactory.create_batch(3)
    draft = services.model_clone(model=model_active())
    page.goto(f"{live_server.url}/scoring/{draft.id}/rules/add/?kind=fit")
    page.fill("#id_label", "Repeated word")
    page.fill("#id_points", "5")
    page.fill("#id_attribute", "job_title")
    page.select_option("#id_operator", "matches")
    page.fill("#id_value", r"(\w+) \1")
    page.click("button[type=submit] >> text=Add rule")
    page.wait_for_load_state()
    expect(page.locator(".field-error")).to_have_text(
        "This pattern uses a back-reference (\\1), which the rule engine does not "
        "run; write the repeated text out instead."
    )
    page.screenshot(
        path=str(SHOTS / "scoring-rule-refused-pattern.png"), full_page=True
    )

    # A publish whose rescore failed (recorded as rescore_run_fail does).
    ScoringModel.objects.filter(id=draft.id).update(
        replaced=model_active(),
        rescore_total=3,
        rescore_done=1,
        rescore_failed_at=timezone.now(),
        rescore_error="RuntimeError while rescoring leads 2 to 3",
    )
    page.goto(f"{live_server.url}/scoring/{draft.id}/")
    expect(page.locator("#rescore-text")).to_contain_text("The rescore failed on")
    page.screenshot(path=str(SHOTS / "scoring-publish-failed.png"), full_page=True)
    page.click("text=Retry publishing")
    page.wait_for_load_state()
    expect(page.locator(".badge-active")).to_be_visible()
    page.screenshot(path=str(SHOTS / "scoring-publish-retried.png"), full_page=True)


def test_the_rule_form_suggests_keys_and_values_from_the_leads_data(page, live_server):
    for plan, size in [
        ("Enterprise", "6-20"),
        ("enterprise", "21-50"),
        ("Starter", "6-20"),
        ("Team", None),
    ]:
        attributes = {"plan_interest": plan}
        if size:
            attributes["team_size"] = size
        LeadFactory(attributes=attributes)
    draft = services.model_clone(model=model_active())

    page.goto(f"{live_server.url}/scoring/{draft.id}/rules/add/?kind=disqualifying")
    page.fill("#id_label", "Not on a paid plan")
    page.click("summary >> text=Attributes in your leads' data")
    page.click("[data-fill-attribute='attributes.plan_interest']")
    assert page.input_value("#id_attribute") == "attributes.plan_interest"
    values = page.locator("#attribute-values [data-fill-value]")
    expect(values).to_have_count(3)
    assert [" ".join(t.split()) for t in values.all_inner_texts()] == [
        "Enterprise 2",
        "Starter 1",
        "Team 1",
    ]
    page.select_option("#id_operator", "none_of")
    expect(page.locator("[data-value-for=id_operator] .help")).to_contain_text(
        "Also holds when the field is empty or missing."
    )
    page.click("[data-fill-value='Enterprise']")
    page.click("[data-fill-value='Team']")
    assert page.input_value("#id_value") == "Enterprise, Team"
    page.screenshot(path=str(SHOTS / "scoring-rule-suggestions.png"), full_page=True)
    page.click("button[type=submit] >> text=Add rule")

    rule = ScoringRule.objects.get(model=draft, label="Not on a paid plan")
    assert (rule.attribute, rule.operator, rule.value) == (
        "attributes.plan_interest",
        "none_of",
        ["Enterprise", "Team"],
    )
    row = page.locator(f"#rule-{rule.id}")
    assert row.locator("td").nth(1).inner_text() == (
        "Plan interest is none of Enterprise or Team"
    )


def test_the_suggest_section_follows_a_running_suggestion(page, live_server):
    draft = services.model_clone(model=model_active())
    suggestion = ModelSuggestion.objects.create(
        outcome="sql",
        cut_off=timezone.now(),
        name="Suggested points",
        status=ModelSuggestion.Status.RUNNING,
        stage=ModelSuggestion.Stage.CANDIDATES,
        done=2_500,
        total=5_000,
    )

    page.goto(f"{live_server.url}/scoring/#suggest")
    status = page.locator("#suggest-text")
    expect(status).to_have_text(
        "Scoring the candidate rules: 2,500 of 5,000 leads scored (32% in all)."
    )
    expect(page.locator("#suggest button[type=submit]")).to_be_disabled()
    ModelSuggestion.objects.filter(id=suggestion.id).update(
        stage=ModelSuggestion.Stage.VALIDATING, done=0, total=600
    )
    expect(status).to_have_text(
        "Validating on the later leads: 0 of 600 leads scored (75% in all).",
        timeout=10_000,
    )
    page.locator("#suggest").screenshot(path=str(SHOTS / "scoring-suggest-running.png"))
    ModelSuggestion.objects.filter(id=suggestion.id).update(
        status=ModelSuggestion.Status.DONE,
        in_progress=None,
        draft=draft,
        auc_active=0.61,
        auc_suggested=0.74,
        result={"rules": 12},
        finished_at=timezone.now(),
    )

    # Polled every 2 seconds, the section shows the draft once it is done.
    expect(page.locator("#suggest-text a")).to_have_text(
        f"{draft.name} v{draft.version}", timeout=10_000
    )
    expect(status).to_contain_text("12 rules, AUC on later leads 0.740")
    expect(page.locator("#suggest button[type=submit]")).to_be_enabled()
    page.locator("#suggest").screenshot(path=str(SHOTS / "scoring-suggest-done.png"))
