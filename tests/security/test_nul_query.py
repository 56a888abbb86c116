"""A NUL byte in a query string is refused at the boundary (reliability rule 6).

PostgreSQL cannot store or compare text holding NUL, so before the
middleware ``/admin/leads/lead/?stage__exact=%00`` reached the database and
ended as a 500 there.
"""

from __future__ import annotations

import pytest

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "url",
    [
        "/admin/leads/lead/?stage__exact=%00",
        "/admin/leads/lead/?q=a%00b",
        "/leads/?stage=%00",
    ],
)
def test_a_nul_in_a_page_query_is_a_400_that_says_so(client, url):
    client.force_login(UserFactory(roles=["Admin"], is_staff=True, is_superuser=True))

    response = client.get(url)

    assert response.status_code == 400
    assert "NUL byte" in response.content.decode()


def test_a_nul_in_an_api_filter_is_left_to_the_filter_that_names_the_field(client):
    client.force_login(UserFactory(roles=["Marketing"]))

    response = client.get("/api/v1/leads/?stage=%00")

    assert response.status_code == 400
    assert "stage" in response.json()


def test_a_query_without_nul_passes_through(client):
    client.force_login(UserFactory(roles=["Marketing"]))

    assert client.get("/api/v1/leads/?stage=mql").status_code == 200
