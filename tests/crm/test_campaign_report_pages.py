"""The campaign ROI on the campaign pages and in their CSV, over the
hand-built April (``tests/crm/campaign_april.py``)."""

from __future__ import annotations

import csv
import io
import re

import pytest

from crm.roles import ADMIN, MARKETING, SALES, SDR
from handoff.models import SalesProfile
from tests.crm.campaign_april import april_build
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
APRIL = "date_from=2026-04-01&date_to=2026-04-30"


@pytest.fixture
def april():
    return april_build()


def _manager(role: str) -> object:
    user = UserFactory(roles=[role])
    SalesProfile.objects.create(user=user, is_manager=True)
    return user


def cells(html: str, row_class: str) -> list[str]:
    row = re.search(rf'<tr class="{row_class}">(.*?)</tr>', html, re.S).group(1)
    return [
        re.sub(r"<[^>]+>", "", c).strip()
        for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S)
    ]


def roi_rows(html: str) -> list[list[str]]:
    table = re.search(r'<table class="table campaign-roi".*?</table>', html, re.S)
    body = re.search(r"<tbody>(.*?)</tbody>", table.group(0), re.S).group(1)
    return [
        [
            re.sub(r"<[^>]+>", "", c).strip()
            for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S)
        ]
        for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)
    ]


@pytest.mark.parametrize("role", [MARKETING, ADMIN])
def test_the_list_shows_each_campaign_unattributed_and_total(client, april, role):
    client.force_login(UserFactory(roles=[role]))

    response = client.get(f"/campaigns/?{APRIL}&model=linear")

    assert response.status_code == 200
    html = response.content.decode()
    assert roi_rows(html) == [
        ["A", "Paid search", "$3,000", "1.0", "1.5", "0.7", "0.7", "$6,667",
         "$3,000", "$2,000", "$4,500", "$4,500", "44.5%", "122.2%"],
        ["B", "E-mail", "$600", "0.5", "1.0", "0.3", "0.3", "$3,333",
         "$1,200", "$600", "$1,800", "$1,800", "33.3%", "455.6%"],
    ]  # fmt: skip
    assert cells(html, "roi-unattributed") == [
        "Unattributed", "—", "$0", "1.5", "1.5", "0.0", "0.0", "$0",
        "—", "—", "—", "—", "0.0%", "—",
    ]  # fmt: skip
    assert cells(html, "roi-total") == [
        "Total", "", "$3,600", "3.0", "4.0", "1.0", "1.0", "$10,000",
        "$1,200", "$900", "$3,600", "$3,600", "25.0%", "177.8%",
    ]  # fmt: skip
    assert "Every touch before the conversion gets an equal share." in html
    assert "Figures as of 2 May 2026, 06:00 UTC." in html


def test_the_list_sorts_by_a_column_and_says_how(marketer_client, april):
    html = marketer_client.get(f"/campaigns/?{APRIL}&order=-leads").content.decode()

    assert [row[0] for row in roi_rows(html)] == ["A", "B"]
    assert 'aria-sort="descending"' in html
    html = marketer_client.get(f"/campaigns/?{APRIL}&order=leads").content.decode()
    assert [row[0] for row in roi_rows(html)] == ["B", "A"]
    # Each table's sort links keep the other's order, the period and the model.
    period = APRIL.replace("&", "&amp;")
    assert f'href="?{period}&amp;order=leads&amp;sort=-spend"' in html
    html = marketer_client.get(f"/campaigns/?{APRIL}&sort=-spend").content.decode()
    assert f'href="?{period}&amp;sort=-spend&amp;order=-roi"' in html


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("model=last_click", "Pick first touch, last touch, linear"),
        ("order=colour", "Sort by one of the table"),
        ("date_from=2026-04-30&date_to=2026-04-01", "The to date comes before"),
        ("date_from=30.4.2026&date_to=2026-05-01", "Enter a date like 2026-01-31."),
    ],
)
def test_bad_parameters_say_what_to_fix(marketer_client, query, message):
    response = marketer_client.get(f"/campaigns/?{query}")

    assert response.status_code == 400
    assert message in response.content.decode()
    assert b"campaign-roi" not in response.content


