"""The signed-in user's permissions, groups and manager flag in one query."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext

from crm.common.roles import SALES, SDR
from handoff.models import SalesProfile
from tests.factories import UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

FACTS = "SELECT ARRAY("


def _get(client, path: str) -> tuple[int, list[str]]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path)
    return response.status_code, [q["sql"] for q in queries.captured_queries]


def test_a_page_reads_the_users_permissions_groups_and_flag_in_one_statement(
    client,
):
    user = UserFactory(roles=[SDR])
    SalesProfile.objects.update_or_create(user=user, defaults={"is_manager": True})
    client.force_login(user)

    # The team pipeline is for managers only: the flag came with the facts.
    status, sql = _get(client, "/pipeline/team/")

    assert status == 200
    assert len([q for q in sql if q.startswith(FACTS)]) == 1
    assert not [q for q in sql if "auth_permission" in q and not q.startswith(FACTS)]
    assert not [q for q in sql if 'FROM "auth_group"' in q]
    assert not [q for q in sql if 'FROM "handoff_salesprofile"' in q]


def test_a_change_of_role_or_flag_shows_on_the_next_request(client):
    user = UserFactory(roles=[SALES])
    client.force_login(user)
    assert _get(client, "/pipeline/")[0] == 200
    assert _get(client, "/pipeline/team/")[0] == 403

    SalesProfile.objects.update_or_create(user=user, defaults={"is_manager": True})
    assert _get(client, "/pipeline/team/")[0] == 200

    user.groups.clear()
    SalesProfile.objects.filter(user=user).update(is_manager=False)
    assert _get(client, "/pipeline/")[0] == 403

    # A permission of the user's own counts as one of a group.
    user.user_permissions.add(
        Permission.objects.get(
            codename="add_salesoutcome", content_type__app_label="handoff"
        )
    )
    assert _get(client, "/pipeline/")[0] == 200


def test_a_superuser_keeps_every_permission(client):
    user = UserFactory(is_superuser=True)
    client.force_login(user)

    status, sql = _get(client, "/pipeline/team/")

    assert status == 200
    assert len([q for q in sql if q.startswith(FACTS)]) == 1


def test_nothing_is_read_for_a_request_that_never_asks_about_its_user(client):
    Group.objects.get(name=SDR)  # the roles exist
    status, sql = _get(client, "/healthz/")

    assert status == 200
    assert not [q for q in sql if q.startswith(FACTS)]
