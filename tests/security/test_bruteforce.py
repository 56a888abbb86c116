"""Brute-force protection (django-axes) on the login form and the token endpoint.

Failures count per username and client address together, across both entry
points. After ``AXES_FAILURE_LIMIT`` failures that client is refused even with
the right password, with 429 and ``Retry-After``, until the cool-off has
passed since the failure that locked it: attempts during the lockout do not
extend it, or anyone who knows a username could keep its owner locked out
for as long as they like.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import subprocess
import sys
from pathlib import Path

import axes.handlers.proxy
import pytest
from axes.models import AccessAttempt
from django.db.models import F
from django.test import Client
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from crm.roles import SDR
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

BASE_DIR = Path(__file__).resolve().parents[2]
LOGIN = "/accounts/login/"
TOKEN = "/api/v1/auth/token/"
PASSWORD = "pw-for-tests"
LIMIT = 5
COOLOFF = dt.timedelta(minutes=15)
LOCKED_MESSAGE = "Too many failed login attempts. Try again in 15 minutes."
ATTACKER = "203.0.113.9"


@pytest.fixture(autouse=True)
def _limits(settings):
    """The shipped defaults, whatever the environment running the tests says."""
    settings.AXES_FAILURE_LIMIT = LIMIT
    settings.AXES_COOLOFF_TIME = COOLOFF


@pytest.fixture
def sdr_without_team():
    """Ada, an SDR in no team (logging in is all these tests need)."""
    return UserFactory(username="ada", roles=[SDR])


class Clock:
    """The time django-axes and Django read, moved by the test."""

    def __init__(self) -> None:
        self.now = timezone.now()

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, by: dt.timedelta) -> None:
        self.now += by


@pytest.fixture
def clock(monkeypatch) -> Clock:
    fixed = Clock()
    monkeypatch.setattr(timezone, "now", fixed)
    # axes stamps each request with its own imported ``now``.
    monkeypatch.setattr(axes.handlers.proxy, "now", fixed)
    return fixed


def form_login(client: Client, password: str, username: str = "ada", **extra):
    return client.post(
        LOGIN,
        {"username": username, "password": password},
        REMOTE_ADDR=ATTACKER,
        **extra,
    )


def token_login(api: APIClient, password: str, username: str = "ada", **extra):
    return api.post(
        TOKEN,
        {"username": username, "password": password},
        format="json",
        REMOTE_ADDR=ATTACKER,
        **extra,
    )


def fail(times: int, *, via: str = "form", username: str = "ada") -> list[int]:
    """Log in with a wrong password ``times`` times; return the status codes."""
    if via == "form":
        return [
            form_login(Client(), "wrong", username).status_code for _ in range(times)
        ]
    return [
        token_login(APIClient(), "wrong", username).status_code for _ in range(times)
    ]


def let_cooloff_pass(by: dt.timedelta = COOLOFF + dt.timedelta(seconds=1)) -> None:
    """Move the clock: every recorded failure happened ``by`` earlier."""
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - by)


def is_logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


# The login form
# ------------------------------------------------------------------------------


def test_failures_below_the_limit_do_not_lock_the_form(sdr_without_team):
    assert fail(LIMIT - 1) == [200] * (LIMIT - 1)  # the form again, with an error
    client = Client()

    response = form_login(client, PASSWORD)

    assert response.status_code == 302
    assert is_logged_in(client)


def test_the_failure_that_reaches_the_limit_is_answered_429(sdr_without_team):
    assert fail(LIMIT) == [200] * (LIMIT - 1) + [429]
    assert fail(LIMIT, via="api") == [429] * LIMIT


def test_form_is_locked_after_the_limit_even_with_the_right_password(sdr_without_team):
    fail(LIMIT)
    client = Client()

    response = form_login(client, PASSWORD)

    assert response.status_code == 429
    assert response.headers["Retry-After"] == str(int(COOLOFF.total_seconds()))
    assert response.headers["Content-Type"].startswith("text/html")
    assert LOCKED_MESSAGE in response.content.decode()
    assert not is_logged_in(client)
    # Refused before the password is checked: not another failure.
    assert AccessAttempt.objects.get().failures_since_start == LIMIT


def test_the_lockout_page_is_a_full_page_with_the_security_headers(sdr_without_team):
    fail(LIMIT)

    response = form_login(Client(), "wrong")

    assert response.status_code == 429
    assert "registration/locked_out.html" in [t.name for t in response.templates]
    assert 'name="password"' not in response.content.decode()
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]


def test_form_unlocks_after_the_cooloff(sdr_without_team):
    fail(LIMIT)
    assert form_login(Client(), PASSWORD).status_code == 429

    let_cooloff_pass()
    client = Client()
    response = form_login(client, PASSWORD)

    assert response.status_code == 302
    assert is_logged_in(client)


def test_form_stays_locked_just_before_the_cooloff_ends(sdr_without_team):
    fail(LIMIT)

    let_cooloff_pass(by=COOLOFF - dt.timedelta(seconds=5))
    client = Client()
    response = form_login(client, PASSWORD)

    assert response.status_code == 429
    assert not is_logged_in(client)


@pytest.mark.parametrize("via", ["form", "api"])
def test_attempts_during_a_lockout_do_not_extend_it(sdr_without_team, clock, via):
    login = form_login if via == "form" else token_login
    new_client = Client if via == "form" else APIClient
    fail(LIMIT, via=via)
    locked_at = AccessAttempt.objects.get().attempt_time

    clock.advance(dt.timedelta(minutes=10))
    right = login(new_client(), PASSWORD)
    clock.advance(dt.timedelta(minutes=4))
    wrong = [login(new_client(), "wrong").status_code for _ in range(3)]
    clock.advance(dt.timedelta(minutes=1, seconds=1))
    after = login(new_client(), PASSWORD)

    assert right.status_code == 429
    assert right.headers["Retry-After"] == str(5 * 60)
    assert wrong == [429] * 3
    assert after.status_code == (302 if via == "form" else 200)
    assert not AccessAttempt.objects.filter(attempt_time__gt=locked_at).exists()


def test_the_lockout_message_counts_down_to_its_end(sdr_without_team, clock):
    fail(LIMIT)
    clock.advance(dt.timedelta(minutes=14, seconds=30))

    response = token_login(APIClient(), PASSWORD)

    assert response.status_code == 429
    assert response.headers["Retry-After"] == "30"
    assert response.json() == {
        "detail": "Too many failed login attempts. Try again in 1 minute."
    }


def test_a_success_before_the_limit_starts_the_count_again(sdr_without_team):
    fail(LIMIT - 1)
    assert form_login(Client(), PASSWORD).status_code == 302

    fail(LIMIT - 1)
    client = Client()
    response = form_login(client, PASSWORD)

    assert response.status_code == 302
    assert is_logged_in(client)


def test_lockout_is_per_username_and_address(sdr_without_team):
    """The attacker's address is locked out of this account only: the user
    logs in from elsewhere, and a colleague behind the same address too."""
    UserFactory(username="bo", roles=[SDR])
    fail(LIMIT)

    elsewhere = Client()
    from_home = elsewhere.post(
        LOGIN, {"username": "ada", "password": PASSWORD}, REMOTE_ADDR="198.51.100.20"
    )
    colleague = Client()
    same_address = form_login(colleague, PASSWORD, username="bo")

    assert from_home.status_code == 302
    assert is_logged_in(elsewhere)
    assert same_address.status_code == 302
    assert is_logged_in(colleague)


def test_a_forged_forwarding_header_does_not_escape_the_lockout(sdr_without_team):
    fail(LIMIT)

    response = form_login(Client(), PASSWORD, HTTP_X_FORWARDED_FOR="192.0.2.77")

    assert response.status_code == 429


@pytest.fixture
def axes_log(caplog):
    caplog.set_level(logging.WARNING, logger="crm.middleware")
    return caplog


def proxy_warnings(caplog) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "crm.middleware" and "X-Forwarded-For" in r.getMessage()
    ]


def test_forwarded_requests_without_a_proxy_setting_are_warned_about_once(
    sdr_without_team, axes_log
):
    """Behind a proxy with NUM_PROXIES=0 every client has the proxy's address:
    one client's failures lock everyone out and all share one rate limit."""
    client = Client()
    for _ in range(3):
        client.get(LOGIN, HTTP_X_FORWARDED_FOR="198.51.100.20")

    assert proxy_warnings(axes_log) == [
        "Requests carry X-Forwarded-For but NUM_PROXIES is 0, so each client is "
        "known by the address it connects from: behind a proxy, that is the "
        "proxy's, and all clients share one login lockout and one rate limit. "
        "Set NUM_PROXIES to the number of proxies in front of Leadflow."
    ]


