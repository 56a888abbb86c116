"""The bench_pages command: times the demo users' pages, writes only sessions."""

from __future__ import annotations

import io
import json

import pytest
from django.conf import settings as django_settings
from django.contrib.sessions.models import Session
from django.core.files.storage import storages
from django.core.management import CommandError, call_command
from django.core.signals import request_started
from django.utils import timezone

from crm.roles import MARKETING, SALES, SDR
from handoff.models import SalesProfile
from leads.lifecycle import FUNNEL
from tests.factories import LeadFactory, TouchpointFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo_users():
    users = {
        "sdr1": UserFactory(username="sdr1", roles=[SDR]),
        "manager": UserFactory(username="manager", roles=[SDR]),
        "rep1": UserFactory(username="rep1", roles=[SALES]),
        "marketer": UserFactory(username="marketer", roles=[MARKETING]),
    }
    SalesProfile.objects.create(user=users["manager"], is_manager=True)
    TouchpointFactory(lead=LeadFactory(last_name="Okafor"))
    return users


MEASURED = [
    "SAL queue (sdr1)",
    "SAL queue (manager)",
    "SAL queue, polled fragment (sdr1)",
    "SAL queue, polled fragment (manager)",
    "Sales pipeline (rep1)",
    "Team pipeline (manager)",
    "Lead list (marketer)",
    "Lead list, stage and country (marketer)",
    "Lead list, by score (marketer)",
    "Lead list, name search (marketer)",
    "Lead page (marketer)",
    "SLA report (manager)",
    "Marketing dashboard, quarter (marketer)",
    "Marketing dashboard, quarter by source (marketer)",
    "Marketing dashboard, quarter by region (marketer)",
    "Campaigns (marketer)",
    "Rule analytics, 90 days (marketer)",
]
SHORT_LIST = {
    "page": "Lead list, page 1,000 by cursor (marketer)",
    "reason": "the lead list has fewer than 50,001 leads",
}
NO_PLAN = {
    "page": "MQL planner, next quarter (marketer)",
    "reason": "no lead became a customer this quarter to plan from",
}


def bench(*args: str) -> list[str]:
    out = io.StringIO()
    call_command("bench_pages", *args, stdout=out)
    return out.getvalue().splitlines()


def test_times_every_page_and_deletes_its_sessions(demo_users):
    lines = bench("--runs", "3", "--warmup", "1")

    figures = json.loads(lines[-1])
    assert (figures["runs"], figures["warmup"]) == (3, 1)
    assert figures["skipped"] == [SHORT_LIST, NO_PLAN]
    assert [p["page"] for p in figures["pages"]] == MEASURED
    for page in figures["pages"]:
        assert 0 < page["p50_ms"] <= page["p95_ms"] <= page["max_ms"], page
        assert page["queries_min"] > 0, page
    assert lines[1].startswith("SAL queue (sdr1)")
    assert " p50 " in lines[1]
    assert " queries " in lines[1]
    assert Session.objects.count() == 0
    assert all(u.last_login is None for u in demo_users.values())


def test_the_pages_are_served_with_debug_off_as_in_production(demo_users, settings):
    settings.DEBUG = True
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {
            "BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"
        },
    }
    seen = []

    def note_settings(**kwargs):
        seen.append((django_settings.DEBUG, type(storages["staticfiles"]).__name__))

    request_started.connect(note_settings)
    try:
        lines = bench("--runs", "1", "--warmup", "0")
    finally:
        request_started.disconnect(note_settings)

    assert len(seen) == len(MEASURED)
    assert set(seen) == {(False, "StaticFilesStorage")}
    assert lines[0].endswith("with DEBUG off as in production")
    assert json.loads(lines[-1])["debug"] is False
    assert django_settings.DEBUG is True
    assert type(storages["staticfiles"]).__name__ == "ManifestStaticFilesStorage"


def test_the_managers_pages_are_skipped_when_the_manager_may_not_open_it(demo_users):
    SalesProfile.objects.filter(user=demo_users["manager"]).update(is_manager=False)

    figures = json.loads(bench("--runs", "1", "--warmup", "0")[-1])

    assert figures["skipped"] == [
        {
            "page": "Team pipeline (manager)",
            "reason": "manager has no manager flag, so may not open it",
        },
        SHORT_LIST,
        {
            "page": "SLA report (manager)",
            "reason": "manager has no manager flag, so may not open it",
        },
        NO_PLAN,
    ]
    assert len(figures["pages"]) == len(MEASURED) - 2


def test_the_deep_page_and_the_plan_are_timed_when_the_data_allows(
    demo_users, monkeypatch
):
    monkeypatch.setattr("crm.bench.pages.DEEP_PAGE", 1)
    LeadFactory.create_batch(50)
    now = timezone.now()
    LeadFactory(
        stage="customer",
        highest_stage="customer",
        **{f"entered_{stage}_at": now for stage in FUNNEL[1:]},
    )

    figures = json.loads(bench("--runs", "1", "--warmup", "0")[-1])

    assert figures["skipped"] == []
    assert [p["page"] for p in figures["pages"]] == [
        *MEASURED[:7],
        "Lead list, page 1,000 by cursor (marketer)",
        *MEASURED[7:],
        "MQL planner, next quarter (marketer)",
    ]


def test_missing_demo_users_are_a_clear_error(demo_users):
    demo_users["rep1"].delete()

    with pytest.raises(CommandError, match="no user rep1: load the demo data"):
        bench("--runs", "1")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--runs", "0"], "'0' is not a positive whole number"),
        (["--runs", "ten"], "'ten' is not a positive whole number"),
        (["--warmup", "-1"], "'-1' is not a whole number"),
    ],
)
def test_bad_options_are_refused(demo_users, args, message):
    with pytest.raises(CommandError, match=message):
        bench(*args)
