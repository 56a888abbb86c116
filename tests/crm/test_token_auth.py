"""API token authentication reads the user's permissions with the token, and
never carries them from one request to the next."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission

from crm.roles import MARKETING, SDR
from leads.models import Touchpoint
from tests.clients import token_client
from tests.factories import LeadFactory, UserFactory

pytestmark = pytest.mark.django_db

TOUCHPOINTS = "/api/v1/touchpoints/"


def _touchpoint(lead_id: int, external_id: str) -> dict[str, object]:
    return {"lead": lead_id, "kind": "page_view", "external_id": external_id}


def test_a_role_taken_away_is_refused_on_the_next_request():
    lead = LeadFactory()
    user = UserFactory(roles=[MARKETING])
    api = token_client(user)
    assert (
        api.post(TOUCHPOINTS, _touchpoint(lead.id, "a"), format="json").status_code
        == 201
    )

    user.groups.set(Group.objects.filter(name=SDR))
    response = api.post(TOUCHPOINTS, _touchpoint(lead.id, "b"), format="json")

    assert response.status_code == 403
    assert list(Touchpoint.objects.values_list("external_id", flat=True)) == ["a"]


def test_a_permission_taken_from_the_role_is_refused_on_the_next_request():
    lead = LeadFactory()
    api = token_client(UserFactory(roles=[MARKETING]))
    assert (
        api.post(TOUCHPOINTS, _touchpoint(lead.id, "a"), format="json").status_code
        == 201
    )

    Group.objects.get(name=MARKETING).permissions.remove(
        Permission.objects.get(codename="add_touchpoint")
    )
    response = api.post(TOUCHPOINTS, _touchpoint(lead.id, "b"), format="json")

    assert response.status_code == 403
    assert Touchpoint.objects.count() == 1


def test_a_permission_given_to_the_user_alone_counts():
    lead = LeadFactory()
    user = UserFactory(roles=[SDR])
    api = token_client(user)
    assert (
        api.post(TOUCHPOINTS, _touchpoint(lead.id, "a"), format="json").status_code
        == 403
    )

    user.user_permissions.add(Permission.objects.get(codename="add_touchpoint"))
    response = api.post(TOUCHPOINTS, _touchpoint(lead.id, "a"), format="json")

    assert response.status_code == 201


def test_a_deactivated_users_token_is_refused():
    user = UserFactory(roles=[MARKETING])
    api = token_client(user)
    user.is_active = False
    user.save(update_fields=["is_active"])

    response = api.post(TOUCHPOINTS, _touchpoint(LeadFactory().id, "a"), format="json")

    assert response.status_code == 401
    assert response.json() == {"detail": "User inactive or deleted."}
    assert Touchpoint.objects.count() == 0


@pytest.mark.postgres
def test_a_single_touchpoint_costs_one_query_for_token_and_permissions(
    django_assert_num_queries,
):
    lead = LeadFactory()
    api = token_client(UserFactory(roles=[MARKETING]))
    api.post(TOUCHPOINTS, _touchpoint(lead.id, "warm"), format="json")

    # The token with its user and permissions; the kinds, the lead and
    # stored external ids in one query, INSERT (a concurrent external id
    # skipped, no savepoint), the rescore mark (one lead: no separate lock).
    # Inside the test's transaction, so without the BEGIN and COMMIT a
    # request adds.
    with django_assert_num_queries(4):
        response = api.post(TOUCHPOINTS, _touchpoint(lead.id, "one"), format="json")

    assert response.status_code == 201
