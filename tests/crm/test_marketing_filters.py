"""The dashboard's filters (campaign, channel, source, region, SLA) on the
funnel, its lead lists, the API and the MQL and acceptance panels, against
five leads worked out by hand."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from crm.marketing.dashboard import Period, mql_weeks
from crm.marketing.filters import FunnelFilters
from crm.marketing.funnel import funnel
from crm.roles import MARKETING
from handoff.models import Handoff, RejectionReason
from leads import lifecycle
from leads.lifecycle import FUNNEL
from leads.models import AuditEvent, Campaign, Stage
from tests.factories import (
    CampaignFactory,
    LeadFactory,
    SlaFactory,
    TouchpointFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db
URL = "/marketing/"
API = "/api/v1/reports/funnel/"
MARCH = {"period": "custom", "date_from": "2026-03-01", "date_to": "2026-03-31"}
MARCH_DAYS = (dt.date(2026, 3, 1), dt.date(2026, 4, 1))


def at(month: int, day: int, hour: int = 9) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, 0, tzinfo=dt.UTC)


@pytest.fixture
def marketer(client):
    client.force_login(UserFactory(roles=[MARKETING]))
    return client


class World:
    def __init__(self) -> None:
        self.webinar = CampaignFactory(
            name="Spring webinar", channel=Campaign.Channel.WEBINAR
        )
        self.newsletter = CampaignFactory(
            name="Newsletter", channel=Campaign.Channel.EMAIL
        )
        self.nurture = CampaignFactory(
            name="Nurture drip", channel=Campaign.Channel.EMAIL
        )
        self.emea = SlaFactory(name="EMEA", volume_commitment=14, volume_period="week")
        self.rest = SlaFactory(name="Rest", volume_commitment=70, volume_period="week")
        self.no_budget = RejectionReason.objects.get(code="no_budget")
        # 1: paid search, Europe, the webinar; as far as an opportunity.
        self.one = self.lead(
            at(3, 2),
            "paid_search",
            "DE",
            [self.webinar],
            [
                (Stage.MQL, at(3, 4)),
                (Stage.SAL, at(3, 5)),
                (Stage.SQL, at(3, 10)),
                (Stage.OPPORTUNITY, at(3, 20)),
            ],
        )
        self.handoff(self.one, self.emea, at(3, 4), "accepted")
        # 2: paid search, North America, the newsletter; accepted.
        self.two = self.lead(
            at(3, 3),
            "paid_search",
            "US",
            [self.newsletter],
            [(Stage.MQL, at(3, 5)), (Stage.SAL, at(3, 7))],
        )
        self.handoff(self.two, self.rest, at(3, 5), "accepted")
        # 3: e-mail, Europe, both e-mail campaigns; an MQL, rejected.
        self.three = self.lead(
            at(3, 10),
            "email",
            "FR",
            [self.newsletter, self.nurture],
            [(Stage.MQL, at(3, 12))],
        )
        self.handoff(self.three, self.emea, at(3, 12), "rejected")
        # 4: e-mail, Europe, no touchpoint of a campaign; still a lead.
        self.four = self.lead(at(3, 15), "email", "FR", [], [])
        # 5: created in February, paid search, Europe, the webinar; accepted
        # in March.
        self.five = self.lead(
            at(2, 20),
            "paid_search",
            "DE",
            [self.webinar],
            [(Stage.MQL, at(2, 25)), (Stage.SAL, at(3, 2))],
        )
        self.handoff(self.five, self.emea, at(2, 25), "accepted")

    def lead(self, created, source, country, campaigns, moves):
        lead = LeadFactory(created_at=created, source=source)
        lead.set_country(country)
        lead.save()
        for campaign in campaigns:
            TouchpointFactory(lead=lead, campaign=campaign, occurred_at=created)
        for stage, moved in moves:
            lifecycle.lead_move(
                lead_id=lead.id, to_stage=stage, system_actor="test", now=moved
            )
        return lead

    def handoff(self, lead, sla, created, status):
        decided = created + dt.timedelta(hours=2)
        Handoff.objects.create(
            lead=lead,
            sla=sla,
            team=sla.team,
            mql_at=created,
            created_at=created,
            due_at=created + dt.timedelta(hours=8),
            at_risk_at=created + dt.timedelta(hours=6),
            status=status,
            decided_at=decided,
            reason=self.no_budget if status == "rejected" else None,
        )


@pytest.fixture
def world():
    return World()


def counts(stages) -> list[int]:
    return [s.count for s in stages]


def march(mode: str, filters: FunnelFilters) -> list[int]:
    start, end = MARCH_DAYS
    return counts(funnel(start=start, end=end, mode=mode, filters=filters))


# The funnel
# ------------------------------------------------------------------------------


def test_no_filter_counts_every_lead(world):
    assert march("cohort", FunnelFilters()) == [4, 3, 2, 1, 1, 0]


def test_a_channel_counts_the_leads_with_a_touchpoint_of_its_campaigns(world):
    # Two and three; three has two e-mail campaigns and counts once.
    assert march("cohort", FunnelFilters(channel="email")) == [2, 2, 1, 0, 0, 0]


def test_a_campaign_counts_the_leads_with_one_of_its_touchpoints(world):
    nurture = FunnelFilters(campaign_id=world.nurture.id)
    assert march("cohort", nurture) == [1, 1, 0, 0, 0, 0]


def test_source_and_region_are_the_leads_own(world):
    assert march("cohort", FunnelFilters(region="europe")) == [3, 2, 1, 1, 1, 0]
    assert march("cohort", FunnelFilters(source="email")) == [2, 1, 0, 0, 0, 0]


def test_an_sla_counts_the_leads_handed_off_under_it(world):
    assert march("cohort", FunnelFilters(sla_id=world.emea.id)) == [2, 2, 1, 1, 1, 0]


def test_filters_combine_with_and(world):
    webinar_europe = FunnelFilters(campaign_id=world.webinar.id, region="europe")
    assert march("cohort", webinar_europe) == [1, 1, 1, 1, 1, 0]
    assert march("cohort", FunnelFilters(channel="email", source="paid_search")) == [
        1,
        1,
        1,
        0,
        0,
        0,
    ]


def test_the_flow_counts_the_filtered_leads_stage_changes(world):
    # One and three created in March under EMEA; five accepted in March.
    assert march("flow", FunnelFilters(sla_id=world.emea.id)) == [2, 2, 2, 1, 1, 0]
    assert march("flow", FunnelFilters(source="paid_search")) == [2, 2, 3, 1, 1, 0]


def test_rates_are_over_the_filtered_previous_stage(world):
    start, end = MARCH_DAYS
    stages = funnel(
        start=start, end=end, mode="flow", filters=FunnelFilters(source="paid_search")
    )
    assert [s.rate_from_previous for s in stages] == [
        None,
        Decimal("1.0000"),
        Decimal("1.5000"),
        Decimal("0.3333"),
        Decimal("1.0000"),
        Decimal("0.0000"),
    ]


# Every count links to exactly its leads
# ------------------------------------------------------------------------------

FILTER_CASES = {
    "channel": lambda w: {"channel": "email"},
    "campaign": lambda w: {"campaign": w.webinar.id},
    "region": lambda w: {"region": "europe"},
    "source": lambda w: {"source": "paid_search"},
    "sla": lambda w: {"sla": w.emea.id},
    "sla+region": lambda w: {"sla": w.emea.id, "region": "europe"},
}


@pytest.mark.parametrize("mode", ["cohort", "flow"])
@pytest.mark.parametrize("case", list(FILTER_CASES))
def test_every_filtered_count_links_to_the_list_of_exactly_its_leads(
    marketer, world, mode, case
):
    params = FILTER_CASES[case](world)
    response = marketer.get(URL, MARCH | {"mode": mode} | params)

    assert response.status_code == 200
    rows = response.context["funnel_rows"]
    assert [row.stage for row in rows] == list(FUNNEL)
    for row in rows:
        for url, figure in ((row.url, row.current), (row.previous_url, row.previous)):
            listed = marketer.get(url)
            assert listed.status_code == 200, url
            assert listed.context["lead_count"].value == figure.count, (mode, url)
            assert len(listed.context["leads"]) == figure.count, (mode, url)


def test_a_filtered_link_says_what_it_lists_and_keeps_the_filters(marketer, world):
    rows = marketer.get(
        URL, MARCH | {"campaign": world.webinar.id, "sla": world.emea.id}
    ).context["funnel_rows"]
    sal = next(row for row in rows if row.stage == "sal")

    listed = marketer.get(sal.url)

    assert [lead.id for lead in listed.context["leads"]] == [world.one.id]
    page = listed.content.decode()
    assert (
        "leads created 1 Mar 2026 \u2013 31 Mar 2026 (UTC) that reached SAL or later"
        " with a touchpoint of the campaign Spring webinar"
        " handed off under the SLA EMEA"
    ) in page
    assert f'type="hidden" name="campaign" value="{world.webinar.id}"' in page
    assert f'type="hidden" name="sla" value="{world.emea.id}"' in page


def test_the_lead_list_refuses_an_unknown_campaign(marketer, world):
    response = marketer.get("/leads/", {"campaign": "999999"})

    assert response.status_code == 200
    assert response.context["lead_count"] is None
    assert (
        "Campaign: Pick a campaign from the list (its id); there is no campaign "
        "with this id." in response.content.decode()
    )


# The page
# ------------------------------------------------------------------------------


def test_the_page_names_the_filters_and_what_cannot_apply(marketer, world):
    response = marketer.get(URL, MARCH | {"channel": "email", "sla": world.emea.id})

    page = response.content.decode()
    assert "Filtered: channel E-mail; SLA EMEA." in page
    assert "cannot apply to the commitment" in page
    assert "Every filter applies here" in page
    assert f'<option value="{world.emea.id}" selected>EMEA</option>' in page


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"campaign": "abc"}, "Pick a campaign from the list (its id)"),
        ({"campaign": "99999999999999999999999"}, "Pick a campaign from the list"),
        ({"sla": "424242"}, "Pick an SLA from the list (its id)"),
        ({"channel": "tv"}, "Pick a channel from the list (one of paid_search,"),
        ({"region": "mars"}, "Pick a region from the list (one of north_america,"),
    ],
)
def test_a_bad_filter_is_refused_with_what_to_fix(marketer, params, message):
    response = marketer.get(URL, MARCH | params)

    assert response.status_code == 400
    assert message in response.content.decode()
    assert "funnel_rows" not in response.context


# The MQL and acceptance panels
# ------------------------------------------------------------------------------

PERIOD = Period(dt.date(2026, 3, 1), dt.date(2026, 4, 1), "Custom dates")


def delivered(weeks) -> list[tuple[dt.date, int]]:
    return [(w.week_start, w.delivered) for w in weeks if w.delivered]


def test_the_sla_filter_keeps_its_mqls_and_its_commitment_only(world):
    weeks = mql_weeks(period=PERIOD, filters=FunnelFilters(sla_id=world.emea.id))

    assert delivered(weeks) == [(dt.date(2026, 3, 2), 1), (dt.date(2026, 3, 9), 1)]
    # 14 a week is 2 a day: 1 day of the week of 23 Feb, 2 of the week of 30 Mar.
    assert [w.committed for w in weeks] == [2.0, 14.0, 14.0, 14.0, 14.0, 4.0]


def test_lead_filters_narrow_the_mqls_but_not_the_commitment(world):
    both = mql_weeks(
        period=PERIOD, filters=FunnelFilters(channel="email", sla_id=world.emea.id)
    )
    email = mql_weeks(period=PERIOD, filters=FunnelFilters(channel="email"))

    assert delivered(both) == [(dt.date(2026, 3, 9), 1)]
    assert [w.committed for w in both] == [2.0, 14.0, 14.0, 14.0, 14.0, 4.0]
    assert delivered(email) == [(dt.date(2026, 3, 2), 1), (dt.date(2026, 3, 9), 1)]


@pytest.mark.parametrize(
    ("params", "accepted", "decided", "reasons"),
    [
        ({}, 2, 3, [("no_budget", 1)]),
        ({"channel": "email"}, 1, 2, [("no_budget", 1)]),
        ({"region": "north_america"}, 1, 1, []),
        ("emea", 1, 2, [("no_budget", 1)]),
    ],
)
def test_the_acceptance_panel_honours_every_filter(
    marketer, world, params, accepted, decided, reasons
):
    if params == "emea":
        params = {"sla": world.emea.id}
    acceptance = marketer.get(URL, MARCH | params).context["acceptance"]

    assert (acceptance.accepted, acceptance.decided) == (accepted, decided)
    assert [(r.code, r.count) for r in acceptance.sdr_reasons] == reasons


# The API
# ------------------------------------------------------------------------------


def test_the_api_takes_the_same_filters(marketer, world):
    response = marketer.get(
        API,
        {
            "start": "2026-03-01",
            "end": "2026-04-01",
            "mode": "flow",
            "source": "paid_search",
            "sla": world.emea.id,
        },
    )

    assert response.status_code == 200
    body = response.json()
    assert body["filters"] == {"source": "paid_search", "sla": str(world.emea.id)}
    # One (March, all the way to an opportunity) and five (accepted in March).
    assert [s["count"] for s in body["stages"]] == [1, 1, 2, 1, 1, 0]


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"campaign": "abc"}, "campaign", "A valid integer is required."),
        ({"campaign": "424242"}, "campaign", "There is no campaign 424242."),
        ({"sla": "0"}, "sla", "Ensure this value is greater than or equal to 1."),
        ({"channel": "tv"}, "channel", '"tv" is not a valid choice.'),
        ({"source": "x"}, "source", '"x" is not a valid choice.'),
        ({"region": "mars"}, "region", '"mars" is not a valid choice.'),
    ],
)
def test_the_api_refuses_a_bad_filter_with_what_to_fix(
    marketer, world, params, field, message
):
    response = marketer.get(API, {"start": "2026-03-01", "end": "2026-04-01"} | params)

    assert response.status_code == 400
    assert response.json() == {field: [message]}


# The export of a filtered list
# ------------------------------------------------------------------------------


def test_an_export_of_a_filtered_list_records_its_filters(marketer, world):
    response = marketer.get("/leads/csv/", {"region": "europe", "sla": world.emea.id})

    assert response.status_code == 200
    rows = b"".join(response.streaming_content).decode().splitlines()
    # A header and one, three and five (all in Europe and handed off under EMEA).
    assert len(rows) == 4
    event = AuditEvent.objects.get(action=AuditEvent.Action.LEAD_EXPORT_CSV)
    assert event.details == {
        "filter": {"region": "europe", "sla": world.emea.id},
        "rows": 3,
    }