@pytest.mark.parametrize("role", [SDR, SALES])
def test_a_manager_reads_the_figures_without_editing(client, april, role):
    a, _b = april
    client.force_login(_manager(role))

    listing = client.get(f"/campaigns/?{APRIL}")
    page = client.get(f"/campaigns/{a.id}/?{APRIL}")

    assert listing.status_code == page.status_code == 200
    assert roi_rows(listing.content.decode())[0][:3] == ["A", "Paid search", "$3,000"]
    assert b"New campaign" not in listing.content
    assert b"Add spend" not in page.content
    assert client.get(f"/campaigns/csv/?{APRIL}").status_code == 200


def test_the_csv_is_the_table_shown(marketer_client, april):
    response = marketer_client.get(f"/campaigns/csv/?{APRIL}&model=w_shaped&order=name")

    assert response.status_code == 200
    assert response["Content-Disposition"] == (
        'attachment; filename="campaigns-2026-04-01-2026-04-30-w_shaped.csv"'
    )
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows == [
        ["Campaign", "Channel", "Spend", "Leads", "MQLs", "SQLs", "Customers",
         "Revenue", "Cost per lead", "Cost per MQL", "Cost per SQL",
         "Cost per customer", "MQL-to-SQL rate", "ROI"],
        ["A", "Paid search", "3000.00", "1.0000", "1.3333", "0.6667", "0.6667",
         "6666.6667", "3000.00", "2250.06", "4499.78", "4499.78", "0.5000",
         "1.2222"],
        ["B", "E-mail", "600.00", "0.5000", "1.1667", "0.3333", "0.3333",
         "3333.3333", "1200.00", "514.27", "1800.18", "1800.18", "0.2857",
         "4.5556"],
        ["Unattributed", "", "0.00", "1.5000", "1.5000", "0.0000", "0.0000",
         "0.0000", "", "", "", "", "0.0000", ""],
        ["Total", "", "3600.00", "3.0000", "4.0000", "1.0000", "1.0000",
         "10000.0000", "1200.00", "900.00", "3600.00", "3600.00", "0.2500",
         "1.7778"],
    ]  # fmt: skip


def test_a_bad_csv_request_goes_back_to_the_list_with_its_error(marketer_client):
    response = marketer_client.get("/campaigns/csv/?model=last_click")

    assert response.status_code == 302
    assert response["Location"] == "/campaigns/?model=last_click"


def test_a_campaign_page_compares_the_six_models(marketer_client, april):
    a, _b = april

    html = marketer_client.get(
        f"/campaigns/{a.id}/?{APRIL}&model=w_shaped"
    ).content.decode()

    compare = html.split('class="model-compare"')[1].split("</ul>")[0]
    lines = [
        re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", line)).strip()
        for line in re.findall(r"<li[^>]*>(.*?)</li>", compare, re.S)
    ]
    assert [line.split(".")[0] for line in lines] == [
        "First touch: 1",
        "Last touch: 1",
        "Linear: 1",
        "U-shaped: 1",
        "W-shaped: 1",
        "Time decay: 1",
    ]
    assert lines[4].startswith(
        "W-shaped: 1.0 leads, 1.3 MQLs, 0.7 customers, $6,667 revenue; "
        "cost per MQL $2,250, ROI 122.2%."
    )
    assert lines[0].startswith(
        "First touch: 1.0 leads, 2.0 MQLs, 1.0 customers, $10,000 revenue; "
        "cost per MQL $1,500, ROI 233.3%."
    )
    assert re.findall(r'<li class="model-current">\s*<strong>([^<]+)', compare) == [
        "W-shaped:"
    ]
