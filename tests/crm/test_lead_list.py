"""The lead list page: every role, filters, sort, keyset pages, counts, CSV."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from crm.common.keyset import SortKey
from crm.roles import ADMIN, MARKETING, SALES, SDR
from leads import selectors
from tests.browser import collect_errors, log_in
from tests.factories import AccountFactory, LeadFactory, UserFactory

URL = "/leads/"
EXPORT = "/leads/csv/"
T0 = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)


def emails(response: Any) -> list[str]:
    return [lead.email for lead in response.context["leads"]]


@pytest.fixture
def five() -> dict[str, Any]:
    sam = UserFactory(username="sam", first_name="Sam", last_name="Reyes", roles=[SDR])
    acme = AccountFactory(name="Acme Robotics", domain="acme.example")
    return {
        "ada": LeadFactory(
            email="ada@acme.example",
            first_name="Ada",
            last_name="Lovelace",
            account=acme,
            country="GB",
            stage="mql",
            owner=sam,
            score=Decimal("80"),
            created_at=dt.datetime(2026, 1, 10, 12, 0, tzinfo=dt.UTC),
        ),
        "bob": LeadFactory(
            email="bob@builder.example",
            first_name="Bob",
            country="US",
            stage="sal",
            score=Decimal("55.5"),
            created_at=dt.datetime(2026, 1, 20, 23, 59, tzinfo=dt.UTC),
        ),
        "cy": LeadFactory(
            email="cy@gmail.com",
            first_name="Cy",
            country="US",
            stage="lead",
            score=Decimal("10"),
            created_at=dt.datetime(2026, 2, 1, 0, 0, tzinfo=dt.UTC),
        ),
        "dee": LeadFactory(
            email="dee@acme.example",
            first_name="Dee",
            account=acme,
            country="DE",
            stage="mql",
            score=Decimal("55.5"),
            created_at=dt.datetime(2026, 2, 15, tzinfo=dt.UTC),
        ),
        "eve": LeadFactory(
            email="=eve@evil.example",
            first_name="@Eve",
            country="FR",
            stage="disqualified",
            score=Decimal("-5"),
            created_at=dt.datetime(2026, 3, 1, tzinfo=dt.UTC),
        ),
    }


# Who may open it
# ------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("role", [MARKETING, SDR, SALES, ADMIN])
def test_every_role_sees_the_lead_list_and_its_nav_item(client, role):
    client.force_login(UserFactory(roles=[role]))
    LeadFactory(email="seen@acme.example")

    response = client.get(URL)

    assert response.status_code == 200
    assert emails(response) == ["seen@acme.example"]
    nav = {item["label"]: item for item in response.context["nav_items"]}
    assert nav["Leads"]["url"] == URL
    assert nav["Leads"]["active"] is True


@pytest.mark.django_db
def test_user_without_a_role_may_not_see_leads(client):
    client.force_login(UserFactory())
    LeadFactory()

    assert client.get(URL).status_code == 403
    assert client.get(EXPORT).status_code == 403


@pytest.mark.django_db
def test_anonymous_is_sent_to_login(client):
    assert client.get(URL).url == "/accounts/login/?next=/leads/"
    assert client.get(EXPORT).url == "/accounts/login/?next=/leads/csv/"


# Filters and sort
# ------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ["eve", "dee", "cy", "bob", "ada"]),
        ("stage=mql", ["dee", "ada"]),
        ("stage=mql&stage=sal", ["dee", "bob", "ada"]),
        ("owner=sam", ["ada"]),
        ("country=us", ["cy", "bob"]),
        ("score_min=55.5&score_max=79", ["dee", "bob"]),
        ("created_from=2026-01-20", ["eve", "dee", "cy", "bob"]),
        # "to" includes that whole day.
        ("created_to=2026-01-20", ["bob", "ada"]),
        ("created_from=2026-01-11&created_to=2026-01-31", ["bob"]),
        ("q=robotics", ["dee", "ada"]),
        ("q=ada+lovelace", ["ada"]),
        ("sort=-score", ["ada", "dee", "bob", "cy", "eve"]),
        ("sort=score", ["eve", "cy", "bob", "dee", "ada"]),
        ("sort=created", ["ada", "bob", "cy", "dee", "eve"]),
        ("stage=mql&sort=-score&q=acme", ["ada", "dee"]),
    ],
)
def test_filters_and_sort(client, logged_in_marketer, five, query, expected):
    response = client.get(f"{URL}?{query}")

    assert response.status_code == 200
    assert emails(response) == [five[name].email for name in expected]


@pytest.mark.django_db
def test_bad_filters_are_shown_and_nothing_is_listed(client, logged_in_marketer, five):
    response = client.get(f"{URL}?score_min=lots&created_from=yesterday&stage=nope")

    assert response.status_code == 200
    assert emails(response) == []
    assert response.context["filters"].errors == {
        "score_min": ["Enter a number."],
        "created_from": ["Enter a valid date."],
        "stage": ["Select a valid choice. nope is not one of the available choices."],
    }
    content = response.content.decode()
    assert "Some filters could not be used" in content
    assert "Fix the filters above to see leads." in content


@pytest.mark.django_db
def test_form_keeps_the_chosen_filters(client, logged_in_marketer, five):
    response = client.get(f"{URL}?stage=mql&stage=sal&owner=sam&q=acme&sort=-score")

    content = response.content.decode()
    assert '<input type="checkbox" name="stage" value="mql" checked>' in content
    assert '<input type="checkbox" name="stage" value="sal" checked>' in content
    assert '<input type="checkbox" name="stage" value="lead">' in content
    assert '<option value="sam" selected>Sam Reyes</option>' in content
    assert '<option value="-score" selected>Highest score</option>' in content
    assert 'value="acme"' in content


@pytest.mark.django_db
def test_erased_leads_are_not_listed(client, logged_in_marketer):
    LeadFactory(email="gone@erased.invalid", erased_at=T0)
    LeadFactory(email="here@acme.example")

    assert emails(client.get(URL)) == ["here@acme.example"]


# Keyset pages and counts
# ------------------------------------------------------------------------------


@pytest.fixture
def many() -> list[Any]:
    # 120 leads, scores with ties: the pages must still be exact.
    return [
        LeadFactory(score=Decimal(i % 7), created_at=T0 + dt.timedelta(minutes=i))
        for i in range(120)
    ]


@pytest.mark.django_db
def test_pages_walk_forwards_and_back_without_offset(client, logged_in_marketer, many):
    expected = [
        lead.email for lead in sorted(many, key=lambda lead: (-lead.score, -lead.id))
    ]
    with CaptureQueriesContext(connection) as queries:
        first = client.get(f"{URL}?sort=-score&stage=lead")
        second = client.get(first.context["next_url"])
        third = client.get(second.context["next_url"])
        back = client.get(third.context["previous_url"])

    assert emails(first) + emails(second) + emails(third) == expected
    assert [len(emails(r)) for r in (first, second, third)] == [50, 50, 20]
    assert emails(back) == emails(second)
    assert third.context["next_url"] is None
    assert first.context["previous_url"] is None
    assert not [q for q in queries.captured_queries if "OFFSET" in q["sql"].upper()]
    assert "sort=-score" in second.context["next_url"]
    assert "stage=lead" in second.context["next_url"]
    assert first.context["is_first_page"] is True
    assert second.context["is_first_page"] is False


@pytest.mark.django_db
def test_count_is_shown_against_the_page(client, logged_in_marketer, many):
    response = client.get(URL)

    assert response.context["lead_count"] == selectors.LeadCount(120, "exact")
    assert "50 of 120 leads" in " ".join(response.content.decode().split())


@pytest.mark.django_db
def test_lead_count_stops_at_the_cap():
    LeadFactory.create_batch(6, stage="mql")
    LeadFactory(stage="lead")

    assert selectors.lead_count(cap=10, stages=["mql"]) == selectors.LeadCount(
        6, "exact"
    )
    assert selectors.lead_count(cap=5, stages=["mql"]) == selectors.LeadCount(
        5, "more_than"
    )


@pytest.mark.postgres
@pytest.mark.django_db
def test_unfiltered_count_beyond_the_cap_is_the_planners_estimate():
    LeadFactory.create_batch(5)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE leads_lead")

    assert selectors.lead_count(cap=2) == selectors.LeadCount(5, "about")
    assert selectors.lead_count(cap=2, stages=["lead"]) == selectors.LeadCount(
        2, "more_than"
    )


@pytest.mark.django_db
def test_a_cursor_of_another_sort_starts_over_at_the_first_page(
    client, logged_in_marketer, many
):
    first = client.get(f"{URL}?sort=-score")
    cursor = first.context["next_url"].split("cursor=")[1]

    response = client.get(f"{URL}?sort=created&cursor={cursor}")

    assert response.status_code == 200
    assert response.context["cursor_expired"] is True
    assert emails(response) == [lead.email for lead in many[:50]]
    assert "That page link no longer fits this list" in response.content.decode()


@pytest.mark.django_db
def test_a_page_costs_a_fixed_number_of_queries(
    client, logged_in_marketer, django_assert_num_queries
):
    owner = UserFactory(roles=[SALES])
    for _ in range(60):
        LeadFactory(owner=owner, account=AccountFactory())
    client.get(URL)

    # session, user, the user's permissions and groups (one statement), the
    # page, the capped count, the owner choices, the active model (the grade
    # legend).
    with django_assert_num_queries(7):
        response = client.get(f"{URL}?sort=-score")

    assert len(emails(response)) == 50


@pytest.mark.django_db
def test_lead_page_selector_pages_by_score_with_ties():
    leads = [LeadFactory(score=Decimal(i % 2)) for i in range(5)]
    sort = SortKey("score", descending=True)

    page, next_token, previous_token = selectors.lead_page(sort=sort, size=2)
    page2, _, back_token = selectors.lead_page(sort=sort, size=2, cursor=next_token)
    back, _, _ = selectors.lead_page(sort=sort, size=2, cursor=back_token)

    by_score = sorted(leads, key=lambda lead: (-lead.score, -lead.id))
    assert page.items == by_score[:2]
    assert page2.items == by_score[2:4]
    assert back.items == page.items
    assert previous_token is None


# CSV export
# ------------------------------------------------------------------------------


def _csv(response: Any) -> list[list[str]]:
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


@pytest.mark.django_db
def test_export_downloads_the_filtered_list_in_the_chosen_order(
    client, logged_in_marketer, five
):
    response = client.get(f"{EXPORT}?stage=mql&stage=disqualified&sort=-score")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == (
        f'attachment; filename="leads-{timezone.localdate():%Y%m%d}.csv"'
    )
    rows = _csv(response)
    assert rows[0] == list(selectors.LEAD_EXPORT_COLUMNS)
    assert rows[1] == [
        "ada@acme.example", "Ada", "Lovelace", "Head of Marketing", "director",
        "marketing", "GB", "north_america", "Acme Robotics", "acme.example", "mql",
        "lead", "80.00", "", "sam", "", "", "", "", "", "", "2026-01-10T12:00:00Z",
    ]  # fmt: skip
    assert [row[0] for row in rows[1:]] == [
        "ada@acme.example",
        "dee@acme.example",
        "'=eve@evil.example",
    ]
    assert rows[3][1] == "'@Eve"
    assert rows[3][12] == "-5.00"


@pytest.mark.django_db
def test_export_link_carries_the_filters_but_not_the_page(
    client, logged_in_marketer, many
):
    first = client.get(f"{URL}?stage=lead&sort=-score")
    second = client.get(first.context["next_url"])

    assert second.context["export_url"] == "/leads/csv/?stage=lead&sort=-score"
    assert 'href="/leads/csv/?stage=lead&amp;sort=-score"' in second.content.decode()


@pytest.mark.django_db
def test_export_with_bad_filters_goes_back_to_the_list(client, logged_in_marketer):
    response = client.get(f"{EXPORT}?score_min=lots")

    assert response.status_code == 302
    assert response.url == "/leads/?score_min=lots"


# In a real browser
# ------------------------------------------------------------------------------

SHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_filter_the_list_and_download_it_in_a_browser(browser, live_server, tmp_path):
    UserFactory(username="maya", roles=[MARKETING])
    acme = AccountFactory(name="Acme Robotics", domain="acme.example")
    for i in range(3):
        LeadFactory(
            email=f"mql{i}@acme.example",
            account=acme,
            stage="mql",
            score=Decimal(60 + i),
        )
    LeadFactory(email="low@acme.example", account=acme, stage="mql", score=Decimal(5))
    LeadFactory(email="cold@other.example", stage="lead", score=Decimal(90))

    context = browser.new_context(
        viewport={"width": 1360, "height": 900}, accept_downloads=True
    )
    page = context.new_page()
    errors: list[str] = []
    collect_errors(page, errors)
    log_in(page, live_server, "maya")

    page.click("nav.mainnav >> text=Leads")
    page.check("input[name=stage][value=mql]", force=True)
    page.fill("#id_score_min", "50")
    page.fill("#id_q", "acme")
    page.click("text=Apply filters")
    page.wait_for_load_state("networkidle")
    page.select_option("#id_sort", "-score")  # applies at once
    page.wait_for_url("**sort=-score**")

    assert page.url == (
        f"{live_server.url}/leads/?q=acme&score_min=50&sort=-score&stage=mql"
    )
    cells = page.locator("table.lead-table tbody tr td.cell-email").all_inner_texts()
    assert cells == ["mql2@acme.example", "mql1@acme.example", "mql0@acme.example"]
    assert (
        " ".join(page.inner_text("[data-testid=lead-count]").split()) == "3 of 3 leads"
    )
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "lead-list-browser-test.png"), full_page=True)

    with page.expect_download() as download_info:
        page.click("[data-testid=export-csv]")
    download = download_info.value
    target = tmp_path / download.suggested_filename
    download.save_as(target)

    assert download.suggested_filename == f"leads-{timezone.localdate():%Y%m%d}.csv"
    rows = list(csv.reader(target.open(newline="")))
    assert [row[0] for row in rows] == [
        "email",
        "mql2@acme.example",
        "mql1@acme.example",
        "mql0@acme.example",
    ]
    context.close()
    assert errors == []