def test_forwarded_requests_with_the_proxy_setting_are_not_warned_about(
    sdr_without_team, axes_log, settings
):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}

    Client().get(LOGIN, HTTP_X_FORWARDED_FOR="198.51.100.20")

    assert proxy_warnings(axes_log) == []


def test_requests_without_forwarding_are_not_warned_about(sdr_without_team, axes_log):
    Client().get(LOGIN)

    assert proxy_warnings(axes_log) == []


def test_the_limit_is_a_setting(sdr_without_team, settings):
    settings.AXES_FAILURE_LIMIT = 2
    fail(2)

    assert form_login(Client(), PASSWORD).status_code == 429


def test_limit_and_cooloff_come_from_the_environment():
    env = {
        **os.environ,
        "AXES_FAILURE_LIMIT": "7",
        "AXES_COOLOFF_MINUTES": "3",
        "DJANGO_SETTINGS_MODULE": "crm.settings",
    }
    script = (
        "import django; django.setup(); from django.conf import settings; "
        "print(settings.AXES_FAILURE_LIMIT, settings.AXES_COOLOFF_TIME)"
    )

    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )

    assert result.stdout.strip().splitlines()[-1] == "7 0:03:00"


# The token endpoint
# ------------------------------------------------------------------------------


def test_token_endpoint_returns_the_users_token_and_creates_it_once(sdr_without_team):
    first = token_login(APIClient(), PASSWORD)
    second = token_login(APIClient(), PASSWORD)

    assert (first.status_code, second.status_code) == (200, 200)
    assert (
        first.json()
        == second.json()
        == {"token": Token.objects.get(user=sdr_without_team).key}
    )


