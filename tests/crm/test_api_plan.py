"""GET /api/v1/reports/plan/: the planner's figures over the API, its 400s
(each saying what to fix) and who may read it."""

from __future__ import annotations

import pytest

from crm.roles import ADMIN, SALES, SDR
from tests.clients import token_client
from tests.crm.planner_reference import reference_quarter
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/reports/plan/"
Q2 = {"start": "2026-04-01", "end": "2026-07-01"}


@pytest.fixture
def reference():
    reference_quarter()


def test_the_plan_for_three_customers(api, reference):
    response = api.get(URL, Q2 | {"target_customers": 3})

    assert response.status_code == 200
    body = response.json()
    assert (body["start"], body["end"], body["target_kind"], body["target_value"]) == (
        "2026-04-01",
        "2026-07-01",
        "customers",
        "3.00",
    )
    assert body["stages"] == [
        {
            "stage": "lead",
            "needed": 18,
            "rate_used": None,
            "median_days_from_previous": None,
            "enter_by": "2026-05-24",
        },
        {
            "stage": "mql",
            "needed": 9,
            "rate_used": 0.5,
            "median_days_from_previous": 2.0,
            "enter_by": "2026-05-26",
        },
        {
            "stage": "sal",
            "needed": 7,
            "rate_used": 0.8,
            "median_days_from_previous": 1.5,
            "enter_by": "2026-05-28",
        },
        {
            "stage": "sql",
            "needed": 5,
            "rate_used": 0.75,
            "median_days_from_previous": 3.0,
            "enter_by": "2026-05-31",
        },
        {
            "stage": "opportunity",
            "needed": 5,
            "rate_used": 1.0,
            "median_days_from_previous": 10.0,
            "enter_by": "2026-06-10",
        },
        {
            "stage": "customer",
            "needed": 3,
            "rate_used": 0.6667,
            "median_days_from_previous": 20.0,
            "enter_by": "2026-06-30",
        },
    ]
    reference = body["reference"]
    assert (reference["start"], reference["end"], reference["kind"]) == (
        "2026-01-01",
        "2026-04-01",
        "previous_quarter",
    )
    assert [(s["stage"], s["count"]) for s in reference["stages"]] == [
        ("lead", 10),
        ("mql", 5),
        ("sal", 4),
        ("sql", 3),
        ("opportunity", 3),
        ("customer", 2),
    ]
    assert (body["spend"]["total_for_leads"], body["spend"]["total_for_mqls"]) == (
        "19800.00",
        "19800.00",
    )
    assert body["spend"]["channels"][0] == {
        "channel": "paid_search",
        "label": "Paid search",
        "spend": "9000.00",
        "leads": 4,
        "mqls": 4,
        "cost_per_lead": "2250.00",
        "cost_per_mql": "2250.00",
        "planned_leads": "7.2",
        "planned_mqls": "7.2",
        "spend_for_leads": "16200.00",
        "spend_for_mqls": "16200.00",
    }


def test_a_revenue_target_with_the_historical_average(api, reference):
    response = api.get(URL, Q2 | {"target_revenue": "40000"})

    body = response.json()
    assert response.status_code == 200
    assert [s["needed"] for s in body["stages"]] == [20, 10, 8, 6, 6, 4]
    assert (
        body["reference"]["average_deal"],
        body["reference"]["average_deal_source"],
        body["reference"]["won_deals"],
    ) == ("12500.00", "history", 2)


def test_a_revenue_target_with_a_typed_average_and_reference(api, reference):
    response = api.get(
        URL,
        Q2
        | {
            "target_revenue": "40000",
            "average_deal": "20000",
            "reference_start": "2026-01-01",
            "reference_end": "2026-04-01",
        },
    )

    body = response.json()
    assert [s["needed"] for s in body["stages"]] == [10, 5, 4, 3, 3, 2]
    assert (body["reference"]["kind"], body["reference"]["average_deal_source"]) == (
        "custom",
        "typed",
    )


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        (Q2, "target_customers", "Give exactly one of target_customers"),
        (
            Q2 | {"target_customers": 3, "target_revenue": "100"},
            "target_customers",
            "Give exactly one of target_customers",
        ),
        (
            Q2 | {"target_customers": 3, "average_deal": "100"},
            "average_deal",
            "average_deal goes with target_revenue only.",
        ),
        (
            {"start": "2026-04-01", "end": "2026-04-01", "target_customers": 3},
            "end",
            "Give an end after the start",
        ),
        (
            {"start": "2026-13-01", "end": "2026-07-01", "target_customers": 3},
            "start",
            "Date has wrong format",
        ),
        (
            Q2 | {"target_customers": 0},
            "target_customers",
            "greater than or equal to 1",
        ),
        (
            Q2 | {"target_customers": 3, "reference_start": "2026-01-01"},
            "reference_end",
            "Give both reference_start and reference_end",
        ),
        (
            Q2
            | {
                "target_customers": 3,
                "reference_start": "2026-04-01",
                "reference_end": "2026-01-01",
            },
            "reference_end",
            "Give a reference_end after reference_start.",
        ),
        (
            {"start": "0001-01-01", "end": "0001-04-01", "target_customers": 1},
            "start",
            "Give a date between 2000-01-01 and 2100-12-31.",
        ),
        (
            Q2
            | {
                "target_customers": 1,
                "reference_start": "0001-01-01",
                "reference_end": "2026-01-01",
            },
            "reference_start",
            "Give a date between 2000-01-01 and 2100-12-31.",
        ),
        (
            Q2 | {"target_revenue": "abc"},
            "target_revenue",
            "A valid number is required.",
        ),
    ],
)
def test_bad_input_is_a_400_that_says_what_to_fix(api, params, field, message):
    response = api.get(URL, params)

    assert response.status_code == 400
    assert message in response.json()[field][0]


def test_a_zero_conversion_is_a_400_naming_the_step(api):
    response = api.get(URL, Q2 | {"target_customers": 3})

    assert response.status_code == 400
    assert response.json()["detail"] == (
        "No lead in the reference period went from Opportunity to Customer "
        "(a conversion of 0%), so the plan cannot work back through that step. "
        "Pick a longer or another reference period."
    )


def test_revenue_without_won_deals_is_a_400(api):
    response = api.get(URL, Q2 | {"target_revenue": "40000"})

    assert response.status_code == 400
    assert "Type an average deal size" in response.json()["detail"]


@pytest.mark.parametrize("role", [SDR, SALES])
def test_other_roles_get_403(role):
    client = token_client(UserFactory(roles=[role]))

    response = client.get(URL, Q2 | {"target_customers": 3})

    assert response.status_code == 403
    assert response.json() == {
        "detail": "Marketing reports are for the Marketing and Admin roles."
    }


def test_admin_reads_the_plan(reference):
    client = token_client(UserFactory(roles=[ADMIN]))

    assert client.get(URL, Q2 | {"target_customers": 3}).status_code == 200


def test_without_credentials_it_is_a_401(api_client):
    assert api_client.get(URL, Q2 | {"target_customers": 3}).status_code == 401


def test_the_schema_documents_the_plan_report(api_client):
    schema = api_client.get("/api/v1/schema/?format=json").json()

    operation = schema["paths"]["/api/v1/reports/plan/"]["get"]
    assert {p["name"] for p in operation["parameters"]} == {
        "start",
        "end",
        "reference_start",
        "reference_end",
        "target_customers",
        "target_revenue",
        "average_deal",
    }
    assert set(operation["responses"]) == {"200", "400", "401", "403"}
