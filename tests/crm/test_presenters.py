"""The lead list's rows say what the template's filters said."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.template import Context, Template
from django.utils import timezone

from crm.common.roles import SALES
from crm.presenters import lead_rows
from leads.models import Lead, Stage
from tests.factories import AccountFactory, LeadFactory, UserFactory

pytestmark = pytest.mark.django_db

#: Each cell as the list's template printed it before the rows were worded
#: in Python, by the row field that replaces it.
CELLS = {
    "url": "{% url 'crm:lead_detail' lead.id %}",
    "name": "{{ lead.full_name|default:lead.email }}",
    "title": '{{ lead.job_title|default:"No title" }}',
    "account": '{{ lead.account|default:"\u2014" }}',
    "country": '{{ lead.country|country_name|default:"\u2014" }}',
    "stage_label": "{{ lead.get_stage_display }}",
    "stage_short": "{{ lead.stage|stage_short }}",
    "score": "{{ lead.score|score }}",
    "grade_class": "{{ lead.grade|lower }}",
    "owner": "{% if lead.owner %}{{ lead.owner|person }}{% endif %}",
    "created_title": "{{ lead.created_at|date:'Y-m-d H:i e' }}",
    "created": '{{ lead.created_at|date:"j M Y" }}',
}
LOADS = "{% load leads_tags crm_tags handoff_tags scoring_tags %}"


@pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin", "Pacific/Auckland"])
def test_each_cell_reads_as_the_filters_said(zone):
    owner = UserFactory(roles=[SALES], first_name="Rita", last_name="Rep")
    LeadFactory(
        first_name="Zoë",
        last_name="<Ångström>",
        account=AccountFactory(name="Acme & Co"),
        owner=owner,
        country="KR",
        grade="B",
        score=Decimal("1234.56"),
        stage=Stage.MQL,
    )
    LeadFactory(first_name="", last_name="", job_title="", country="", grade="")
    LeadFactory(country="XX", owner=UserFactory(first_name="", last_name=""))
    moments = [
        dt.datetime(2026, 3, 28, 23, 30, tzinfo=dt.UTC),
        dt.datetime(2026, 3, 29, 1, 30, tzinfo=dt.UTC),
        dt.datetime(2026, 10, 25, 0, 59, tzinfo=dt.UTC),
    ]
    for lead, at in zip(Lead.objects.order_by("id"), moments, strict=True):
        Lead.objects.filter(id=lead.id).update(created_at=at)
    leads = list(Lead.objects.select_related("account", "owner").order_by("id"))

    with timezone.override(zone):
        rows = lead_rows(leads)
        for row in rows:
            for field, cell in CELLS.items():
                expected = Template(LOADS + cell).render(
                    Context({"lead": row.lead}, autoescape=False)
                )
                assert getattr(row, field) == expected, (field, row.lead)
    assert rows[0].owner == "Rita Rep"