def test_token_works_for_the_api(sdr_without_team):
    key = token_login(APIClient(), PASSWORD).json()["token"]
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")

    assert api.get("/api/v1/handoffs/").status_code == 200


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"username": "ada"}, {"password": ["This field is required."]}),
        ({"password": PASSWORD}, {"username": ["This field is required."]}),
        (
            {"username": "ada", "password": "wrong"},
            {
                "non_field_errors": [
                    "Unable to log in with the given username and password."
                ]
            },
        ),
        (
            {"username": "nobody", "password": PASSWORD},
            {
                "non_field_errors": [
                    "Unable to log in with the given username and password."
                ]
            },
        ),
    ],
)
def test_token_endpoint_refuses_bad_input_with_400(sdr_without_team, body, errors):
    response = APIClient().post(TOKEN, body, format="json")

    assert response.status_code == 400
    assert response.json() == errors
    assert not Token.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        '{"username": "ada\\u0000", "password": "pw-for-tests"}',
        '{"username": "ada", "password": "pw\\ud800"}',
    ],
)
def test_token_endpoint_refuses_what_the_database_or_hasher_cannot_take(
    sdr_without_team, body
):
    response = APIClient().post(TOKEN, body, content_type="application/json")

    assert response.status_code == 400
    assert set(response.json()) <= {"username", "password"}
    assert not Token.objects.exists()
    assert not AccessAttempt.objects.exists()


def test_token_endpoint_refuses_an_inactive_user(sdr_without_team):
    sdr_without_team.is_active = False
    sdr_without_team.save()

    response = token_login(APIClient(), PASSWORD)

    assert response.status_code == 400
    assert not Token.objects.exists()


def test_token_endpoint_refuses_a_user_without_a_role_with_403():
    UserFactory(username="norole")

    response = token_login(APIClient(), PASSWORD, username="norole")

    assert response.status_code == 403
    assert response.json() == {
        "detail": "This account has no role, so it may not use the API."
    }
    assert not Token.objects.exists()


def test_token_endpoint_is_locked_after_the_limit_even_with_the_right_password(
    sdr_without_team,
):
    assert fail(LIMIT, via="api") == [400] * (LIMIT - 1) + [429]

    response = token_login(APIClient(), PASSWORD)

    assert response.status_code == 429
    assert response.headers["Retry-After"] == str(int(COOLOFF.total_seconds()))
    assert response.json() == {"detail": LOCKED_MESSAGE}
    assert not Token.objects.exists()


def test_token_endpoint_unlocks_after_the_cooloff(sdr_without_team):
    fail(LIMIT, via="api")
    assert token_login(APIClient(), PASSWORD).status_code == 429

    let_cooloff_pass()
    response = token_login(APIClient(), PASSWORD)

    assert response.status_code == 200
    assert response.json() == {"token": Token.objects.get(user=sdr_without_team).key}


def test_form_and_api_failures_count_together(sdr_without_team):
    assert fail(3, via="form") == [200] * 3
    assert fail(2, via="api") == [400, 429]

    api = token_login(APIClient(), PASSWORD)
    form = form_login(Client(), PASSWORD)

    assert (api.status_code, form.status_code) == (429, 429)


def test_the_token_endpoint_is_in_the_schema_with_its_refusals():
    schema = APIClient().get("/api/v1/schema/", {"format": "json"}).json()

    operation = schema["paths"][TOKEN]["post"]
    assert set(operation["responses"]) == {"200", "400", "403", "415", "429"}
    # No credentials: the password in the body is the credential.
    assert "security" not in operation
    assert "security" not in schema
    assert set(schema["paths"][TOKEN]) == {"post"}
