"""The scoring screens: models list, rule editor, settings, publish and progress."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.utils import timezone

from crm.roles import ADMIN, MARKETING, SALES, SDR
from leads.models import Lead
from scoring import services
from scoring.models import LeadScore, PublishPreview, ScoringModel, ScoringRule
from scoring.selectors import model_active
from scoring.simulation import model_simulate
from tests.factories import AccountFactory, LeadFactory, TouchpointFactory, UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("b2b_model")]


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def _rules(model: ScoringModel) -> list[tuple]:
    return list(
        ScoringRule.objects.filter(model=model)
        .order_by("position", "id")
        .values_list("id", "position", "kind", "label", "points")
    )


# Who may see the screens
# ------------------------------------------------------------------------------


def _pages(draft: ScoringModel) -> list[str]:
    rule = draft.rules.order_by("position").first()
    return [
        "/scoring/",
        f"/scoring/{draft.id}/",
        f"/scoring/{draft.id}/progress/",
        f"/scoring/{draft.id}/settings/",
        f"/scoring/{draft.id}/publish/",
        f"/scoring/{draft.id}/rules/add/",
        f"/scoring/{draft.id}/rules/{rule.id}/",
        f"/scoring/{draft.id}/rules/{rule.id}/delete/",
    ]


@pytest.mark.parametrize("role", [MARKETING, ADMIN])
def test_marketing_and_admin_open_every_scoring_page(client, draft, role):
    client.force_login(UserFactory(roles=[role]))
    for page in _pages(draft):
        assert (page, client.get(page).status_code) == (page, 200)


@pytest.mark.parametrize("role", [SDR, SALES])
def test_sdr_and_sales_are_refused_every_scoring_page(client, draft, role):
    client.force_login(UserFactory(roles=[role]))
    for page in _pages(draft):
        assert (page, client.get(page).status_code) == (page, 403)
    response = client.post(f"/scoring/{draft.id}/publish/")
    assert response.status_code == 403
    assert ScoringModel.objects.get(id=draft.id).status == "draft"


def test_a_visitor_is_sent_to_the_login_page(client):
    response = client.get("/scoring/")
    assert (response.status_code, response.url) == (
        302,
        "/accounts/login/?next=/scoring/",
    )


@pytest.mark.parametrize(("role", "shown"), [(MARKETING, True), (SDR, False)])
def test_the_scoring_nav_item_is_for_marketing(client, role, shown):
    client.force_login(UserFactory(roles=[role]))
    response = client.get("/leads/")
    labels = [item["label"] for item in response.context["nav_items"]]
    assert ("Scoring" in labels) is shown


# Models list and model page
# ------------------------------------------------------------------------------


def test_the_list_shows_each_model_with_status_rules_and_progress(
    marketer_client, draft
):
    response = marketer_client.get("/scoring/")

    rows = [
        (
            row["model"].name,
            row["model"].version,
            row["model"].status,
            row["model"].rules_count,
            row["progress"].state,
        )
        for row in response.context["rows"]
    ]
    assert rows == [
        ("B2B demo", 1, "active", 20, "none"),
        ("B2B demo", 2, "draft", 20, "none"),
        ("Default", 1, "archived", 11, "none"),
    ]
    assert b'<span class="badge badge-draft">Draft</span>' in response.content


def test_a_published_model_is_read_only_with_a_clone_button(marketer_client):
    active = model_active()
    response = marketer_client.get(f"/scoring/{active.id}/")

    html = response.content.decode()
    groups = [(g.kind, len(g.rows)) for g in response.context["groups"]]
    assert groups == [
        ("fit", 8),
        ("engagement", 6),
        ("negative", 3),
        ("disqualifying", 3),
    ]
    assert "Clone to new draft" in html
    assert "Add fit rule" not in html
    assert "/rules/reorder/" not in html
    assert "Seniority is one of Executive (C-level, founder) or Vice president" in html
    assert "Each page view where url contains /pricing<" in html
    assert "at most 3 · half-life 14 days" in html
    # Points in the format of every score: one decimal.
    assert ">+20.0<" in html
    assert ">+10.0 each<" in html
    assert ">\u221210.0 each<" in html


def test_a_draft_page_has_the_rule_editor(marketer_client, draft):
    response = marketer_client.get(f"/scoring/{draft.id}/")

    html = response.content.decode()
    assert "Add fit rule" in html
    assert html.count(f'action="/scoring/{draft.id}/rules/reorder/"') == 40
    assert f'href="/scoring/{draft.id}/publish/"' in html
    assert "Clone to new draft" not in html


def test_clone_makes_a_draft_and_opens_it(marketer_client, marketer):
    active = model_active()

    response = marketer_client.post(f"/scoring/{active.id}/clone/")

    draft = ScoringModel.objects.get(status="draft")
    assert (draft.name, draft.version, draft.created_by) == ("B2B demo", 2, marketer)
    assert response.url == f"/scoring/{draft.id}/"
    assert _messages(response) == [
        "B2B demo v2 is a new draft with the rules of B2B demo v1. Change it, "
        "then publish it."
    ]


# Adding, editing, deleting and moving rules
# ------------------------------------------------------------------------------


def test_adding_a_rule_to_a_draft(marketer_client, draft):
    response = marketer_client.post(
        f"/scoring/{draft.id}/rules/add/",
        {
            "kind": "engagement",
            "label": "Case study download",
            "points": "6",
            "touchpoint_kind": "content_download",
            "property_name": "asset",
            "property_operator": "contains",
            "property_value": "case study",
            "max_occurrences": "2",
            "lookback_days": "",
            "half_life_days": "",
            # Left over in the hidden fit fields: not stored.
            "attribute": "seniority",
            "operator": "equals",
            "value": "vp",
        },
    )

    rule = ScoringRule.objects.get(model=draft, label="Case study download")
    assert response.url == f"/scoring/{draft.id}/#rule-{rule.id}"
    assert (rule.position, rule.points, rule.max_occurrences, rule.attribute) == (
        21,
        Decimal("6.00"),
        2,
        "",
    )
    assert (rule.property_name, rule.property_value) == ("asset", "case study")
    assert _messages(response) == ["Rule “Case study download” added."]


def test_a_bad_rule_shows_the_message_next_to_the_field_and_saves_nothing(
    marketer_client, draft
):
    before = _rules(draft)

    response = marketer_client.post(
        f"/scoring/{draft.id}/rules/add/",
        {
            "kind": "fit",
            "label": "Big budget",
            "points": "10",
            "attribute": "account.annual_revenue",
            "operator": "between",
            "value": "5000000, 1000000",
        },
    )

    assert response.status_code == 200
    assert response.context["form"].errors == {
        "value": ["The lower number comes first: 1000000, 5000000."]
    }
    assert (
        '<p class="field-error">The lower number comes first: 1000000, 5000000.</p>'
        in response.content.decode()
    )
    assert _rules(draft) == before


def test_a_pattern_with_a_back_reference_is_refused_next_to_the_value(
    marketer_client, draft
):
    before = _rules(draft)

    response = marketer_client.post(
        f"/scoring/{draft.id}/rules/add/",
        {
            "kind": "fit",
            "label": "Repeated word",
            "points": "5",
            "attribute": "job_title",
            "operator": "matches",
            "value": r"(\w+) \1",
        },
    )

    message = (
        "This pattern uses a back-reference (\\1), which the rule engine does not "
        "run; write the repeated text out instead."
    )
    assert response.status_code == 200
    assert response.context["form"].errors == {"value": [message]}
    assert f'<p class="field-error">{message}</p>' in response.content.decode()
    assert _rules(draft) == before


def test_the_rule_form_starts_with_the_kind_asked_for(marketer_client, draft):
    response = marketer_client.get(f"/scoring/{draft.id}/rules/add/?kind=negative")
    assert response.context["form"]["kind"].value() == "negative"
    assert b'<script src="/static/js/scoring_rule_form.js" defer></script>' in (
        response.content
    )


def test_editing_a_rule_shows_its_values_and_saves_the_change(marketer_client, draft):
    rule = ScoringRule.objects.get(model=draft, label="Target industry")

    form = marketer_client.get(f"/scoring/{draft.id}/rules/{rule.id}/").context["form"]
    assert form["value"].value() == (
        "software, financial_services, professional_services, telecom"
    )

    data = {**form.initial, "value": "software, telecom", "points": "12"}
    data = {k: "" if v is None else v for k, v in data.items()}
    response = marketer_client.post(f"/scoring/{draft.id}/rules/{rule.id}/", data)

    rule.refresh_from_db()
    assert response.url == f"/scoring/{draft.id}/#rule-{rule.id}"
    assert (rule.value, rule.points) == (["software", "telecom"], Decimal("12.00"))


def test_a_rule_of_another_model_is_not_found(marketer_client, draft):
    other = model_active().rules.first()
    assert (
        marketer_client.get(f"/scoring/{draft.id}/rules/{other.id}/").status_code == 404
    )


def test_deleting_asks_first_then_deletes(marketer_client, draft):
    rule = ScoringRule.objects.get(model=draft, label="Manager")

    confirm = marketer_client.get(f"/scoring/{draft.id}/rules/{rule.id}/delete/")
    assert b"Delete this rule?" in confirm.content
    assert ScoringRule.objects.filter(id=rule.id).exists()

    response = marketer_client.post(f"/scoring/{draft.id}/rules/{rule.id}/delete/")

    assert response.url == f"/scoring/{draft.id}/"
    assert not ScoringRule.objects.filter(id=rule.id).exists()
    assert _messages(response) == ["Rule “Manager” deleted."]


def test_moving_a_rule_up_swaps_it_with_the_rule_above_of_its_kind(
    marketer_client, draft
):
    page = marketer_client.get(f"/scoring/{draft.id}/")
    fit = page.context["groups"][0].rows
    second = fit[1]
    assert second.rule.label == "Director or head of a function"

    response = marketer_client.post(
        f"/scoring/{draft.id}/rules/reorder/",
        {"rule_ids": second.move_up, "moved": second.rule.id},
    )

    assert response.url == f"/scoring/{draft.id}/#rule-{second.rule.id}"
    labels = list(
        ScoringRule.objects.filter(model=draft, kind="fit")
        .order_by("position")
        .values_list("label", flat=True)[:2]
    )
    assert labels == ["Director or head of a function", "Decision maker: C-level or VP"]


def test_a_stale_move_is_refused_with_a_message(marketer_client, draft):
    page = marketer_client.get(f"/scoring/{draft.id}/")
    move = page.context["groups"][0].rows[1].move_up
    services.rule_delete(rule=draft.rules.order_by("position").last())
    before = _rules(draft)

    response = marketer_client.post(
        f"/scoring/{draft.id}/rules/reorder/", {"rule_ids": move}
    )

    assert response.url == f"/scoring/{draft.id}/"
    assert _messages(response) == [
        "The rules of this model changed since the page was loaded; reload it and "
        "move the rule again."
    ]
    assert _rules(draft) == before


def test_editing_an_active_model_is_refused_with_a_message(marketer_client):
    active = model_active()
    before = _rules(active)

    response = marketer_client.post(
        f"/scoring/{active.id}/rules/add/",
        {
            "kind": "fit",
            "label": "x",
            "points": "1",
            "attribute": "country",
            "operator": "equals",
            "value": "US",
        },
    )

    assert response.url == f"/scoring/{active.id}/"
    assert _messages(response) == [
        "Only drafts can be edited; clone this model into a new draft first."
    ]
    assert _rules(active) == before


# Settings
# ------------------------------------------------------------------------------


def test_settings_are_saved(marketer_client, draft):
    response = marketer_client.post(
        f"/scoring/{draft.id}/settings/",
        {
            "mql_threshold": "70",
            "min_fit_score": "",
            "default_half_life_days": "45",
            "grade_a_min": "40",
            "grade_b_min": "25",
            "grade_c_min": "10",
            "notes": "Slower decay.",
        },
    )

    draft.refresh_from_db()
    assert response.url == f"/scoring/{draft.id}/"
    assert (draft.mql_threshold, draft.default_half_life_days, draft.notes) == (
        Decimal("70.00"),
        45,
        "Slower decay.",
    )


def test_grade_bands_out_of_order_are_refused(marketer_client, draft):
    response = marketer_client.post(
        f"/scoring/{draft.id}/settings/",
        {
            "mql_threshold": "70",
            "default_half_life_days": "30",
            "grade_a_min": "40",
            "grade_b_min": "45",
            "grade_c_min": "10",
        },
    )

    assert response.context["form"].errors == {
        "grade_b_min": ["Grade B must start below grade A (40)."]
    }
    assert ScoringModel.objects.get(id=draft.id).mql_threshold == Decimal("60.00")


# Publishing: what would change, the publish, the progress
# ------------------------------------------------------------------------------


@pytest.fixture
def simulation_leads(db) -> dict[str, Lead]:
    """Five leads and an erased one. Under the active (default) model:

    - ``climber``: director, fit 25 (B), total 25: does not qualify;
    - ``recycled``: director at a fit account, fit 50 (A), demo request: qualifies,
      in nurture;
    - ``engineer``: manager without a go-to-market title, fit 13 (C);
    - ``abroad``: like ``recycled`` but in Latin America: gated;
    - ``vp``: VP at a fit account with a demo request, fit 55 (A), already MQL.
    """
    account = {"account": AccountFactory(employee_count=250, industry="software")}
    leads = {
        "climber": LeadFactory(),
        "recycled": LeadFactory(stage="nurture", **account),
        "engineer": LeadFactory(seniority="manager", job_title="Engineer"),
        "abroad": LeadFactory(country="BR", region="latam", **account),
        "vp": LeadFactory(seniority="vp", stage="mql", **account),
    }
    for name in ("recycled", "abroad", "vp"):
        # Relative to the real time: the publish page and the rescore score now.
        TouchpointFactory(
            lead=leads[name],
            kind_id="demo_request",
            occurred_at=timezone.now() - dt.timedelta(days=1),
        )
    LeadFactory(erased_at=timezone.now())
    return leads


EXPECTED_SIMULATION = {
    "leads_scored": 5,
    # climber (lead) and recycled (nurture); not vp (already MQL), not abroad.
    "would_become_mql": 2,
    "held_in_cool_down": 0,
    # vp qualifies under the default model, not as a VP under the draft.
    "no_longer_qualifying": 1,
    "grades": {"A": 0, "B": 0, "C": 3, "D": 2},
    "active_grades": {"A": 3, "B": 1, "C": 1, "D": 0},
}


def test_simulation_counts_what_publishing_would_change(
    simulation_leads, directors_draft
):
    before = list(Lead.objects.order_by("id").values_list("stage", "score"))

    counts = model_simulate(model=directors_draft, now=timezone.now())

    assert counts == EXPECTED_SIMULATION
    assert list(Lead.objects.order_by("id").values_list("stage", "score")) == before
    assert not LeadScore.objects.exists()


def test_the_publish_page_calculates_in_the_background_then_shows_the_changes(
    marketer_client,
    simulation_leads,
    directors_draft,
    django_capture_on_commit_callbacks,
):
    # When the page is opened, the preview is only asked for (its task runs
    # once the request's work is committed)
    with django_capture_on_commit_callbacks(execute=True):
        response = marketer_client.get(f"/scoring/{directors_draft.id}/publish/")

    # Then the page says it is calculating and follows the progress
    preview = PublishPreview.objects.get(model=directors_draft)
    assert response.context["simulation"] is None
    assert response.context["progress"].state == "running"
    html = response.content.decode()
    assert "Calculating what publishing would change" in html
    assert f'data-progress-url="/scoring/{directors_draft.id}/publish/preview/' in html
    assert '<script src="/static/js/scoring_model_publish.js" defer></script>' in html
    assert "Publish and rescore every lead" in html

    # And once the task has counted, the progress says so and the page shows
    # the counts
    progress = marketer_client.get(
        f"/scoring/{directors_draft.id}/publish/preview/{preview.id}/"
    ).json()
    preview.refresh_from_db()
    local = timezone.localtime(preview.finished_at)
    assert progress == {
        "id": preview.id,
        "state": "finished",
        "total": 5,
        "done": 5,
        "percent": 100,
        "finished_at": preview.finished_at.isoformat(),
        "text": f"Counted 5 leads at {local:%-d %b %Y, %H:%M}.",
    }
    response = marketer_client.get(f"/scoring/{directors_draft.id}/publish/")
    assert response.context["simulation"] == EXPECTED_SIMULATION
    assert [
        (row["grade"], row["now"], row["after"], row["change"])
        for row in response.context["grade_rows"]
    ] == [("A", 3, 0, -3), ("B", 1, 0, -1), ("C", 1, 3, 2), ("D", 0, 2, 2)]
    html = response.content.decode()
    assert '<span class="stat-value" id="sim-new-mqls">2</span>' in html
    assert "Publish and rescore 5 leads" in html
    assert "scoring_model_publish.js" not in html
    assert PublishPreview.objects.filter(model=directors_draft).count() == 1
    assert ScoringModel.objects.get(id=directors_draft.id).status == "draft"


@pytest.mark.django_db(transaction=True)
def test_without_a_broker_the_publish_page_shows_the_changes_at_once(
    client, simulation_leads, directors_draft
):
    # Celery is eager and the request commits as production does: the
    # preview is counted before the page is rendered.
    client.force_login(UserFactory(roles=[MARKETING]))

    response = client.get(f"/scoring/{directors_draft.id}/publish/")

    assert response.context["simulation"] == EXPECTED_SIMULATION
    assert "Calculating" not in response.content.decode()


def test_the_progress_of_a_running_preview(marketer_client, directors_draft):
    preview = PublishPreview.objects.create(
        model=directors_draft,
        fingerprint="x",
        scored_at=timezone.now(),
        total=12_000,
        done=3_000,
    )

    progress = marketer_client.get(
        f"/scoring/{directors_draft.id}/publish/preview/{preview.id}/"
    ).json()

    assert progress == {
        "id": preview.id,
        "state": "running",
        "total": 12_000,
        "done": 3_000,
        "percent": 25,
        "finished_at": None,
        "text": "Calculating: 3,000 of 12,000 leads (25%).",
    }


def test_the_progress_of_another_models_preview_is_not_found(marketer_client, draft):
    other = services.model_clone(model=model_active())
    preview = PublishPreview.objects.create(
        model=other, fingerprint="x", scored_at=timezone.now()
    )

    response = marketer_client.get(f"/scoring/{draft.id}/publish/preview/{preview.id}/")

    assert response.status_code == 404


def test_count_again_starts_a_new_preview(
    marketer_client,
    simulation_leads,
    directors_draft,
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks(execute=True):
        marketer_client.get(f"/scoring/{directors_draft.id}/publish/")
    with django_capture_on_commit_callbacks(execute=True):
        response = marketer_client.post(
            f"/scoring/{directors_draft.id}/publish/preview/"
        )

    assert response.url == f"/scoring/{directors_draft.id}/publish/"
    statuses = list(
        PublishPreview.objects.filter(model=directors_draft)
        .order_by("id")
        .values_list("status", flat=True)
    )
    assert statuses == ["finished", "finished"]


def test_the_publish_page_of_an_empty_draft_says_to_add_a_rule(marketer_client):
    empty = ScoringModel.objects.create(name="Empty", version=1)
    response = marketer_client.get(f"/scoring/{empty.id}/publish/")
    assert response.context["simulation"] is None
    assert b"Add at least one rule before publishing." in response.content
    assert b"Publish and rescore" not in response.content


def test_publishing_rescores_and_the_page_shows_the_progress(
    marketer_client,
    marketer,
    simulation_leads,
    directors_draft,
    django_capture_on_commit_callbacks,
):
    old = model_active()

    with django_capture_on_commit_callbacks(execute=True):
        response = marketer_client.post(f"/scoring/{directors_draft.id}/publish/")

    assert response.url == f"/scoring/{directors_draft.id}/"
    model = ScoringModel.objects.get(id=directors_draft.id)
    assert (model.status, model.published_by, model.rescore_total) == (
        "active",
        marketer,
        5,
    )
    assert ScoringModel.objects.get(id=old.id).status == "archived"
    stages = {
        name: Lead.objects.get(id=lead.id).stage
        for name, lead in simulation_leads.items()
    }
    assert stages == {
        "climber": "mql",
        "recycled": "mql",
        "engineer": "lead",
        "abroad": "lead",
        "vp": "mql",
    }
    progress = marketer_client.get(f"/scoring/{model.id}/progress/").json()
    finished = model.rescore_finished_at
    local = timezone.localtime(finished)
    assert progress == {
        "id": model.id,
        "status": "active",
        "state": "finished",
        "total": 5,
        "done": 5,
        "percent": 100,
        "finished_at": finished.isoformat(),
        "failed_at": None,
        "error": "",
        "text": f"Rescored 5 leads; finished {local:%-d %b %Y, %H:%M}.",
    }
    page = marketer_client.get(response.url)
    assert b'data-state="finished"' in page.content


def test_progress_while_the_rescore_runs(marketer_client, directors_draft):
    ScoringModel.objects.filter(status="active").update(status="archived")
    ScoringModel.objects.filter(id=directors_draft.id).update(
        status="active", rescore_total=1200, rescore_done=300
    )

    progress = marketer_client.get(f"/scoring/{directors_draft.id}/progress/").json()
    page = marketer_client.get(f"/scoring/{directors_draft.id}/")

    assert progress == {
        "id": directors_draft.id,
        "status": "active",
        "state": "running",
        "total": 1200,
        "done": 300,
        "percent": 25,
        "finished_at": None,
        "failed_at": None,
        "error": "",
        "text": "Rescoring: 300 of 1,200 leads (25%).",
    }
    assert b'<script src="/static/js/scoring_model_detail.js" defer></script>' in (
        page.content
    )
    assert b'value="25"' in page.content


def test_publishing_a_model_that_is_no_longer_a_draft_is_refused(marketer_client):
    active = model_active()

    response = marketer_client.post(f"/scoring/{active.id}/publish/")

    assert response.url == f"/scoring/{active.id}/"
    assert _messages(response) == [
        "Only a draft can be published; this model is active."
    ]
    active.refresh_from_db()
    assert (active.status, active.rescore_total) == ("active", 0)


def test_a_failed_publish_shows_why_and_retries_from_the_model_page(
    marketer_client, directors_draft, django_capture_on_commit_callbacks
):
    # Given a publish whose rescore failed and was undone
    old = model_active()
    LeadFactory.create_batch(3)
    failed_at = timezone.now()
    ScoringModel.objects.filter(id=directors_draft.id).update(
        replaced=old,
        rescore_total=3,
        rescore_done=1,
        rescore_failed_at=failed_at,
        rescore_error="RuntimeError while rescoring leads 2 to 2",
    )

    # When the model page is shown
    page = marketer_client.get(f"/scoring/{directors_draft.id}/")

    # Then it says what failed and offers a retry
    local = timezone.localtime(failed_at)
    html = page.content.decode()
    assert 'data-state="failed"' in html
    assert (
        f"The rescore failed on {local:%-d %b %Y, %H:%M} after 1 of 3 leads "
        "(RuntimeError while rescoring leads 2 to 2). Publishing was undone: the "
        "model it replaced is active again. Retry, or change the rules first."
    ) in html
    assert (
        f'<form method="post" action="/scoring/{directors_draft.id}/publish/retry/">'
        in html
    )

    # And the retry publishes it again
    with django_capture_on_commit_callbacks(execute=True):
        response = marketer_client.post(f"/scoring/{directors_draft.id}/publish/retry/")
    assert response.status_code == 302
    assert _messages(response) == [
        "Directors v1 is the active scoring model again. Every lead is being "
        "rescored under it."
    ]
    model = ScoringModel.objects.get(id=directors_draft.id)
    assert (model.status, model.rescore_failed_at, model.rescore_done) == (
        "active",
        None,
        3,
    )
    assert ScoringModel.objects.get(id=old.id).status == "archived"


def test_retrying_a_publish_that_did_not_fail_is_refused(
    marketer_client, directors_draft
):
    response = marketer_client.post(f"/scoring/{directors_draft.id}/publish/retry/")

    assert response.status_code == 302
    assert _messages(response) == ["Only a publish that failed can be retried."]
    assert ScoringModel.objects.get(id=directors_draft.id).status == "draft"


# "is not", "is none of" and the suggestions from the leads' data
# ------------------------------------------------------------------------------


def test_a_rule_saying_is_not_or_none_of_is_added_and_reads_as_a_sentence(
    marketer_client, draft
):
    marketer_client.post(
        f"/scoring/{draft.id}/rules/add/",
        {
            "kind": "fit",
            "label": "Outside Germany",
            "points": "5",
            "attribute": "country",
            "operator": "not_equals",
            "value": "DE",
        },
    )
    marketer_client.post(
        f"/scoring/{draft.id}/rules/add/",
        {
            "kind": "disqualifying",
            "label": "Not our verticals",
            "attribute": "account.industry",
            "operator": "none_of",
            "value": "retail, education",
        },
    )

    outside = ScoringRule.objects.get(model=draft, label="Outside Germany")
    verticals = ScoringRule.objects.get(model=draft, label="Not our verticals")
    assert (outside.operator, outside.value) == ("not_equals", "DE")
    assert (verticals.operator, verticals.value) == (
        "none_of",
        ["retail", "education"],
    )
    html = marketer_client.get(f"/scoring/{draft.id}/").content.decode()
    assert "Country is not Germany" in html
    assert "Account industry is none of Retail &amp; e-commerce or Education" in html
    form = marketer_client.get(f"/scoring/{draft.id}/rules/{verticals.id}/")
    assert form.context["form"].initial["value"] == "retail, education"
    assert '<option value="none_of" selected>is none of</option>' in (
        form.content.decode()
    )


def test_none_of_without_options_is_refused_next_to_the_value(marketer_client, draft):
    before = _rules(draft)

    response = marketer_client.post(
        f"/scoring/{draft.id}/rules/add/",
        {
            "kind": "fit",
            "label": "Not these",
            "points": "5",
            "attribute": "country",
            "operator": "none_of",
            "value": " , ",
        },
    )

    assert response.context["form"].errors == {
        "value": ["Enter at least one option, separated by commas."]
    }
    assert _rules(draft) == before


def test_the_rule_form_lists_the_attribute_keys_of_the_leads_data(
    marketer_client, draft
):
    LeadFactory(attributes={"plan_interest": "Enterprise", "team_size": "6-20"})
    LeadFactory(attributes={"plan_interest": "Starter"})

    response = marketer_client.get(f"/scoring/{draft.id}/rules/add/")

    html = response.content.decode()
    assert [(k.path, k.leads) for k in response.context["data_keys"].keys] == [
        ("attributes.plan_interest", 2),
        ("attributes.team_size", 1),
    ]
    assert (
        '<option value="attributes.plan_interest">Plan interest · 2 leads</option>'
        in (html)
    )
    assert '<option value="attributes.team_size">Team size · 1 lead</option>' in html
    assert 'data-fill-attribute="attributes.plan_interest"' in html
    assert 'hx-get="/scoring/attribute-values/"' in html


def test_the_values_of_the_picked_key_come_as_buttons_with_counts(marketer_client):
    for plan in ("Enterprise", "enterprise", "Starter"):
        LeadFactory(attributes={"plan": plan})

    response = marketer_client.get(
        "/scoring/attribute-values/", {"attribute": "attributes.plan"}
    )

    html = response.content.decode()
    assert response.context["suggested"].values[0].value == "Enterprise"
    assert "Most frequent values of Plan (3 of the newest 3 leads have it)" in html
    assert html.count("data-fill-value=") == 2
    assert 'data-fill-value="Enterprise"' in html
    assert 'data-fill-value="Starter"' in html


@pytest.mark.parametrize(
    "attribute", ["seniority", "attributes.a.b", "", "attributes."]
)
def test_no_values_are_suggested_for_a_field_or_a_key_a_rule_cannot_name(
    marketer_client, attribute
):
    LeadFactory(attributes={"a": {"b": 1}})

    response = marketer_client.get(
        "/scoring/attribute-values/", {"attribute": attribute}
    )

    assert response.status_code == 200
    assert response.context["suggested"] is None
    assert response.content.decode().strip() == ""


@pytest.mark.parametrize("role", [SDR, SALES])
def test_the_suggestions_are_for_rule_editors_only(client, role):
    client.force_login(UserFactory(roles=[role]))

    response = client.get("/scoring/attribute-values/", {"attribute": "attributes.x"})

    assert response.status_code == 403
