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

from crm.roles import MARKETING, SALES, SDR
from handoff.models import SalesProfile
from tests.factories import UserFactory

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
    return users


def bench(*args: str) -> list[str]:
    out = io.StringIO()
    call_command("bench_pages", *args, stdout=out)
    return out.getvalue().splitlines()


def test_times_every_page_and_deletes_its_sessions(demo_users):
    lines = bench("--runs", "3", "--warmup", "1")

    figures = json.loads(lines[-1])
    assert (figures["runs"], figures["warmup"], figures["skipped"]) == (3, 1, [])
    assert [p["page"] for p in figures["pages"]] == [
        "SAL queue (sdr1)",
        "SAL queue (manager)",
        "SAL queue, polled fragment (sdr1)",
        "SAL queue, polled fragment (manager)",
        "Sales pipeline (rep1)",
        "Team pipeline (manager)",
        "Dashboard, quarter (marketer)",
        "Dashboard, quarter by source (marketer)",
        "Dashboard, quarter by region (marketer)",
    ]
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

    assert len(seen) == 9
    assert set(seen) == {(False, "StaticFilesStorage")}
    assert lines[0].endswith("with DEBUG off as in production")
    assert json.loads(lines[-1])["debug"] is False
    assert django_settings.DEBUG is True
    assert type(storages["staticfiles"]).__name__ == "ManifestStaticFilesStorage"


def test_the_team_pipeline_is_skipped_when_the_manager_may_not_open_it(demo_users):
    SalesProfile.objects.filter(user=demo_users["manager"]).update(is_manager=False)

    figures = json.loads(bench("--runs", "1", "--warmup", "0")[-1])

    assert figures["skipped"] == [
        {
            "page": "Team pipeline (manager)",
            "reason": "manager has no manager flag, so may not open it",
        }
    ]
    assert len(figures["pages"]) == 8


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
