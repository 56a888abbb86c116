"""Login, role landing pages, permissions and the health check."""

from __future__ import annotations

import pytest
from django.urls import reverse

from crm.roles import ADMIN, MARKETING, SALES, SDR
from handoff.models import SalesProfile
from leads.models import Stage
from tests.factories import LeadFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_login_page_renders_at_the_public_path(client):
    response = client.get("/accounts/login/")
    assert response.status_code == 200
    assert b'name="username"' in response.content
    assert b'name="password"' in response.content


def test_wrong_password_shows_an_error_and_does_not_log_in(client):
    UserFactory(username="sdr1", roles=[SDR])
    response = client.post(
        "/accounts/login/", {"username": "sdr1", "password": "wrong"}
    )
    assert response.status_code == 200
    assert b"Please enter a correct username and password" in response.content
    assert "_auth_user_id" not in client.session


@pytest.mark.parametrize(
    ("role", "start_page"),
    [
        (MARKETING, "/marketing/"),
        (SDR, "/queue/"),
        (SALES, "/pipeline/"),
        (ADMIN, "/admin/"),
    ],
)
def test_each_role_lands_on_its_start_page(client, role, start_page):
    UserFactory(username="person", roles=[role], is_staff=role == ADMIN)

    response = client.post(
        "/accounts/login/", {"username": "person", "password": "pw-for-tests"}
    )
    assert response.status_code == 302
    assert response.url == reverse("crm:home")

    landing = client.get(response.url)
    assert landing.status_code == 302
    assert landing.url == start_page
    assert client.get(start_page).status_code == 200


def test_user_without_role_is_told_to_ask_for_one(client):
    user = UserFactory()
    client.force_login(user)
    response = client.get("/")
    assert response.status_code == 403
    assert b"Your account has no role yet" in response.content


def test_anonymous_user_is_sent_to_login(client):
    response = client.get("/marketing/")
    assert response.status_code == 302
    assert response.url == "/accounts/login/?next=/marketing/"


@pytest.mark.parametrize(
    ("role", "page"),
    [(SDR, "/marketing/"), (SALES, "/queue/"), (MARKETING, "/pipeline/")],
)
def test_other_roles_pages_are_forbidden(client, role, page):
    client.force_login(UserFactory(roles=[role]))
    response = client.get(page)
    assert response.status_code == 403
    assert b"This page is not for your role" in response.content


def test_admin_role_may_open_every_start_page(client):
    client.force_login(UserFactory(roles=[ADMIN], is_staff=True))
    for page in ["/marketing/", "/queue/", "/pipeline/"]:
        assert client.get(page).status_code == 200


def test_navigation_shows_only_the_users_pages(client):
    client.force_login(UserFactory(roles=[SDR]))
    content = client.get("/queue/").content.decode()
    assert 'href="/queue/"' in content
    assert 'href="/marketing/"' not in content
    assert 'href="/admin/"' not in content


def test_marketing_page_counts_leads_by_stage(client):
    LeadFactory.create_batch(3)
    LeadFactory(stage=Stage.MQL, highest_stage=Stage.MQL)
    client.force_login(UserFactory(roles=[MARKETING]))

    response = client.get("/marketing/")

    counts = {row["stage"]: row["count"] for row in response.context["stage_counts"]}
    assert counts == {
        "lead": 3,
        "mql": 1,
        "sal": 0,
        "sql": 0,
        "opportunity": 0,
        "customer": 0,
        "nurture": 0,
        "disqualified": 0,
    }
    assert response.context["lead_total"] == 4
    assert response.context["mql_count"] == 1


def test_sdr_start_page_is_the_sal_queue_and_sales_lands_on_the_pipeline(client):
    sdr, rep = UserFactory(roles=[SDR]), UserFactory(roles=[SALES])
    client.force_login(sdr)
    queue = client.get("/queue/")
    client.force_login(rep)
    pipeline = client.get("/pipeline/")

    assert "handoff/queue.html" in [t.name for t in queue.templates]
    assert [s.title for s in queue.context["sections"]] == ["Mine", "Team"]
    assert "handoff/pipeline.html" in [t.name for t in pipeline.templates]
    assert [c.stage for c in pipeline.context["columns"]] == [
        "sal",
        "sql",
        "opportunity",
    ]


def test_navigation_shows_the_sla_report_to_managers_only(client):
    manager, sdr = UserFactory(roles=[SALES]), UserFactory(roles=[SDR])
    SalesProfile.objects.create(user=manager, is_manager=True)
    client.force_login(manager)
    manager_nav = [i["label"] for i in client.get("/pipeline/").context["nav_items"]]
    client.force_login(sdr)
    sdr_nav = [i["label"] for i in client.get("/queue/").context["nav_items"]]

    assert manager_nav == [
        "SAL queue",
        "Pipeline",
        "Team pipeline",
        "SLA report",
        "Marketing",
        "Campaigns",
        "Planner",
        "Rule analytics",
        "Leads",
    ]
    assert sdr_nav == ["SAL queue", "Leads"]


def test_logout_is_a_post_and_returns_to_login(client):
    client.force_login(UserFactory(roles=[SDR]))
    response = client.post("/accounts/logout/")
    assert response.status_code == 302
    assert response.url == "/accounts/login/"
    assert client.get("/queue/").status_code == 302


def test_healthz_reports_database_and_broker(client, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    response = client.get("/healthz/")
    assert response.status_code == 200
    assert response.json() == {
        "database": "ok",
        "broker": "eager (no broker configured)",
    }


@pytest.mark.redis
def test_healthz_reaches_a_real_redis(client, settings):
    import os

    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CELERY_BROKER_URL = os.environ.get("REDIS_URL") or os.environ.get(
        "CELERY_BROKER_URL"
    )
    response = client.get("/healthz/")
    assert response.json()["broker"] == "ok"


def test_healthz_reports_an_unreachable_broker_without_failing(client, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    response = client.get("/healthz/")
    assert response.status_code == 200
    assert response.json()["broker"] == "error: ConnectionError"
