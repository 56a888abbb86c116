"""The marketing dashboard: the period picker, the funnel against the previous
period, the links to exactly the counted leads, MQL volume and acceptance."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from crm.marketing.dashboard import DashboardForm
from crm.marketing.periods import Period, preset_period
from crm.roles import MARKETING
from handoff.models import Handoff, RejectionReason
from handoff.reports import volume_by_week
from leads import lifecycle
from leads.lifecycle import FUNNEL
from leads.models import Stage
from tests.factories import LeadFactory, SlaFactory, UserFactory

pytestmark = pytest.mark.django_db
URL = "/marketing/"
#: The period the tests pick: March 2026; the previous one is 31 days before.
MARCH = {"period": "custom", "date_from": "2026-03-01", "date_to": "2026-03-31"}


def at(month: int, day: int, hour: int = 9) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, 0, tzinfo=dt.UTC)


def journey(created: dt.datetime, *moves: tuple[str, dt.datetime]) -> None:
    lead = LeadFactory(created_at=created)
    for stage, moved in moves:
        lifecycle.lead_move(
            lead_id=lead.id,
            to_stage=stage,
            system_actor="test",
            reason="sent back" if stage == Stage.NURTURE else "",
            now=moved,
        )


@pytest.fixture
def marketer(client):
    client.force_login(
        UserFactory(first_name="Mia", last_name="Park", roles=[MARKETING])
    )
    return client


@pytest.fixture
def leads():
    # March: the whole way; accepted then sent back; an MQL twice; still a lead.
    journey(
        at(3, 2),
        (Stage.MQL, at(3, 4)),
        (Stage.SAL, at(3, 5)),
        (Stage.SQL, at(3, 10)),
        (Stage.OPPORTUNITY, at(3, 20)),
        (Stage.CUSTOMER, at(4, 10)),
    )
    journey(
        at(3, 3),
        (Stage.MQL, at(3, 5)),
        (Stage.SAL, at(3, 7)),
        (Stage.NURTURE, at(3, 8)),
    )
    journey(
        at(3, 10),
        (Stage.MQL, at(3, 12)),
        (Stage.NURTURE, at(3, 13)),
        (Stage.MQL, at(3, 20)),
    )
    journey(at(3, 15))
    # February (the previous period, 29 Jan - 28 Feb): two leads, one an MQL
    # in February and accepted in March; one in January before it.
    journey(at(2, 20), (Stage.MQL, at(2, 25)), (Stage.SAL, at(3, 2)))
    journey(at(2, 1))
    journey(at(1, 10), (Stage.MQL, at(1, 12)))
    # April: after the period.
    journey(at(4, 1), (Stage.MQL, at(4, 2)))


# The period picker
# ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "start", "end"),
    [
        ("month", dt.date(2026, 5, 1), dt.date(2026, 5, 15)),
        ("quarter", dt.date(2026, 4, 1), dt.date(2026, 5, 15)),
        ("90d", dt.date(2026, 2, 14), dt.date(2026, 5, 15)),
    ],
)
def test_a_preset_runs_to_the_end_of_today(key, start, end):
    period = preset_period(key, dt.date(2026, 5, 14))

    assert (period.start, period.end) == (start, end)
    assert period.previous().end == start
    assert period.previous().days == period.days


def test_the_previous_period_has_the_same_length_just_before():
    march = Period(dt.date(2026, 3, 1), dt.date(2026, 4, 1), "Custom dates")

    previous = march.previous()

    assert (previous.start, previous.end) == (dt.date(2026, 1, 29), march.start)
    assert previous.span == "29 Jan 2026 \u2013 28 Feb 2026"


def test_no_parameters_show_this_month_in_cohorts(marketer):
    response = marketer.get(URL)

    assert response.status_code == 200
    today = timezone.now().astimezone(dt.UTC).date()
    assert response.context["period"].start == today.replace(day=1)
    assert response.context["mode"] == "cohort"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"date_from": "2026-13-01", "date_to": "2026-03-31"}, "Enter a date like"),
        ({"period": "custom", "date_from": "2026-03-01"}, "Give both a from and a to"),
        (
            {"date_from": "2026-03-31", "date_to": "2026-03-01"},
            "The to date comes before the from date.",
        ),
        ({"date_from": "2020-01-01", "date_to": "2026-01-01"}, "Pick at most 731 days"),
        ({"date_from": "1969-12-31", "date_to": "1970-01-02"}, "Pick dates between"),
        (
            {"date_from": "1970-01-02", "date_to": "1970-01-05"},
            "the period before it starts before 1 Jan 1970",
        ),
        ({"period": "year"}, "Pick this month, this quarter"),
        ({"mode": "funnel"}, "Pick cohort or flow."),
    ],
)
def test_a_bad_period_is_refused_with_what_to_fix(marketer, params, message):
    response = marketer.get(URL, params)

    assert response.status_code == 400
    assert message in response.content.decode()
    assert "funnel_rows" not in response.context
    # Today's figures still show.
    assert response.context["lead_total"] == 0


def test_dates_alone_make_the_period_custom():
    form = DashboardForm(
        {"date_from": "2026-03-01", "date_to": "2026-03-31"}, today=dt.date(2026, 5, 1)
    )

    assert form.is_valid(), form.errors
    assert form.cleaned_data["period"] == "custom"
    assert form.cleaned_data["range"] == Period(
        dt.date(2026, 3, 1), dt.date(2026, 4, 1), "Custom dates"
    )


# The funnel against the previous period
# ------------------------------------------------------------------------------


def counts(rows, which):
    return {row.stage: getattr(row, which).count for row in rows}


def test_the_cohort_funnel_compares_with_the_previous_period(marketer, leads):
    response = marketer.get(URL, MARCH)

    rows = response.context["funnel_rows"]
    assert counts(rows, "current") == {
        "lead": 4,
        "mql": 3,
        "sal": 2,
        "sql": 1,
        "opportunity": 1,
        "customer": 1,
    }
    assert counts(rows, "previous") == {
        "lead": 2,
        "mql": 1,
        "sal": 1,
        "sql": 0,
        "opportunity": 0,
        "customer": 0,
    }
    by_stage = {row.stage: row for row in rows}
    assert (by_stage["lead"].change, by_stage["lead"].change_percent) == (
        2,
        Decimal("100"),
    )
    assert (by_stage["sql"].change, by_stage["sql"].change_percent) == (1, None)
    assert by_stage["mql"].rate_percent == Decimal("75.0")
    assert by_stage["mql"].previous_rate_percent == Decimal("50.0")
    assert response.context["funnel_chart"]["series"][1]["counts"] == [2, 1, 1, 0, 0, 0]


def test_the_flow_funnel_counts_leads_entering_each_stage(marketer, leads):
    response = marketer.get(URL, MARCH | {"mode": "flow"})

    rows = response.context["funnel_rows"]
    assert counts(rows, "current") == {
        "lead": 4,
        "mql": 3,
        "sal": 3,
        "sql": 1,
        "opportunity": 1,
        "customer": 0,
    }
    assert counts(rows, "previous") == {
        "lead": 2,
        "mql": 1,
        "sal": 0,
        "sql": 0,
        "opportunity": 0,
        "customer": 0,
    }


# Every count links to exactly its leads
# ------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["cohort", "flow"])
def test_every_count_links_to_the_list_of_exactly_its_leads(marketer, leads, mode):
    rows = marketer.get(URL, MARCH | {"mode": mode}).context["funnel_rows"]

    assert [row.stage for row in rows] == list(FUNNEL)
    for row in rows:
        for url, figure in ((row.url, row.current), (row.previous_url, row.previous)):
            listed = marketer.get(url)
            assert listed.status_code == 200, url
            assert listed.context["lead_count"].value == figure.count, (mode, url)
            assert len(listed.context["leads"]) == figure.count, (mode, url)


def test_a_flow_link_lists_the_leads_that_entered_the_stage_in_the_period(
    marketer, leads
):
    rows = marketer.get(URL, MARCH | {"mode": "flow"}).context["funnel_rows"]
    sal = next(row for row in rows if row.stage == "sal")

    listed = marketer.get(sal.url)

    created = sorted(lead.created_at.date() for lead in listed.context["leads"])
    # The February lead accepted on 2 March is in; the cohort would leave it out.
    assert created == [dt.date(2026, 2, 20), dt.date(2026, 3, 2), dt.date(2026, 3, 3)]
    page = listed.content.decode()
    assert "leads that entered SAL 1 Mar 2026 \u2013 31 Mar 2026 (UTC)" in page
    assert 'type="hidden" name="entered" value="sal"' in page


def test_a_cohort_link_says_what_it_lists(marketer, leads):
    rows = marketer.get(URL, MARCH).context["funnel_rows"]
    sql = next(row for row in rows if row.stage == "sql")

    page = marketer.get(sql.url).content.decode()

    assert (
        "leads created 1 Mar 2026 \u2013 31 Mar 2026 (UTC) that reached SQL or later"
        in page
    )


def test_a_bad_funnel_filter_is_refused_in_the_users_words(marketer):
    response = marketer.get("/leads/", {"reached": "champion"})

    assert response.status_code == 200
    assert "Select a valid choice." in response.content.decode()
    assert response.context["lead_count"] is None


# MQL volume and acceptance
# ------------------------------------------------------------------------------


def handoff(sla, created: dt.datetime, *, sequence: int = 1, **fields) -> Handoff:
    return Handoff.objects.create(
        lead=LeadFactory(),
        sla=sla,
        team=sla.team,
        sequence=sequence,
        mql_at=created,
        created_at=created,
        due_at=created + dt.timedelta(hours=8),
        at_risk_at=created + dt.timedelta(hours=6),
        **fields,
    )


def test_mqls_per_week_against_the_commitment_of_the_days_in_the_period():
    weekly = SlaFactory(volume_commitment=14, volume_period="week")
    SlaFactory(volume_commitment=52, volume_period="month")  # 12 a week
    SlaFactory(volume_commitment=100, volume_period="week", is_active=False)
    # Wednesday 4 March to Tuesday 17 March: three weeks, cut short at both ends.
    handoff(weekly, at(3, 4, 0))
    handoff(weekly, at(3, 8, 23))
    handoff(weekly, at(3, 9))
    handoff(weekly, at(3, 9), sequence=2)  # a reassignment is no new MQL
    handoff(weekly, at(3, 3, 23))  # before the period
    handoff(weekly, at(3, 18, 0))  # after it

    weeks = volume_by_week(start=dt.date(2026, 3, 4), end=dt.date(2026, 3, 18))

    assert [(w.week_start, w.days, w.delivered) for w in weeks] == [
        (dt.date(2026, 3, 2), 5, 2),
        (dt.date(2026, 3, 9), 7, 1),
        (dt.date(2026, 3, 16), 2, 0),
    ]
    assert [round(w.committed, 6) for w in weeks] == [18.571429, 26.0, 7.428571]
    assert [w.pace for w in weeks] == ["behind", "behind", "behind"]


def test_the_sdr_acceptance_rate_and_top_reasons(marketer):
    sla = SlaFactory()
    for _ in range(3):
        handoff(sla, at(3, 5), status="accepted", decided_at=at(3, 5, 10))
    no_budget = RejectionReason.objects.get(code="no_budget")
    rejected = {"status": "rejected", "reason": no_budget}
    handoff(sla, at(3, 6), decided_at=at(3, 6, 10), **rejected)
    handoff(sla, at(3, 7))  # pending: not decided
    handoff(sla, at(2, 7), decided_at=at(2, 7, 10), **rejected)  # February

    response = marketer.get(URL, MARCH)

    acceptance = response.context["acceptance"]
    assert (acceptance.accepted, acceptance.decided) == (3, 4)
    assert acceptance.rate_percent == Decimal("75.0")
    assert [(r.code, r.count) for r in acceptance.sdr_reasons] == [("no_budget", 1)]
    assert "SDR acceptance rate" in response.content.decode()


def test_the_page_passes_chart_data_as_json_and_loads_the_vendored_chart(
    marketer, leads
):
    page = marketer.get(URL, MARCH).content.decode()

    assert '<script id="funnel-chart-data" type="application/json">' in page
    assert '<script id="volume-chart-data" type="application/json">' in page
    assert "vendor/chartjs/chart-4.5.1.umd.min.js" in page
    assert "<script>" not in page


def test_a_manager_reads_the_dashboard_and_finds_it_in_the_navigation(client, mona):
    client.force_login(mona)

    response = client.get("/marketing/")

    assert response.status_code == 200
    labels = [item["label"] for item in response.context["nav_items"]]
    assert "Marketing" in labels


def test_an_sdr_without_the_manager_flag_may_not_open_the_dashboard(client):
    from crm.roles import SDR

    client.force_login(UserFactory(roles=[SDR]))

    response = client.get("/marketing/")

    assert response.status_code == 403
    assert "managers may read it too" in response.content.decode()
