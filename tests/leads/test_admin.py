"""The leads admin: lists, forms that write through the services, the move action,
and the records that must stay read-only."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib import messages
from django.contrib.auth.models import Group
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from leads.lifecycle import lead_move
from leads.models import (
    Account,
    AuditEvent,
    Campaign,
    Lead,
    Stage,
    StageTransition,
    Touchpoint,
    TouchpointKind,
)
from tests.factories import (
    AccountFactory,
    CampaignFactory,
    LeadFactory,
    TouchpointFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


@dataclass
class Records:
    account: Account
    lead: Lead
    other_lead: Lead
    campaign: Campaign
    touchpoint: Touchpoint
    transition: StageTransition


@pytest.fixture
def records() -> Records:
    """One row or more in every table, with values the list tests search for."""
    account = AccountFactory(
        name="Northwind Labs", domain="northwind.example", employee_count=250
    )
    lead = LeadFactory(
        email="ada@northwind.example",
        first_name="Ada",
        last_name="Lovelace",
        account=account,
    )
    other_lead = LeadFactory(
        email="grace@contoso.example", first_name="Grace", last_name="Hopper"
    )
    transition = lead_move(
        lead_id=lead.id,
        to_stage=Stage.NURTURE,
        system_actor="scoring",
        reason="No budget this year",
    )
    campaign = CampaignFactory(
        name="Spring webinar",
        channel=Campaign.Channel.WEBINAR,
        utm_source="newsletter",
        utm_medium="email",
        utm_campaign="spring",
    )
    touchpoint = TouchpointFactory(
        lead=lead,
        campaign=campaign,
        kind_id="demo_request",
        source="form:demo",
        external_id="ext-1",
    )
    return Records(account, lead, other_lead, campaign, touchpoint, transition)


def _inline_management(*prefixes: str) -> dict[str, str]:
    """Management-form data of empty inline formsets (read-only inlines)."""
    data: dict[str, str] = {}
    for prefix in prefixes:
        data |= {
            f"{prefix}-TOTAL_FORMS": "0",
            f"{prefix}-INITIAL_FORMS": "0",
            f"{prefix}-MIN_NUM_FORMS": "0",
            f"{prefix}-MAX_NUM_FORMS": "1000",
        }
    return data


def _lead_change_data(lead: Lead, **overrides: Any) -> dict[str, Any]:
    """What the lead change form posts when a person saves it unchanged."""
    data = {
        "first_name": lead.first_name,
        "last_name": lead.last_name,
        "phone": lead.phone,
        "job_title": lead.job_title,
        "seniority_override": lead.seniority_override,
        "department": lead.department,
        "country": lead.country,
        "source": lead.source,
        "utm_source": lead.utm_source,
        "utm_medium": lead.utm_medium,
        "utm_campaign": lead.utm_campaign,
        "utm_term": lead.utm_term,
        "utm_content": lead.utm_content,
        "owner": lead.owner_id or "",
        "attributes": json.dumps(lead.attributes),
        **_inline_management("transitions", "touchpoints"),
    }
    return data | overrides


def _messages(response) -> list[tuple[int, str]]:
    return [(m.level, m.message) for m in get_messages(response.wsgi_request)]


# Lists and add pages
# ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url_name", "query", "expected_count"),
    [
        ("admin:leads_lead_changelist", "", 2),
        ("admin:leads_lead_changelist", "?q=lovelace", 1),
        ("admin:leads_lead_changelist", "?q=northwind", 1),
        ("admin:leads_lead_changelist", "?stage__exact=nurture", 1),
        (
            "admin:leads_lead_changelist",
            "?q=grace&stage__exact=lead&region__exact=north_america",
            1,
        ),
        ("admin:leads_account_changelist", "", 1),
        ("admin:leads_account_changelist", "?q=northwind", 1),
        ("admin:leads_account_changelist", "?size=201-1000", 1),
        ("admin:leads_account_changelist", "?size=1-50", 0),
        ("admin:leads_campaign_changelist", "", 1),
        ("admin:leads_campaign_changelist", "?q=spring", 1),
        ("admin:leads_campaign_changelist", "?channel__exact=webinar", 1),
        ("admin:leads_campaign_changelist", "?channel__exact=email", 0),
        ("admin:leads_touchpoint_changelist", "", 1),
        ("admin:leads_touchpoint_changelist", "?q=ADA@northwind.example", 1),
        ("admin:leads_touchpoint_changelist", "?q=ext-1", 1),
        ("admin:leads_touchpoint_changelist", "?kind__code__exact=demo_request", 1),
        ("admin:leads_touchpoint_changelist", "?source=form", 1),
        ("admin:leads_touchpoint_changelist", "?source=api", 0),
        ("admin:leads_touchpointkind_changelist", "", 15),
        ("admin:leads_touchpointkind_changelist", "?q=demo", 1),
        ("admin:leads_touchpointkind_changelist", "?is_high_intent__exact=1", 3),
        ("admin:leads_stagetransition_changelist", "", 1),
        ("admin:leads_stagetransition_changelist", "?q=budget", 1),
        ("admin:leads_stagetransition_changelist", "?to_stage__exact=nurture", 1),
        ("admin:leads_stagetransition_changelist", "?system_actor=scoring", 1),
        ("admin:auth_user_changelist", "", 1),
        ("admin:auth_user_changelist", "?q=admin&is_staff__exact=1", 1),
        ("admin:auth_group_changelist", "?q=mark", 1),
    ],
)
def test_changelist_lists_search_and_filter_results(
    admin_client: Client,
    records: Records,
    url_name: str,
    query: str,
    expected_count: int,
) -> None:
    response = admin_client.get(reverse(url_name) + query)

    assert response.status_code == 200
    assert response.context["cl"].result_count == expected_count


@pytest.mark.parametrize(
    "url_name",
    [
        "admin:leads_lead_add",
        "admin:leads_account_add",
        "admin:leads_campaign_add",
        "admin:leads_touchpoint_add",
        "admin:leads_touchpointkind_add",
        "admin:auth_user_add",
    ],
)
def test_add_page_renders_for_superuser(admin_client: Client, url_name: str) -> None:
    response = admin_client.get(reverse(url_name))

    assert response.status_code == 200


@pytest.mark.parametrize(
    "url_name",
    [
        "admin:leads_lead_change",
        "admin:leads_account_change",
        "admin:leads_campaign_change",
        "admin:leads_touchpoint_change",
        "admin:leads_stagetransition_change",
    ],
)
def test_change_page_renders_for_superuser(
    admin_client: Client, records: Records, url_name: str
) -> None:
    obj = {
        "admin:leads_lead_change": records.lead,
        "admin:leads_account_change": records.account,
        "admin:leads_campaign_change": records.campaign,
        "admin:leads_touchpoint_change": records.touchpoint,
        "admin:leads_stagetransition_change": records.transition,
    }[url_name]

    response = admin_client.get(reverse(url_name, args=[obj.pk]))

    assert response.status_code == 200


def test_the_records_pages_wear_leadflows_header(admin_client: Client) -> None:
    response = admin_client.get(reverse("admin:index"))

    assert response.context["site_header"] == "Records"
    assert response.context["site_title"] == "Leadflow"
    assert response.context["title"] == "Records behind the pages"
    html = response.content.decode()
    # The product's mark leads back to the product; its colours come after
    # the admin's own stylesheets.
    assert f'<a href="{reverse("crm:home")}" class="admin-brand">' in html
    assert html.index("admin/css/base.css") < html.index("css/admin.css")


def test_lead_changelist_queries_do_not_grow_with_rows(
    admin_client: Client, django_assert_max_num_queries
) -> None:
    for n in range(30):
        LeadFactory(account=AccountFactory(), owner=UserFactory(username=f"owner{n}"))

    # Session, user, count, page, owner filter, date hierarchy: 8 today. One
    # query per row (account or owner) would add 30.
    with django_assert_max_num_queries(10):
        response = admin_client.get(reverse("admin:leads_lead_changelist"))

    assert response.status_code == 200
    assert response.context["cl"].result_count == 30


def test_account_list_counts_leads_and_formats_revenue(
    admin_client: Client, records: Records
) -> None:
    LeadFactory(account=records.account)
    Account.objects.filter(pk=records.account.pk).update(annual_revenue=42_000_000)

    response = admin_client.get(reverse("admin:leads_account_changelist"))

    [account] = response.context["cl"].result_list
    assert account.lead_count == 2
    assert '<td class="field-revenue">$42,000,000</td>' in response.content.decode()


def test_campaign_list_counts_touchpoints(
    admin_client: Client, records: Records
) -> None:
    TouchpointFactory(lead=records.other_lead, campaign=records.campaign)

    response = admin_client.get(reverse("admin:leads_campaign_changelist"))

    [campaign] = response.context["cl"].result_list
    assert campaign.touchpoint_count == 2


def test_lead_page_shows_the_latest_fifty_touchpoints(
    admin_client: Client, records: Records
) -> None:
    start = dt.datetime(2026, 2, 1, tzinfo=dt.UTC)
    for minutes in range(55):
        TouchpointFactory(
            lead=records.lead, occurred_at=start + dt.timedelta(minutes=minutes)
        )

    response = admin_client.get(
        reverse("admin:leads_lead_change", args=[records.lead.pk])
    )

    transitions, touchpoints = (
        inline.formset for inline in response.context["inline_admin_formsets"]
    )
    assert [form.instance for form in transitions.forms] == [records.transition]
    shown = [form.instance.occurred_at for form in touchpoints.forms]
    assert len(shown) == 50
    assert shown[0] == start + dt.timedelta(minutes=54)
    assert shown[-1] == start + dt.timedelta(minutes=5)


# Adding and changing leads
# ------------------------------------------------------------------------------


def test_admin_add_lead_normalises_and_derives_through_lead_create(
    admin_client: Client,
) -> None:
    account = AccountFactory(domain="northwind-labs.io")

    response = admin_client.post(
        reverse("admin:leads_lead_add"),
        {
            "email": "  Ada.Lovelace@Northwind-Labs.IO ",
            "first_name": "Ada",
            "job_title": "VP Marketing",
            "country": "de",
            "attributes": '{"plan": "team"}',
        },
    )

    assert response.status_code == 302
    lead = Lead.objects.get()
    assert lead.email == "Ada.Lovelace@northwind-labs.io"
    assert lead.seniority == "vp"
    assert lead.department == "marketing"
    assert lead.country == "DE"
    assert lead.region == "europe"
    assert lead.account == account
    assert lead.attributes == {"plan": "team"}
    assert lead.stage == Stage.LEAD
    assert lead.highest_stage == Stage.LEAD
    assert lead.entered_lead_at == lead.stage_changed_at
    assert Account.objects.count() == 1
    assert StageTransition.objects.count() == 0


def test_admin_add_lead_with_freemail_gets_no_account(admin_client: Client) -> None:
    AccountFactory(domain="gmail.com")

    response = admin_client.post(
        reverse("admin:leads_lead_add"),
        {"email": "grace@GMAIL.com", "job_title": "Student", "attributes": "{}"},
    )

    assert response.status_code == 302
    lead = Lead.objects.get()
    assert lead.email == "grace@gmail.com"
    assert lead.account is None
    assert lead.seniority == "student"
    assert Account.objects.count() == 1


def test_admin_add_lead_with_new_company_domain_creates_the_account(
    admin_client: Client,
) -> None:
    response = admin_client.post(
        reverse("admin:leads_lead_add"),
        {"email": "ops@contoso-labs.example", "attributes": "{}"},
    )

    assert response.status_code == 302
    lead = Lead.objects.select_related("account").get()
    assert (lead.account.name, lead.account.domain) == (
        "Contoso Labs",
        "contoso-labs.example",
    )


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("email", "ada-at-example.com", "Enter a valid email address."),
        (
            "email",
            "ADA@Example.com",
            "A lead with this e-mail already exists (compared without regard to "
            "letter case).",
        ),
        (
            "country",
            "XX",
            "XX is not an ISO 3166 two-letter country code (for example US, DE, GB).",
        ),
        ("attributes", "[1, 2]", 'Enter a JSON object such as {"key": "value"}.'),
        (
            "attributes",
            '{"note": "a\\u0000b"}',
            "Remove the NUL character (\\u0000); it cannot be stored.",
        ),
    ],
)
def test_admin_add_lead_refuses_bad_input_with_a_field_error(
    admin_client: Client, field: str, value: str, error: str
) -> None:
    existing = LeadFactory(email="ada@example.com", first_name="Ada")
    data = {"email": "new@example.com", "attributes": "{}"} | {field: value}

    response = admin_client.post(reverse("admin:leads_lead_add"), data)

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {field: [error]}
    assert list(Lead.objects.values_list("id", "email")) == [
        (existing.id, "ada@example.com")
    ]


def test_admin_change_lead_updates_through_lead_update_and_ignores_stage(
    admin_client: Client, records: Records
) -> None:
    lead = records.other_lead
    url = reverse("admin:leads_lead_change", args=[lead.pk])

    response = admin_client.post(
        url,
        _lead_change_data(
            lead,
            job_title="CTO",
            country="jp",
            stage=Stage.CUSTOMER,
            highest_stage=Stage.CUSTOMER,
            seniority="entry",
        ),
    )

    assert response.status_code == 302
    lead.refresh_from_db()
    assert lead.stage == Stage.LEAD
    assert lead.highest_stage == Stage.LEAD
    assert lead.entered_customer_at is None
    assert lead.job_title == "CTO"
    assert lead.seniority == "executive"
    assert lead.department == "engineering"
    assert (lead.country, lead.region) == ("JP", "apac")
    assert lead.transitions.count() == 0


def test_admin_change_of_an_account_rescores_its_leads_and_is_audited(
    staff_marketer_client: Client,
) -> None:
    account = AccountFactory(name="Acme", domain="acme.example", employee_count=250)
    leads = LeadFactory.create_batch(2, account=account)
    other = LeadFactory()

    response = staff_marketer_client.post(
        reverse("admin:leads_account_change", args=[account.pk]),
        {
            "name": "Acme",
            "domain": "acme.example",
            "industry": account.industry,
            "country": "US",
            "employee_count": "12",
            "annual_revenue": "",
            "owner": "",
        },
    )

    assert response.status_code == 302
    assert Account.objects.get(id=account.id).employee_count == 12
    marked = Lead.objects.filter(rescore_requested_at__isnull=False)
    assert sorted(marked.values_list("id", flat=True)) == sorted(
        lead.id for lead in leads
    )
    assert other.id not in marked.values_list("id", flat=True)
    event = AuditEvent.objects.get(action="account_edit")
    assert event.details == {
        "account_id": account.id,
        "fields": ["employee_count"],
        "leads_rescored": 2,
    }


def test_admin_change_lead_is_audited_and_marks_the_lead_for_a_rescore(
    admin_client: Client, admin_user: Any, records: Records
) -> None:
    lead = records.other_lead

    response = admin_client.post(
        reverse("admin:leads_lead_change", args=[lead.pk]),
        _lead_change_data(lead, job_title="CTO", phone="+1 555 0100"),
    )

    assert response.status_code == 302
    lead.refresh_from_db()
    assert lead.rescore_requested_at is not None
    event = AuditEvent.objects.get(action="lead_edit")
    assert (event.actor, event.lead_id, event.details) == (
        admin_user,
        lead.id,
        {"fields": ["job_title", "phone"]},
    )


def test_admin_change_lead_ignores_a_posted_email(
    admin_client: Client, records: Records
) -> None:
    """E-mail is read-only on the change form: a posted one is ignored."""
    lead = records.other_lead
    url = reverse("admin:leads_lead_change", args=[lead.pk])

    response = admin_client.post(
        url, _lead_change_data(lead, email="ADA@northwind.example")
    )

    assert response.status_code == 302
    lead.refresh_from_db()
    assert lead.email == "grace@contoso.example"


def test_admin_change_lead_with_unknown_country_changes_nothing(
    admin_client: Client, records: Records
) -> None:
    lead = records.other_lead
    url = reverse("admin:leads_lead_change", args=[lead.pk])

    response = admin_client.post(
        url, _lead_change_data(lead, country="XX", first_name="Changed")
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "country": [
            "XX is not an ISO 3166 two-letter country code (for example US, DE, GB)."
        ]
    }
    lead.refresh_from_db()
    assert (lead.first_name, lead.country) == ("Grace", "US")


# The move action
# ------------------------------------------------------------------------------


def _move_data(leads: list[Lead], **fields: str) -> dict[str, Any]:
    return {
        "action": "move_to_stage",
        "_selected_action": [lead.pk for lead in leads],
        "select_across": "0",
        **fields,
    }


def test_move_action_asks_for_stage_and_reason_first(admin_client: Client) -> None:
    lead = LeadFactory()

    response = admin_client.post(
        reverse("admin:leads_lead_changelist"), _move_data([lead], index="0")
    )

    assert response.status_code == 200
    assert response.templates[0].name == "admin/leads/lead_move.html"
    assert response.context["lead_count"] == 1
    lead.refresh_from_db()
    assert lead.stage == Stage.LEAD
    assert StageTransition.objects.count() == 0


@pytest.mark.parametrize(
    ("to_stage", "label"),
    [(Stage.NURTURE, "Nurture"), (Stage.DISQUALIFIED, "Disqualified")],
)
def test_move_action_moves_allowed_leads_and_names_refused_ones(
    admin_client: Client, admin_user, to_stage: str, label: str
) -> None:
    first = LeadFactory(email="first@acme.example")
    second = LeadFactory(email="second@acme.example")
    customer = LeadFactory(
        email="carol@acme.example",
        stage=Stage.CUSTOMER,
        highest_stage=Stage.CUSTOMER,
    )

    response = admin_client.post(
        reverse("admin:leads_lead_changelist"),
        _move_data(
            [first, second, customer],
            apply="Move leads",
            to_stage=to_stage,
            reason="Budget frozen until Q3",
        ),
    )

    assert response.status_code == 302
    transitions = StageTransition.objects.order_by("lead_id")
    assert [
        (t.lead_id, t.from_stage, t.to_stage, t.actor, t.system_actor, t.reason)
        for t in transitions
    ] == [
        (first.id, "lead", to_stage, admin_user, "", "Budget frozen until Q3"),
        (second.id, "lead", to_stage, admin_user, "", "Budget frozen until Q3"),
    ]
    assert set(Lead.objects.values_list("email", "stage")) == {
        ("first@acme.example", to_stage),
        ("second@acme.example", to_stage),
        ("carol@acme.example", Stage.CUSTOMER),
    }
    assert _messages(response) == [
        (messages.SUCCESS, f"Moved 2 leads to {label}."),
        (
            messages.WARNING,
            f"Not moved: carol@acme.example. Lead {customer.id} cannot move "
            f"from Customer to {label}; allowed from customer: none.",
        ),
    ]


def test_move_action_across_pages_moves_only_the_filtered_leads(
    admin_client: Client,
) -> None:
    first = LeadFactory()
    second = LeadFactory()
    qualified = LeadFactory(stage=Stage.MQL, highest_stage=Stage.MQL)

    response = admin_client.post(
        reverse("admin:leads_lead_changelist") + "?stage__exact=lead",
        _move_data(
            [first],
            select_across="1",
            apply="Move leads",
            to_stage=Stage.DISQUALIFIED,
            reason="Competitor",
        ),
    )

    assert response.status_code == 302
    assert sorted(StageTransition.objects.values_list("lead_id", flat=True)) == [
        first.id,
        second.id,
    ]
    qualified.refresh_from_db()
    assert qualified.stage == Stage.MQL


def test_move_action_refuses_more_leads_than_its_limit(
    admin_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("leads.admin.leads.MOVE_ACTION_LIMIT", 1)
    leads = [LeadFactory(), LeadFactory()]

    response = admin_client.post(
        reverse("admin:leads_lead_changelist"),
        _move_data(leads, apply="Move leads", to_stage=Stage.NURTURE, reason="Old"),
    )

    assert response.status_code == 302
    assert _messages(response) == [
        (
            messages.ERROR,
            "Select at most 1 leads at a time (2 selected); no lead was moved.",
        )
    ]
    assert set(Lead.objects.values_list("stage", flat=True)) == {Stage.LEAD}
    assert StageTransition.objects.count() == 0


def test_move_action_without_reason_is_refused(admin_client: Client) -> None:
    lead = LeadFactory()

    response = admin_client.post(
        reverse("admin:leads_lead_changelist"),
        _move_data([lead], apply="Move leads", to_stage=Stage.NURTURE, reason="  "),
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "reason": ["This field is required."]
    }
    lead.refresh_from_db()
    assert lead.stage == Stage.LEAD
    assert StageTransition.objects.count() == 0


def test_move_action_refuses_a_stage_outside_the_choices(
    admin_client: Client,
) -> None:
    lead = LeadFactory()

    response = admin_client.post(
        reverse("admin:leads_lead_changelist"),
        _move_data([lead], apply="Move leads", to_stage=Stage.MQL, reason="Hot"),
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "to_stage": ["Select a valid choice. mql is not one of the available choices."]
    }
    lead.refresh_from_db()
    assert lead.stage == Stage.LEAD
    assert StageTransition.objects.count() == 0


# Accounts and campaigns
# ------------------------------------------------------------------------------


def test_admin_add_account_normalises_the_domain(admin_client: Client) -> None:
    response = admin_client.post(
        reverse("admin:leads_account_add"),
        {"name": "Contoso", "domain": " WWW.Contoso.COM ", "country": "gb"},
    )

    assert response.status_code == 302
    account = Account.objects.get()
    assert (account.domain, account.country) == ("contoso.com", "GB")


def test_admin_add_account_with_a_domain_in_another_case_is_refused(
    admin_client: Client,
) -> None:
    existing = AccountFactory(name="Northwind", domain="northwind.example")

    response = admin_client.post(
        reverse("admin:leads_account_add"),
        {"name": "Northwind again", "domain": "www.NorthWind.Example"},
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "domain": ["An account with this domain already exists."]
    }
    assert list(Account.objects.values_list("id", "name")) == [
        (existing.id, "Northwind")
    ]


def test_admin_add_account_on_a_public_suffix_is_refused(admin_client: Client) -> None:
    response = admin_client.post(
        reverse("admin:leads_account_add"),
        {"name": "Someone", "domain": "www.co.uk"},
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "domain": [
            "co.uk is a public suffix shared by many companies; give the "
            "company's own domain, such as example.co.uk."
        ]
    }
    assert not Account.objects.exists()


def _campaign_data(**overrides: str) -> dict[str, str]:
    return {
        "name": "Autumn launch",
        "channel": "email",
        "utm_source": "newsletter",
        "utm_medium": "email",
        "utm_campaign": "autumn",
        "budget": "500",
        "starts_on": "2026-09-01",
        "ends_on": "2026-09-30",
    } | overrides


@pytest.mark.parametrize(
    ("overrides", "errors"),
    [
        (
            {"starts_on": "2026-09-30", "ends_on": "2026-09-01"},
            {"__all__": ["The end date must not be before the start."]},
        ),
        (
            {"utm_campaign": "spring"},
            {"__all__": ["Another campaign already uses these UTM keys."]},
        ),
        (
            {"name": "Spring webinar", "utm_campaign": "other"},
            {"name": ["Campaign with this Name already exists."]},
        ),
        (
            {"budget": "-1"},
            {"budget": ["Ensure this value is greater than or equal to 0."]},
        ),
    ],
)
def test_admin_add_campaign_refuses_invalid_input(
    admin_client: Client,
    records: Records,
    overrides: dict[str, str],
    errors: dict[str, list[str]],
) -> None:
    response = admin_client.post(
        reverse("admin:leads_campaign_add"), _campaign_data(**overrides)
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == errors
    assert list(Campaign.objects.values_list("name", flat=True)) == ["Spring webinar"]


def test_admin_add_campaign_saves_valid_input(admin_client: Client) -> None:
    response = admin_client.post(reverse("admin:leads_campaign_add"), _campaign_data())

    assert response.status_code == 302
    campaign = Campaign.objects.get()
    assert (campaign.name, campaign.starts_on, campaign.ends_on) == (
        "Autumn launch",
        dt.date(2026, 9, 1),
        dt.date(2026, 9, 30),
    )


# Touchpoints, kinds and stage transitions
# ------------------------------------------------------------------------------


def test_touchpoint_change_page_is_read_only(
    admin_client: Client, records: Records
) -> None:
    url = reverse("admin:leads_touchpoint_change", args=[records.touchpoint.pk])

    response = admin_client.get(url)

    assert response.status_code == 200
    assert 'name="_save"' not in response.content.decode()
    assert 'name="_continue"' not in response.content.decode()


def test_touchpoint_change_post_is_refused(
    admin_client: Client, records: Records
) -> None:
    touchpoint = records.touchpoint
    url = reverse("admin:leads_touchpoint_change", args=[touchpoint.pk])

    response = admin_client.post(
        url,
        {
            "lead": records.other_lead.pk,
            "kind": "page_view",
            "occurred_at_0": "2026-03-01",
            "occurred_at_1": "10:00:00",
            "properties": '{"url": "https://changed.example/"}',
            "source": "api",
        },
    )

    assert response.status_code == 403
    touchpoint.refresh_from_db()
    assert (touchpoint.lead_id, touchpoint.kind_id, touchpoint.properties) == (
        records.lead.id,
        "demo_request",
        {"url": "https://leadflow.test/"},
    )


def test_admin_add_touchpoint_stores_it(
    staff_marketer_client: Client, records: Records
) -> None:
    response = staff_marketer_client.post(
        reverse("admin:leads_touchpoint_add"),
        {
            "lead": records.other_lead.pk,
            "kind": "chat",
            "occurred_at_0": "2026-03-01",
            "occurred_at_1": "10:00:00",
            "properties": '{"topic": "pricing"}',
            "source": "admin",
            "external_id": "",
        },
    )

    assert response.status_code == 302
    touchpoint = Touchpoint.objects.get(lead=records.other_lead)
    assert (
        touchpoint.kind_id,
        touchpoint.occurred_at,
        touchpoint.properties,
        touchpoint.source,
        touchpoint.external_id,
    ) == (
        "chat",
        dt.datetime(2026, 3, 1, 10, 0, tzinfo=dt.UTC),
        {"topic": "pricing"},
        "admin",
        None,
    )


def test_admin_add_touchpoint_refuses_properties_that_are_not_an_object(
    admin_client: Client, records: Records
) -> None:
    response = admin_client.post(
        reverse("admin:leads_touchpoint_add"),
        {
            "lead": records.other_lead.pk,
            "kind": "chat",
            "occurred_at_0": "2026-03-01",
            "occurred_at_1": "10:00:00",
            "properties": '["pricing"]',
            "source": "admin",
        },
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "properties": ['Enter a JSON object such as {"key": "value"}.']
    }
    assert list(Touchpoint.objects.values_list("id", flat=True)) == [
        records.touchpoint.id
    ]


def test_touchpoint_delete_is_for_superusers_only(
    staff_marketer_client: Client, admin_client: Client, records: Records
) -> None:
    url = reverse("admin:leads_touchpoint_delete", args=[records.touchpoint.pk])

    refused = staff_marketer_client.post(url, {"post": "yes"})
    assert refused.status_code == 403
    assert Touchpoint.objects.filter(pk=records.touchpoint.pk).exists()

    allowed = admin_client.post(url, {"post": "yes"})
    assert allowed.status_code == 302
    assert not Touchpoint.objects.filter(pk=records.touchpoint.pk).exists()


def test_touchpoint_kind_code_cannot_change_and_kinds_cannot_be_deleted(
    admin_client: Client,
) -> None:
    kind = TouchpointKind.objects.get(code="chat")
    change_url = reverse("admin:leads_touchpointkind_change", args=[kind.pk])

    changed = admin_client.post(
        change_url,
        {
            "code": "talk",
            "label": "Live chat",
            "is_high_intent": "on",
            "is_active": "on",
        },
    )
    deleted = admin_client.post(
        reverse("admin:leads_touchpointkind_delete", args=[kind.pk]), {"post": "yes"}
    )

    assert changed.status_code == 302
    assert deleted.status_code == 403
    kind.refresh_from_db()
    assert (kind.code, kind.label, kind.is_high_intent) == ("chat", "Live chat", True)


@pytest.mark.parametrize(
    ("url_name", "method"),
    [
        ("admin:leads_stagetransition_add", "get"),
        ("admin:leads_stagetransition_add", "post"),
        ("admin:leads_stagetransition_change", "post"),
        ("admin:leads_stagetransition_delete", "get"),
        ("admin:leads_stagetransition_delete", "post"),
    ],
)
def test_stage_transitions_cannot_be_written_even_by_a_superuser(
    admin_client: Client, records: Records, url_name: str, method: str
) -> None:
    args = [] if url_name.endswith("_add") else [records.transition.pk]
    data = {
        "lead": records.other_lead.pk,
        "from_stage": "lead",
        "to_stage": "customer",
        "at_0": "2026-03-01",
        "at_1": "10:00:00",
        "system_actor": "admin",
        "reason": "edited",
        "post": "yes",
    }

    response = getattr(admin_client, method)(reverse(url_name, args=args), data)

    assert response.status_code == 403
    transition = StageTransition.objects.get()
    assert (transition.pk, transition.to_stage, transition.reason) == (
        records.transition.pk,
        "nurture",
        "No budget this year",
    )


# Roles and users
# ------------------------------------------------------------------------------


def test_marketer_can_list_leads_but_not_delete_them_or_manage_users(
    staff_marketer_client: Client, records: Records
) -> None:
    changelist = staff_marketer_client.get(reverse("admin:leads_lead_changelist"))
    delete_page = staff_marketer_client.get(
        reverse("admin:leads_lead_delete", args=[records.lead.pk])
    )
    delete_post = staff_marketer_client.post(
        reverse("admin:leads_lead_delete", args=[records.lead.pk]), {"post": "yes"}
    )
    users = staff_marketer_client.get(reverse("admin:auth_user_changelist"))

    assert changelist.status_code == 200
    assert changelist.context["cl"].result_count == 2
    assert delete_page.status_code == 403
    assert delete_post.status_code == 403
    assert users.status_code == 403
    assert Lead.objects.filter(pk=records.lead.pk).exists()


def test_marketer_sees_the_move_action_but_not_bulk_delete(
    staff_marketer_client: Client,
) -> None:
    response = staff_marketer_client.get(reverse("admin:leads_lead_changelist"))

    actions = [
        name for name, _ in response.context["action_form"].fields["action"].choices
    ]
    assert actions == ["", "move_to_stage"]


def test_user_list_shows_roles_and_filters_by_group(admin_client: Client) -> None:
    marketer = UserFactory(username="mia", is_staff=True, roles=["Marketing", "SDR"])
    UserFactory(username="sam", roles=["Sales"])
    marketing = Group.objects.get(name="Marketing")

    response = admin_client.get(
        reverse("admin:auth_user_changelist") + f"?groups__id__exact={marketing.id}"
    )

    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == [marketer]
    assert '<td class="field-roles">Marketing, SDR</td>' in response.content.decode()


# Deleting campaigns and accounts
# ------------------------------------------------------------------------------


def test_a_campaign_with_touchpoints_cannot_be_deleted_and_says_why(
    admin_client: Client, records: Records
):
    TouchpointFactory(lead=records.other_lead, campaign=records.campaign)
    url = reverse("admin:leads_campaign_delete", args=[records.campaign.pk])

    page = admin_client.get(url)
    posted = admin_client.post(url, {"post": "yes"})

    change = reverse("admin:leads_campaign_change", args=[records.campaign.pk])
    assert (page.status_code, page["Location"]) == (302, change)
    assert (posted.status_code, posted["Location"]) == (302, change)
    # Both answers said the same (the first one is still unread).
    assert (
        _messages(posted)
        == [
            (
                messages.ERROR,
                "Campaign “Spring webinar” has 2 touchpoints; it cannot be deleted. "
                "Keep it for the reports (set its end date to retire it).",
            )
        ]
        * 2
    )
    assert Touchpoint.objects.filter(campaign=records.campaign).count() == 2
    assert not AuditEvent.objects.filter(action="campaign_delete").exists()


def test_bulk_deleting_a_campaign_in_use_is_refused(
    admin_client: Client, records: Records
):
    response = admin_client.post(
        reverse("admin:leads_campaign_changelist"),
        {
            "action": "delete_selected",
            "_selected_action": [records.campaign.pk],
            "post": "yes",
        },
    )

    assert response.status_code == 200
    assert "would require deleting the following protected" in response.content.decode()
    assert Campaign.objects.filter(pk=records.campaign.pk).exists()
    assert Touchpoint.objects.get(pk=records.touchpoint.pk).campaign == records.campaign


def test_deleting_an_unused_campaign_is_audited(admin_client: Client, records: Records):
    unused = CampaignFactory(name="Never ran")

    response = admin_client.post(
        reverse("admin:leads_campaign_delete", args=[unused.pk]), {"post": "yes"}
    )

    assert response.status_code == 302
    assert not Campaign.objects.filter(pk=unused.pk).exists()
    event = AuditEvent.objects.get(action="campaign_delete")
    assert (event.actor.username, event.lead_id, event.details) == (
        "admin",
        None,
        {"campaign_id": unused.pk},
    )


def test_the_account_delete_page_counts_the_leads_it_keeps(
    admin_client: Client, records: Records
):
    LeadFactory(account=records.account)

    page = admin_client.get(
        reverse("admin:leads_account_delete", args=[records.account.pk])
    )

    assert page.status_code == 200
    assert (
        "<li>Leads kept, detached from the account and rescored: 2</li>"
        in page.content.decode()
    )


def test_deleting_an_account_detaches_and_rescores_its_leads_and_is_audited(
    admin_client: Client, records: Records
):
    second = LeadFactory(account=records.account)
    Lead.objects.filter(id__in=[records.lead.id, second.id]).update(
        rescore_requested_at=None
    )
    account_id = records.account.pk

    response = admin_client.post(
        reverse("admin:leads_account_delete", args=[account_id]), {"post": "yes"}
    )

    assert response.status_code == 302
    assert not Account.objects.filter(pk=account_id).exists()
    leads = Lead.objects.filter(id__in=[records.lead.id, second.id])
    assert [
        (lead.account_id, lead.rescore_requested_at is not None) for lead in leads
    ] == [
        (None, True),
        (None, True),
    ]
    event = AuditEvent.objects.get(action="account_delete")
    assert (event.actor.username, event.details) == (
        "admin",
        {"account_id": account_id, "leads_detached": 2},
    )


def test_bulk_deleting_accounts_goes_through_the_service(
    admin_client: Client, records: Records
):
    empty = AccountFactory(name="Empty Co", domain="empty.example")

    admin_client.post(
        reverse("admin:leads_account_changelist"),
        {
            "action": "delete_selected",
            "_selected_action": [records.account.pk, empty.pk],
            "post": "yes",
        },
    )

    assert not Account.objects.filter(pk__in=[records.account.pk, empty.pk]).exists()
    assert Lead.objects.get(id=records.lead.id).rescore_requested_at is not None
    assert sorted(
        (e.details["account_id"], e.details["leads_detached"])
        for e in AuditEvent.objects.filter(action="account_delete")
    ) == sorted([(records.account.pk, 1), (empty.pk, 0)])
